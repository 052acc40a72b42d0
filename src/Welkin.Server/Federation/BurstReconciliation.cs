using Welkin.Contracts;
using Welkin.Core.Billing;
using Welkin.Core.Common;
using Welkin.Core.Federation;
using Welkin.Core.Security;

namespace Welkin.Server.Federation;

/// <summary>What a peer charges this cloud under an agreement for one billing period: its invoice's totals.</summary>
/// <param name="Invoice">The invoice's number or id (null for a preview, which has none).</param>
public sealed record PeerCharges(string? Invoice, bool Issued, IReadOnlyList<InvoiceTotalView> Totals);

/// <summary>Reads a peer's charges under an agreement this cloud consumes (through the agreement's credential: <see cref="FederationAgreements.ChargesAsync"/>).</summary>
public interface IPeerCharges
{
    Task<Result<PeerCharges>> ChargesAsync(AgreementRow row, BillingPeriod period, CancellationToken ct);
}

/// <summary>
/// The reconciliation of an agreement this cloud consumes (docs/federation.md, "Bursting"): for one
/// billing period, the peer's charges to this cloud (cost), this cloud's revenue from the machines it
/// placed in that peer's pools (<see cref="PeerRevenue"/>), and revenue less cost per currency; beside
/// them the SLA credits each way (the peer's to this cloud, this cloud's to the consumers of those
/// machines), so that an outage the peer did not credit shows as the difference between margin and
/// net margin. A broker's cost, revenue and margin are the same report.
/// </summary>
public sealed class BurstReconciliation(AgreementStore store, PeerRevenue revenue, IPeerCharges peers, TimeProvider clock)
{
    public async Task<Result<AgreementReconciliation>> ReconcileAsync(Caller caller, string id, string? period, CancellationToken ct)
    {
        if (FederationAgreements.RequireAdmin(caller) is { } denied)
        {
            return denied;
        }
        if (!Ids.IsValid(id, Ids.Agreement))
        {
            return Error.InvalidId(id, "agreement");
        }
        var now = clock.GetUtcNow();
        var parsed = period is null ? BillingPeriod.Of(now) : BillingPeriod.Parse(period, "period");
        if (!parsed.IsSuccess)
        {
            return parsed.Error!;
        }
        var p = parsed.Value;
        if (p.Start > now)
        {
            return Error.Validation("period", $"period {p} has not begun");
        }
        var row = await store.GetAsync(id, ct);
        if (row is null)
        {
            return Error.NotFound("Agreement", id);
        }
        var charges = await peers.ChargesAsync(row, p, ct);
        if (!charges.IsSuccess)
        {
            return charges.Error!;
        }
        var ratedUntil = Math.Min(p.EndMs, now.ToUnixTimeMilliseconds());
        var machines = await revenue.OfPeerAsync(row.PeerName, p, ratedUntil, ct);
        var granted = await revenue.CreditsGrantedAsync(machines, p, ratedUntil, ct);
        var peer = charges.Value.Totals.ToDictionary(t => t.Currency, StringComparer.Ordinal);
        var earned = machines.SelectMany(m => m.Revenue).GroupBy(t => t.Currency, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Sum(t => t.Total), StringComparer.Ordinal);
        var amounts = peer.Keys.Union(earned.Keys).Union(granted.Keys).Order(StringComparer.Ordinal).Select(c =>
        {
            var invoice = peer.GetValueOrDefault(c);
            var (spent, got, credited) = (invoice?.Total ?? 0m, earned.GetValueOrDefault(c), granted.GetValueOrDefault(c));
            return new ReconciledAmount(c, spent, got, got - spent, invoice?.Charges ?? 0m, invoice?.Credits ?? 0m, credited, got + credited - spent);
        }).ToList();
        return new AgreementReconciliation(row.Id, new AgreementPeer(row.PeerName, row.PeerAddress, row.PeerUrl, row.PeerFingerprint), p.ToString(),
            p.Start, p.End, charges.Value.Invoice, charges.Value.Issued, amounts, machines);
    }
}

using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Contracts;
using Welkin.Core.Data;
using Welkin.Core.Instances;
using Welkin.Core.Metering;

namespace Welkin.Core.Billing;

/// <summary>
/// What this cloud earns from the machines it placed in a peer's pools: each machine's metered usage
/// of a billing period, rated by <see cref="Rater"/> with its contract line's price plan exactly as
/// the consumer's invoice rates it. A rate's minimum charge and SLA credits belong to a whole
/// contract, not to one machine, and are left out; so are units ordered but not provisioned.
/// </summary>
public sealed class PeerRevenue(IDatabase db)
{
    /// <summary>The machines of <paramref name="peer"/>'s pools that held capacity in the period, with usage starting in [period start, <paramref name="ratedUntil"/>).</summary>
    public async Task<IReadOnlyList<ReconciledMachine>> OfPeerAsync(string peer, BillingPeriod period, long ratedUntil, CancellationToken ct)
    {
        var machines = await MachineStore.OfPeerAsync(db, peer, period.StartMs, ratedUntil, ct);
        if (machines.Count == 0)
        {
            return [];
        }
        var read = await db.ReadAsync(async tx =>
        {
            var usage = await UsageRecords.ByResourceAsync(tx, machines.Select(m => m.Id).ToList(), period.StartMs, ratedUntil);
            var contractIds = machines.Select(m => m.ContractId).Distinct(StringComparer.Ordinal).ToList();
            var versions = await InvoiceService.VersionsOfAsync(tx, contractIds);
            var contracts = new Dictionary<string, RatingContract>(StringComparer.Ordinal);
            foreach (var id in contractIds)
            {
                if (await ContractStore.GetAsync(tx, id) is { } row)
                {
                    contracts[id] = InvoiceService.ToRating(row, versions.Where(v => v.ContractId == id));
                }
            }
            return (usage, contracts);
        }, ct);
        var window = new RatingWindow(period, ratedUntil);
        var byMachine = read.usage.ToLookup(u => u.ResourceId, StringComparer.Ordinal);
        return machines.Select(m =>
        {
            var usage = byMachine[m.Id].ToList();
            var rated = read.contracts.TryGetValue(m.ContractId, out var contract)
                ? Rater.Rate(window, [contract], usage.Select(u => new UsageTotal(u.ContractId, (int)u.Item, u.Metric, period.StartMs, u.Quantity)), [])
                : null;
            var revenue = (rated?.Lines ?? []).Where(l => l.Kind == InvoiceLineKind.Charge)
                .GroupBy(l => l.Currency, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => new InvoiceTotalView(g.Key, g.Sum(l => l.Amount), 0m, g.Sum(l => l.Amount))).ToList();
            var quantities = usage.GroupBy(u => u.Metric, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => UsageMetrics.Quantity(g.Key, g.Sum(u => u.Quantity), g.Sum(u => u.Quantity) / UsageMetrics.Divisor(g.Key, period.Start))).ToList();
            return new ReconciledMachine(m.Id, m.AccountId, m.ContractId, m.Pool ?? "", quantities, revenue);
        }).ToList();
    }

    /// <summary>
    /// The SLA credits of the period on the contracts of <paramref name="machines"/>, per currency (negative, as their
    /// invoices show them): each account rated as its invoice is, its credit lines of those contracts summed.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, decimal>> CreditsGrantedAsync(
        IReadOnlyList<ReconciledMachine> machines, BillingPeriod period, long ratedUntil, CancellationToken ct)
    {
        var contracts = machines.Select(m => m.ContractId).ToHashSet(StringComparer.Ordinal);
        var accounts = machines.Select(m => m.AccountId).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (accounts.Count == 0)
        {
            return new Dictionary<string, decimal>(StringComparer.Ordinal);
        }
        var window = new RatingWindow(period, ratedUntil);
        var lines = await db.ReadAsync(async tx =>
        {
            var credits = new List<InvoiceLineView>();
            foreach (var account in accounts)
            {
                var rated = await InvoiceService.RateAsync(tx, account, window);
                credits.AddRange(rated.Lines.Where(l => l.Kind == InvoiceLineKind.SlaCredit && contracts.Contains(l.ContractId)));
            }
            return credits;
        }, ct);
        return lines.GroupBy(l => l.Currency, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Sum(l => l.Amount), StringComparer.Ordinal);
    }
}

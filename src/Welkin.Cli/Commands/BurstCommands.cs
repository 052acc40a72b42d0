using System.CommandLine;
using Welkin.Cli.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Commands;

/// <summary><c>welkin burst</c>: the cloud's bursting policy (provider-admin), and <c>welkin agreement reconcile</c>.</summary>
internal static class BurstCommands
{
    public static Command Create(CliApp app)
    {
        var show = new Command("show", "Show the cloud's bursting policy: whether machines may burst to peers' pools when no local host has room.");
        app.Handle(show, async inv => inv.Show(await inv.Client().Federation.GetBurstPolicyAsync(inv.Ct), PolicyFields));
        var on = Opt.Flag("--on", "Allow bursting (offerings must allow it too).");
        var off = Opt.Flag("--off", "Forbid bursting for every offering.");
        var peers = new Option<string[]>("--peer") { Description = "A peer machines may burst to (federation name); repeat for more.", HelpName = "name" };
        var anyPeer = Opt.Flag("--any-peer", "Any peer with a pool (clears --peer).");
        var maxPrice = new Option<decimal?>("--max-price")
        {
            Description = "The highest per-vCPU-hour rate a peer may charge, in the offering's currency.", HelpName = "amount", CustomParser = r => Opt.DecimalNumber(r),
        };
        var noCeiling = Opt.Flag("--no-ceiling", "No price ceiling (clears --max-price).");
        var version = Opt.RowVersion();
        var set = new Command("set", "Replace the cloud's bursting policy (provider-admin); options not given keep their current value.")
        {
            on, off, peers, anyPeer, maxPrice, noCeiling, version,
        };
        app.Handle(set, async inv =>
        {
            if (inv.Value(on) && inv.Value(off))
            {
                throw new CliException("Give --on or --off, not both.");
            }
            var federation = inv.Client().Federation;
            var p = await federation.GetBurstPolicyAsync(inv.Ct);
            var policy = p with
            {
                Enabled = inv.Value(on) || (!inv.Value(off) && p.Enabled),
                Peers = inv.Value(anyPeer) ? null : inv.Value(peers) is { Length: > 0 } named ? named : p.Peers,
                MaxPricePerCpuHour = inv.Value(noCeiling) ? null : inv.Value(maxPrice) ?? p.MaxPricePerCpuHour,
                Version = inv.Value(version) ?? p.Version,
                Updated = null,
            };
            return inv.Show(await federation.SetBurstPolicyAsync(policy, inv.Ct), PolicyFields);
        });
        return new Command("burst", "The cloud's bursting policy: placing machines in peers' pools when no local host can take them.") { show, set };
    }

    /// <summary>"off", or "on" with the peers and ceiling: how a policy reads in the CLI.</summary>
    public static string Describe(bool enabled, IReadOnlyList<string>? peers, decimal? ceiling, string? currency) =>
        !enabled ? "off"
        : "on, to " + (peers is null ? "any peer" : peers.Count == 0 ? "no peer" : Fmt.List(peers))
            + (ceiling is { } c ? $", at most {Fmt.Number(c)}{(currency is null ? "" : " " + currency)} per vCPU-hour" : "");

    private static void PolicyFields(Output o, CloudBurstPolicy p) => o.Fields(
        ("Bursting", Describe(p.Enabled, p.Peers, p.MaxPricePerCpuHour, null)),
        ("Version", Fmt.Number(p.Version)), ("Updated", Fmt.Time(p.Updated)));

    public static Command Reconcile(CliApp app)
    {
        var id = Opt.Id("agreement");
        var period = Opt.Text("--period", "The billing period, YYYY-MM (default: the current one).", "month");
        var command = new Command("reconcile",
            "Reconcile an agreement this cloud consumes: the peer's charges for a period, this cloud's revenue from the machines it placed there, and the difference (a broker's cost, revenue and margin).")
        {
            id, period,
        };
        app.Handle(command, async inv => inv.Show(await inv.Client().Federation.ReconcileAgreementAsync(inv.Value(id), inv.Value(period), inv.Ct), (o, r) =>
        {
            o.Fields(("Agreement", r.AgreementId), ("Peer", r.Peer.Name), ("Period", r.Period),
                ("Peer's invoice", r.PeerInvoiceIssued ? r.PeerInvoice : "not issued yet (its preview)"));
            o.Line();
            o.Table(r.Amounts, "No charges and no revenue.",
                new Column<ReconciledAmount>("Currency", a => a.Currency),
                new Column<ReconciledAmount>("Cost (peer)", a => Fmt.Number(a.Cost)),
                new Column<ReconciledAmount>("Revenue", a => Fmt.Number(a.Revenue)),
                new Column<ReconciledAmount>("Margin", a => Fmt.Number(a.Margin)),
                new Column<ReconciledAmount>("Peer's credits", a => Fmt.Number(a.PeerCredits)),
                new Column<ReconciledAmount>("Credits granted", a => Fmt.Number(a.CreditsGranted)),
                new Column<ReconciledAmount>("Net margin", a => Fmt.Number(a.NetMargin)));
            o.Line();
            o.Table(r.Machines, "No machines in the peer's pools in the period.",
                new Column<ReconciledMachine>("Machine", m => m.MachineId),
                new Column<ReconciledMachine>("Account", m => m.AccountId),
                new Column<ReconciledMachine>("Pool", m => m.Pool),
                new Column<ReconciledMachine>("Revenue", m => string.Join("; ", m.Revenue.Select(t => Fmt.Number(t.Total) + " " + t.Currency))));
        }));
        return command;
    }
}

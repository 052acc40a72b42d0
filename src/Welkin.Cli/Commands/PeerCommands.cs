using System.CommandLine;
using Welkin.Cli.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Commands;

/// <summary><c>welkin peer</c>: the peer clouds of the federation, as this cloud sees them (operators).</summary>
internal static class PeerCommands
{
    public static Command Create(CliApp app) => new("peer", "The peer clouds of this cloud's federation: presence, capacity and trust.")
    {
        List(app), Show(app),
    };

    private static void Fields(Output o, PeerView p) => o.Fields(
        ("Name", p.Name), ("Address", p.Address), ("Online", p.Online ? "yes" : "no"), ("Last seen", Fmt.Time(p.LastSeen)),
        ("Trust", Fmt.Name(p.Trust)), ("Reason", p.Reason), ("URL", p.Url), ("Fingerprint", p.Fingerprint),
        ("Offerings", p.Capacity is { } c ? Fmt.Number(c.Offerings) : null), ("Capacity", Capacity(p.Capacity)), ("Updated", Fmt.Time(p.UpdatedAt)));

    private static string? Capacity(CloudCapacity? capacity) => capacity is null
        ? null
        : string.Join("; ", capacity.Regions.Select(r =>
            $"{r.Jurisdiction}/{r.Region}: {Fmt.Number(r.FreeVcpus)} vCPUs, {Fmt.Bytes(r.FreeMemoryMiB * 1024 * 1024)}, {Fmt.Bytes(r.FreeStorageGiB * 1024 * 1024 * 1024)}"));

    private static Command List(CliApp app)
    {
        var command = new Command("list", "List the peer clouds (operator or provider-admin).");
        app.Handle(command, async inv =>
        {
            var list = await inv.Client().Federation.ListPeersAsync(inv.Ct);
            if (inv.Structured)
            {
                return inv.Show(list, (_, _) => { });
            }
            return inv.ShowList(list.Peers, list.Federation == "off" ? "Federation is off on this cloud." : "No peers yet.",
                new Column<PeerView>("Name", p => p.Name),
                new Column<PeerView>("Address", p => p.Address),
                new Column<PeerView>("Online", p => p.Online ? "yes" : "no"),
                new Column<PeerView>("Last seen", p => Fmt.Time(p.LastSeen)),
                new Column<PeerView>("Trust", p => Fmt.Name(p.Trust)),
                new Column<PeerView>("Free vCPUs", p => p.Capacity is { } c ? Fmt.Number(c.Regions.Sum(r => r.FreeVcpus)) : null),
                new Column<PeerView>("Offerings", p => p.Capacity is { } c ? Fmt.Number(c.Offerings) : null),
                new Column<PeerView>("Reason", p => p.Trust == PeerTrustState.Trusted ? null : p.Reason));
        });
        return command;
    }

    private static Command Show(CliApp app)
    {
        var name = new Argument<string>("NAME") { Description = "The peer's federation name or bare XMPP address." };
        var command = new Command("show", "Show one peer cloud: presence, trust state and reason, capacity per region.") { name };
        app.Handle(command, async inv => inv.Show(await inv.Client().Federation.GetPeerAsync(inv.Value(name)!, inv.Ct), Fields));
        return command;
    }
}

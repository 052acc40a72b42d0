using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text.Json;
using Welkin.Cli.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Commands;

/// <summary><c>welkin peer</c>: the peer clouds of the federation, as this cloud sees them (operators).</summary>
internal static class PeerCommands
{
    public static Command Create(CliApp app) => new("peer", "The peer clouds of this cloud's federation: presence, capacity and trust.")
    {
        List(app), Show(app), Find(app), Query(app), Distrust(app), Trust(app),
    };

    private static Command Distrust(CliApp app)
    {
        var name = new Argument<string>("NAME") { Description = "The peer's federation name or bare XMPP address." };
        var reason = Opt.Required("--reason", "Why (recorded, and told to the peer with the agreements it ends).", "text");
        var command = new Command("distrust", "Stop trusting a peer whatever its certificate says: its agreements end (provider-admin).") { name, reason };
        app.Handle(command, async inv => inv.Show(await inv.Client().Federation.DistrustPeerAsync(inv.Value(name)!, inv.Value(reason)!, inv.Ct), Fields));
        return command;
    }

    private static Command Trust(CliApp app)
    {
        var name = new Argument<string>("NAME") { Description = "The peer's federation name or bare XMPP address." };
        var command = new Command("trust", "Undo distrust: the peer is judged by its certificate again, from its next presence (provider-admin).") { name };
        app.Handle(command, async inv => inv.Show(await inv.Client().Federation.TrustPeerAsync(inv.Value(name)!, inv.Ct), Fields));
        return command;
    }

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

    private static Command Find(CliApp app)
    {
        var vcpus = Opt.Number("--vcpus", "At least this many vCPUs for one virtual system.");
        var memory = Opt.Text("--memory", "At least this much memory, with its unit: 512MiB, 8GiB, 1TiB.", "size");
        var jurisdiction = Opt.Text("--jurisdiction", "Only offerings available in this jurisdiction (ISO 3166 code, e.g. DE).", "code");
        var maxPrice = new Option<(decimal Price, string? Currency)?>("--max-price")
        {
            Description = "At most this price per cpu-hour: 0.20/cpu-hour, or with its currency 0.20EUR/cpu-hour.",
            HelpName = "price",
            CustomParser = ParsePrice,
        };
        var currency = Opt.Text("--currency", "The currency of --max-price (ISO 4217 code, e.g. EUR); also selects only offerings priced in it.", "code");
        var availability = new Option<decimal?>("--availability")
        {
            Description = "An SLA availability target of at least this many percent.",
            HelpName = "percent",
            CustomParser = r => r.Tokens.Count == 0 ? null : Opt.DecimalNumber(r),
        };
        var command = new Command("find", "Find the trusted peers' offerings that meet every criterion given, cheapest first (operator or provider-admin).")
        {
            vcpus, memory, jurisdiction, maxPrice, currency, availability,
        };
        app.Handle(command, async inv =>
        {
            var price = inv.Value(maxPrice);
            var money = inv.Value(currency) ?? price?.Currency;
            if (price?.Currency is { } given && inv.Value(currency) is { } named && !string.Equals(given, named, StringComparison.OrdinalIgnoreCase))
            {
                throw new CliException($"--max-price is in {given} but --currency says {named}.");
            }
            if (price is not null && money is null)
            {
                throw new CliException("--max-price needs a currency, since prices in different currencies cannot be compared: "
                    + "give it as 0.20EUR/cpu-hour, or add --currency EUR.");
            }
            var found = await inv.Client().Federation.FindOffersAsync(
                inv.Value(vcpus), inv.Value(memory), inv.Value(jurisdiction), price?.Price, money, inv.Value(availability), inv.Ct);
            if (inv.Structured)
            {
                return inv.Show(found, (_, _) => { });
            }
            inv.ShowList(found.Offers, "No offering meets the criteria.",
                new Column<FederatedOffer>("Peer", o => o.Peer.Name ?? o.Peer.Address),
                new Column<FederatedOffer>("Offering", o => o.OfferingId),
                new Column<FederatedOffer>("Name", o => o.Name),
                new Column<FederatedOffer>("vCPUs", o => Fmt.Number(o.Vcpus)),
                new Column<FederatedOffer>("Memory", o => Fmt.Bytes(o.MemoryMiB * 1024 * 1024)),
                new Column<FederatedOffer>("Where", o => $"{o.Jurisdiction}/{o.Region}"),
                new Column<FederatedOffer>("Price", o => $"{Fmt.Number(o.Price)} {o.Currency}/cpu-{o.Unit}"),
                new Column<FederatedOffer>("Availability", o => Fmt.Number(o.Availability) + "%"),
                new Column<FederatedOffer>("URL", o => o.Url));
            Unanswered(inv, found.Answered.Count, found.Unanswered);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Query(CliApp app)
    {
        var file = new Option<string>("--sparql") { Description = "A file holding the SPARQL query (- for standard input).", HelpName = "file", Required = true };
        var peers = new Option<string[]>("--peer") { Description = "Ask only this peer (federation name or address); repeat for more. Every trusted peer by default.", HelpName = "name" };
        var command = new Command("query", "Run a SPARQL query at the trusted peers over their catalog descriptions; each peer's SPARQL results (operator or provider-admin).")
        {
            file, peers,
        };
        app.Handle(command, async inv =>
        {
            var path = inv.Value(file)!;
            string sparql;
            try
            {
                sparql = path == "-" ? inv.Context.In.ReadToEnd() : await File.ReadAllTextAsync(path, inv.Ct);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliException($"Cannot read {path}: {e.Message}");
            }
            var names = inv.Value(peers) is { Length: > 0 } given ? given : null;
            var result = await inv.Client().Federation.QueryPeersAsync(sparql, names, inv.Ct);
            if (inv.Structured)
            {
                return inv.Show(result, (_, _) => { });
            }
            foreach (var answer in result.Answers)
            {
                inv.Out.Writer.WriteLine($"{answer.Peer.Name ?? answer.Peer.Address} ({answer.Peer.Address}):");
                WriteResults(inv, answer.Results);
            }
            Unanswered(inv, result.Answers.Count, result.Unanswered);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static void WriteResults(Invocation inv, JsonElement results)
    {
        if (results.TryGetProperty("boolean", out var boolean))
        {
            inv.Out.Writer.WriteLine(boolean.GetBoolean() ? "  true" : "  false");
            return;
        }
        var variables = results.GetProperty("head").GetProperty("vars").EnumerateArray().Select(v => v.GetString()!).ToList();
        var rows = results.GetProperty("results").GetProperty("bindings").EnumerateArray().ToList();
        inv.Out.Table(rows, "  (no rows)", [.. variables.Select(v => new Column<JsonElement>(v,
            row => row.TryGetProperty(v, out var term) ? term.GetProperty("value").GetString() : null))]);
    }

    private static void Unanswered(Invocation inv, int answered, IReadOnlyList<UnansweredPeer> unanswered)
    {
        inv.Err.WriteLine($"{answered} peer(s) answered.");
        foreach (var peer in unanswered)
        {
            var condition = peer.Condition is null ? "" : $" ({peer.Condition})";
            inv.Err.WriteLine($"No answer from {peer.Name ?? peer.Address}: {peer.Reason}{condition}: {peer.Detail}");
        }
    }

    private static (decimal Price, string? Currency)? ParsePrice(ArgumentResult result)
    {
        if (result.Tokens.Count == 0)
        {
            return null;
        }
        var text = result.Tokens[0].Value.Trim();
        var amount = text.EndsWith("/cpu-hour", StringComparison.OrdinalIgnoreCase) ? text[..^"/cpu-hour".Length].Trim() : text;
        var digits = amount.TrimEnd("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".ToCharArray()).Trim();
        var currency = amount[digits.Length..].Trim();
        if (text.Contains('/', StringComparison.Ordinal) && !text.EndsWith("/cpu-hour", StringComparison.OrdinalIgnoreCase)
            || !decimal.TryParse(digits, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var price)
            || currency.Length is not (0 or 3))
        {
            result.AddError($"'{text}' is not a price per cpu-hour (--max-price): write 0.20/cpu-hour or 0.20EUR/cpu-hour.");
            return null;
        }
        return (price, currency.Length == 0 ? null : currency.ToUpperInvariant());
    }
}

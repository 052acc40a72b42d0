using System.CommandLine;
using System.Globalization;
using Welkin.Cli.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Commands;

/// <summary><c>welkin agreement</c>: federation agreements with peer clouds, and the policy this cloud grants them under (provider-admin).</summary>
internal static class AgreementCommands
{
    public static Command Create(CliApp app) => new("agreement", "Federation agreements: what this cloud obtains from trusted peers, and what peers obtain from it.")
    {
        Request(app), List(app), Show(app), Amend(app), Terminate(app), Usage(app), BurstCommands.Reconcile(app), Resell(app), Resales(app), Policy(app),
    };

    private static readonly Column<AgreementView>[] ListColumns =
    [
        new("Id", a => a.Id),
        new("Side", a => Fmt.Name(a.Side)),
        new("Peer", a => a.Peer.Name),
        new("State", a => Fmt.Name(a.State)),
        new("Version", a => Fmt.Number(a.Version)),
        new("Jurisdictions", a => Fmt.List(a.Terms.Policy.Jurisdictions)),
        new("Units", a => Fmt.Limits(a.Terms.Entitlement.Units)),
        new("Updated", a => Fmt.Time(a.Updated)),
    ];

    public static void Fields(Output o, AgreementView a)
    {
        var t = a.Terms;
        o.Fields(
            ("Id", a.Id), ("Side", Fmt.Name(a.Side)), ("Peer", a.Peer.Name), ("Peer address", a.Peer.Address), ("Peer URL", a.Peer.Url),
            ("Peer fingerprint", a.Peer.Fingerprint), ("State", Fmt.Name(a.State)), ("Version", Fmt.Number(a.Version)),
            ("Reasons", a.Reasons.Count == 0 ? null : string.Join("; ", a.Reasons)), ("Termination reason", a.TerminationReason),
            ("Remote id", a.RemoteId), ("Account", a.AccountId), ("Contracts", a.ContractIds.Count == 0 ? null : Fmt.List(a.ContractIds)),
            ("Jurisdictions", Fmt.List(t.Policy.Jurisdictions)), ("Encryption at rest", t.Policy.EncryptionAtRest ? "required" : "not required"),
            ("Isolation", Fmt.Name(t.Policy.MinimumIsolation)), ("Units", Fmt.Limits(t.Entitlement.Units)),
            ("Offerings", string.Join(", ", t.Entitlement.Offerings.Select(x => $"{x.OfferingId} x{x.Quantity}"))),
            ("Currency", t.Metering.Currency), ("Billing period", t.Metering.BillingPeriod),
            ("Max price", t.Metering.MaxPricePerCpuHour is { } p ? Fmt.Number(p) + " " + t.Metering.Currency + "/cpu-hour" : null),
            ("Min availability", t.Metering.MinimumAvailability is { } m ? Fmt.Number(m) + "%" : null),
            ("Created", Fmt.Time(a.Created)), ("Updated", Fmt.Time(a.Updated)));
    }

    private sealed record TermOptions(
        Option<string?> File, Option<string[]> Jurisdictions, Option<string[]> Units, Option<string[]> Offerings, Option<int[]> Quantities,
        Option<string?> Currency, Option<decimal?> MaxPrice, Option<decimal?> Availability, Option<bool> Encryption, Option<IsolationLevel?> Isolation)
    {
        public IEnumerable<Option> All => [File, Jurisdictions, Units, Offerings, Quantities, Currency, MaxPrice, Availability, Encryption, Isolation];

        public static TermOptions Make() => new(
            Opt.Text("--terms", "A JSON file with the whole terms (policy, entitlement, metering); the other options change it.", "file"),
            new Option<string[]>("--jurisdiction") { Description = "A jurisdiction (ISO 3166 code) this cloud accepts; repeat for more.", HelpName = "code" },
            new Option<string[]>("--unit") { Description = "An entitled unit and its maximum, as unit=n (compute-unit=8); repeat for more.", HelpName = "unit=n" },
            new Option<string[]>("--offering") { Description = "A peer offering to contract for; repeat with a --quantity for each.", HelpName = "id" },
            new Option<int[]>("--quantity") { Description = "Machines (compute) or increments (storage) of the --offering before it.", HelpName = "n", CustomParser = Opt.WholeNumbers },
            Opt.Text("--currency", "The currency of the price plans accepted (ISO 4217).", "code"),
            new Option<decimal?>("--max-price") { Description = "The highest per-vCPU-hour rate accepted (0.20 or 0.20/cpu-hour).", HelpName = "amount", CustomParser = Price },
            new Option<decimal?>("--availability") { Description = "The lowest SLA availability target accepted, in percent.", HelpName = "percent", CustomParser = r => Opt.DecimalNumber(r) },
            Opt.Flag("--encryption-at-rest", "Require the peer to encrypt disks at rest."),
            Opt.Enum<IsolationLevel>("--isolation", "The minimum isolation of this cloud's machines on the peer."));

        /// <summary>The terms the options give, on top of <paramref name="current"/> (a --terms file, or the agreement being amended).</summary>
        public AgreementTerms Build(Invocation inv, AgreementTerms? current)
        {
            var baseTerms = inv.Value(File) is { } path ? inv.ReadSpec<AgreementTerms>(path, "agreement terms") : current;
            var jurisdictions = inv.Value(Jurisdictions) is { Length: > 0 } j ? j : baseTerms?.Policy.Jurisdictions.ToArray() ?? [];
            var units = inv.Value(Units) is { Length: > 0 } u ? ParseUnits(u) : baseTerms?.Entitlement.Units ?? new Dictionary<string, long>();
            var ids = inv.Value(Offerings) ?? [];
            var counts = inv.Value(Quantities) ?? [];
            if (ids.Length != counts.Length)
            {
                throw new CliException($"Give one --quantity for each --offering ({ids.Length} offerings, {counts.Length} quantities).");
            }
            var offerings = ids.Length > 0 ? ids.Zip(counts, (id, n) => new AgreementOffering(id, n)).ToList() : baseTerms?.Entitlement.Offerings ?? [];
            var currency = inv.Value(Currency) ?? baseTerms?.Metering.Currency
                ?? throw new CliException("Give the --currency of the price plans this cloud accepts (or a --terms file).");
            var policy = new AgreementPolicy(jurisdictions,
                inv.Value(Encryption) || (baseTerms?.Policy.EncryptionAtRest ?? false),
                inv.Value(Isolation) ?? baseTerms?.Policy.MinimumIsolation ?? IsolationLevel.Shared);
            var metering = new AgreementMetering(currency, baseTerms?.Metering.BillingPeriod ?? "monthly",
                inv.Value(MaxPrice) ?? baseTerms?.Metering.MaxPricePerCpuHour, inv.Value(Availability) ?? baseTerms?.Metering.MinimumAvailability);
            return new AgreementTerms(policy, new AgreementEntitlement(units, offerings), metering);
        }
    }

    private static Dictionary<string, long> ParseUnits(IEnumerable<string> pairs)
    {
        var units = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var pair in pairs)
        {
            var at = pair.IndexOf('=', StringComparison.Ordinal);
            if (at <= 0 || !long.TryParse(pair[(at + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            {
                throw new CliException($"'{pair}' is not unit=n (for example compute-unit=8).");
            }
            units[pair[..at]] = n;
        }
        return units;
    }

    private static decimal? Price(System.CommandLine.Parsing.ArgumentResult result)
    {
        if (result.Tokens.Count == 0)
        {
            return null;
        }
        var text = result.Tokens[0].Value;
        var amount = text.EndsWith("/cpu-hour", StringComparison.OrdinalIgnoreCase) ? text[..^"/cpu-hour".Length] : text;
        if (decimal.TryParse(amount, NumberStyles.Number, CultureInfo.InvariantCulture, out var value) && value >= 0)
        {
            return value;
        }
        result.AddError($"'{text}' is not a price per vCPU-hour (for example 0.20 or 0.20/cpu-hour).");
        return null;
    }

    private static Command Request(CliApp app)
    {
        var peer = Opt.Required("--peer", "The peer cloud (its federation name or bare XMPP address).", "name");
        var terms = TermOptions.Make();
        var command = new Command("request", "Ask a trusted peer cloud for a federation agreement: an account there, a credential bound to this cloud's certificate, and a contract (provider-admin).")
        {
            peer,
        };
        foreach (var option in terms.All)
        {
            command.Options.Add(option);
        }
        app.Handle(command, async inv =>
        {
            var request = new AgreementRequest(inv.Value(peer)!, terms.Build(inv, null));
            return inv.Show(await inv.Client().Federation.RequestAgreementAsync(request, inv.Ct), Fields);
        });
        return command;
    }

    private static Command List(CliApp app)
    {
        var command = new Command("list", "List the federation agreements of this cloud, on both sides (provider-admin).");
        app.Handle(command, async inv => inv.ShowList(await inv.Client().Federation.ListAgreementsAsync(inv.Ct), "No agreements.", ListColumns));
        return command;
    }

    private static Command Show(CliApp app)
    {
        var id = Opt.Id("agreement");
        var command = new Command("show", "Show an agreement: its peer, state, terms, and the history of its versions.") { id };
        app.Handle(command, async inv => inv.Show(await inv.Client().Federation.GetAgreementAsync(inv.Value(id), inv.Ct), (o, d) =>
        {
            Fields(o, d.Agreement);
            o.Line();
            o.Table(d.Versions, "No versions.",
                new Column<AgreementVersion>("Version", v => Fmt.Number(v.Version)),
                new Column<AgreementVersion>("State", v => Fmt.Name(v.State)),
                new Column<AgreementVersion>("Jurisdictions", v => Fmt.List(v.Terms.Policy.Jurisdictions)),
                new Column<AgreementVersion>("Units", v => Fmt.Limits(v.Terms.Entitlement.Units)),
                new Column<AgreementVersion>("Reason", v => v.Reason),
                new Column<AgreementVersion>("At", v => Fmt.Time(v.At)));
        }));
        return command;
    }

    private static Command Amend(CliApp app)
    {
        var id = Opt.Id("agreement");
        var version = Opt.RowVersion();
        var terms = TermOptions.Make();
        var command = new Command("amend", "Change an agreement's terms; options not given keep their current value (provider-admin, consumer side).") { id, version };
        foreach (var option in terms.All)
        {
            command.Options.Add(option);
        }
        app.Handle(command, async inv =>
        {
            var federation = inv.Client().Federation;
            var current = (await federation.GetAgreementAsync(inv.Value(id), inv.Ct)).Agreement;
            var amendment = new AgreementAmendment(terms.Build(inv, current.Terms), inv.Value(version) ?? current.Version);
            return inv.Show(await federation.AmendAgreementAsync(current.Id, amendment, inv.Ct), Fields);
        });
        return command;
    }

    private static Command Terminate(CliApp app)
    {
        var id = Opt.Id("agreement");
        var reason = Opt.Required("--reason", "Why (recorded on both sides).", "text");
        var command = new Command("terminate", "End an agreement: the peer is told, the credential revoked and the contract terminated.") { id, reason };
        app.Handle(command, async inv => inv.Show(await inv.Client().Federation.TerminateAgreementAsync(inv.Value(id), inv.Value(reason)!, inv.Ct), Fields));
        return command;
    }

    private static readonly Column<ResaleView>[] ResaleColumns =
    [
        new("Id", r => r.Id),
        new("Agreement", r => r.AgreementId),
        new("Peer", r => r.Peer),
        new("Peer offering", r => r.PeerOfferingId),
        new("Offering", r => r.OfferingId),
        new("Margin", r => Fmt.Number(r.MarginPercent) + "%"),
        new("Created", r => Fmt.Time(r.Created)),
    ];

    private static Command Resell(CliApp app)
    {
        var id = Opt.Id("agreement");
        var offering = Opt.Required("--offering", "The peer's offering to resell (the agreement must cover it).", "id");
        var margin = new Option<decimal>("--margin")
        {
            Description = "Percent added to every price of the peer's plan (0-1000).", HelpName = "percent", Required = true, CustomParser = Opt.DecimalNumber,
        };
        var name = Opt.Text("--name", "The offering's name in this cloud's catalog (default: the peer's, prefixed with the peer's name).", "text");
        var command = new Command("resell", "Publish a peer's offering this agreement covers as an offering of this cloud, at the peer's prices plus a margin (provider-admin, broker).")
        {
            id, offering, margin, name,
        };
        app.Handle(command, async inv =>
        {
            var request = new ResaleRequest(inv.Value(id), inv.Value(offering)!, inv.Value(margin), inv.Value(name));
            return inv.Show(await inv.Client().Federation.ResellAsync(request, inv.Ct), (o, r) => o.Fields(
                ("Id", r.Id), ("Agreement", r.AgreementId), ("Peer", r.Peer), ("Peer offering", r.PeerOfferingId), ("Offering", r.OfferingId),
                ("Template", r.TemplateId), ("Margin", Fmt.Number(r.MarginPercent) + "%"), ("Created", Fmt.Time(r.Created))));
        });
        return command;
    }

    private static Command Resales(CliApp app)
    {
        var agreement = Opt.Text("--agreement", "Only the resales of this agreement.", "id");
        var command = new Command("resales", "List the peers' offerings this cloud resells (provider-admin, broker).") { agreement };
        app.Handle(command, async inv => inv.ShowList(await inv.Client().Federation.ListResalesAsync(inv.Value(agreement), inv.Ct), "No resales.", ResaleColumns));
        return command;
    }

    private static Command Usage(CliApp app)
    {
        var id = Opt.Id("agreement");
        var command = new Command("usage", "Show what the peer meters and invoices for an agreement this cloud consumes, read from the peer with the agreement's credential.") { id };
        app.Handle(command, async inv => inv.Show(await inv.Client().Federation.GetAgreementUsageAsync(inv.Value(id), inv.Ct), (o, u) =>
        {
            o.Fields(("Agreement", u.AgreementId), ("Peer", u.Peer.Name), ("Account at the peer", u.Usage.AccountId),
                ("From", Fmt.Time(u.Usage.From)), ("To", Fmt.Time(u.Usage.To)), ("Metered to", Fmt.Time(u.Usage.MeteredTo)));
            o.Line();
            o.Table(u.Usage.Totals, "No usage yet.",
                new Column<UsageQuantity>("Metric", q => q.Metric),
                new Column<UsageQuantity>("Quantity", q => Fmt.Number(q.Readable) + " " + q.ReadableUnit));
            o.Line();
            o.Table(u.Invoices, "No invoices yet.",
                new Column<InvoiceView>("Invoice", i => i.Number ?? i.Id),
                new Column<InvoiceView>("Period", i => i.Period),
                new Column<InvoiceView>("State", i => Fmt.Name(i.State)),
                new Column<InvoiceView>("Total", i => string.Join("; ", i.Totals.Select(t => Fmt.Number(t.Total) + " " + t.Currency))));
        }));
        return command;
    }

    private static Command Policy(CliApp app)
    {
        var show = new Command("show", "Show the federation policy: which peers may have agreements, where, and how much.");
        app.Handle(show, async inv => inv.Show(await inv.Client().Federation.GetPolicyAsync(inv.Ct), PolicyFields));
        var peers = new Option<string[]>("--peer") { Description = "A peer allowed agreements (federation name), or * for any trusted peer; repeat for more.", HelpName = "name" };
        var jurisdictions = new Option<string[]>("--jurisdiction") { Description = "A jurisdiction offered to peers; repeat for more (none: all this cloud runs in).", HelpName = "code" };
        var offerings = new Option<string[]>("--offering") { Description = "An offering peers may contract; repeat for more (none: every published one).", HelpName = "id" };
        var units = new Option<string[]>("--max-units") { Description = "The most of a unit one agreement may hold, as unit=n; repeat for more.", HelpName = "unit=n" };
        var reserve = new Option<decimal?>("--reserve") { Description = "Percent of free vCPUs kept for this cloud's own consumers.", HelpName = "percent", CustomParser = r => Opt.DecimalNumber(r) };
        var encryption = Opt.Flag("--encryption-at-rest", "This cloud's disks are encrypted at rest.");
        var isolation = Opt.Enum<IsolationLevel>("--isolation", "The strongest isolation this cloud gives a peer's machines.");
        var version = Opt.RowVersion();
        var set = new Command("set", "Replace the federation policy (provider-admin); options not given keep their current value.")
        {
            peers, jurisdictions, offerings, units, reserve, encryption, isolation, version,
        };
        app.Handle(set, async inv =>
        {
            var federation = inv.Client().Federation;
            var p = await federation.GetPolicyAsync(inv.Ct);
            var policy = p with
            {
                Peers = inv.Value(peers) is { Length: > 0 } pe ? pe : p.Peers,
                Jurisdictions = inv.Value(jurisdictions) is { Length: > 0 } j ? j : p.Jurisdictions,
                Offerings = inv.Value(offerings) is { Length: > 0 } o ? o : p.Offerings,
                MaxUnits = inv.Value(units) is { Length: > 0 } u ? ParseUnits(u) : p.MaxUnits,
                CapacityReservePercent = inv.Value(reserve) ?? p.CapacityReservePercent,
                EncryptionAtRest = inv.Value(encryption) || p.EncryptionAtRest,
                Isolation = inv.Value(isolation) ?? p.Isolation,
                Version = inv.Value(version) ?? p.Version,
            };
            return inv.Show(await federation.SetPolicyAsync(policy, inv.Ct), PolicyFields);
        });
        return new Command("policy", "The federation policy this cloud grants peers agreements under.") { show, set };
    }

    private static void PolicyFields(Output o, FederationPolicy p) => o.Fields(
        ("Peers", p.Peers.Count == 0 ? "none (no agreements)" : Fmt.List(p.Peers)),
        ("Jurisdictions", p.Jurisdictions.Count == 0 ? "all this cloud runs in" : Fmt.List(p.Jurisdictions)),
        ("Offerings", p.Offerings.Count == 0 ? "every published offering" : Fmt.List(p.Offerings)),
        ("Max units", Fmt.Limits(p.MaxUnits)), ("Capacity reserve", Fmt.Number(p.CapacityReservePercent) + "%"),
        ("Encryption at rest", p.EncryptionAtRest ? "yes" : "no"), ("Isolation", Fmt.Name(p.Isolation)),
        ("Version", Fmt.Number(p.Version)), ("Updated", Fmt.Time(p.Updated)));
}

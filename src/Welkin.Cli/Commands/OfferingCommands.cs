using System.CommandLine;
using System.Text.Json;
using Welkin.Cli.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Commands;

/// <summary><c>welkin offering</c> (the provider's side) and <c>welkin catalog</c> (the public catalog).</summary>
internal static class OfferingCommands
{
    public static Command Create(CliApp app) => new("offering", "Create, publish and withdraw offerings.")
    {
        CreateOffering(app), List(app), Show(app), Update(app),
        Transition(app, "publish", "Publish an offering to the public catalog."),
        Transition(app, "withdraw", "Withdraw an offering from the catalog; existing contracts are unaffected."),
    };

    public static Command Catalog(CliApp app)
    {
        var prefix = Opt.NamePrefix();
        var after = Opt.After();
        var limit = Opt.Limit();
        var list = new Command("list", "List the published offerings (no login needed).") { prefix, after, limit };
        app.Handle(list, async inv =>
            inv.ShowPage(await inv.Client().Catalog.ListOfferingsAsync(inv.Value(prefix), inv.Value(after), inv.Value(limit), inv.Ct),
                "The catalog is empty.", ListColumns));
        var id = Opt.Id("offering");
        var show = new Command("show", "Show a published offering.") { id };
        app.Handle(show, async inv => inv.Show(await inv.Client().Catalog.GetOfferingAsync(inv.Value(id), inv.Ct), Fields));
        return new Command("catalog", "Browse a cloud's public catalog.") { list, show, CatalogFind.Create(app) };
    }

    public static void Fields(Output o, OfferingView offering)
    {
        var s = offering.Spec;
        o.Fields(
            ("Id", offering.Id), ("Name", s.Name), ("Description", s.Description), ("Kind", Fmt.Name(s.Kind)), ("State", Fmt.Name(offering.State)),
            ("Template", s.TemplateId is null ? null : s.TemplateVersion is { } v ? $"{s.TemplateId} v{v}" : s.TemplateId),
            ("Storage", s.Storage is { } st ? $"in steps of {st.IncrementGiB} GiB up to {st.MaxGiB} GiB" : null),
            ("Limit unit", s.LimitUnit),
            ("Price plan", $"{s.PricePlan.Currency}, billed {s.PricePlan.BillingPeriod}"),
            ("Availability", Fmt.Number(s.Sla.AvailabilityPercent) + " %"),
            ("Terms", $"minimum {s.Terms.MinimumPeriodMonths} months; unprovisioned units {Fmt.Number(s.Terms.UnprovisionedDiscountPercent)} % off"),
            ("Jurisdictions", s.Constraints?.Jurisdictions is { } j ? Fmt.List(j) : null),
            ("Regions", s.Constraints?.Regions is { } r ? Fmt.List(r) : null),
            ("Bursting", BurstCommands.Describe(s.Burst?.Enabled ?? false, s.Burst?.Peers, s.Burst?.MaxPricePerCpuHour, s.PricePlan.Currency)),
            ("Version", Fmt.Number(offering.Version)), ("Created", Fmt.Time(offering.Created)), ("Updated", Fmt.Time(offering.Updated)),
            ("Published", Fmt.Time(offering.Published)), ("Withdrawn", Fmt.Time(offering.Withdrawn)));
        o.Line();
        o.Table(s.PricePlan.Rates, "No rates.",
            new Column<PriceRate>("Metric", r => r.Metric),
            new Column<PriceRate>("Price", r => $"{Fmt.Number(r.Price)} {s.PricePlan.Currency}"),
            new Column<PriceRate>("Per", r => r.Unit),
            new Column<PriceRate>("Description", r => r.Description));
    }

    private static readonly Column<OfferingView>[] ListColumns =
    [
        new("Id", o => o.Id),
        new("Name", o => o.Spec.Name),
        new("Kind", o => Fmt.Name(o.Spec.Kind)),
        new("State", o => Fmt.Name(o.State)),
        new("Template", o => o.Spec.TemplateId),
        new("Rates", o => Fmt.List(o.Spec.PricePlan.Rates.Select(r => $"{Fmt.Number(r.Price)} {o.Spec.PricePlan.Currency}/{r.Unit}"))),
    ];

    /// <summary>Reads an offering spec; the file may also be an offering as <c>offering show --output json</c> prints it.</summary>
    private static OfferingSpec ReadSpec(Invocation inv, string path)
    {
        var json = inv.ReadJson(path);
        if (json.ValueKind == JsonValueKind.Object && json.TryGetProperty("spec", out var spec))
        {
            json = spec;
        }
        try
        {
            return json.Deserialize<OfferingSpec>(WelkinJson.Server) ?? throw new CliException($"{path} holds no offering spec.");
        }
        catch (JsonException e)
        {
            throw new CliException($"{path} is not a valid offering spec: {WelkinJson.Describe(e)}.");
        }
    }

    private static Option<string> SpecFile() => new("--file", "-f")
    {
        Description = "A JSON file with the offering spec; '-' reads standard input.",
        HelpName = "file",
        Required = true,
    };

    private static Command CreateOffering(CliApp app)
    {
        var file = SpecFile();
        var command = new Command("create", "Create an offering from a spec file, as a draft.") { file };
        app.Handle(command, async inv => inv.Show(await inv.Client().Offerings.CreateAsync(ReadSpec(inv, inv.Value(file)!), inv.Ct), Fields));
        return command;
    }

    private static Command List(CliApp app)
    {
        var state = Opt.Enum<OfferingState>("--state", "Only offerings in this state");
        var prefix = Opt.NamePrefix();
        var after = Opt.After();
        var limit = Opt.Limit();
        var command = new Command("list", "List offerings in every state.") { state, prefix, after, limit };
        app.Handle(command, async inv =>
            inv.ShowPage(await inv.Client().Offerings.ListAsync(inv.Value(state), inv.Value(prefix), inv.Value(after), inv.Value(limit), inv.Ct),
                "No offerings.", ListColumns));
        return command;
    }

    private static Command Show(CliApp app)
    {
        var id = Opt.Id("offering");
        var command = new Command("show", "Show an offering.") { id };
        app.Handle(command, async inv => inv.Show(await inv.Client().Offerings.GetAsync(inv.Value(id), inv.Ct), Fields));
        return command;
    }

    private static Command Update(CliApp app)
    {
        var id = Opt.Id("offering");
        var file = SpecFile();
        var version = Opt.RowVersion();
        var command = new Command("update", "Replace a draft offering's spec.") { id, file, version };
        app.Handle(command, async inv =>
        {
            var request = new UpdateOfferingRequest(ReadSpec(inv, inv.Value(file)!), inv.Value(version));
            return inv.Show(await inv.Client().Offerings.UpdateAsync(inv.Value(id), request, inv.Ct), Fields);
        });
        return command;
    }

    private static Command Transition(CliApp app, string verb, string description)
    {
        var id = Opt.Id("offering");
        var version = Opt.RowVersion();
        var command = new Command(verb, description) { id, version };
        app.Handle(command, async inv =>
        {
            var request = new OfferingTransitionRequest(inv.Value(version));
            var offerings = inv.Client().Offerings;
            var result = verb == "publish"
                ? await offerings.PublishAsync(inv.Value(id), request, inv.Ct)
                : await offerings.WithdrawAsync(inv.Value(id), request, inv.Ct);
            return inv.Show(result, Fields);
        });
        return command;
    }
}

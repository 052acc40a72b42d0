using System.CommandLine;
using System.Globalization;
using Welkin.Cli.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Commands;

/// <summary><c>welkin invoice</c>: list, show, issue and preview invoices, an account's billing address; <c>welkin contract price-plans</c>.</summary>
internal static class InvoiceCommands
{
    public static Command Create(CliApp app) => new("invoice", "Invoices per account and billing period (calendar months in UTC).")
    {
        List(app), Show(app), Issue(app), Preview(app), BillingAddress(app),
    };

    private static Option<string?> Account() =>
        Opt.Text("--account", "The account (default: your own; provider roles name one).", "id");

    private static Option<string> Period(bool required) => new("--period")
    {
        Description = required ? "The billing period, YYYY-MM." : "The billing period, YYYY-MM (default: the current one).",
        HelpName = "yyyy-mm",
        Required = required,
    };

    /// <summary>The account named, else the caller's own.</summary>
    private static async Task<string> AccountIdAsync(Invocation inv, Option<string?> account)
    {
        if (inv.Value(account) is { } id)
        {
            return id;
        }
        var me = await inv.Client().Auth.WhoAmIAsync(inv.Ct);
        return me.Principal.AccountId ?? throw new CliException("Name the account with --account (a provider principal has none of its own).");
    }

    private static Command List(CliApp app)
    {
        var account = Account();
        var after = Opt.After();
        var limit = Opt.Limit();
        var command = new Command("list", "List an account's issued invoices.") { account, after, limit };
        app.Handle(command, async inv =>
        {
            var page = await inv.Client().Billing.ListAsync(await AccountIdAsync(inv, account), inv.Value(after), inv.Value(limit), inv.Ct);
            return inv.ShowPage(page, "No invoices.",
                new Column<InvoiceSummaryView>("Id", i => i.Id),
                new Column<InvoiceSummaryView>("Number", i => i.Number),
                new Column<InvoiceSummaryView>("Period", i => i.Period),
                new Column<InvoiceSummaryView>("Kind", i => Fmt.Name(i.Kind)),
                new Column<InvoiceSummaryView>("Lines", i => Fmt.Number(i.Lines)),
                new Column<InvoiceSummaryView>("Total", i => Totals(i.Totals)),
                new Column<InvoiceSummaryView>("Issued", i => Fmt.Time(i.Issued)));
        });
        return command;
    }

    private static Command Show(CliApp app)
    {
        var id = Opt.Id("invoice");
        var html = Opt.Text("--html", "Also write the printable HTML page to this file.", "file");
        var pdf = Opt.Text("--pdf", "Also write the PDF document (A4) to this file.", "file");
        var command = new Command("show", "Show an invoice line by line.") { id, html, pdf };
        app.Handle(command, async inv =>
        {
            var invoice = await inv.Client().Billing.GetAsync(inv.Value(id), inv.Ct);
            if (inv.Value(html) is { } file)
            {
                await File.WriteAllTextAsync(file, await inv.Client().Billing.HtmlAsync(invoice.Id!, inv.Ct), inv.Ct);
                inv.Err.WriteLine($"Wrote {file}");
            }
            if (inv.Value(pdf) is { } pdfFile)
            {
                await File.WriteAllBytesAsync(pdfFile, await inv.Client().Billing.PdfAsync(invoice.Id!, inv.Ct), inv.Ct);
                inv.Err.WriteLine($"Wrote {pdfFile}");
            }
            return inv.Show(invoice, Fields);
        });
        return command;
    }

    private static Command Issue(CliApp app)
    {
        var account = Opt.Required("--account", "The account to invoice.", "id");
        var period = Period(required: true);
        var command = new Command("issue", "Issue the invoice of an ended period (billing-admin); an issued invoice never changes.") { account, period };
        app.Handle(command, async inv => inv.Show(await inv.Client().Billing.IssueAsync(inv.Value(account)!, inv.Value(period)!, inv.Ct), Fields));
        return command;
    }

    private static Command Preview(CliApp app)
    {
        var account = Account();
        var period = Period(required: false);
        var command = new Command("preview", "What the invoice of a period would hold now (not stored).") { account, period };
        app.Handle(command, async inv =>
            inv.Show(await inv.Client().Billing.PreviewAsync(await AccountIdAsync(inv, account), inv.Value(period), inv.Ct), Fields));
        return command;
    }

    public static void Fields(Output o, InvoiceView i)
    {
        o.Fields(
            ("Id", i.Id ?? "(preview, not issued)"), ("Number", i.Number), ("From provider", Party(i.Provider)),
            ("Bill to", i.BillTo is { } b ? Party(b) + $" [{b.AccountName ?? i.AccountId} ({i.AccountId})]" : i.AccountId),
            ("Period", i.Period), ("Kind", Fmt.Name(i.Kind)), ("From", Fmt.Time(i.PeriodStart)), ("To", Fmt.Time(i.PeriodEnd)),
            ("Usage up to", Fmt.Time(i.RatedUntil)), ("Issue date", Date(i.IssueDate)), ("Due date", Date(i.DueDate)),
            ("Payment terms", i.PaymentTermsDays is { } days ? $"{days} days net" : null),
            ("Currency", i.Totals.Count == 0 ? null : string.Join(", ", i.Totals.Select(t => t.Currency).Distinct(StringComparer.Ordinal))),
            ("Issued", Fmt.Time(i.Issued)), ("Issued by", i.IssuedBy));
        o.Line();
        var names = (i.Contracts ?? []).ToDictionary(c => c.Id, c => c.Name, StringComparer.Ordinal);
        o.Table(i.Lines, "No charges.",
            new Column<InvoiceLineView>("Contract", l => names.GetValueOrDefault(l.ContractId) is { } name ? $"{name} ({l.ContractId})" : l.ContractId),
            new Column<InvoiceLineView>("Line", l => l.Item is { } item ? Fmt.Number(item) : null),
            new Column<InvoiceLineView>("Description", l => l.Description),
            new Column<InvoiceLineView>("Plan", l => l.PlanVersion is { } v ? "v" + v.ToString(CultureInfo.InvariantCulture) : null),
            new Column<InvoiceLineView>("Quantity", l => l.Quantity is { } q ? Fmt.Number(q) + " " + (l.MetricName ?? l.Unit) : null),
            new Column<InvoiceLineView>("Rate", l => l.UnitPrice is { } p ? $"{Fmt.Number(p)} {l.Currency}/{l.Unit}" : null),
            new Column<InvoiceLineView>("Amount", l => Money(l.Amount, l.Currency)));
        o.Line();
        o.Table(i.Totals, "Nothing due.",
            new Column<InvoiceTotalView>("Currency", t => t.Currency),
            new Column<InvoiceTotalView>("Charges", t => Money(t.Charges, t.Currency)),
            new Column<InvoiceTotalView>("SLA credits", t => Money(t.Credits, t.Currency)),
            new Column<InvoiceTotalView>("Total", t => Money(t.Total, t.Currency)));
    }

    /// <summary><c>welkin contract price-plans ID</c>.</summary>
    public static Command PricePlans(CliApp app)
    {
        var id = Opt.Id("contract");
        var command = new Command("price-plans", "Show the price plan versions of a contract's lines and when each takes effect.") { id };
        app.Handle(command, async inv =>
            inv.ShowList(await inv.Client().Billing.PricePlansAsync(inv.Value(id), inv.Ct), "No lines.",
                new Column<PricePlanVersionView>("Line", v => Fmt.Number(v.Item)),
                new Column<PricePlanVersionView>("Version", v => Fmt.Number(v.Version)),
                new Column<PricePlanVersionView>("Effective from", v => v.Version == 1 ? "contract start" : Fmt.Time(v.EffectiveFrom)),
                new Column<PricePlanVersionView>("Rates", v => string.Join("; ", v.PricePlan.Rates.Select(r => Rate(r, v.PricePlan.Currency)))),
                new Column<PricePlanVersionView>("Reason", v => v.Reason)));
        return command;
    }

    private static string Rate(PriceRate r, string currency)
    {
        var text = $"{r.Metric} {Fmt.Number(r.Price)} {currency}/{r.Unit}";
        if (r.Pricing is { } pricing && pricing != PricingModel.Flat)
        {
            text += $" {Fmt.Name(pricing)} [" + string.Join(", ", (r.Tiers ?? []).Select(t => $"≤{Fmt.Number(t.UpTo)}: {Fmt.Number(t.Price)}")) + "]";
        }
        return r.MinimumCharge is { } minimum ? $"{text}, minimum {Fmt.Number(minimum)}" : text;
    }

    private static Command BillingAddress(CliApp app)
    {
        var account = Account();
        var set = Opt.Text("--set", "A new address; separate lines with \\n (or give several --line).", "text");
        var lines = new Option<string[]>("--line") { Description = "One line of a new address; repeat for each line.", HelpName = "text" };
        var clear = Opt.Flag("--clear", "Remove the address.");
        var version = Opt.RowVersion();
        var command = new Command("billing-address", "Show or set an account's billing address, printed on its later invoices.") { account, set, lines, clear, version };
        app.Handle(command, async inv =>
        {
            var accountId = await AccountIdAsync(inv, account);
            var given = inv.Value(lines) is { Length: > 0 } l ? string.Join('\n', l) : inv.Value(set)?.Replace("\\n", "\n", StringComparison.Ordinal);
            var billing = inv.Client().Billing;
            var result = given is null && !inv.Value(clear)
                ? await billing.BillingAddressAsync(accountId, inv.Ct)
                : await billing.SetBillingAddressAsync(accountId, new SetBillingAddressRequest(inv.Value(clear) ? null : given, inv.Value(version)), inv.Ct);
            return inv.Show(result, (o, a) => o.Fields(("Account", a.AccountId), ("Address", a.Address?.Replace("\n", " / ", StringComparison.Ordinal) ?? "(none)"),
                ("Version", Fmt.Number(a.Version))));
        });
        return command;
    }

    private static string? Party(InvoiceParty? p) => p is null ? null : p.Address is null ? p.Name : $"{p.Name}, {p.Address.Replace("\n", ", ", StringComparison.Ordinal)}";

    private static string? Date(DateOnly? d) => d?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    private static string Money(decimal amount, string currency) => amount.ToString("#,0.00", CultureInfo.InvariantCulture) + " " + currency;

    private static string Totals(IReadOnlyList<InvoiceTotalView> totals) =>
        totals.Count == 0 ? "0.00" : string.Join(", ", totals.Select(t => Money(t.Total, t.Currency)));
}

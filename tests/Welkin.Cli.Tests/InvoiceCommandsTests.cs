using Welkin.Cli.Commands;
using Welkin.Cli.Infrastructure;
using Welkin.Cli.Tests.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Tests;

/// <summary>Invoice and price plan commands against a real server.</summary>
[Collection(CloudsCollection.Name)]
public sealed class InvoiceCommandsTests(TwoClouds clouds) : IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task Invoices_IssueListShowHtmlPreview_AndPricePlans()
    {
        await _cli.OkAsync("profile", "add", "admin", "--endpoint", clouds.A.Endpoint.AbsoluteUri, "--token-file", clouds.A.AdminTokenFile);
        await _cli.OkAsync("profile", "add", "tenant", "--endpoint", clouds.A.Endpoint.AbsoluteUri);
        await _cli.OkAsync("profile", "use", "tenant");
        var account = (await _cli.OkAsync("account", "sign-up", "--name", Names.Unique("payer"), "--display-name", "Payer", "--save", "--output", "json"))
            .Json<SignUpResponse>();
        await _cli.OkAsync("--profile", "admin", "account", "set-limits", account.Account.Id, "--limit", "storage-unit=10");
        var spec = Path.Combine(_cli.WorkDir, "storage.json");
        await File.WriteAllTextAsync(spec, $$"""
            {
              "name": "{{Names.Unique("disk")}}", "kind": "storage", "limitUnit": "storage-unit",
              "storage": { "incrementGiB": 100, "maxGiB": 10000 },
              "pricePlan": { "currency": "USD", "billingPeriod": "month", "rates": [
                { "metric": "storage-unit", "unit": "unit-month", "price": 2.00, "minimumCharge": 1.00 },
                { "metric": "storage-tb-day", "unit": "tb-day", "price": 5.00, "pricing": "volume", "tiers": [ { "upTo": 100, "price": 6.00 } ] } ] },
              "sla": { "availabilityPercent": 99.99 },
              "terms": { "minimumPeriodMonths": 0, "unprovisionedDiscountPercent": 50 }
            }
            """, TestContext.Current.CancellationToken);
        var offering = (await _cli.OkAsync("--profile", "admin", "offering", "create", "--file", spec, "--output", "json")).Json<OfferingView>();
        await _cli.OkAsync("--profile", "admin", "offering", "publish", offering.Id);
        var contract = (await _cli.OkAsync("contract", "request", "--offering", offering.Id, "--quantity", "2", "--output", "json")).Json<ContractView>();
        await _cli.OkAsync("contract", "accept", contract.Id);
        var last = TimeProvider.System.GetUtcNow().AddMonths(-1).ToString("yyyy-MM", System.Globalization.CultureInfo.InvariantCulture);
        var html = Path.Combine(_cli.WorkDir, "invoice.html");
        var pdf = Path.Combine(_cli.WorkDir, "invoice.pdf");
        var address = await _cli.OkAsync("invoice", "billing-address", "--line", "Payer Ltd", "--line", "7 Mill Lane");

        var issued = (await _cli.OkAsync("--profile", "admin", "invoice", "issue", "--account", account.Account.Id, "--period", last, "--output", "json"))
            .Json<InvoiceView>();
        var again = await _cli.RunAsync("--profile", "admin", "invoice", "issue", "--account", account.Account.Id, "--period", last);
        var listed = await _cli.OkAsync("invoice", "list");
        var shown = await _cli.OkAsync("invoice", "show", issued.Id!, "--html", html, "--pdf", pdf);
        var preview = (await _cli.OkAsync("invoice", "preview", "--output", "json")).Json<InvoiceView>();
        var plans = await _cli.OkAsync("contract", "price-plans", contract.Id);
        var addressShown = await _cli.OkAsync("invoice", "billing-address");

        issued.Period.ShouldBe(last);
        issued.State.ShouldBe(InvoiceState.Issued);
        again.ExitCode.ShouldBe(1, again.ToString());
        again.Err.ShouldContain("already has invoice");
        listed.Out.ShouldContain(issued.Id!);
        listed.Out.ShouldContain(last);
        shown.Out.ShouldMatch(@"Period:\s+" + last);
        shown.Out.ShouldMatch(@"Number:\s+WK-\d{4}-\d{6}");
        shown.Out.ShouldMatch(@"Bill to:\s+Payer, Payer Ltd, 7 Mill Lane");
        shown.Out.ShouldMatch(@"Due date:\s+\d{4}-\d{2}-\d{2}");
        shown.Out.ShouldMatch(@"Payment terms:\s+30 days net");
        shown.Out.ShouldContain("No charges."); // the contract began this period
        listed.Out.ShouldContain(issued.Number!);
        address.Out.ShouldMatch(@"Address:\s+Payer Ltd / 7 Mill Lane");
        addressShown.Out.ShouldMatch(@"Address:\s+Payer Ltd / 7 Mill Lane");
        (await File.ReadAllTextAsync(html, TestContext.Current.CancellationToken)).ShouldContain("<!DOCTYPE html>");
        (await File.ReadAllBytesAsync(pdf, TestContext.Current.CancellationToken)).Take(5).ShouldBe("%PDF-"u8.ToArray());
        shown.Err.ShouldContain($"Wrote {pdf}");
        preview.State.ShouldBe(InvoiceState.Preview);
        preview.AccountId.ShouldBe(account.Account.Id);
        plans.Out.ShouldContain("storage-tb-day 5");
        plans.Out.ShouldContain("volume");
        plans.Out.ShouldContain("minimum 1");
    }

    [Fact]
    public void Show_WritesContractNamesMetricNamesRatesAsStatedAndAmountsWithTwoDecimals()
    {
        var t = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        InvoiceLineView Line(string metric, string unit, string name, decimal quantity, decimal price, decimal amount) =>
            new(InvoiceLineKind.Charge, "ctr_x", 0, "small", metric, unit, 1, null, null, quantity, price, PricingModel.Flat, null, null, null, null, "USD", amount, name, name);
        var invoice = new InvoiceView("inv_x", "acc_x", "2026-11", InvoiceKind.Period, InvoiceState.Issued, t, t.AddMonths(1), t.AddMonths(1),
            [Line("compute-unit", "unit-month", "servers per month", 2m, 40m, 80.00m), Line("cpu-hour", "hour", "CPU hours", 600m, 0.130m, 78.00m)],
            [new InvoiceTotalView("USD", 158.00m, 0.00m, 158.00m)], [], "prn_x", t.AddMonths(1), "WK-2026-000007", new DateOnly(2026, 12, 1), new DateOnly(2026, 12, 31), 30,
            new InvoiceParty("Welkin", "1 Harbour Road\nPort Town"), new InvoiceParty("Acme Ltd", "7 Mill Lane", "acc_x", "acme"), [new InvoiceContract("ctr_x", "web shop")]);
        var text = new StringWriter();

        InvoiceCommands.Fields(new Output(text), invoice);

        var lines = text.ToString().Split('\n').Select(l => l.TrimEnd()).ToList();
        lines.ShouldContain("From provider:  Welkin, 1 Harbour Road, Port Town");
        lines.ShouldContain("Bill to:        Acme Ltd, 7 Mill Lane [acme (acc_x)]");
        lines.ShouldContain("Due date:       2026-12-31");
        lines.ShouldContain(l => l.StartsWith("web shop (ctr_x)", StringComparison.Ordinal) && l.Contains("2 servers per month", StringComparison.Ordinal)
            && l.Contains("40 USD/unit-month", StringComparison.Ordinal) && l.EndsWith("80.00 USD", StringComparison.Ordinal));
        lines.ShouldContain(l => l.Contains("600 CPU hours", StringComparison.Ordinal) && l.Contains("0.130 USD/hour", StringComparison.Ordinal));
    }
}

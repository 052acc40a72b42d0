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

        var issued = (await _cli.OkAsync("--profile", "admin", "invoice", "issue", "--account", account.Account.Id, "--period", last, "--output", "json"))
            .Json<InvoiceView>();
        var again = await _cli.RunAsync("--profile", "admin", "invoice", "issue", "--account", account.Account.Id, "--period", last);
        var listed = await _cli.OkAsync("invoice", "list");
        var shown = await _cli.OkAsync("invoice", "show", issued.Id!, "--html", html);
        var preview = (await _cli.OkAsync("invoice", "preview", "--output", "json")).Json<InvoiceView>();
        var plans = await _cli.OkAsync("contract", "price-plans", contract.Id);

        issued.Period.ShouldBe(last);
        issued.State.ShouldBe(InvoiceState.Issued);
        again.ExitCode.ShouldBe(1, again.ToString());
        again.Err.ShouldContain("already has invoice");
        listed.Out.ShouldContain(issued.Id!);
        listed.Out.ShouldContain(last);
        shown.Out.ShouldMatch(@"Period:\s+" + last);
        (await File.ReadAllTextAsync(html, TestContext.Current.CancellationToken)).ShouldContain("<!DOCTYPE html>");
        preview.State.ShouldBe(InvoiceState.Preview);
        preview.AccountId.ShouldBe(account.Account.Id);
        plans.Out.ShouldContain("storage-tb-day 5");
        plans.Out.ShouldContain("volume");
        plans.Out.ShouldContain("minimum 1");
    }
}

using System.Xml.Linq;
using Welkin.Cli.Tests.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Tests;

/// <summary>Usage and contract report commands against a real server.</summary>
[Collection(CloudsCollection.Name)]
public sealed class UsageCommandsTests(TwoClouds clouds) : IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task UsageReconcileAndContractReport_OnAStorageContract()
    {
        await _cli.OkAsync("profile", "add", "admin", "--endpoint", clouds.A.Endpoint.AbsoluteUri, "--token-file", clouds.A.AdminTokenFile);
        await _cli.OkAsync("profile", "add", "tenant", "--endpoint", clouds.A.Endpoint.AbsoluteUri);
        await _cli.OkAsync("profile", "use", "tenant");
        var account = (await _cli.OkAsync("account", "sign-up", "--name", Names.Unique("meter"), "--display-name", "Meter", "--save", "--output", "json"))
            .Json<SignUpResponse>();
        await _cli.OkAsync("--profile", "admin", "account", "set-limits", account.Account.Id, "--limit", "storage-unit=10");
        var path = Path.Combine(_cli.WorkDir, "storage.json");
        await File.WriteAllTextAsync(path, $$"""
            {
              "name": "{{Names.Unique("disk")}}", "kind": "storage", "limitUnit": "storage-unit",
              "storage": { "incrementGiB": 100, "maxGiB": 10000 },
              "pricePlan": { "currency": "USD", "billingPeriod": "month", "rates": [ { "metric": "storage-tb-day", "unit": "tb-day", "price": 5.00 } ] },
              "sla": { "availabilityPercent": 99.99 }, "terms": { "minimumPeriodMonths": 0, "unprovisionedDiscountPercent": 50 }
            }
            """, TestContext.Current.CancellationToken);
        var offering = (await _cli.OkAsync("--profile", "admin", "offering", "create", "--file", path, "--output", "json")).Json<OfferingView>();
        await _cli.OkAsync("--profile", "admin", "offering", "publish", offering.Id);
        var proposed = (await _cli.OkAsync("contract", "request", "--offering", offering.Id, "--quantity", "4", "--name", "backups", "--output", "json")).Json<ContractView>();
        await _cli.OkAsync("contract", "accept", proposed.Id);
        await _cli.OkAsync("volume", "create", "--contract", proposed.Id, "--size", "200");
        await Task.Delay(50, TestContext.Current.CancellationToken);

        var reconciled = await _cli.OkAsync("usage", "reconcile");
        var shown = await _cli.OkAsync("usage", "show", "--contract", proposed.Id, "--group-by", "metric");
        var json = (await _cli.OkAsync("usage", "show", "--output", "json")).Json<UsageReport>();
        var svgFile = Path.Combine(_cli.WorkDir, "report.svg");
        var report = await _cli.OkAsync("contract", "report", proposed.Id, "--svg", svgFile);
        var reportJson = (await _cli.OkAsync("contract", "report", proposed.Id, "--json")).Json<ContractReport>();
        var badGroup = await _cli.RunAsync("usage", "show", "--group-by", "planet");

        reconciled.Out.ShouldContain("Result:");
        reconciled.Out.ShouldContain("ok");
        shown.Out.ShouldContain("storage-gib-ms");
        shown.Out.ShouldContain("TB-days");
        shown.Out.ShouldContain("unit-ordered-ms");
        json.AccountId.ShouldBe(account.Account.Id);
        json.Totals.Single(t => t.Metric == "storage-gib-ms").Quantity.ShouldBeGreaterThan(0);
        (json.Totals.Single(t => t.Metric == "storage-gib-ms").Quantity % 200).ShouldBe(0);
        report.Out.ShouldContain("Active servers by hour of day (UTC):");
        report.Out.ShouldContain("Timeline:");
        report.Out.ShouldContain("contract-activated");
        XDocument.Load(svgFile).Root!.Name.LocalName.ShouldBe("svg");
        reportJson.Timeline.Select(t => t.Kind).ShouldBe(["contract-activated", "deployed"]);
        badGroup.ExitCode.ShouldBe(2);
    }
}

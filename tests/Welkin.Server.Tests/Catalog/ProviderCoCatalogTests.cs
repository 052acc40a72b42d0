using System.Net;
using Welkin.Contracts;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Catalog;

/// <summary>
/// The DMTF white paper's Table 1 ("Create Service Template", "Publish Service Template"):
/// ProviderCo offers servers with two or four processors, 6 or 8 GB of RAM and 100 GB of storage,
/// with proprietary or open-source operating systems, HTTP servers and database managers (twelve
/// templates), plus storage as a service in 100 GB increments, all sold per month with a discount
/// for units ordered but not provisioned; billing is $0.13 per CPU hour and $5.00 per terabyte-day.
/// </summary>
public sealed class ProviderCoCatalogTests(WelkinApp app) : IClassFixture<WelkinApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly (string Name, string Os, string Http, string Db)[] Stacks =
    [
        ("proprietary", "windows-server", "iis", "sql-server"),
        ("open-source", "debian", "apache", "postgresql"),
        ("mixed", "rhel", "nginx", "mysql"),
    ];

    private static TemplateSpec Server(string prefix, int processors, long memoryMiB, (string Name, string Os, string Http, string Db) stack) =>
        new($"{prefix}server {processors}cpu {memoryMiB / 1024}gb {stack.Name}",
        [
            new VirtualSystemSpec(
                "server",
                new HardwareChoices(new Choice<int>([processors], processors), new Choice<long>([memoryMiB], memoryMiB), new Choice<long>([100], 100)),
                new SoftwareChoices(new Choice<string>([stack.Os], stack.Os), new Choice<string>([stack.Http], stack.Http), new Choice<string>([stack.Db], stack.Db)),
                Properties:
                [
                    new PropertyDefinition("http.port", PropertyType.Int, "80", "HTTP port", AllowedValues: ["80", "8080"]),
                    new PropertyDefinition("db.backups", PropertyType.Boolean, "true", "Nightly database backups"),
                    new PropertyDefinition("site.name", PropertyType.String, "www", "Site host name"),
                ]),
        ], $"ProviderCo {processors}-processor server with {memoryMiB / 1024} GB RAM, 100 GB storage, {stack.Name} stack");

    private static readonly OfferingTerms MonthlyWithUnprovisionedDiscount = new(MinimumPeriodMonths: 1, UnprovisionedDiscountPercent: 40m);

    private static OfferingSpec ComputeUnit(TemplateView template) =>
        new(template.Name, OfferingKind.Compute,
            new PricePlan("USD", "month",
            [
                new PriceRate("compute-unit", "unit-month", 35.00m, "Each computing unit ordered, per month"),
                new PriceRate("cpu-hour", "hour", 0.13m, "Each provisioned processor, per hour"),
            ]),
            new SlaTerms(99.9m, CpuUtilizationPercentMax: 90m, IncidentResponseMinutes: 60),
            MonthlyWithUnprovisionedDiscount, "compute-unit",
            TemplateId: template.Id, TemplateVersion: template.TemplateVersion);

    private static OfferingSpec StorageUnits(string prefix) =>
        new($"{prefix}storage 100gb units", OfferingKind.Storage,
            new PricePlan("USD", "month", [new PriceRate("storage-tb-day", "tb-day", 5.00m, "Provisioned storage, per terabyte-day")]),
            new SlaTerms(99.99m), MonthlyWithUnprovisionedDiscount, "storage-unit",
            Description: "Storage as a service in 100 GB increments",
            Storage: new StorageSpec(IncrementGiB: 100, MaxGiB: 100 * 100));

    [Fact]
    public async Task Table1_TwelveTemplatesAndStorage_ArePublishedAsThirteenOfferings()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var manager = await app.ProviderPrincipalAsync(Role.CatalogManager);
        var prefix = CatalogApi.UniquePrefix("providerco");

        var templates = new List<TemplateView>();
        foreach (var processors in new[] { 2, 4 })
        {
            foreach (var memoryMiB in new long[] { 6144, 8192 })
            {
                foreach (var stack in Stacks)
                {
                    templates.Add(await developer.PublishedTemplateAsync(Server(prefix, processors, memoryMiB, stack)));
                }
            }
        }
        var offerings = new List<OfferingView>();
        foreach (var template in templates)
        {
            offerings.Add(await manager.PublishOfferingAsync((await manager.CreateOfferingAsync(ComputeUnit(template))).Id));
        }
        offerings.Add(await manager.PublishOfferingAsync((await manager.CreateOfferingAsync(StorageUnits(prefix))).Id));

        templates.Count.ShouldBe(12);
        templates.Select(t => t.Name).Distinct().Count().ShouldBe(12);
        templates.ShouldAllBe(t => t.State == TemplateState.Published);

        // Anyone may read the catalog: exactly these thirteen offerings, as published.
        var anonymous = app.Anonymous();
        var catalog = await anonymous.PublicCatalogAsync(prefix, pageSize: 5);
        catalog.Select(o => o.Id).ShouldBe(offerings.Select(o => o.Id), ignoreOrder: true);
        catalog.ShouldAllBe(o => o.State == OfferingState.Published);

        var compute = catalog.Where(o => o.Spec.Kind == OfferingKind.Compute).ToList();
        compute.Count.ShouldBe(12);
        compute.Select(o => (o.Spec.TemplateId, o.Spec.TemplateVersion)).ShouldBe(templates.Select(t => ((string?)t.Id, (int?)1)), ignoreOrder: true);
        compute.ShouldAllBe(o => o.Spec.PricePlan.Rates.Any(r => r.Metric == "cpu-hour" && r.Unit == "hour" && r.Price == 0.13m));
        compute.ShouldAllBe(o => o.Spec.PricePlan.Rates.Any(r => r.Metric == "compute-unit" && r.Unit == "unit-month"));
        compute.ShouldAllBe(o => o.Spec.LimitUnit == "compute-unit" && o.Spec.Terms.UnprovisionedDiscountPercent == 40m);

        var storage = catalog.Single(o => o.Spec.Kind == OfferingKind.Storage);
        storage.Spec.Storage!.IncrementGiB.ShouldBe(100);
        storage.Spec.PricePlan.Rates.Single().ShouldBe(new PriceRate("storage-tb-day", "tb-day", 5.00m, "Provisioned storage, per terabyte-day"));
        storage.Spec.LimitUnit.ShouldBe("storage-unit");

        // The template grid covers every combination of the scenario.
        var grid = templates.Select(t => t.VirtualSystems.Single()).Select(s =>
            (s.Hardware.Vcpus.Default, s.Hardware.MemoryMiB.Default, s.Hardware.DiskGiB.Default, s.Software!.OperatingSystem!.Default)).ToList();
        grid.Distinct().Count().ShouldBe(12);
        grid.ShouldAllBe(g => g.Item3 == 100);
        grid.Select(g => g.Item1).Distinct().Order().ShouldBe([2, 4]);
        grid.Select(g => g.Item2).Distinct().Order().ShouldBe([6144L, 8192L]);
        grid.Select(g => g.Item4).Distinct().Order().ShouldBe(["debian", "rhel", "windows-server"]);

        foreach (var offering in offerings)
        {
            var read = await (await anonymous.GetAsync($"/api/v1/catalog/offerings/{offering.Id}", Ct)).ReadAsync<OfferingView>();
            read.Spec.Name.ShouldBe(offering.Spec.Name);
        }

        // Publishing was audited: one template.publish per template, one offering.publish per offering.
        var audit = await app.Admin().AuditAsync();
        var templateIds = templates.Select(t => t.Id).ToHashSet();
        var offeringIds = offerings.Select(o => o.Id).ToHashSet();
        audit.Where(e => e.Action == "template.publish" && e.Outcome == "success" && templateIds.Contains(e.Target)).Select(e => e.Target)
            .ShouldBe(templates.Select(t => t.Id), ignoreOrder: true);
        audit.Where(e => e.Action == "offering.publish" && e.Outcome == "success" && offeringIds.Contains(e.Target)).Select(e => e.Target)
            .ShouldBe(offerings.Select(o => o.Id), ignoreOrder: true);
        var verification = await (await app.Admin().PostAsync("/api/v1/audit/verify", null, Ct)).ReadAsync<AuditVerification>();
        verification.Valid.ShouldBeTrue();
    }
}

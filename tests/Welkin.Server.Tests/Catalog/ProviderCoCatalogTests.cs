using System.Net;
using Welkin.Contracts;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Scenarios;

namespace Welkin.Server.Tests.Catalog;

/// <summary>The DMTF white paper's Table 1 ("Create Service Template", "Publish Service Template"), as <see cref="ProviderCo"/> describes it.</summary>
public sealed class ProviderCoCatalogTests(WelkinApp app) : IClassFixture<WelkinApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Table1_TwelveTemplatesAndStorage_ArePublishedAsThirteenOfferings()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var manager = await app.ProviderPrincipalAsync(Role.CatalogManager);
        var prefix = CatalogApi.UniquePrefix("providerco");

        var published = await ProviderCo.PublishCatalogAsync(developer, manager, prefix);
        var templates = published.Templates;
        var offerings = published.All.ToList();

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

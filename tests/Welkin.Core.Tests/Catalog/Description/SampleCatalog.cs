using Welkin.Contracts;
using Welkin.Core.Catalog.Description;

namespace Welkin.Core.Tests.Catalog.Description;

/// <summary>A catalog of one compute and one storage offering, optionally with hostile text in every free-text field.</summary>
internal static class SampleCatalog
{
    public const string Api = "https://cloud.example/api/v1";
    public const string Hostile = "He said \"hi\"\\ then\nleft\r\tat <tag> & 'x' {y} |z| ^ ` naïve 日本 🚀 e\u0301 \u0001\u007f end";

    public static CatalogSnapshot Build(bool hostile = false, bool federated = true)
    {
        var text = hostile ? Hostile : "Web server";
        var longText = hostile ? string.Concat(Enumerable.Repeat(Hostile + " ", 400)) : "Two tiers";
        var published = new DateTimeOffset(2026, 11, 3, 10, 15, 30, 123, TimeSpan.Zero);
        var template = new TemplateView("tpl_01m7zq1av1vwwb1nbrnpn39w39", 2, TemplateState.Published, text, longText,
            [
                new VirtualSystemSpec("web", new HardwareChoices(new Choice<int>([2, 4], 2), new Choice<long>([6144, 8192], 6144), new Choice<long>([100], 100)),
                    new SoftwareChoices(new Choice<string>(["debian", "windows-server"], "debian")), "img_01m7zq1av1vwwb1nbrnpn39w40"),
                new VirtualSystemSpec("db", new HardwareChoices(new Choice<int>([4], 4), new Choice<long>([16384], 16384), new Choice<long>([500], 500))),
            ],
            "prn_x", 3, published, published, published, null);
        var compute = new OfferingView("off_01m7zq1av1vwwb1nbrnpn39w41", OfferingState.Published,
            new OfferingSpec(text, OfferingKind.Compute,
                new PricePlan("EUR", "month",
                [
                    new PriceRate("compute-unit", "unit-month", 35.00m, longText),
                    new PriceRate("cpu-hour", "hour", 0.13m, Pricing: PricingModel.Tiered, Tiers: [new PriceTier(100m, 0.15m), new PriceTier(1000m, 0.14m)], MinimumCharge: 5m),
                ]),
                new SlaTerms(99.9m, CpuUtilizationPercentMax: 80m, IncidentResponseMinutes: 30),
                new OfferingTerms(3, 50m), "compute-unit", longText, template.Id, template.TemplateVersion,
                [new VirtualSystemRestriction("web", Vcpus: new Choice<int>([4], 4))],
                Constraints: new PlacementConstraints(Jurisdictions: ["DE"])),
            2, published, published, published, null);
        var storage = new OfferingView("off_01m7zq1av1vwwb1nbrnpn39w42", OfferingState.Published,
            new OfferingSpec("Storage 100 GB", OfferingKind.Storage, new PricePlan("EUR", "month", [new PriceRate("storage-tb-day", "tb-day", 5m)]),
                new SlaTerms(99.5m), new OfferingTerms(1, 0m), "storage-unit", Storage: new StorageSpec(100, 1000)),
            2, published, published, published, null);
        var cloud = federated
            ? new DescribedCloud(Api, hostile ? Hostile : "ProviderCo-EU", "https://eu.provider.example:8443/api/v1", new string('a', 64))
            : new DescribedCloud(Api);
        return new CatalogSnapshot(cloud, [compute, storage], [template],
            [new CatalogRegion("DE", "fra-1"), new CatalogRegion("DE", hostile ? "fra 2>x" : "fra-2"), new CatalogRegion("US", "us-east")]);
    }
}

using Welkin.Contracts;
using Welkin.Server.Tests.Catalog;

namespace Welkin.Server.Tests.Scenarios;

/// <summary>
/// ProviderCo of the DMTF white paper's Table 1: servers with two or four processors, 6 or 8 GB of
/// RAM and 100 GB of storage, with proprietary, open-source or mixed software stacks (twelve
/// templates), plus storage as a service in 100 GB increments, sold per month with a discount for
/// units ordered but not provisioned, at $0.13 per CPU hour and $5.00 per terabyte-day.
/// </summary>
public static class ProviderCo
{
    public static readonly (string Name, string Os, string Http, string Db)[] Stacks =
    [
        ("proprietary", "windows-server", "iis", "sql-server"),
        ("open-source", "debian", "apache", "postgresql"),
        ("mixed", "rhel", "nginx", "mysql"),
    ];

    public static readonly OfferingTerms MonthlyWithUnprovisionedDiscount = new(MinimumPeriodMonths: 1, UnprovisionedDiscountPercent: 40m);

    public static TemplateSpec Server(string prefix, int processors, long memoryMiB, (string Name, string Os, string Http, string Db) stack) =>
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

    public static OfferingSpec ComputeUnit(TemplateView template) =>
        new(template.Name, OfferingKind.Compute,
            new PricePlan("USD", "month",
            [
                new PriceRate("compute-unit", "unit-month", 35.00m, "Each computing unit ordered, per month"),
                new PriceRate("cpu-hour", "hour", 0.13m, "Each provisioned processor, per hour"),
            ]),
            new SlaTerms(99.9m, CpuUtilizationPercentMax: 90m, IncidentResponseMinutes: 60),
            MonthlyWithUnprovisionedDiscount, "compute-unit",
            TemplateId: template.Id, TemplateVersion: template.TemplateVersion);

    public static OfferingSpec StorageUnits(string prefix) =>
        new($"{prefix}storage 100gb units", OfferingKind.Storage,
            new PricePlan("USD", "month", [new PriceRate("storage-tb-day", "tb-day", 5.00m, "Provisioned storage, per terabyte-day")]),
            new SlaTerms(99.99m), MonthlyWithUnprovisionedDiscount, "storage-unit",
            Description: "Storage as a service in 100 GB increments",
            Storage: new StorageSpec(IncrementGiB: 100, MaxGiB: 100 * 100));

    /// <summary>The catalog as published: twelve templates, twelve compute offerings and the storage offering.</summary>
    public sealed record Catalog(IReadOnlyList<TemplateView> Templates, IReadOnlyList<OfferingView> ComputeOfferings, OfferingView Storage)
    {
        public IEnumerable<OfferingView> All => ComputeOfferings.Append(Storage);

        /// <summary>The compute offering for a processor count, memory and stack name.</summary>
        public OfferingView Compute(int processors, long memoryMiB, string stack) =>
            ComputeOfferings.Single(o => o.Spec.Name.EndsWith($"server {processors}cpu {memoryMiB / 1024}gb {stack}", StringComparison.Ordinal));
    }

    /// <summary>Creates and publishes ProviderCo's catalog, as its developer and catalog manager.</summary>
    public static async Task<Catalog> PublishCatalogAsync(HttpClient developer, HttpClient manager, string prefix)
    {
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
        var compute = new List<OfferingView>();
        foreach (var template in templates)
        {
            compute.Add(await manager.PublishOfferingAsync((await manager.CreateOfferingAsync(ComputeUnit(template))).Id));
        }
        var storage = await manager.PublishOfferingAsync((await manager.CreateOfferingAsync(StorageUnits(prefix))).Id);
        return new Catalog(templates, compute, storage);
    }
}

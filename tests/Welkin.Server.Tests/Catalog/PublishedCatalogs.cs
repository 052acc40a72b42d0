using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Mvc.Testing;
using Welkin.Contracts;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Testing;

namespace Welkin.Server.Tests.Catalog;

/// <summary>A cloud whose simulated hosts stand in the given places (name → jurisdiction, region), one pool each.</summary>
public sealed class PlacedCloud(params (string Pool, string Jurisdiction, string Region)[] places) : WelkinApp
{
    protected override IDictionary<string, string?> Settings
    {
        get
        {
            var settings = new Dictionary<string, string?>();
            foreach (var (pool, jurisdiction, region) in places)
            {
                settings[$"Fabric:Pools:{pool}:Driver"] = "simulated";
                settings[$"Fabric:Pools:{pool}:Labels:jurisdiction"] = jurisdiction;
                settings[$"Fabric:Pools:{pool}:Labels:region"] = region;
                settings[$"Fabric:Pools:{pool}:Hosts:0:Name"] = pool + "-1";
                settings[$"Fabric:Pools:{pool}:Hosts:0:Jurisdiction"] = jurisdiction;
                settings[$"Fabric:Pools:{pool}:Hosts:0:Region"] = region;
                settings[$"Fabric:Pools:{pool}:Hosts:0:Cores"] = "32";
                settings[$"Fabric:Pools:{pool}:Hosts:0:MemoryMiB"] = "131072";
                settings[$"Fabric:Pools:{pool}:Hosts:0:DiskGiB"] = "4000";
            }
            return settings;
        }
    }
}

/// <summary>
/// Three clouds in different places whose catalogs are seeded through the API (templates, offerings in
/// three currencies with several rates and tiers, SLA terms, a withdrawn offering, one replaced by a new
/// price plan, titles with quotes and non-ASCII characters), and their published descriptions: each
/// fetched as Turtle and as JSON-LD under its own host name, so their IRIs do not collide when merged.
/// </summary>
public sealed class PublishedCatalogs : IAsyncLifetime
{
    private readonly (string Host, PlacedCloud App)[] _clouds =
    [
        ("cloud-a.test", new PlacedCloud(("fra", "DE", "eu-central-fra"), ("ams", "NL", "eu-west-ams"))),
        ("cloud-b.test", new PlacedCloud(("iad", "US", "us-east-iad"), ("ber", "DE", "eu-central-ber"))),
        ("cloud-c.test", new PlacedCloud(("zrh", "CH", "eu-south-zrh"), ("nrt", "JP", "ap-northeast-nrt"))),
    ];

    public string Directory { get; } = System.IO.Directory.CreateDirectory(TempDirectories.NewPath("welkin-catalogs-")).FullName;

    /// <summary>Per cloud host: the Turtle and the JSON-LD files of its description.</summary>
    public List<(string Host, string Turtle, string JsonLd)> Descriptions { get; } = [];

    /// <summary>Offerings that were published and are no longer (withdrawn, or replaced by a new price plan).</summary>
    public List<string> Withdrawn { get; } = [];

    public async ValueTask InitializeAsync()
    {
        foreach (var (host, app) in _clouds)
        {
            await app.InitializeAsync();
            await SeedAsync(host, app);
            using var client = app.CreateClient(new WebApplicationFactoryClientOptions { BaseAddress = new Uri($"http://{host}/") });
            var turtle = Path.Combine(Directory, host + ".ttl");
            var jsonLd = Path.Combine(Directory, host + ".jsonld");
            await File.WriteAllTextAsync(turtle, await DescriptionAsync(client, "text/turtle"));
            await File.WriteAllTextAsync(jsonLd, await DescriptionAsync(client, "application/ld+json"));
            Descriptions.Add((host, turtle, jsonLd));
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (_, app) in _clouds)
        {
            await app.DisposeAsync();
        }
        TempDirectories.TryDelete(Directory);
    }

    private static async Task<string> DescriptionAsync(HttpClient client, string mediaType)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/catalog/description");
        request.Headers.Accept.ParseAdd(mediaType);
        var response = await client.SendAsync(request);
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        return await response.Content.ReadAsStringAsync();
    }

    private async Task SeedAsync(string host, PlacedCloud app)
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var manager = await app.ProviderPrincipalAsync(Role.CatalogManager);
        var small = await developer.PublishedTemplateAsync(CatalogApi.Template("Web \"small\"", vcpus: 2, memoryMiB: 4096));
        var flexible = await developer.PublishedTemplateAsync(CatalogApi.FlexibleTemplate("App – flexible"));
        var big = await developer.PublishedTemplateAsync(CatalogApi.Template("Compute große", vcpus: 8, memoryMiB: 16384, os: "rhel"));
        foreach (var spec in Offerings(host, small.Id, flexible.Id, big.Id))
        {
            var offering = await manager.CreateOfferingAsync(spec);
            await manager.PublishOfferingAsync(offering.Id);
        }

        var retired = await manager.CreateOfferingAsync(Compute("Retired web", "EUR", small.Id, 0.05m, new SlaTerms(99m)));
        await manager.PublishOfferingAsync(retired.Id);
        await WithdrawAsync(manager, retired.Id);
        // A published offering is frozen: a new price plan is a replacement offering, and the old one withdrawn.
        var first = await manager.CreateOfferingAsync(Compute("Priced web v1", "EUR", small.Id, 0.12m, new SlaTerms(99.9m)));
        await manager.PublishOfferingAsync(first.Id);
        var second = await manager.CreateOfferingAsync(Compute("Priced web v2", "EUR", small.Id, 0.10m, new SlaTerms(99.9m)));
        await manager.PublishOfferingAsync(second.Id);
        await WithdrawAsync(manager, first.Id);
        Withdrawn.AddRange([retired.Id, first.Id]);
    }

    private static async Task WithdrawAsync(HttpClient manager, string id) =>
        (await manager.PostAsJsonAsync($"/api/v1/offerings/{id}/withdraw", new OfferingTransitionRequest(), WelkinJson.Client)).StatusCode.ShouldBe(HttpStatusCode.OK);

    private static IEnumerable<OfferingSpec> Offerings(string host, string small, string flexible, string big) => host switch
    {
        "cloud-a.test" =>
        [
            Compute("Small web \"burst\"", "EUR", small, 0.11m, new SlaTerms(99.9m, CpuUtilizationPercentMax: 90m), ["DE"],
                Tiered(PricingModel.Tiered, 0.11m, (100m, 0.12m), (1000m, 0.115m))),
            Compute("App four", "EUR", flexible, 0.09m, new SlaTerms(99.95m, IncidentResponseMinutes: 30, AvailabilityCreditPercent: 15m), null,
                Tiered(PricingModel.Volume, 0.09m, (500m, 0.095m)), [new VirtualSystemRestriction("app", new Choice<int>([4], 4), new Choice<long>([8192], 8192))]),
            Storage("Block storage", "EUR", 4.50m, ["NL"]),
        ],
        "cloud-b.test" =>
        [
            Compute("Web \"US\" east", "USD", small, 0.18m, new SlaTerms(99.5m), ["US"]),
            Compute("Berlin compute", "USD", big, 0.15m, new SlaTerms(99.9m, PageFaultsPerSecondMax: 500, PerformanceCreditPercent: 8m), ["DE"],
                new PriceRate("memory-gb-hour", "hour", 0.02m, "Memory", MinimumCharge: 10m)),
            Compute("App flexible", "USD", flexible, 0.21m, new SlaTerms(99.99m, IncidentResponseMinutes: 15), null),
            Storage("Archive storage", "USD", 3.25m, ["DE"]),
        ],
        _ =>
        [
            Compute("Zürich 🚀 compute", "CHF", big, 0.25m, new SlaTerms(99.95m, CpuUtilizationPercentMax: 85m, IncidentResponseMinutes: 60), ["CH"],
                Tiered(PricingModel.Tiered, 0.22m, (200m, 0.25m), (2000m, 0.23m), (20000m, 0.225m))),
            Compute("Tokyo 東京 web", "CHF", small, 0.14m, new SlaTerms(99.9m), ["JP"]),
        ],
    };

    private static PriceRate Tiered(PricingModel model, decimal beyond, params (decimal UpTo, decimal Price)[] tiers) =>
        new("memory-gb-hour", "hour", beyond, "Memory by volume", model, [.. tiers.Select(t => new PriceTier(t.UpTo, t.Price))]);

    private static OfferingSpec Compute(
        string name, string currency, string templateId, decimal cpuHour, SlaTerms sla, IReadOnlyList<string>? jurisdictions = null,
        PriceRate? extra = null, IReadOnlyList<VirtualSystemRestriction>? choices = null) =>
        new(name, OfferingKind.Compute,
            new PricePlan(currency, "month", [new PriceRate("compute-unit", "unit-month", 20m + cpuHour * 100m), new PriceRate("cpu-hour", "hour", cpuHour), .. extra is null ? [] : new[] { extra }]),
            sla, new OfferingTerms(1, 50m), "compute-unit", Description: $"{name} in {currency}",
            TemplateId: templateId, TemplateVersion: 1, Choices: choices,
            Constraints: jurisdictions is null ? null : new PlacementConstraints(jurisdictions));

    private static OfferingSpec Storage(string name, string currency, decimal tbDay, IReadOnlyList<string> jurisdictions) =>
        new(name, OfferingKind.Storage,
            new PricePlan(currency, "month", [new PriceRate("storage-tb-day", "tb-day", tbDay)]),
            new SlaTerms(99.99m), new OfferingTerms(0, 25m), "storage-unit",
            Storage: new StorageSpec(100, 10_000), Constraints: new PlacementConstraints(jurisdictions));
}

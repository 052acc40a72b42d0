using System.Net;
using System.Net.Http.Json;
using Welkin.Contracts;

namespace Welkin.Testing.Clouds;

/// <summary>Valid catalog specs and the HTTP calls the catalog tests repeat.</summary>
public static class CatalogApi
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TemplateSpec Template(string name, int vcpus = 2, long memoryMiB = 6144, string os = "debian") =>
        new(name,
        [
            new VirtualSystemSpec(
                "web",
                new HardwareChoices(new Choice<int>([vcpus], vcpus), new Choice<long>([memoryMiB], memoryMiB), new Choice<long>([100], 100)),
                new SoftwareChoices(new Choice<string>([os], os)),
                Properties:
                [
                    new PropertyDefinition("admin.email", PropertyType.String, "ops@example.com", "Administrator e-mail"),
                    new PropertyDefinition("backup.enabled", PropertyType.Boolean, "true"),
                ]),
        ], "A test template");

    /// <summary>A template whose one virtual system offers several values of each choice, to restrict in offerings.</summary>
    public static TemplateSpec FlexibleTemplate(string name) =>
        new(name,
        [
            new VirtualSystemSpec(
                "app",
                new HardwareChoices(new Choice<int>([1, 2, 4], 2), new Choice<long>([2048, 4096, 8192], 4096), new Choice<long>([20, 100], 20)),
                new SoftwareChoices(new Choice<string>(["debian", "rhel"], "debian"), DatabaseManager: new Choice<string>(["postgresql", "mysql"], "postgresql")),
                Properties:
                [
                    new PropertyDefinition("workers", PropertyType.Int, "4", AllowedValues: ["2", "4", "8"]),
                    new PropertyDefinition("ratio", PropertyType.Real, "0.5"),
                ]),
        ]);

    public static OfferingSpec Compute(string name, string templateId, int templateVersion = 1, IReadOnlyList<VirtualSystemRestriction>? choices = null) =>
        new(name, OfferingKind.Compute,
            new PricePlan("USD", "month", [new PriceRate("compute-unit", "unit-month", 40m), new PriceRate("cpu-hour", "hour", 0.13m)]),
            new SlaTerms(99.9m, 90m), new OfferingTerms(1, 50m), "compute-unit",
            TemplateId: templateId, TemplateVersion: templateVersion, Choices: choices);

    public static OfferingSpec Storage(string name) =>
        new(name, OfferingKind.Storage,
            new PricePlan("USD", "month", [new PriceRate("storage-tb-day", "tb-day", 5.00m)]),
            new SlaTerms(99.99m), new OfferingTerms(0, 50m), "storage-unit",
            Storage: new StorageSpec(100, 10_000));

    public static async Task<TemplateView> CreateTemplateAsync(this HttpClient client, TemplateSpec spec) =>
        await (await client.PostAsJsonAsync("/api/v1/templates", spec, WelkinJson.Client, Ct)).ReadAsync<TemplateView>(HttpStatusCode.Created);

    public static async Task<TemplateView> PublishTemplateAsync(this HttpClient client, string id, int? templateVersion = null) =>
        await (await client.PostAsJsonAsync($"/api/v1/templates/{id}/publish", new TemplateTransitionRequest(templateVersion), WelkinJson.Client, Ct))
            .ReadAsync<TemplateView>();

    public static async Task<OfferingView> CreateOfferingAsync(this HttpClient client, OfferingSpec spec) =>
        await (await client.PostAsJsonAsync("/api/v1/offerings", spec, WelkinJson.Client, Ct)).ReadAsync<OfferingView>(HttpStatusCode.Created);

    public static async Task<OfferingView> PublishOfferingAsync(this HttpClient client, string id) =>
        await (await client.PostAsJsonAsync($"/api/v1/offerings/{id}/publish", new OfferingTransitionRequest(), WelkinJson.Client, Ct))
            .ReadAsync<OfferingView>();

    /// <summary>A published template version to build offerings on.</summary>
    public static async Task<TemplateView> PublishedTemplateAsync(this HttpClient client, TemplateSpec spec)
    {
        var created = await client.CreateTemplateAsync(spec);
        return await client.PublishTemplateAsync(created.Id);
    }

    /// <summary>Every offering of the public catalog whose name starts with <paramref name="prefix"/>, across pages.</summary>
    public static async Task<List<OfferingView>> PublicCatalogAsync(this HttpClient client, string prefix, int pageSize = 100)
    {
        var all = new List<OfferingView>();
        string? after = null;
        do
        {
            var url = $"/api/v1/catalog/offerings?namePrefix={Uri.EscapeDataString(prefix)}&limit={pageSize}" + (after is null ? "" : $"&after={after}");
            var page = await (await client.GetAsync(url, Ct)).ReadAsync<Page<OfferingView>>();
            all.AddRange(page.Items);
            after = page.Next;
        }
        while (after is not null);
        return all;
    }

    /// <summary>The whole audit log, read as the provider administrator.</summary>
    public static async Task<List<AuditEntryView>> AuditAsync(this HttpClient admin)
    {
        var all = new List<AuditEntryView>();
        long? after = null;
        do
        {
            var page = await (await admin.GetAsync("/api/v1/audit?limit=1000" + (after is null ? "" : $"&after={after}"), Ct)).ReadAsync<Page<AuditEntryView>>();
            all.AddRange(page.Items);
            after = page.Next is null ? null : long.Parse(page.Next, System.Globalization.CultureInfo.InvariantCulture);
        }
        while (after is not null);
        return all;
    }

    public static string UniquePrefix(string what) => $"{what}-{Guid.NewGuid():n}"[..(what.Length + 9)] + " ";
}

using System.Net;
using System.Net.Http.Json;
using System.Text;
using Welkin.Contracts;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Catalog;

public sealed class OfferingValidationTests(WelkinApp app) : IClassFixture<WelkinApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly OfferingSpec Storage = CatalogApi.Storage("valid storage");

    private static OfferingSpec WithRate(PriceRate rate) => Storage with { PricePlan = Storage.PricePlan with { Rates = [rate] } };

    /// <summary>Offering specs wrong on their own, without looking at a template.</summary>
    private static readonly Dictionary<string, (OfferingSpec Spec, string Field)> Cases = new()
    {
        ["blank-name"] = (Storage with { Name = "" }, "name"),
        ["lower-case-currency"] = (Storage with { PricePlan = Storage.PricePlan with { Currency = "usd" } }, "pricePlan.currency"),
        ["long-currency"] = (Storage with { PricePlan = Storage.PricePlan with { Currency = "USDT" } }, "pricePlan.currency"),
        ["weekly-billing"] = (Storage with { PricePlan = Storage.PricePlan with { BillingPeriod = "week" } }, "pricePlan.billingPeriod"),
        ["no-rates"] = (Storage with { PricePlan = Storage.PricePlan with { Rates = [] } }, "pricePlan.rates"),
        ["too-many-rates"] = (Storage with { PricePlan = Storage.PricePlan with { Rates = Enumerable.Range(0, 51).Select(i => new PriceRate($"m{i}", "hour", 1)).ToList() } },
            "pricePlan.rates"),
        ["bad-metric"] = (WithRate(new PriceRate("CPU Hour", "hour", 1)), "pricePlan.rates[0].metric"),
        ["bad-unit"] = (WithRate(new PriceRate("cpu-hour", "", 1)), "pricePlan.rates[0].unit"),
        ["negative-price"] = (WithRate(new PriceRate("cpu-hour", "hour", -0.01m)), "pricePlan.rates[0].price"),
        ["absurd-price"] = (WithRate(new PriceRate("cpu-hour", "hour", 1_000_000m)), "pricePlan.rates[0].price"),
        ["seven-decimals"] = (WithRate(new PriceRate("cpu-hour", "hour", 0.1234567m)), "pricePlan.rates[0].price"),
        ["duplicate-rate"] = (Storage with { PricePlan = Storage.PricePlan with { Rates = [new("a", "hour", 1), new("a", "hour", 2)] } }, "pricePlan.rates[1]"),
        ["zero-availability"] = (Storage with { Sla = new SlaTerms(0) }, "sla.availabilityPercent"),
        ["availability-over-100"] = (Storage with { Sla = new SlaTerms(100.5m) }, "sla.availabilityPercent"),
        ["negative-cpu-threshold"] = (Storage with { Sla = new SlaTerms(99, CpuUtilizationPercentMax: -1) }, "sla.cpuUtilizationPercentMax"),
        ["negative-page-faults"] = (Storage with { Sla = new SlaTerms(99, PageFaultsPerSecondMax: -5) }, "sla.pageFaultsPerSecondMax"),
        ["negative-incident-response"] = (Storage with { Sla = new SlaTerms(99, IncidentResponseMinutes: -1) }, "sla.incidentResponseMinutes"),
        ["negative-minimum-period"] = (Storage with { Terms = new OfferingTerms(-1, 0) }, "terms.minimumPeriodMonths"),
        ["minimum-period-121"] = (Storage with { Terms = new OfferingTerms(121, 0) }, "terms.minimumPeriodMonths"),
        ["discount-over-100"] = (Storage with { Terms = new OfferingTerms(0, 101) }, "terms.unprovisionedDiscountPercent"),
        ["negative-discount"] = (Storage with { Terms = new OfferingTerms(0, -1) }, "terms.unprovisionedDiscountPercent"),
        ["bad-limit-unit"] = (Storage with { LimitUnit = "Storage Units" }, "limitUnit"),
        ["long-jurisdiction"] = (Storage with { Constraints = new PlacementConstraints([new string('j', 65)]) }, "constraints.jurisdictions[0]"),
        ["empty-region"] = (Storage with { Constraints = new PlacementConstraints(Regions: [""]) }, "constraints.regions[0]"),
        ["storage-without-spec"] = (Storage with { Storage = null }, "storage"),
        ["zero-increment"] = (Storage with { Storage = new StorageSpec(0, 100) }, "storage.incrementGiB"),
        ["negative-increment"] = (Storage with { Storage = new StorageSpec(-100, 100) }, "storage.incrementGiB"),
        ["max-not-a-multiple"] = (Storage with { Storage = new StorageSpec(100, 150) }, "storage.maxGiB"),
        ["absurd-max"] = (Storage with { Storage = new StorageSpec(100, long.MaxValue - 7) }, "storage.maxGiB"),
        ["storage-with-template"] = (Storage with { TemplateId = "tpl_" + new string('0', 26) }, "templateId"),
        ["compute-without-template"] = (Storage with { Kind = OfferingKind.Compute, Storage = null }, "templateId"),
        ["compute-with-bad-template-id"] = (Storage with { Kind = OfferingKind.Compute, Storage = null, TemplateId = "tpl_x", TemplateVersion = 1 }, "templateId"),
        ["compute-without-version"] = (Storage with { Kind = OfferingKind.Compute, Storage = null, TemplateId = "tpl_" + new string('0', 26) }, "templateVersion"),
        ["compute-with-storage"] = (Storage with { Kind = OfferingKind.Compute, TemplateId = "tpl_" + new string('0', 26), TemplateVersion = 1 }, "storage"),
    };

    public static TheoryData<string> CaseNames => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task Create_WithInvalidSpec_Returns400NamingTheField(string name)
    {
        var manager = await app.ProviderPrincipalAsync(Role.CatalogManager);
        var (spec, field) = Cases[name];

        var response = await manager.PostAsJsonAsync("/api/v1/offerings", spec, WelkinJson.Client, Ct);

        var problem = await response.ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        problem.GetProperty("errors").TryGetProperty(field, out _).ShouldBeTrue(problem.ToString());
    }

    /// <summary>Restrictions wrong for <see cref="CatalogApi.FlexibleTemplate"/> (vm "app": vcpus 1/2/4, os, database, workers 2/4/8, ratio).</summary>
    private static readonly Dictionary<string, (VirtualSystemRestriction[] Choices, string Field)> RestrictionCases = new()
    {
        ["unknown-virtual-system"] = ([new("db")], "choices[0].virtualSystem"),
        ["restricted-twice"] = ([new("app"), new("app")], "choices[1].virtualSystem"),
        ["not-a-subset"] = ([new("app", Vcpus: new Choice<int>([2, 8], 2))], "choices[0].vcpus.allowed[1]"),
        ["default-outside"] = ([new("app", MemoryMiB: new Choice<long>([2048], 4096))], "choices[0].memoryMiB.default"),
        ["empty-restriction"] = ([new("app", DiskGiB: new Choice<long>([], 20))], "choices[0].diskGiB.allowed"),
        ["software-not-offered"] = ([new("app", HttpServer: new Choice<string>(["nginx"], "nginx"))], "choices[0].httpServer"),
        ["os-not-offered"] = ([new("app", OperatingSystem: new Choice<string>(["windows-server"], "windows-server"))], "choices[0].operatingSystem.allowed[0]"),
        ["unknown-property"] = ([new("app", FixedProperties: new Dictionary<string, string> { ["nope"] = "1" })], "choices[0].fixedProperties.nope"),
        ["property-wrong-type"] = ([new("app", FixedProperties: new Dictionary<string, string> { ["ratio"] = "half" })], "choices[0].fixedProperties.ratio"),
        ["property-not-allowed"] = ([new("app", FixedProperties: new Dictionary<string, string> { ["workers"] = "3" })], "choices[0].fixedProperties.workers"),
    };

    public static TheoryData<string> RestrictionCaseNames => new(RestrictionCases.Keys);

    [Theory]
    [MemberData(nameof(RestrictionCaseNames))]
    public async Task Create_WithRestrictionsThatDoNotFitTheTemplate_Returns400NamingTheField(string name)
    {
        var template = await (await app.ProviderPrincipalAsync(Role.Developer)).PublishedTemplateAsync(CatalogApi.FlexibleTemplate("base"));
        var manager = await app.ProviderPrincipalAsync(Role.CatalogManager);
        var (choices, field) = RestrictionCases[name];

        var response = await manager.PostAsJsonAsync("/api/v1/offerings", CatalogApi.Compute("restricted", template.Id, choices: choices), WelkinJson.Client, Ct);

        var problem = await response.ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        problem.GetProperty("errors").TryGetProperty(field, out _).ShouldBeTrue(problem.ToString());
    }

    [Fact]
    public async Task Create_FromMissingTemplateVersion_Returns400OnTemplateVersion()
    {
        var template = await (await app.ProviderPrincipalAsync(Role.Developer)).PublishedTemplateAsync(CatalogApi.Template("one version"));
        var manager = await app.ProviderPrincipalAsync(Role.CatalogManager);

        var response = await manager.PostAsJsonAsync("/api/v1/offerings", CatalogApi.Compute("ghost", template.Id, templateVersion: 2), WelkinJson.Client, Ct);

        var problem = await response.ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        problem.GetProperty("errors").TryGetProperty("templateVersion", out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Update_WithInvalidSpec_NamesFieldsUnderSpec()
    {
        var manager = await app.ProviderPrincipalAsync(Role.CatalogManager);
        var draft = await manager.CreateOfferingAsync(Storage);

        var response = await manager.PutAsJsonAsync($"/api/v1/offerings/{draft.Id}",
            new UpdateOfferingRequest(Storage with { Storage = new StorageSpec(100, 250) }), WelkinJson.Client, Ct);

        var problem = await response.ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        problem.GetProperty("errors").TryGetProperty("spec.storage.maxGiB", out _).ShouldBeTrue(problem.ToString());
    }

    private const string ValidBody =
        """{"name":"n","kind":"storage","pricePlan":{"currency":"USD","billingPeriod":"month","rates":[{"metric":"storage-tb-day","unit":"tb-day","price":5}]},"sla":{"availabilityPercent":99},"terms":{"minimumPeriodMonths":0,"unprovisionedDiscountPercent":0},"limitUnit":"storage-unit","storage":{"incrementGiB":100,"maxGiB":1000}}""";

    [Fact]
    public async Task Create_WithHandWrittenValidBody_Succeeds()
    {
        var manager = await app.ProviderPrincipalAsync(Role.CatalogManager);

        var response = await manager.PostAsync("/api/v1/offerings", new StringContent(ValidBody, Encoding.UTF8, "application/json"), Ct);

        (await response.ReadAsync<OfferingView>(HttpStatusCode.Created)).Spec.Storage.ShouldBe(new StorageSpec(100, 1000));
    }

    [Theory]
    [InlineData("\"kind\":\"storage\"", "\"kind\":\"gpu\"")]
    [InlineData("\"kind\":\"storage\"", "\"kind\":1")]
    [InlineData("\"price\":5", "\"price\":\"5\"")]
    [InlineData("\"incrementGiB\":100", "\"incrementGiB\":1e400")]
    [InlineData("\"incrementGiB\":100", "\"incrementGiB\":99999999999999999999")]
    [InlineData("\"minimumPeriodMonths\":0", "\"minimumPeriodMonths\":0.5")]
    [InlineData("\"limitUnit\":\"storage-unit\",", "")]
    public async Task Create_WithMalformedValue_Returns400MalformedJson(string valid, string broken)
    {
        var manager = await app.ProviderPrincipalAsync(Role.CatalogManager);
        var body = ValidBody.Replace(valid, broken, StringComparison.Ordinal);
        body.ShouldNotBe(ValidBody);

        var response = await manager.PostAsync("/api/v1/offerings", new StringContent(body, Encoding.UTF8, "application/json"), Ct);

        await response.ProblemAsync(HttpStatusCode.BadRequest, "malformed-json");
    }

    [Theory]
    [InlineData("\"limitUnit\":\"storage-unit\"", "\"limitUnit\":\"storage-unit\",\"discount\":5")]
    [InlineData("\"availabilityPercent\":99", "\"availabilityPercent\":99,\"uptime\":1")]
    public async Task Create_WithUnknownField_Returns400UnknownField(string valid, string broken)
    {
        var manager = await app.ProviderPrincipalAsync(Role.CatalogManager);
        var body = ValidBody.Replace(valid, broken, StringComparison.Ordinal);

        var response = await manager.PostAsync("/api/v1/offerings", new StringContent(body, Encoding.UTF8, "application/json"), Ct);

        await response.ProblemAsync(HttpStatusCode.BadRequest, "unknown-field");
    }

    [Theory]
    [InlineData("GET", "/api/v1/offerings/nope")]
    [InlineData("GET", "/api/v1/offerings/tpl_00000000000000000000000000")]
    [InlineData("PUT", "/api/v1/offerings/nope")]
    [InlineData("POST", "/api/v1/offerings/nope/publish")]
    [InlineData("POST", "/api/v1/offerings/nope/withdraw")]
    [InlineData("GET", "/api/v1/offerings?after=nope")]
    [InlineData("GET", "/api/v1/catalog/offerings/nope")]
    [InlineData("GET", "/api/v1/catalog/offerings?after=tpl_00000000000000000000000000")]
    public async Task Endpoints_WithWrongShapeId_Return400InvalidId(string method, string path)
    {
        var manager = await app.ProviderPrincipalAsync(Role.CatalogManager);
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method == "PUT")
        {
            request.Content = JsonContent.Create(new UpdateOfferingRequest(Storage), options: WelkinJson.Client);
        }

        var response = await manager.SendAsync(request, Ct);

        await response.ProblemAsync(HttpStatusCode.BadRequest, "invalid-id");
    }

    [Fact]
    public async Task List_WithUnknownStateFilter_Returns400()
    {
        var manager = await app.ProviderPrincipalAsync(Role.CatalogManager);

        var response = await manager.GetAsync("/api/v1/offerings?state=retired", Ct);

        var problem = await response.ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        problem.GetProperty("errors").TryGetProperty("state", out _).ShouldBeTrue();
    }
}

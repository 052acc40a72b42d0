using System.Net;
using System.Net.Http.Json;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Catalog;

public sealed class TemplateValidationTests(WelkinApp app) : IClassFixture<WelkinApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly string UnknownImage = "img_" + new string('0', 26);

    private static TemplateSpec Base => CatalogApi.FlexibleTemplate("valid");

    private static TemplateSpec WithSystem(Func<VirtualSystemSpec, VirtualSystemSpec> change) =>
        Base with { VirtualSystems = [change(Base.VirtualSystems[0])] };

    private static TemplateSpec WithHardware(Func<HardwareChoices, HardwareChoices> change) =>
        WithSystem(s => s with { Hardware = change(s.Hardware) });

    private static TemplateSpec WithProperty(PropertyDefinition property) => WithSystem(s => s with { Properties = [property] });

    private static readonly Dictionary<string, (TemplateSpec Spec, string Field)> Cases = new()
    {
        ["blank-name"] = (Base with { Name = "  " }, "name"),
        ["long-name"] = (Base with { Name = new string('x', 201) }, "name"),
        ["long-description"] = (Base with { Description = new string('x', 2001) }, "description"),
        ["no-systems"] = (Base with { VirtualSystems = [] }, "virtualSystems"),
        ["too-many-systems"] = (Base with { VirtualSystems = Enumerable.Range(0, 21).Select(i => Base.VirtualSystems[0] with { Name = $"vs{i}" }).ToList() }, "virtualSystems"),
        ["bad-system-name"] = (WithSystem(s => s with { Name = "Web Server" }), "virtualSystems[0].name"),
        ["duplicate-system-name"] = (Base with { VirtualSystems = [Base.VirtualSystems[0], Base.VirtualSystems[0]] }, "virtualSystems[1].name"),
        ["zero-vcpus"] = (WithHardware(h => h with { Vcpus = new Choice<int>([0], 0) }), "virtualSystems[0].hardware.vcpus.allowed[0]"),
        ["too-many-vcpus"] = (WithHardware(h => h with { Vcpus = new Choice<int>([2, 257], 2) }), "virtualSystems[0].hardware.vcpus.allowed[1]"),
        ["negative-memory"] = (WithHardware(h => h with { MemoryMiB = new Choice<long>([-1], -1) }), "virtualSystems[0].hardware.memoryMiB.allowed[0]"),
        ["tiny-memory"] = (WithHardware(h => h with { MemoryMiB = new Choice<long>([63], 63) }), "virtualSystems[0].hardware.memoryMiB.allowed[0]"),
        ["absurd-memory"] = (WithHardware(h => h with { MemoryMiB = new Choice<long>([long.MaxValue], long.MaxValue) }), "virtualSystems[0].hardware.memoryMiB.allowed[0]"),
        ["zero-disk"] = (WithHardware(h => h with { DiskGiB = new Choice<long>([0], 0) }), "virtualSystems[0].hardware.diskGiB.allowed[0]"),
        ["absurd-disk"] = (WithHardware(h => h with { DiskGiB = new Choice<long>([65_537], 65_537) }), "virtualSystems[0].hardware.diskGiB.allowed[0]"),
        ["empty-choice"] = (WithHardware(h => h with { Vcpus = new Choice<int>([], 1) }), "virtualSystems[0].hardware.vcpus.allowed"),
        ["too-many-values"] = (WithHardware(h => h with { Vcpus = new Choice<int>(Enumerable.Range(1, 33).ToList(), 1) }), "virtualSystems[0].hardware.vcpus.allowed"),
        ["duplicate-values"] = (WithHardware(h => h with { Vcpus = new Choice<int>([2, 2], 2) }), "virtualSystems[0].hardware.vcpus.allowed"),
        ["default-not-allowed"] = (WithHardware(h => h with { Vcpus = new Choice<int>([2, 4], 8) }), "virtualSystems[0].hardware.vcpus.default"),
        ["long-software"] = (WithSystem(s => s with { Software = new SoftwareChoices(new Choice<string>([new string('o', 101)], new string('o', 101))) }),
            "virtualSystems[0].software.operatingSystem.allowed[0]"),
        ["blank-software"] = (WithSystem(s => s with { Software = new SoftwareChoices(HttpServer: new Choice<string>([""], "")) }),
            "virtualSystems[0].software.httpServer.allowed[0]"),
        ["bad-property-key"] = (WithProperty(new PropertyDefinition("1st", PropertyType.String)), "virtualSystems[0].properties[0].key"),
        ["property-key-with-space"] = (WithProperty(new PropertyDefinition("admin email", PropertyType.String)), "virtualSystems[0].properties[0].key"),
        ["duplicate-property-key"] = (WithSystem(s => s with { Properties = [new("k", PropertyType.String), new("k", PropertyType.Int)] }),
            "virtualSystems[0].properties[1].key"),
        ["int-default-not-int"] = (WithProperty(new PropertyDefinition("n", PropertyType.Int, "four")), "virtualSystems[0].properties[0].default"),
        ["boolean-default-yes"] = (WithProperty(new PropertyDefinition("b", PropertyType.Boolean, "yes")), "virtualSystems[0].properties[0].default"),
        ["real-with-comma"] = (WithProperty(new PropertyDefinition("r", PropertyType.Real, AllowedValues: ["1.5", "1,5"])),
            "virtualSystems[0].properties[0].allowedValues[1]"),
        ["default-not-listed"] = (WithProperty(new PropertyDefinition("w", PropertyType.Int, "3", AllowedValues: ["2", "4"])),
            "virtualSystems[0].properties[0].default"),
        ["malformed-image-id"] = (WithSystem(s => s with { ImageId = "img_nope" }), "virtualSystems[0].imageId"),
        ["unknown-image"] = (WithSystem(s => s with { ImageId = UnknownImage }), "virtualSystems[0].imageId"),
        ["too-many-data-volumes"] = (WithSystem(s => s with { DataVolumes = Enumerable.Range(0, 17).Select(i => new DataVolumeSpec($"d{i}", new Choice<long>([1], 1))).ToList() }),
            "virtualSystems[0].dataVolumes"),
        ["bad-data-volume-name"] = (WithSystem(s => s with { DataVolumes = [new DataVolumeSpec("Data Disk", new Choice<long>([1], 1))] }), "virtualSystems[0].dataVolumes[0].name"),
        ["duplicate-data-volume-name"] = (WithSystem(s => s with { DataVolumes = [new DataVolumeSpec("data", new Choice<long>([1], 1)), new DataVolumeSpec("data", new Choice<long>([2], 2))] }),
            "virtualSystems[0].dataVolumes[1].name"),
        ["data-volume-only-zero"] = (WithSystem(s => s with { DataVolumes = [new DataVolumeSpec("data", new Choice<long>([0], 0))] }), "virtualSystems[0].dataVolumes[0].sizeGiB.allowed"),
        ["absurd-data-volume"] = (WithSystem(s => s with { DataVolumes = [new DataVolumeSpec("data", new Choice<long>([65_537], 65_537))] }),
            "virtualSystems[0].dataVolumes[0].sizeGiB.allowed[0]"),
        ["data-volume-default-not-allowed"] = (WithSystem(s => s with { DataVolumes = [new DataVolumeSpec("data", new Choice<long>([0, 8], 4))] }),
            "virtualSystems[0].dataVolumes[0].sizeGiB.default"),
        ["malformed-data-volume-image-id"] = (WithSystem(s => s with { DataVolumes = [new DataVolumeSpec("data", new Choice<long>([1], 1), "img_nope")] }),
            "virtualSystems[0].dataVolumes[0].imageId"),
        ["unknown-data-volume-image"] = (WithSystem(s => s with { DataVolumes = [new DataVolumeSpec("data", new Choice<long>([1], 1), UnknownImage)] }),
            "virtualSystems[0].dataVolumes[0].imageId"),
    };

    public static TheoryData<string> CaseNames => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task Create_WithInvalidSpec_Returns400NamingTheField(string name)
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var (spec, field) = Cases[name];

        var response = await developer.PostAsJsonAsync("/api/v1/templates", spec, WelkinJson.Client, Ct);

        var problem = await response.ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        problem.GetProperty("errors").TryGetProperty(field, out _).ShouldBeTrue(problem.ToString());
    }

    [Fact]
    public async Task Update_WithInvalidSpec_NamesFieldsUnderSpec()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var created = await developer.CreateTemplateAsync(Base);

        var response = await developer.PutAsJsonAsync($"/api/v1/templates/{created.Id}",
            new UpdateTemplateRequest(WithHardware(h => h with { Vcpus = new Choice<int>([0], 0) })), WelkinJson.Client, Ct);

        var problem = await response.ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        problem.GetProperty("errors").TryGetProperty("spec.virtualSystems[0].hardware.vcpus.allowed[0]", out _).ShouldBeTrue(problem.ToString());
    }

    [Fact]
    public async Task Create_WithAvailableImage_Succeeds_AndWithDeletedImage_Returns400()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var available = await InsertImageAsync("available");
        var deleted = await InsertImageAsync("deleted");

        var ok = await developer.CreateTemplateAsync(WithSystem(s => s with { ImageId = available }));
        ok.VirtualSystems[0].ImageId.ShouldBe(available);

        var response = await developer.PostAsJsonAsync("/api/v1/templates", WithSystem(s => s with { ImageId = deleted }), WelkinJson.Client, Ct);
        var problem = await response.ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        problem.GetProperty("errors").TryGetProperty("virtualSystems[0].imageId", out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Create_WithDataVolumes_KeepsThem_AndPublishRefusesADataVolumeImageDeletedSince()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var image = await InsertImageAsync("available");
        DataVolumeSpec[] volumes = [new("data", new Choice<long>([4, 8], 4), image), new("scratch", new Choice<long>([0, 16], 0))];

        var draft = await developer.CreateTemplateAsync(WithSystem(s => s with { DataVolumes = volumes }));
        System.Text.Json.JsonSerializer.Serialize(draft.VirtualSystems[0].DataVolumes, WelkinJson.Client).ShouldBe(System.Text.Json.JsonSerializer.Serialize(volumes, WelkinJson.Client));
        await ExecuteAsync("UPDATE images SET state = 'deleted' WHERE id = @Id", new { Id = image });

        var response = await developer.PostAsJsonAsync($"/api/v1/templates/{draft.Id}/publish", new TemplateTransitionRequest(), WelkinJson.Client, Ct);

        var problem = await response.ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        problem.GetProperty("errors").TryGetProperty("virtualSystems[0].dataVolumes[0].imageId", out _).ShouldBeTrue(problem.ToString());
    }

    [Fact]
    public async Task Publish_WhenImageWasDeletedSinceTheDraft_Returns400()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var image = await InsertImageAsync("available");
        var draft = await developer.CreateTemplateAsync(WithSystem(s => s with { ImageId = image }));
        await ExecuteAsync("UPDATE images SET state = 'deleted' WHERE id = @Id", new { Id = image });

        var response = await developer.PostAsJsonAsync($"/api/v1/templates/{draft.Id}/publish", new TemplateTransitionRequest(), WelkinJson.Client, Ct);

        await response.ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
    }

    [Theory]
    [InlineData("""{"name":"x","virtualSystems":[{"name":"a","hardware":{"vcpus":{"allowed":[1],"default":1},"memoryMiB":{"allowed":[64],"default":64},"diskGiB":{"allowed":[1],"default":1}},"properties":[{"key":"k","type":"float"}]}]}""")]
    [InlineData("""{"name":"x","virtualSystems":[{"name":"a","hardware":{"vcpus":{"allowed":["1"],"default":1},"memoryMiB":{"allowed":[64],"default":64},"diskGiB":{"allowed":[1],"default":1}}}]}""")]
    [InlineData("""{"name":"x","virtualSystems":[{"name":"a","hardware":{"vcpus":{"allowed":[1.5],"default":1},"memoryMiB":{"allowed":[64],"default":64},"diskGiB":{"allowed":[1],"default":1}}}]}""")]
    [InlineData("""{"name":"x"}""")]
    [InlineData("""{"name":null,"virtualSystems":[]}""")]
    [InlineData("""{"name":"x","virtualSystems":""")]
    public async Task Create_WithMalformedJson_Returns400MalformedJson(string body)
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);

        var response = await developer.PostAsync("/api/v1/templates", new StringContent(body, Encoding.UTF8, "application/json"), Ct);

        await response.ProblemAsync(HttpStatusCode.BadRequest, "malformed-json");
    }

    [Fact]
    public async Task Create_WithUnknownField_Returns400UnknownField()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        const string Body = """{"name":"x","colour":"red","virtualSystems":[]}""";

        var response = await developer.PostAsync("/api/v1/templates", new StringContent(Body, Encoding.UTF8, "application/json"), Ct);

        await response.ProblemAsync(HttpStatusCode.BadRequest, "unknown-field");
    }

    [Fact]
    public async Task Create_WithMisspeltField_NamesItAndTheNearestField()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        const string Body = """{"name":"x","virtualSytems":[]}""";

        var response = await developer.PostAsync("/api/v1/templates", new StringContent(Body, Encoding.UTF8, "application/json"), Ct);

        var problem = await response.ProblemAsync(HttpStatusCode.BadRequest, "unknown-field");
        problem.GetProperty("detail").GetString().ShouldBe("The body has an unknown field 'virtualSytems' (did you mean 'virtualSystems'?).");
    }

    [Fact]
    public async Task Create_WithWrongValueType_SaysWhereWithoutTypeNames()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        const string Body = """{"name":5,"virtualSystems":[]}""";

        var response = await developer.PostAsync("/api/v1/templates", new StringContent(Body, Encoding.UTF8, "application/json"), Ct);

        var problem = await response.ProblemAsync(HttpStatusCode.BadRequest, "malformed-json");
        problem.GetProperty("detail").GetString().ShouldBe("The body is not valid for this operation: the value at $.name is not valid.");
    }

    [Theory]
    [InlineData("GET", "/api/v1/templates/nope")]
    [InlineData("GET", "/api/v1/templates/off_00000000000000000000000000")]
    [InlineData("PUT", "/api/v1/templates/nope")]
    [InlineData("GET", "/api/v1/templates/nope/versions")]
    [InlineData("GET", "/api/v1/templates/nope/versions/1")]
    [InlineData("POST", "/api/v1/templates/nope/versions")]
    [InlineData("POST", "/api/v1/templates/nope/publish")]
    [InlineData("POST", "/api/v1/templates/nope/retire")]
    public async Task Endpoints_WithWrongShapeId_Return400InvalidId(string method, string path)
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method == "PUT")
        {
            request.Content = JsonContent.Create(new UpdateTemplateRequest(Base), options: WelkinJson.Client);
        }

        var response = await developer.SendAsync(request, Ct);

        await response.ProblemAsync(HttpStatusCode.BadRequest, "invalid-id");
    }

    private async Task<string> InsertImageAsync(string state)
    {
        var id = Ids.New(Ids.Image, TimeProvider.System);
        await ExecuteAsync(
            """
            INSERT INTO images (id, account_id, name, description, format, size_bytes, sha256, owner_principal, state, version, created_at, updated_at)
            VALUES (@Id, NULL, 'debian-12', NULL, 'qcow2', 1024, @Sha, 'test', @State, 1, 0, 0)
            """, new { Id = id, Sha = new string('a', 64), State = state });
        return id;
    }

    private async Task ExecuteAsync(string sql, object param)
    {
        var db = app.Services.GetRequiredService<IDatabase>();
        var result = await db.WriteAsync<bool>(async tx =>
        {
            await tx.ExecuteAsync(sql, param);
            return true;
        }, Ct);
        result.IsSuccess.ShouldBeTrue();
    }
}

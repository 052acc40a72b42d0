using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Welkin.Contracts;
using Welkin.Server.Tests.Configuration;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;
using Welkin.Testing.Images;

namespace Welkin.Server.Tests.Security;

/// <summary>Names and other free text refuse control characters and bidirectional formatting characters, with a 400 naming the field.</summary>
public sealed class FreeTextTests(InstancesApp app) : IClassFixture<InstancesApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string> Refused => new() { "a\0b", "inv\u202Eoice", "x\u2066y", "bell\u0007", "line\nbreak" };

    private static async Task RefusedAsync(Task<HttpResponseMessage> sending, string field)
    {
        var problem = await (await sending).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        problem.GetProperty("errors").TryGetProperty(field, out _).ShouldBeTrue(problem.ToString());
        problem.GetProperty("detail").GetString()!.ShouldContain(field);
    }

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task CreatingRoutes_RefuseTheCharacterInNames(string name)
    {
        var tenant = await ConfigurationApi.TenantAsync(app);
        var client = tenant.Client;

        await RefusedAsync(client.PostAsJsonAsync("/api/v1/instances", new ProvisionRequest(tenant.Contract.Id, name), WelkinJson.Client, Ct), "name");
        await RefusedAsync(client.PostAsJsonAsync("/api/v1/contracts",
            new ContractRequest([new ContractItemRequest(tenant.Contract.Items[1].OfferingId, 1)], Name: name), WelkinJson.Client, Ct), "name");
        await RefusedAsync(client.PostAsJsonAsync("/api/v1/volumes", new CreateVolumeRequest(tenant.Contract.Id, 100, name), WelkinJson.Client, Ct), "name");
        await RefusedAsync(client.PostAsJsonAsync("/api/v1/networks", new CreateNetworkRequest(name), WelkinJson.Client, Ct), "name");
        await RefusedAsync(client.PostAsJsonAsync($"/api/v1/principals/{tenant.SignUp.Admin.Id}/tokens", new CreateTokenRequest(name), WelkinJson.Client, Ct), "name");
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var body = new ByteArrayContent(DiskHeaders.Raw(1000, 7));
        body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        await RefusedAsync(developer.PostAsync("/api/v1/images?name=" + Uri.EscapeDataString(name), body, Ct), "name");

        (await (await client.GetAsync("/api/v1/networks", Ct)).ReadAsync<Page<NetworkView>>()).Items.ShouldBeEmpty();
    }

    [Fact]
    public async Task Description_RefusesBidiOverrides_ButKeepsLineBreaks()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        HttpContent Body()
        {
            var body = new ByteArrayContent(DiskHeaders.Raw(1000, Environment.TickCount));
            body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            return body;
        }

        await RefusedAsync(developer.PostAsync("/api/v1/images?name=disk&description=" + Uri.EscapeDataString("safe\u202Etxt.exe"), Body(), Ct), "description");
        var image = await (await developer.PostAsync("/api/v1/images?name=disk&description=" + Uri.EscapeDataString("two\nlines"), Body(), Ct))
            .ReadAsync<ImageView>(HttpStatusCode.Created);

        image.Description.ShouldBe("two\nlines");
    }

    [Fact]
    public async Task NestedText_IsCheckedAndNamedByItsPath()
    {
        var tenant = await ConfigurationApi.TenantAsync(app);

        await RefusedAsync(tenant.Client.PostAsJsonAsync("/api/v1/instances",
            new ProvisionRequest(tenant.Contract.Id, VirtualSystems: [new VirtualSystemChoice("web\u202E", 1)]), WelkinJson.Client, Ct), "virtualSystems[0].virtualSystem");
        await RefusedAsync(tenant.Client.PostAsJsonAsync($"/api/v1/accounts/{tenant.AccountId}/close", new CloseAccountRequest(Reason: "bye\u2067"), WelkinJson.Client, Ct), "reason");
    }
}

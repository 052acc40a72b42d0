using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Server.Infrastructure;
using Welkin.Server.Tests.Configuration;
using Welkin.Server.Tests.Contracts;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;
using Welkin.Testing.Images;

namespace Welkin.Server.Tests.Security;

/// <summary>Idempotency-Key on every creating route: a retry gets the first answer and creates nothing; another body under the key is refused.</summary>
public sealed class IdempotencyTests(InstancesApp app) : IClassFixture<InstancesApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static int _seed = Environment.TickCount;

    private static string NewKey() => Guid.NewGuid().ToString();

    private static Task<HttpResponseMessage> PostJsonAsync(HttpClient client, string path, object body, string? key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body, body.GetType(), options: WelkinJson.Client) };
        if (key is not null)
        {
            request.Headers.TryAddWithoutValidation("Idempotency-Key", key);
        }
        return client.SendAsync(request, Ct);
    }

    private static async Task<(HttpStatusCode Status, string? Location, string Body, bool Replayed)> AnswerAsync(Task<HttpResponseMessage> sending)
    {
        using var response = await sending;
        return (response.StatusCode, response.Headers.Location?.ToString(), await response.Content.ReadAsStringAsync(Ct),
            response.Headers.TryGetValues("Idempotent-Replayed", out var replayed) && replayed.Single() == "true");
    }

    /// <summary>Sends <paramref name="first"/> twice under one key and asserts the second answer repeats the first.</summary>
    private static async Task<string> RetriedAsync(Func<string, Task<HttpResponseMessage>> send, HttpStatusCode expected)
    {
        var key = NewKey();
        var first = await AnswerAsync(send(key));
        first.Status.ShouldBe(expected, first.Body);
        first.Replayed.ShouldBeFalse();

        var retry = await AnswerAsync(send(key));

        retry.ShouldBe((first.Status, first.Location, first.Body, true));
        return key;
    }

    private async Task<int> CountAsync(HttpClient client, string path)
    {
        var page = await (await client.GetAsync(path, Ct)).ReadAsync<Page<System.Text.Json.JsonElement>>();
        page.Next.ShouldBeNull();
        return page.Items.Count;
    }

    [Fact]
    public async Task Provision_RetriedWithTheSameKey_AnswersTheFirstAnswerAndProvisionsOnce()
    {
        var tenant = await ConfigurationApi.TenantAsync(app, machines: 2);
        var request = new ProvisionRequest(tenant.Contract.Id, Item: 0, VirtualSystems: [new VirtualSystemChoice("web", 1)]);

        var key = await RetriedAsync(k => PostJsonAsync(tenant.Client, "/api/v1/instances", request, k), HttpStatusCode.Accepted);

        (await CountAsync(tenant.Client, $"/api/v1/instances?contractId={tenant.Contract.Id}")).ShouldBe(1);
        (await CountAsync(tenant.Client, "/api/v1/machines")).ShouldBe(1);
        var other = request with { VirtualSystems = [new VirtualSystemChoice("web", 2)] };
        await (await PostJsonAsync(tenant.Client, "/api/v1/instances", other, key)).ProblemAsync(HttpStatusCode.UnprocessableEntity, "idempotency-key-reused");
        (await CountAsync(tenant.Client, "/api/v1/machines")).ShouldBe(1);
    }

    [Fact]
    public async Task ContractRequest_RetriedWithTheSameKey_ProposesOnce_AndAnotherBodyIs422()
    {
        var tenant = await ConfigurationApi.TenantAsync(app);
        var offering = tenant.Contract.Items[1].OfferingId;
        var request = new ContractRequest([new ContractItemRequest(offering, 1)], Name: "again");

        var key = await RetriedAsync(k => PostJsonAsync(tenant.Client, "/api/v1/contracts", request, k), HttpStatusCode.Created);

        (await CountAsync(tenant.Client, "/api/v1/contracts")).ShouldBe(2);
        await (await PostJsonAsync(tenant.Client, "/api/v1/contracts", request with { Name = "other" }, key))
            .ProblemAsync(HttpStatusCode.UnprocessableEntity, "idempotency-key-reused");
        (await CountAsync(tenant.Client, "/api/v1/contracts")).ShouldBe(2);
    }

    [Fact]
    public async Task VolumeCreate_RetriedWithTheSameKey_CreatesOnce_AndAnotherBodyIs422()
    {
        var tenant = await ConfigurationApi.TenantAsync(app);
        var request = new CreateVolumeRequest(tenant.Contract.Id, 100, "data");

        var key = await RetriedAsync(k => PostJsonAsync(tenant.Client, "/api/v1/volumes", request, k), HttpStatusCode.Created);

        (await CountAsync(tenant.Client, "/api/v1/volumes")).ShouldBe(1);
        (await tenant.Client.GetContractAsync(tenant.Contract.Id)).StorageLineProvisioned().ShouldBe(1);
        await (await PostJsonAsync(tenant.Client, "/api/v1/volumes", request with { SizeGiB = 200 }, key))
            .ProblemAsync(HttpStatusCode.UnprocessableEntity, "idempotency-key-reused");
        (await CountAsync(tenant.Client, "/api/v1/volumes")).ShouldBe(1);
    }

    [Fact]
    public async Task NetworkCreate_RetriedWithTheSameKey_CreatesOnce_AndAnotherBodyIs422()
    {
        var tenant = await ConfigurationApi.TenantAsync(app);
        var request = new CreateNetworkRequest("backend", "10.20.0.0/24");

        var key = await RetriedAsync(k => PostJsonAsync(tenant.Client, "/api/v1/networks", request, k), HttpStatusCode.Created);

        (await CountAsync(tenant.Client, "/api/v1/networks")).ShouldBe(1);
        await (await PostJsonAsync(tenant.Client, "/api/v1/networks", request with { Name = "frontend" }, key))
            .ProblemAsync(HttpStatusCode.UnprocessableEntity, "idempotency-key-reused");
        (await CountAsync(tenant.Client, "/api/v1/networks")).ShouldBe(1);
    }

    [Fact]
    public async Task TokenCreate_RetriedWithTheSameKey_IssuesOneTokenAndRepeatsItsSecret()
    {
        var (signUp, client) = await app.SignUpAsync("idem");
        var path = $"/api/v1/principals/{signUp.Admin.Id}/tokens";
        var request = new CreateTokenRequest("ci");

        var key = await RetriedAsync(k => PostJsonAsync(client, path, request, k), HttpStatusCode.Created);

        var tokens = await (await client.GetAsync(path, Ct)).ReadAsync<List<TokenView>>();
        tokens.Count(t => t.Name == "ci").ShouldBe(1);
        await (await PostJsonAsync(client, path, request with { Name = "other" }, key)).ProblemAsync(HttpStatusCode.UnprocessableEntity, "idempotency-key-reused");
    }

    [Fact]
    public async Task ImageUpload_RetriedWithTheSameKey_StoresOneImage_AndOtherBytesAre422()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var name = "idem-" + Guid.NewGuid().ToString("n")[..8];
        var content = DiskHeaders.Raw(70_000, Interlocked.Increment(ref _seed));
        Task<HttpResponseMessage> Upload(byte[] bytes, string key)
        {
            var body = new ByteArrayContent(bytes);
            body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/images?name=" + name) { Content = body };
            request.Headers.Add("Idempotency-Key", key);
            return developer.SendAsync(request, Ct);
        }

        var key = await RetriedAsync(k => Upload(content, k), HttpStatusCode.Created);

        var images = await (await developer.GetAsync("/api/v1/images?limit=1000", Ct)).ReadAsync<Page<ImageView>>();
        images.Items.Count(i => i.Name == name).ShouldBe(1);
        await (await Upload(DiskHeaders.Raw(70_000, Interlocked.Increment(ref _seed)), key)).ProblemAsync(HttpStatusCode.UnprocessableEntity, "idempotency-key-reused");
    }

    [Fact]
    public async Task SameKey_FromAnotherTenant_IsIndependent()
    {
        var first = await ConfigurationApi.TenantAsync(app);
        var second = await ConfigurationApi.TenantAsync(app);
        var key = NewKey();

        var a = await (await PostJsonAsync(first.Client, "/api/v1/networks", new CreateNetworkRequest("shared-key"), key)).ReadAsync<NetworkView>(HttpStatusCode.Created);
        var b = await (await PostJsonAsync(second.Client, "/api/v1/networks", new CreateNetworkRequest("shared-key"), key)).ReadAsync<NetworkView>(HttpStatusCode.Created);

        (a.AccountId, b.AccountId).ShouldBe((first.AccountId, second.AccountId));
        a.Id.ShouldNotBe(b.Id);
    }

    [Fact]
    public async Task SameKey_OnAnotherRoute_IsIndependent()
    {
        var tenant = await ConfigurationApi.TenantAsync(app);
        var key = NewKey();

        await (await PostJsonAsync(tenant.Client, "/api/v1/networks", new CreateNetworkRequest("net"), key)).ReadAsync<NetworkView>(HttpStatusCode.Created);
        var volume = await (await PostJsonAsync(tenant.Client, "/api/v1/volumes", new CreateVolumeRequest(tenant.Contract.Id, 100), key))
            .ReadAsync<VolumeView>(HttpStatusCode.Created);

        volume.SizeGiB.ShouldBe(100);
    }

    [Fact]
    public async Task Retry_WithReorderedMembersAndSpacing_IsTheSameRequest()
    {
        var tenant = await ConfigurationApi.TenantAsync(app);
        var key = NewKey();
        HttpRequestMessage Raw(string json)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/networks") { Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json") };
            request.Headers.Add("Idempotency-Key", key);
            return request;
        }

        var first = await (await tenant.Client.SendAsync(Raw("""{"name":"ordered","cidr":"10.9.0.0/24"}"""), Ct)).ReadAsync<NetworkView>(HttpStatusCode.Created);
        var retry = await (await tenant.Client.SendAsync(Raw("""{ "cidr": "10.9.0.0/24",  "name": "ordered" }"""), Ct)).ReadAsync<NetworkView>(HttpStatusCode.Created);

        retry.Id.ShouldBe(first.Id);
        (await CountAsync(tenant.Client, "/api/v1/networks")).ShouldBe(1);
    }

    [Theory]
    [InlineData(" padded ")]
    [InlineData("tab\tinside")]
    public async Task Key_NotPrintableAscii_Is400(string key)
    {
        var tenant = await ConfigurationApi.TenantAsync(app);

        var problem = await (await PostJsonAsync(tenant.Client, "/api/v1/networks", new CreateNetworkRequest("bad-key"), key)).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");

        problem.GetProperty("errors").TryGetProperty("Idempotency-Key", out _).ShouldBeTrue();
        (await CountAsync(tenant.Client, "/api/v1/networks")).ShouldBe(0);
    }

    [Fact]
    public async Task Key_LongerThan255_Is400()
    {
        var tenant = await ConfigurationApi.TenantAsync(app);

        await (await PostJsonAsync(tenant.Client, "/api/v1/networks", new CreateNetworkRequest("long-key"), new string('k', 256)))
            .ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        (await PostJsonAsync(tenant.Client, "/api/v1/networks", new CreateNetworkRequest("long-key"), new string('k', 255))).StatusCode.ShouldBe(HttpStatusCode.Created);
    }

    [Fact]
    public async Task Retry_WhileTheFirstRequestIsRunning_Is409InProgress()
    {
        var tenant = await ConfigurationApi.TenantAsync(app);
        var key = NewKey();
        // The first request is held in flight on this server: its key is entered as a running request would enter it.
        var gate = app.Services.GetRequiredService<IdempotencyGate>();
        var running = new IdempotencyClaim(tenant.SignUp.Admin.Id, "POST /api/v1/networks", key);
        gate.TryEnter(running).ShouldBeTrue();

        var refused = await PostJsonAsync(tenant.Client, "/api/v1/networks", new CreateNetworkRequest("racing"), key);
        gate.Exit(running);

        await refused.ProblemAsync(HttpStatusCode.Conflict, "idempotency-key-in-progress");
        (await CountAsync(tenant.Client, "/api/v1/networks")).ShouldBe(0);
        (await PostJsonAsync(tenant.Client, "/api/v1/networks", new CreateNetworkRequest("racing"), key)).StatusCode.ShouldBe(HttpStatusCode.Created);
    }

    [Fact]
    public async Task Record_WhenAnotherTransactionRecordedTheKeyFirst_RollsBackWithInProgress()
    {
        var keys = app.Services.GetRequiredService<IdempotencyKeys>();
        var db = app.Services.GetRequiredService<IDatabase>();
        var claim = new IdempotencyClaim("prn_test", "POST /api/v1/networks", NewKey());
        var answer = new IdempotentAnswer("hash", 201, "/api/v1/networks/net_x", "{\"id\":\"net_x\"}");

        var first = await db.WriteAsync<bool>(async tx => await keys.RecordAsync(tx, claim, answer) is { } e ? e : true, Ct);
        var second = await db.WriteAsync<bool>(async tx => await keys.RecordAsync(tx, claim, answer with { Body = "{}" }) is { } e ? e : true, Ct);

        first.IsSuccess.ShouldBeTrue();
        second.Error!.Code.ShouldBe("idempotency-key-in-progress");
        (await keys.FindAsync(claim, Ct)).ShouldBe(answer);
        (await keys.FindAsync(claim with { Key = NewKey() }, Ct)).ShouldBeNull();
    }
}

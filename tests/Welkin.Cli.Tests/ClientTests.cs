using System.Net.Http.Headers;
using Welkin.Cli.Tests.Infrastructure;
using Welkin.Client;
using Welkin.Contracts;

namespace Welkin.Cli.Tests;

/// <summary>The typed client on its own, against a real server.</summary>
[Collection(CloudsCollection.Name)]
public sealed class ClientTests(TwoClouds clouds)
{
    [Fact]
    public void ClientJson_WhenNullableMembersAreOmitted_ReadsThemAsNull()
    {
        // The server omits nulls when writing.
        var view = System.Text.Json.JsonSerializer.Deserialize<TokenView>(
            """{"id":"tok_1","principalId":"prn_1","name":"ci","created":"2025-01-01T00:00:00Z"}""", WelkinJson.Client)!;

        view.Expires.ShouldBeNull();
        view.Revoked.ShouldBeNull();
        view.LastUsed.ShouldBeNull();
    }

    [Fact]
    public async Task ErrorAnswer_ThrowsWithTheParsedProblem()
    {
        using var client = new WelkinClient(clouds.A.Endpoint, clouds.A.AdminToken);

        var error = await Should.ThrowAsync<WelkinApiException>(() =>
            client.Principals.UpdateAsync("prn_0000000000000000000000000a", new UpdatePrincipalRequest(DisplayName: "x"), TestContext.Current.CancellationToken));

        error.StatusCode.ShouldBe(404);
        error.Code.ShouldBe("not-found");
        error.Problem.Title.ShouldBe("Not found");
        error.Problem.Detail.ShouldBe("Principal 'prn_0000000000000000000000000a' does not exist.");
        error.Problem.CorrelationId.ShouldNotBeNullOrEmpty();
        error.Message.ShouldBe("Not found: Principal 'prn_0000000000000000000000000a' does not exist.");
    }

    [Fact]
    public async Task ValidationAnswer_CarriesFieldErrors()
    {
        using var client = new WelkinClient(clouds.A.Endpoint);

        var error = await Should.ThrowAsync<WelkinApiException>(() =>
            client.Accounts.SignUpAsync(new SignUpRequest("", "x", new SignUpAdmin("admin")), TestContext.Current.CancellationToken));

        error.StatusCode.ShouldBe(400);
        error.Code.ShouldBe("validation-failed");
        error.Problem.Errors.ShouldNotBeNull().Keys.ShouldContain("accountName");
    }

    [Fact]
    public async Task SharedHttpClient_ServesSeveralIdentities()
    {
        using var http = new HttpClient();
        var anonymous = new WelkinClient(http, clouds.B.Endpoint);
        var signUp = await anonymous.Accounts.SignUpAsync(
            new SignUpRequest(Names.Unique("shared"), "Shared", new SignUpAdmin("admin")), TestContext.Current.CancellationToken);
        var tenant = anonymous.WithToken(signUp.Token.Secret);
        var admin = new WelkinClient(http, clouds.B.Endpoint, clouds.B.AdminToken);

        var me = await tenant.Auth.WhoAmIAsync(TestContext.Current.CancellationToken);
        var provider = await admin.Auth.WhoAmIAsync(TestContext.Current.CancellationToken);
        var unauthenticated = await Should.ThrowAsync<WelkinApiException>(() => anonymous.Auth.WhoAmIAsync(TestContext.Current.CancellationToken));

        me.Principal.AccountId.ShouldBe(signUp.Account.Id);
        provider.Principal.AccountId.ShouldBeNull();
        unauthenticated.Code.ShouldBe("unauthenticated");
        http.DefaultRequestHeaders.Authorization.ShouldBeNull();
    }

    [Fact]
    public async Task EndpointWithPathPrefix_ResolvesTheApiBelowIt()
    {
        // An endpoint given without a trailing slash still resolves api/v1 below it.
        using var client = new WelkinClient(new Uri(clouds.A.Endpoint.AbsoluteUri.TrimEnd('/')), clouds.A.AdminToken);

        (await client.Health.IsReadyAsync(TestContext.Current.CancellationToken)).ShouldBeTrue();
        (await client.Fabric.ListHostsAsync(TestContext.Current.CancellationToken)).ShouldNotBeEmpty();
        client.Endpoint.AbsoluteUri.ShouldEndWith("/");
    }

    [Fact]
    public async Task ListQuery_IsEscapedAndPaged()
    {
        using var client = new WelkinClient(clouds.A.Endpoint, clouds.A.AdminToken);
        for (var i = 0; i < 3; i++)
        {
            await client.Accounts.SignUpAsync(new SignUpRequest(Names.Unique("page"), "P", new SignUpAdmin("admin")), TestContext.Current.CancellationToken);
        }

        var first = await client.Accounts.ListAsync(limit: 2, ct: TestContext.Current.CancellationToken);
        var second = await client.Accounts.ListAsync(after: first.Next, limit: 2, ct: TestContext.Current.CancellationToken);
        var invalid = await Should.ThrowAsync<WelkinApiException>(() =>
            client.Audit.ListAsync(accountId: "a b&c=d", ct: TestContext.Current.CancellationToken));

        first.Items.Count.ShouldBe(2);
        first.Next.ShouldNotBeNull();
        second.Items.ShouldNotBeEmpty();
        second.Items.Select(a => a.Id).ShouldNotContain(first.Items[0].Id);
        invalid.Code.ShouldBe("invalid-id");
        invalid.Problem.Detail.ShouldBe("'a b&c=d' is not a valid account id.");
    }

    [Fact]
    public async Task Download_OfAMissingImage_IsAProblemNotAnEmptyFile()
    {
        using var client = new WelkinClient(clouds.A.Endpoint, clouds.A.AdminToken);
        using var sink = new MemoryStream();

        var error = await Should.ThrowAsync<WelkinApiException>(() =>
            client.Images.DownloadAsync("img_0000000000000000000000000a", sink, new RangeItemHeaderValue(0, 9), ct: TestContext.Current.CancellationToken));

        error.StatusCode.ShouldBe(404);
        sink.Length.ShouldBe(0);
    }
}

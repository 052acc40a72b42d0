using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Core.Data;
using Welkin.Core.Security;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Federation;

/// <summary>
/// A peer cloud's credential (a token bound to its federation certificate) over real mutual TLS: it
/// works on the federation listener with that certificate only, and the listener serves the API to
/// such credentials only.
/// </summary>
public sealed class CloudCredentialTests(FederationListenerApp app) : IClassFixture<FederationListenerApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task BoundToken_OnTheListenerWithItsCertificate_ActsAsTheCloudPrincipalOfItsAccount()
    {
        var (certificate, _) = app.Issue("Kappa");
        var (account, secret) = await IssueAsync(certificate, "kappa");
        var peer = app.Peer(certificate);
        peer.DefaultRequestHeaders.Authorization = new("Bearer", secret);

        var me = await (await peer.GetAsync("/api/v1/me", Ct)).ReadAsync<WhoAmI>();

        me.Principal.AccountId.ShouldBe(account);
        me.Principal.Kind.ShouldBe(PrincipalKind.Cloud);
        me.Principal.Roles.ShouldBe([Role.Cloud]);
        (await peer.GetAsync($"/api/v1/accounts/{account}", Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task BoundToken_OnTheOrdinaryPort_IsRefusedAndSaysWhy()
    {
        var (certificate, _) = app.Issue("Lambda");
        var (_, secret) = await IssueAsync(certificate, "lambda");
        using var ordinary = new HttpClient { BaseAddress = app.ApiAddress };
        ordinary.DefaultRequestHeaders.Authorization = new("Bearer", secret);

        var problem = await (await ordinary.GetAsync("/api/v1/me", Ct)).ProblemAsync(HttpStatusCode.Unauthorized, "certificate-required");

        problem.GetProperty("detail").GetString()!.ShouldContain("federation listener");
    }

    [Fact]
    public async Task BoundToken_WithAnotherCloudsCertificate_IsRefused()
    {
        var (bound, _) = app.Issue("Mu");
        var (other, _) = app.Issue("Nu");
        var (_, secret) = await IssueAsync(bound, "mu");
        var peer = app.Peer(other);
        peer.DefaultRequestHeaders.Authorization = new("Bearer", secret);

        await (await peer.GetAsync("/api/v1/me", Ct)).ProblemAsync(HttpStatusCode.Unauthorized, "certificate-required");
    }

    [Fact]
    public async Task BoundToken_WhoseCertificateIsRevokedDuringTheConnection_IsRefusedAtItsNextRequest()
    {
        var (certificate, serial) = app.Issue("Xi");
        var (_, secret) = await IssueAsync(certificate, "xi");
        var peer = app.Peer(certificate);
        peer.DefaultRequestHeaders.Authorization = new("Bearer", secret);
        (await peer.GetAsync("/api/v1/me", Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);

        app.Revoke(serial);

        await (await peer.GetAsync("/api/v1/me", Ct)).ProblemAsync(HttpStatusCode.Unauthorized, "certificate-required");
    }

    [Fact]
    public async Task Listener_RefusesAnOrdinaryToken_AndHidesTheApiFromCallsWithoutOne()
    {
        var (certificate, _) = app.Issue("Omicron");
        var peer = app.Peer(certificate);

        (await peer.GetAsync("/api/v1/me", Ct)).StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await peer.GetAsync("/api/v1/catalog/description", Ct)).StatusCode.ShouldBe(HttpStatusCode.NotFound);
        peer.DefaultRequestHeaders.Authorization = new("Bearer", app.AdminToken);
        await (await peer.GetAsync("/api/v1/me", Ct)).ProblemAsync(HttpStatusCode.Unauthorized, "federation-credential-required");
        peer.DefaultRequestHeaders.Authorization = new("Bearer", "wkn_not-a-token");
        await (await peer.GetAsync("/api/v1/catalog/description", Ct)).ProblemAsync(HttpStatusCode.Unauthorized, "unauthenticated");
    }

    [Fact]
    public async Task CloudPrincipals_TheCloudRoleAndTokensOfACloudPrincipal_CannotBeMadeThroughTheApi()
    {
        var (certificate, _) = app.Issue("Pi");
        var (account, _) = await IssueAsync(certificate, "pi");
        var admin = app.OrdinaryAdmin();

        var kind = await admin.PostAsJsonAsync("/api/v1/principals",
            new CreatePrincipalRequest("robot", [Role.Engineer], Kind: PrincipalKind.Cloud, AccountId: account), WelkinJson.Client, Ct);
        (await kind.ProblemAsync(HttpStatusCode.BadRequest, "validation-failed")).GetRawText().ShouldContain("federation agreement");
        var role = await admin.PostAsJsonAsync("/api/v1/principals",
            new CreatePrincipalRequest("person", [Role.Cloud], AccountId: account), WelkinJson.Client, Ct);
        (await role.ProblemAsync(HttpStatusCode.BadRequest, "validation-failed")).GetRawText().ShouldContain("federation agreement");
        var cloud = await app.Services.GetRequiredService<IDatabase>().QuerySingleOrDefaultAsync<string>(
            "SELECT id FROM principals WHERE account_id = @Account AND kind = 'cloud'", new { Account = account }, Ct);
        var token = await admin.PostAsJsonAsync($"/api/v1/principals/{cloud}/tokens", new CreateTokenRequest("more"), WelkinJson.Client, Ct);
        await token.ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
    }

    /// <summary>An account with a cloud principal whose token is bound to <paramref name="certificate"/>, as an agreement makes them.</summary>
    private async Task<(string Account, string Secret)> IssueAsync(X509Certificate2 certificate, string name)
    {
        var signUp = await app.OrdinaryAdmin().PostAsJsonAsync("/api/v1/catalog/sign-up",
            new SignUpRequest("peer-" + name + "-" + Guid.NewGuid().ToString("N")[..8], "Peer " + name, new SignUpAdmin("admin")), WelkinJson.Client, Ct);
        var created = (await signUp.ReadAsync<SignUpResponse>(HttpStatusCode.Created)).Account;
        var fingerprint = Convert.ToHexStringLower(SHA256.HashData(certificate.RawData));
        var issued = await app.Services.GetRequiredService<IDatabase>().WriteAsync<CloudCredential>(
            async tx => await app.Services.GetRequiredService<SecurityManager>().IssueCloudCredentialAsync(
                tx, Caller.System("test"), created.Id, name, fingerprint, DateTimeOffset.UtcNow.AddDays(1)), Ct);
        return (created.Id, issued.Value!.Token.Secret);
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Core.Data;
using Welkin.Server.Federation;
using Welkin.Testing;

namespace Welkin.Server.Tests.Federation;

/// <summary>
/// The federation listener over real TLS: a peer with a certificate of the federation CA is answered,
/// every other caller is refused at the handshake (and audited), and the listener and the ordinary API
/// each answer only their own routes.
/// </summary>
public sealed class FederationListenerTests(FederationListenerApp app) : IClassFixture<FederationListenerApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Hello_WithACertificateOfTheFederationCa_NamesThisCloudAndTheCaller()
    {
        var (certificate, _) = app.Issue("Alpha");

        var response = await app.Peer(certificate).GetAsync("/federation/v1/hello", Ct);

        response.StatusCode.ShouldBe(HttpStatusCode.OK, await response.Content.ReadAsStringAsync(Ct));
        var hello = (await response.Content.ReadFromJsonAsync<FederationHelloView>(WelkinJson.Client, Ct))!;
        hello.Cloud.Name.ShouldBe(FederationListenerApp.Cloud);
        hello.Cloud.XmppAddress.ShouldBe(FederationListenerApp.Address);
        hello.Cloud.Url.ShouldBe(app.ListenerUrl.AbsoluteUri);
        hello.Cloud.Fingerprint.ShouldBe(app.Services.GetRequiredService<Welkin.Intercloud.Trust.FederationCredentials>().Fingerprint);
        hello.Caller.ShouldBe(new FederationCloudView("Alpha", "alpha@exchange.test", "https://alpha.test:8443/federation/v1",
            Convert.ToHexStringLower(SHA256.HashData(certificate.RawData))));
    }

    [Fact]
    public async Task Hello_OverHttp2_IsAnswered()
    {
        var (certificate, _) = app.Issue("Zeta");
        using var request = new HttpRequestMessage(HttpMethod.Get, "/federation/v1/hello") { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };

        var response = await app.Peer(certificate).SendAsync(request, Ct);

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Version.ShouldBe(HttpVersion.Version20);
    }

    [Fact]
    public async Task NoClientCertificate_IsRefusedAtTheHandshake_AndAudited()
    {
        await Should.ThrowAsync<HttpRequestException>(() => app.Peer(null).GetAsync("/federation/v1/hello", Ct));

        await RefusalAuditedAsync("NoCertificate", "before a client certificate was accepted");
    }

    [Fact]
    public async Task CertificateOfAnotherCa_IsRefusedAtTheHandshake_AndAudited()
    {
        var (certificate, _) = app.Issue("Mallory", caDirectory: app.OtherCa());

        await Should.ThrowAsync<HttpRequestException>(() => app.Peer(certificate).GetAsync("/federation/v1/hello", Ct));

        await RefusalAuditedAsync("Untrusted", "does not chain to the federation CA");
    }

    [Fact]
    public async Task ExpiredCertificate_IsRefusedAtTheHandshake_AndAudited()
    {
        var past = new FakeTimeProvider(TimeProvider.System.GetUtcNow().AddDays(-3));
        var (certificate, _) = app.Issue("Stale", TimeSpan.FromDays(1), past);

        await Should.ThrowAsync<HttpRequestException>(() => app.Peer(certificate).GetAsync("/federation/v1/hello", Ct));

        await RefusalAuditedAsync("Expired", "the certificate expired at");
    }

    [Fact]
    public async Task CertificateRevokedAfterStart_IsRefusedOnTheNextConnection()
    {
        var (certificate, serial) = app.Issue("Gamma");
        (await app.Peer(certificate).GetAsync("/federation/v1/hello", Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);

        app.Revoke(serial);

        await Should.ThrowAsync<HttpRequestException>(() => app.Peer(certificate).GetAsync("/federation/v1/hello", Ct));
        await RefusalAuditedAsync("Revoked", "the certificate was revoked at");
    }

    [Fact]
    public async Task CertificateRevokedDuringAConnection_IsRefusedAtItsNextRequest()
    {
        var (certificate, serial) = app.Issue("Delta");
        var peer = app.Peer(certificate);
        (await peer.GetAsync("/federation/v1/hello", Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);

        app.Revoke(serial);
        var response = await peer.GetAsync("/federation/v1/hello", Ct);

        response.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        (await response.Content.ReadAsStringAsync(Ct)).ShouldContain("peer-certificate-refused");
        var audited = await app.Services.GetRequiredService<IDatabase>().QueryAsync<string?>(
            "SELECT detail FROM audit_log WHERE action = @Action AND target = '/federation/v1/hello' AND outcome = 'denied'",
            new { Action = Welkin.Server.Endpoints.FederationEndpoints.CallAction }, Ct);
        audited.ShouldContain(d => d != null && d.Contains("revoked", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Listener_DoesNotAnswerTheOrdinaryApi_WithoutAPeerCloudsCredential()
    {
        var (certificate, _) = app.Issue("Epsilon");
        var peer = app.Peer(certificate);

        (await peer.GetAsync("/api/v1/me", Ct)).StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await peer.GetAsync("/api/v1/openapi.json", Ct)).StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await peer.GetAsync("/health/live", Ct)).StatusCode.ShouldBe(HttpStatusCode.NotFound);
        peer.DefaultRequestHeaders.Authorization = new("Bearer", app.AdminToken);
        (await peer.GetAsync("/api/v1/me", Ct)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await peer.GetAsync("/health/live", Ct)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task OrdinaryApi_KeepsWorking_AndDoesNotAnswerFederationRoutes()
    {
        var admin = app.OrdinaryAdmin();

        (await admin.GetAsync("/api/v1/me", Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await admin.GetAsync("/health/ready", Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await admin.GetAsync("/federation/v1/hello", Ct)).StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    private async Task RefusalAuditedAsync(string kind, string reason)
    {
        var db = app.Services.GetRequiredService<IDatabase>();
        var target = "federation-listener/" + kind;
        List<string?> details = [];
        await Polling.UntilAsync(async () =>
        {
            details = (await db.QueryAsync<string?>(
                "SELECT detail FROM audit_log WHERE action = @Action AND target = @Target AND outcome = 'denied'",
                new { Action = FederationListener.HandshakeAction, Target = target }, Ct)).ToList();
            return details.Count > 0;
        }, $"an audit entry for the refused handshake ({kind})", TimeSpan.FromSeconds(30), Polling.DefaultInterval);
        details.ShouldContain(d => d != null && d.Contains(reason, StringComparison.Ordinal));
    }
}

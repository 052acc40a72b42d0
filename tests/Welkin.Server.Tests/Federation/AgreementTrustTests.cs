using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Core.Federation;
using Welkin.Intercloud.Trust;
using Welkin.Server.Tests.Catalog;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Testing;

namespace Welkin.Server.Tests.Federation;

/// <summary>
/// Federation agreements when trust ends or the peer cannot be reached: a proposal kept and sent again,
/// the provider admin's distrust, a revoked certificate. A fixture of its own: these tests end trust.
/// </summary>
public sealed class AgreementTrustTests(AgreementClouds clouds) : IClassFixture<AgreementClouds>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private HttpClient Consumer => clouds.Consumer.OrdinaryAdmin();

    private HttpClient Provider => clouds.Provider.OrdinaryAdmin();

    private async Task<AgreementView> RequestAsync() =>
        await (await Consumer.PostAsJsonAsync("/api/v1/federation/agreements", new AgreementRequest("Cloud2", clouds.Terms()), WelkinJson.Client, Ct))
            .ReadAsync<AgreementView>(HttpStatusCode.Created);

    private static async Task<AgreementView> ShowAsync(HttpClient admin, string id) =>
        (await (await admin.GetAsync($"/api/v1/federation/agreements/{id}", Ct)).ReadAsync<AgreementDetail>()).Agreement;

    private Task RecordProviderAsync(string url) =>
        clouds.Consumer.Services.GetRequiredService<PeerStore>().RecordAsync(new PeerObservation(clouds.Provider.XmppAddress, PeerTrustState.Trusted, "verified",
            clouds.Provider.Name, url, clouds.Provider.Services.GetRequiredService<FederationCredentials>().Fingerprint, 2), Ct);

    [Fact]
    public async Task Request_WhenThePeerIsUnreachable_StaysProposedAndIsSentAgain()
    {
        await RecordProviderAsync($"https://127.0.0.1:{Loopback.FreePort()}/federation/v1");
        try
        {
            var response = await Consumer.PostAsJsonAsync("/api/v1/federation/agreements", new AgreementRequest("Cloud2", clouds.Terms()), WelkinJson.Client, Ct);
            await response.ProblemAsync(HttpStatusCode.ServiceUnavailable, "peer-unreachable");
            var kept = (await (await Consumer.GetAsync("/api/v1/federation/agreements", Ct)).ReadAsync<List<AgreementView>>())
                .Single(a => a.State == AgreementState.Proposed);
            kept.RemoteId.ShouldBeNull();
        }
        finally
        {
            await RecordProviderAsync(clouds.Provider.ListenerUrl.AbsoluteUri);
        }

        await Polling.UntilAsync(async () =>
            (await (await Consumer.GetAsync("/api/v1/federation/agreements", Ct)).ReadAsync<List<AgreementView>>()).All(a => a.State != AgreementState.Proposed),
            "the kept proposal sent again and accepted", Patience, Polling.DefaultInterval);
    }

    [Fact]
    public async Task Terminate_WhenTheProviderCannotBeTold_EndsThisSideAndSaysSo()
    {
        var agreement = await RequestAsync();
        await clouds.Consumer.Services.GetRequiredService<Welkin.Core.Data.IDatabase>().WriteAsync<bool>(async tx =>
            await tx.ExecuteAsync("UPDATE federation_agreements SET peer_url = @Url WHERE id = @Id",
                new { Url = $"https://127.0.0.1:{Loopback.FreePort()}/federation/v1", agreement.Id }) == 1, Ct);

        var ended = await (await Consumer.PostAsJsonAsync($"/api/v1/federation/agreements/{agreement.Id}/terminate",
            new AgreementTermination("moving out"), WelkinJson.Client, Ct)).ReadAsync<AgreementView>();

        ended.State.ShouldBe(AgreementState.Terminated);
        ended.TerminationReason!.ShouldContain("could not be told");
        (await ShowAsync(Provider, agreement.RemoteId!)).State.ShouldBe(AgreementState.Active);
    }

    [Fact]
    public async Task Distrust_ByTheConsumer_TerminatesItsSideAndKeepsThePeerUntrusted()
    {
        var agreement = await RequestAsync();

        var peer = await (await Consumer.PostAsJsonAsync("/api/v1/federation/peers/Cloud2/distrust", new PeerDistrust("audit finding"), WelkinJson.Client, Ct))
            .ReadAsync<PeerView>();
        try
        {
            peer.Trust.ShouldBe(PeerTrustState.Untrusted);
            var ended = await ShowAsync(Consumer, agreement.Id);
            ended.State.ShouldBe(AgreementState.Terminated);
            ended.TerminationReason!.ShouldContain("audit finding");
            var presence = await clouds.Consumer.Services.GetRequiredService<PeerStore>().RecordAsync(new PeerObservation(clouds.Provider.XmppAddress,
                PeerTrustState.Trusted, "verified", clouds.Provider.Name, clouds.Provider.ListenerUrl.AbsoluteUri, agreement.Peer.Fingerprint, 3), Ct);
            presence.Trust.ShouldBe(PeerTrustState.Untrusted);
            (await Consumer.PostAsJsonAsync("/api/v1/federation/agreements", new AgreementRequest("Cloud2", clouds.Terms()), WelkinJson.Client, Ct))
                .StatusCode.ShouldBe(HttpStatusCode.Conflict);
            (await Consumer.AuditAsync()).ShouldContain(e => e.Action == PeerStore.DistrustAction && e.Detail == "audit finding");
        }
        finally
        {
            (await Consumer.PostAsync("/api/v1/federation/peers/Cloud2/trust", null, Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
            await RecordProviderAsync(clouds.Provider.ListenerUrl.AbsoluteUri);
        }
    }

    [Fact]
    public async Task Distrust_ByTheProvider_RevokesTheCredential()
    {
        var agreement = await RequestAsync();
        var credential = (await clouds.Consumer.Services.GetRequiredService<AgreementStore>().GetAsync(agreement.Id, Ct))!.Credential!;

        (await Provider.PostAsJsonAsync("/api/v1/federation/peers/Cloud1/distrust", new PeerDistrust("contract breach"), WelkinJson.Client, Ct))
            .StatusCode.ShouldBe(HttpStatusCode.OK);
        try
        {
            var provided = await ShowAsync(Provider, agreement.RemoteId!);
            provided.State.ShouldBe(AgreementState.Terminated);
            using var cloud = clouds.ConsumerOnProvider(credential);
            (await cloud.GetAsync($"/api/v1/contracts/{agreement.ContractIds[0]}", Ct)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
            var again = await Consumer.PostAsJsonAsync("/api/v1/federation/agreements", new AgreementRequest("Cloud2", clouds.Terms()), WelkinJson.Client, Ct);
            (await again.ProblemAsync(HttpStatusCode.UnprocessableEntity, "agreement-refused")).GetProperty("reasons")[0].GetString()!.ShouldContain("does not trust peer 'Cloud1'");
        }
        finally
        {
            (await Provider.PostAsync("/api/v1/federation/peers/Cloud1/trust", null, Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        }
    }
}

/// <summary>A revoked certificate ends the agreements of its cloud. A fixture of its own: the revocation is for good.</summary>
public sealed class AgreementRevocationTests(AgreementClouds clouds) : IClassFixture<AgreementClouds>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private HttpClient Provider => clouds.Provider.OrdinaryAdmin();

    [Fact]
    public async Task RevokedCertificate_TerminatesTheAgreementsOfThatPeer()
    {
        var agreement = await (await clouds.Consumer.OrdinaryAdmin().PostAsJsonAsync("/api/v1/federation/agreements",
            new AgreementRequest("Cloud2", clouds.Terms()), WelkinJson.Client, Ct)).ReadAsync<AgreementView>(HttpStatusCode.Created);

        clouds.Consumer.Revoke(clouds.Consumer.CertificateSerial);

        await Polling.UntilAsync(async () => (await ShowAsync(Provider, agreement.RemoteId!)).State == AgreementState.Terminated,
            "the provider terminating the agreement of the revoked peer", TimeSpan.FromSeconds(30), Polling.DefaultInterval);
        var provided = await ShowAsync(Provider, agreement.RemoteId!);
        provided.TerminationReason!.ShouldContain("no longer trusted");
        (await Provider.AuditAsync()).ShouldContain(e => e.Action == AgreementStore.Actions.Terminate && e.Target == provided.Id);
        await Polling.UntilAsync(async () => (await ShowAsync(Consumer, agreement.Id)).State == AgreementState.Terminated,
            "the consumer, whose own certificate is revoked, terminating its side", TimeSpan.FromSeconds(30), Polling.DefaultInterval);
        (await ShowAsync(Consumer, agreement.Id)).TerminationReason!.ShouldContain("own federation certificate is no longer trusted");
    }

    private HttpClient Consumer => clouds.Consumer.OrdinaryAdmin();

    private static async Task<AgreementView> ShowAsync(HttpClient admin, string id) =>
        (await (await admin.GetAsync($"/api/v1/federation/agreements/{id}", Ct)).ReadAsync<AgreementDetail>()).Agreement;
}

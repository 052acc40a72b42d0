using System.Net;
using System.Net.Http.Json;
using Microsoft.Data.Sqlite;
using Welkin.Contracts;
using Welkin.Core.Federation;
using Welkin.Intercloud.Trust;
using Welkin.Server.Tests.Catalog;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Testing;
using static Welkin.Server.Tests.Federation.FederationClouds;

namespace Welkin.Server.Tests.Federation;

/// <summary>
/// Intercloud II end to end with Prosody and three cloud processes: ProviderCo-US finds ProviderCo-DE's
/// offering, is refused an agreement for a jurisdiction DE's policy does not allow, is granted one for DE,
/// provisions on DE with the agreement's credential over DE's federation listener, sees the usage on both
/// sides, and loses the agreement when the federation CA revokes its certificate. A fixture of its own:
/// the revocation is for good.
/// </summary>
public sealed class AgreementScenarioTests(FederationClouds clouds) : IClassFixture<FederationClouds>
{
    // Bounds on waiting, generous for a loaded machine; none of them is a performance claim.
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(250);

    private static readonly FederationPolicy Policy = new(
        ["ProviderCo-US"], ["DE"], [], new Dictionary<string, long> { ["compute-unit"] = 10, ["storage-unit"] = 10 }, 10m, EncryptionAtRest: false, IsolationLevel.Shared);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private HttpClient Us => clouds.Admin("us");

    private HttpClient De => clouds.Admin("de");

    [Fact]
    public async Task FindNegotiateUseAndRevoke_AcrossThreeCloudProcesses()
    {
        await OnlineAndTrustedAsync("us", "de", "cc");
        var offering = await PublishOnDeAsync();
        (await (await De.PutAsJsonAsync("/api/v1/federation/policy", Policy, WelkinJson.Client, Ct)).ReadAsync<FederationPolicy>()).Peers.ShouldBe(["ProviderCo-US"]);

        await FindAsync(offering);
        await RefusedForFranceAsync(offering);
        var agreement = await AcceptedForGermanyAsync(offering);
        var (credential, apiUrl) = CredentialOf(agreement.Id);
        await ProvisionAndSeeUsageAsync(agreement, credential, apiUrl);
        await RevokeAsync(agreement, credential, apiUrl);
    }

    private async Task<OfferingView> PublishOnDeAsync()
    {
        var prefix = CatalogApi.UniquePrefix("scen");
        var template = await De.PublishedTemplateAsync(CatalogApi.Template(prefix + "template", vcpus: 4, memoryMiB: 8192));
        return await De.PublishOfferingAsync((await De.CreateOfferingAsync(CatalogApi.Compute(prefix + "small", template.Id))).Id);
    }

    /// <summary>ProviderCo-US finds DE's offering; with CloudCoC's link cut, it names CloudCoC unanswered and still finds it.</summary>
    private async Task FindAsync(OfferingView offering)
    {
        var found = await OffersAsync();
        var offer = found.Offers.Single(o => o.OfferingId == offering.Id);
        (offer.Peer, offer.Jurisdiction, offer.Price, offer.Currency).ShouldBe((new FederatedPeer("ProviderCo-DE", Address("de")), "DE", 0.13m, "USD"));
        found.Answered.Select(p => p.Address).ShouldBe([Address("cc"), Address("de")], ignoreOrder: true);

        clouds.Relay.Refusing = true;
        clouds.Relay.Sever();
        try
        {
            await Polling.UntilAsync(async () => (await clouds.PeersAsync("us")).Peers.Single(p => p.Address == Address("cc")) is { Online: false },
                "ProviderCo-US marks CloudCoC offline: its link is cut", Patience, Poll);
            var without = await OffersAsync();
            without.Offers.ShouldContain(o => o.OfferingId == offering.Id);
            without.Answered.Select(p => p.Address).ShouldBe([Address("de")]);
            var silent = without.Unanswered.ShouldHaveSingleItem();
            (silent.Address, silent.Reason).ShouldBe((Address("cc"), "offline"));
        }
        finally
        {
            clouds.Relay.Refusing = false;
        }
        await OnlineAndTrustedAsync("us", "de", "cc");
    }

    private async Task RefusedForFranceAsync(OfferingView offering)
    {
        var response = await Us.PostAsJsonAsync("/api/v1/federation/agreements", new AgreementRequest("ProviderCo-DE", Terms(offering, "FR")), WelkinJson.Client, Ct);

        var problem = await response.ProblemAsync(HttpStatusCode.UnprocessableEntity, "agreement-refused");
        var reason = problem.GetProperty("reasons").EnumerateArray().Single().GetString()!;
        reason.ShouldStartWith("Jurisdiction not allowed");
        reason.ShouldContain("offered: DE");
        var consumerSide = (await AgreementsAsync(Us)).Single(a => a.State == AgreementState.Refused);
        (consumerSide.Side, consumerSide.Peer.Name).ShouldBe((AgreementSide.Consumer, "ProviderCo-DE"));
        consumerSide.Reasons.ShouldBe([reason]);
        var providerSide = (await AgreementsAsync(De)).Single(a => a.State == AgreementState.Refused);
        (providerSide.Side, providerSide.Peer.Name, providerSide.AccountId).ShouldBe((AgreementSide.Provider, "ProviderCo-US", null));
        providerSide.Reasons.ShouldBe([reason]);
        (await Us.AuditAsync()).ShouldContain(e => e.Action == AgreementStore.Actions.Refuse && e.Target == consumerSide.Id && e.Outcome == "denied");
        (await De.AuditAsync()).ShouldContain(e => e.Action == AgreementStore.Actions.Refuse && e.Target == providerSide.Id && e.Outcome == "denied");
    }

    private async Task<AgreementView> AcceptedForGermanyAsync(OfferingView offering)
    {
        var agreement = await (await Us.PostAsJsonAsync("/api/v1/federation/agreements", new AgreementRequest("ProviderCo-DE", Terms(offering, "DE")), WelkinJson.Client, Ct))
            .ReadAsync<AgreementView>(HttpStatusCode.Created);

        agreement.State.ShouldBe(AgreementState.Active);
        agreement.ContractIds.Count.ShouldBe(1);
        var provided = await ShowAsync(De, agreement.RemoteId!);
        (provided.State, provided.Side, provided.AccountId, provided.Peer.Name).ShouldBe((AgreementState.Active, AgreementSide.Provider, agreement.AccountId, "ProviderCo-US"));
        var listed = await (await Us.GetAsync("/api/v1/federation/agreements", Ct)).Content.ReadAsStringAsync(Ct);
        listed.ShouldNotContain("credential", Case.Insensitive);
        return agreement;
    }

    /// <summary>The credential is on ProviderCo-US only, in its database: no route reveals it, so the test reads the file.</summary>
    private (string Credential, Uri ApiUrl) CredentialOf(string agreementId)
    {
        var (credential, apiUrl) = StoredCredentialOf(agreementId) ?? throw new ShouldAssertException($"agreement {agreementId} has no credential on ProviderCo-US");
        return (credential, apiUrl);
    }

    private (string Credential, Uri ApiUrl)? StoredCredentialOf(string agreementId)
    {
        var path = Path.Combine(clouds.DataDirectory("us"), "welkin.db");
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT credential, api_url FROM federation_agreements WHERE id = $id";
        command.Parameters.AddWithValue("$id", agreementId);
        using var reader = command.ExecuteReader();
        reader.Read().ShouldBeTrue();
        return reader.IsDBNull(0) ? null : (reader.GetString(0), new Uri(reader.GetString(1)));
    }

    private async Task ProvisionAndSeeUsageAsync(AgreementView agreement, string credential, Uri apiUrl)
    {
        apiUrl.ShouldBe(new Uri(clouds.CloudUrl("de").GetLeftPart(UriPartial.Authority) + "/"));
        using var credentials = UsCredentials();
        using var http = new HttpClient(credentials.CreatePeerHandler());
        using var client = new Welkin.Client.WelkinClient(http, apiUrl, credential);

        var contract = await client.Contracts.GetAsync(agreement.ContractIds[0], Ct);
        contract.State.ShouldBe(ContractState.Active);
        var provisioned = await client.Instances.ProvisionAsync(new ProvisionRequest(contract.Id), Ct);
        provisioned.Resource.AccountId.ShouldBe(agreement.AccountId);

        await Polling.UntilAsync(async () => (await UsageOnDeAsync(agreement.AccountId!)).Totals.Any(t => t.Quantity > 0),
            "the machine's usage metered on ProviderCo-DE for the agreement's account", Patience, Poll);
        var onDe = await UsageOnDeAsync(agreement.AccountId!);
        var usageResponse = await Us.GetAsync($"/api/v1/federation/agreements/{agreement.Id}/usage", Ct);
        if (usageResponse.StatusCode == System.Net.HttpStatusCode.InternalServerError)
        {
            throw new ShouldAssertException("ProviderCo-US failed: " + clouds.Server("us").Output[^Math.Min(6000, clouds.Server("us").Output.Length)..]);
        }
        var seen = await usageResponse.ReadAsync<AgreementUsage>();
        (seen.AgreementId, seen.Peer.Name, seen.Usage.AccountId).ShouldBe((agreement.Id, "ProviderCo-DE", agreement.AccountId));
        seen.Usage.Totals.Select(t => t.Metric).ShouldBe(onDe.Totals.Select(t => t.Metric), ignoreOrder: true);
        seen.Usage.Totals.ShouldContain(t => t.Quantity > 0);
        seen.Invoices.ShouldContain(i => i.AccountId == agreement.AccountId);
        var instances = await client.Instances.ListAsync(ct: Ct);
        instances.Items.ShouldContain(i => i.Id == provisioned.Resource.Id);
    }

    private async Task RevokeAsync(AgreementView agreement, string credential, Uri apiUrl)
    {
        clouds.Revoke("us");

        await Polling.UntilAsync(async () => (await ShowAsync(De, agreement.RemoteId!)).State == AgreementState.Terminated,
            "ProviderCo-DE terminating the agreement of the revoked peer", Patience, Poll);
        (await ShowAsync(De, agreement.RemoteId!)).TerminationReason!.ShouldContain("no longer trusted");
        await Polling.UntilAsync(async () => (await ShowAsync(Us, agreement.Id)).State == AgreementState.Terminated,
            "ProviderCo-US, whose own certificate is revoked, terminating its side", Patience, Poll);
        (await ShowAsync(Us, agreement.Id)).TerminationReason!.ShouldContain("own federation certificate is no longer trusted");
        (await De.AuditAsync()).ShouldContain(e => e.Action == AgreementStore.Actions.Terminate && e.Target == agreement.RemoteId);

        var principal = (await (await De.GetAsync($"/api/v1/principals?accountId={agreement.AccountId}", Ct)).ReadAsync<Page<PrincipalView>>())
            .Items.Single(p => p.Kind == PrincipalKind.Cloud);
        principal.State.ShouldBe(PrincipalState.Disabled);
        var tokens = await (await De.GetAsync($"/api/v1/principals/{principal.Id}/tokens", Ct)).ReadAsync<List<TokenView>>();
        tokens.ShouldNotBeEmpty();
        tokens.ShouldAllBe(t => t.Revoked != null);
        StoredCredentialOf(agreement.Id).ShouldBeNull();

        // ProviderCo-DE's listener refuses the revoked certificate in the handshake, so the credential cannot be presented.
        using var credentials = UsCredentials();
        using var http = new HttpClient(credentials.CreatePeerHandler());
        using var client = new Welkin.Client.WelkinClient(http, apiUrl, credential);
        await Should.ThrowAsync<HttpRequestException>(() => client.Contracts.GetAsync(agreement.ContractIds[0], Ct));
        var contract = await (await De.GetAsync($"/api/v1/contracts/{agreement.ContractIds[0]}", Ct)).ReadAsync<ContractView>();
        contract.State.ShouldBeOneOf(ContractState.Terminating, ContractState.Terminated);
    }

    /// <summary>ProviderCo-US's federation credentials as its process loads them (its certificate and key, the CA, the CRL in force).</summary>
    private FederationCredentials UsCredentials()
    {
        var (certificate, key) = clouds.CertificateFilesOf("us");
        var (credentials, error) = FederationCredentials.Load(clouds.CaCertificateFile, clouds.CrlFile, certificate, key, TimeProvider.System);
        credentials.ShouldNotBeNull(error);
        return credentials;
    }

    private static AgreementTerms Terms(OfferingView offering, string jurisdiction) => new(
        new AgreementPolicy([jurisdiction]),
        new AgreementEntitlement(new Dictionary<string, long> { ["compute-unit"] = 2 }, [new AgreementOffering(offering.Id, 2)]),
        new AgreementMetering("USD", MaxPricePerCpuHour: 0.20m, MinimumAvailability: 99.9m));

    private async Task<FederatedOfferList> OffersAsync() =>
        await (await Us.GetAsync("/api/v1/federation/offers?vcpus=4&memory=8GiB&jurisdiction=DE&maxPrice=0.20&currency=USD&availability=99.9", Ct)).ReadAsync<FederatedOfferList>();

    private async Task<UsageReport> UsageOnDeAsync(string accountId) =>
        await (await De.GetAsync($"/api/v1/accounts/{accountId}/usage", Ct)).ReadAsync<UsageReport>();

    private static async Task<List<AgreementView>> AgreementsAsync(HttpClient admin) =>
        await (await admin.GetAsync("/api/v1/federation/agreements", Ct)).ReadAsync<List<AgreementView>>();

    private static async Task<AgreementView> ShowAsync(HttpClient admin, string id) =>
        (await (await admin.GetAsync($"/api/v1/federation/agreements/{id}", Ct)).ReadAsync<AgreementDetail>()).Agreement;

    private Task OnlineAndTrustedAsync(string at, params string[] users) =>
        Polling.UntilAsync(async () =>
        {
            var peers = (await clouds.PeersAsync(at)).Peers;
            return users.Where(u => u != at).All(u => peers.Any(p => p.Address == Address(u) && p.Online && p.Trust == PeerTrustState.Trusted));
        }, $"{at} lists {string.Join(", ", users)} online and trusted", Patience, Poll);
}

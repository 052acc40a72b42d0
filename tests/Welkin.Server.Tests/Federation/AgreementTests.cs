using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Core.Federation;
using Welkin.Server.Tests.Catalog;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Testing;

namespace Welkin.Server.Tests.Federation;

/// <summary>Federation agreements between two clouds talking mutual TLS: refused, accepted and used, amended, terminated from either side.</summary>
public sealed class AgreementTests(AgreementClouds clouds) : IClassFixture<AgreementClouds>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private HttpClient Consumer => clouds.Consumer.OrdinaryAdmin();

    private HttpClient Provider => clouds.Provider.OrdinaryAdmin();

    private async Task<AgreementView> RequestAsync(AgreementTerms terms) =>
        await (await Consumer.PostAsJsonAsync("/api/v1/federation/agreements", new AgreementRequest("Cloud2", terms), WelkinJson.Client, Ct))
            .ReadAsync<AgreementView>(HttpStatusCode.Created);

    private static async Task<AgreementDetail> ShowAsync(HttpClient admin, string id) =>
        await (await admin.GetAsync($"/api/v1/federation/agreements/{id}", Ct)).ReadAsync<AgreementDetail>();

    private async Task<AgreementView> ProviderSideAsync(AgreementView consumer) =>
        (await ShowAsync(Provider, consumer.RemoteId!)).Agreement;

    private string CredentialOf(AgreementView agreement) =>
        clouds.Consumer.Services.GetRequiredService<AgreementStore>().GetAsync(agreement.Id, Ct).GetAwaiter().GetResult()!.Credential!;

    [Fact]
    public async Task Request_WhenJurisdictionNotAllowed_IsRefusedWithReasonsOnBothSides()
    {
        var response = await Consumer.PostAsJsonAsync("/api/v1/federation/agreements", new AgreementRequest("Cloud2", clouds.Terms("FR")), WelkinJson.Client, Ct);

        var problem = await response.ProblemAsync(HttpStatusCode.UnprocessableEntity, "agreement-refused");
        var reason = problem.GetProperty("reasons").EnumerateArray().Single().GetString()!;
        reason.ShouldStartWith("Jurisdiction not allowed");
        reason.ShouldContain("offered: DE");
        var consumerSide = (await (await Consumer.GetAsync("/api/v1/federation/agreements", Ct)).ReadAsync<List<AgreementView>>())
            .Single(a => a.State == AgreementState.Refused && a.Terms.Policy.Jurisdictions.Contains("FR"));
        consumerSide.Reasons.ShouldBe([reason]);
        consumerSide.Side.ShouldBe(AgreementSide.Consumer);
        var providerSide = (await (await Provider.GetAsync("/api/v1/federation/agreements", Ct)).ReadAsync<List<AgreementView>>())
            .Single(a => a.State == AgreementState.Refused && a.Terms.Policy.Jurisdictions.Contains("FR"));
        providerSide.Reasons.ShouldBe([reason]);
        providerSide.Peer.Name.ShouldBe("Cloud1");
        providerSide.AccountId.ShouldBeNull();
        (await Consumer.AuditAsync()).ShouldContain(e => e.Action == AgreementStore.Actions.Refuse && e.Target == consumerSide.Id && e.Outcome == "denied");
        (await Provider.AuditAsync()).ShouldContain(e => e.Action == AgreementStore.Actions.Refuse && e.Target == providerSide.Id && e.Outcome == "denied");
    }

    [Fact]
    public async Task Request_WhenAccepted_ConsumerProvisionsOnTheProviderWithItsCredential()
    {
        var agreement = await RequestAsync(clouds.Terms());

        agreement.State.ShouldBe(AgreementState.Active);
        agreement.ContractIds.Count.ShouldBe(1);
        var detail = await ShowAsync(Consumer, agreement.Id);
        detail.Versions.Select(v => v.State).ShouldBe([AgreementState.Proposed, AgreementState.Active]);
        var provided = await ProviderSideAsync(agreement);
        provided.State.ShouldBe(AgreementState.Active);
        provided.AccountId.ShouldBe(agreement.AccountId);

        using var cloud = clouds.ConsumerOnProvider(CredentialOf(agreement));
        var contract = await (await cloud.GetAsync($"/api/v1/contracts/{agreement.ContractIds[0]}", Ct)).ReadAsync<ContractView>();
        contract.State.ShouldBe(ContractState.Active);
        var provisioned = await (await cloud.PostAsJsonAsync("/api/v1/instances", new ProvisionRequest(contract.Id), WelkinJson.Client, Ct))
            .ReadAsync<AcceptedView<InstanceView>>(HttpStatusCode.Accepted);
        provisioned.Resource.AccountId.ShouldBe(agreement.AccountId);
        await Polling.UntilAsync(async () =>
            (await (await cloud.GetAsync($"/api/v1/accounts/{agreement.AccountId}/quotas", Ct)).ReadAsync<List<QuotaView>>())
                .Single(q => q.Unit == "compute-unit").Provisioned == 1, "the machine provisioned on the provider", Patience, Polling.DefaultInterval);
        var usage = await (await cloud.GetAsync($"/api/v1/accounts/{agreement.AccountId}/usage", Ct)).ReadAsync<UsageReport>();
        usage.AccountId.ShouldBe(agreement.AccountId);
    }

    [Fact]
    public async Task Accepted_TheAgreementsContractIsRecordedAccepted_SoTheProviderInvoicesAndEvaluatesIt()
    {
        var agreement = await RequestAsync(clouds.Terms());

        var contract = await (await Provider.GetAsync($"/api/v1/contracts/{agreement.ContractIds[0]}", Ct)).ReadAsync<ContractView>();
        contract.State.ShouldBe(ContractState.Active);
        contract.Accepted.ShouldNotBeNull("an agreement's contract is active from the start, accepted when it opens");
        contract.TermEnds.ShouldNotBeNull();
        var preview = await (await Provider.GetAsync($"/api/v1/accounts/{agreement.AccountId}/invoices/preview", Ct)).ReadAsync<InvoiceView>();
        preview.Contracts!.Select(c => c.Id).ShouldBe([contract.Id]);
        var sla = await (await Provider.GetAsync($"/api/v1/contracts/{contract.Id}/sla", Ct)).ReadAsync<SlaReportView>();
        sla.ContractId.ShouldBe(contract.Id);
    }

    [Fact]
    public async Task Reconciliation_ReadsThePeersChargesWithTheAgreementsCredential()
    {
        using var client = new Welkin.Client.WelkinClient(clouds.Consumer.ApiAddress, clouds.Consumer.AdminToken);
        var agreement = await client.Federation.RequestAgreementAsync(new AgreementRequest("Cloud2", clouds.Terms()), Ct);

        var report = await client.Federation.ReconcileAgreementAsync(agreement.Id, ct: Ct);

        var preview = await (await Provider.GetAsync($"/api/v1/accounts/{agreement.AccountId}/invoices/preview", Ct)).ReadAsync<InvoiceView>();
        // Answered, over mutual TLS with the agreement's credential: the peer's preview of the period (nothing metered yet).
        (report.AgreementId, report.Peer.Name, report.Period, report.PeerInvoiceIssued, report.PeerInvoice).ShouldBe((agreement.Id, "Cloud2", preview.Period, false, null));
        // The consumer cloud has no peer pools, so nothing of its own earns against the peer's charges.
        report.Machines.ShouldBeEmpty();
        report.Amounts.Select(a => a.Currency).ShouldBe(preview.Totals.Select(t => t.Currency));
        foreach (var amount in report.Amounts)
        {
            // Ordered units accrue by the millisecond between the two reads.
            amount.Cost.ShouldBe(preview.Totals.Single(t => t.Currency == amount.Currency).Total, 0.01m);
            (amount.Revenue, amount.Margin).ShouldBe((0m, -amount.Cost));
        }

        await client.Federation.TerminateAgreementAsync(agreement.Id, "reconciled", Ct);
        var ended = await Should.ThrowAsync<Welkin.Client.WelkinApiException>(() => client.Federation.ReconcileAgreementAsync(agreement.Id, ct: Ct));
        ended.Problem.Code.ShouldBe("invalid-state");
    }

    [Fact]
    public async Task Usage_IsReadFromTheProviderThroughTheClient()
    {
        using var client = new Welkin.Client.WelkinClient(clouds.Consumer.ApiAddress, clouds.Consumer.AdminToken);
        var agreement = await client.Federation.RequestAgreementAsync(new AgreementRequest("Cloud2", clouds.Terms()), Ct);

        var usage = await client.Federation.GetAgreementUsageAsync(agreement.Id, Ct);

        usage.AgreementId.ShouldBe(agreement.Id);
        usage.Peer.Name.ShouldBe("Cloud2");
        usage.Usage.AccountId.ShouldBe(agreement.AccountId);
        usage.Invoices.ShouldContain(i => i.AccountId == agreement.AccountId);
        (await client.Federation.ListAgreementsAsync(Ct)).ShouldContain(a => a.Id == agreement.Id);
        (await client.Federation.GetAgreementAsync(agreement.Id, Ct)).Versions.Count.ShouldBe(2);
        var provider = await (await Provider.GetAsync($"/api/v1/accounts/{agreement.AccountId}/usage", Ct)).ReadAsync<UsageReport>();
        provider.AccountId.ShouldBe(usage.Usage.AccountId);
        var refused = await Should.ThrowAsync<Welkin.Client.WelkinApiException>(() =>
            client.Federation.RequestAgreementAsync(new AgreementRequest("Cloud2", clouds.Terms("IT")), Ct));
        refused.Problem.Code.ShouldBe("agreement-refused");
    }

    [Fact]
    public async Task Credential_IsRefusedOnTheOrdinaryPortAndWithAnotherCertificate()
    {
        var agreement = await RequestAsync(clouds.Terms());
        var credential = CredentialOf(agreement);

        var ordinary = clouds.Provider.Ordinary(credential);
        await (await ordinary.GetAsync($"/api/v1/contracts/{agreement.ContractIds[0]}", Ct)).ProblemAsync(HttpStatusCode.Unauthorized, "certificate-required");
        var (other, _) = clouds.Provider.Issue("Cloud3");
        using var impostor = clouds.ConsumerOnProvider(credential, other);
        (await impostor.GetAsync($"/api/v1/contracts/{agreement.ContractIds[0]}", Ct)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Request_RetriedWithTheSameProposalId_AnswersTheSameAgreement()
    {
        var agreement = await RequestAsync(clouds.Terms());
        var proposal = new AgreementProposal(agreement.Id, clouds.Terms());

        using var cloud = clouds.ConsumerOnProvider("unused");
        cloud.DefaultRequestHeaders.Authorization = null;
        var again = await (await cloud.PostAsJsonAsync("/federation/v1/agreements", proposal, WelkinJson.Client, Ct)).ReadAsync<AgreementAcceptance>();

        again.AgreementId.ShouldBe(agreement.RemoteId);
        again.AccountId.ShouldBe(agreement.AccountId);
        again.Credential.ShouldBe(CredentialOf(agreement));
    }

    [Fact]
    public async Task Amend_ChangesLimitsAndContractOnTheProvider()
    {
        var agreement = await RequestAsync(clouds.Terms());

        var amended = await (await Consumer.PutAsJsonAsync($"/api/v1/federation/agreements/{agreement.Id}",
            new AgreementAmendment(clouds.Terms(quantity: 3, units: 4), agreement.Version), WelkinJson.Client, Ct)).ReadAsync<AgreementView>();

        amended.State.ShouldBe(AgreementState.Amended);
        amended.Version.ShouldBe(agreement.Version + 1);
        var provided = await ProviderSideAsync(agreement);
        provided.State.ShouldBe(AgreementState.Amended);
        provided.Terms.Entitlement.Units["compute-unit"].ShouldBe(4);
        var quotas = await (await Provider.GetAsync($"/api/v1/accounts/{agreement.AccountId}/quotas", Ct)).ReadAsync<List<QuotaView>>();
        quotas.Single(q => q.Unit == "compute-unit").ShouldBe(new QuotaView("compute-unit", 4, 3, 0));
        var stale = await Consumer.PutAsJsonAsync($"/api/v1/federation/agreements/{agreement.Id}",
            new AgreementAmendment(clouds.Terms(), agreement.Version), WelkinJson.Client, Ct);
        stale.StatusCode.ShouldBe(HttpStatusCode.PreconditionFailed);
        var refused = await Consumer.PutAsJsonAsync($"/api/v1/federation/agreements/{agreement.Id}",
            new AgreementAmendment(clouds.Terms(units: 50), amended.Version), WelkinJson.Client, Ct);
        (await refused.ProblemAsync(HttpStatusCode.UnprocessableEntity, "agreement-refused")).GetProperty("reasons").EnumerateArray()
            .ShouldContain(r => r.GetString()!.Contains("at most 10 per peer", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Terminate_ByTheConsumer_EndsBothSidesAndRevokesTheCredential()
    {
        var agreement = await RequestAsync(clouds.Terms());
        var credential = CredentialOf(agreement);

        var ended = await (await Consumer.PostAsJsonAsync($"/api/v1/federation/agreements/{agreement.Id}/terminate",
            new AgreementTermination("no longer needed"), WelkinJson.Client, Ct)).ReadAsync<AgreementView>();

        ended.State.ShouldBe(AgreementState.Terminated);
        ended.TerminationReason.ShouldBe("no longer needed");
        var provided = await ProviderSideAsync(agreement);
        provided.State.ShouldBe(AgreementState.Terminated);
        provided.TerminationReason!.ShouldContain("no longer needed");
        using var cloud = clouds.ConsumerOnProvider(credential);
        (await cloud.GetAsync($"/api/v1/contracts/{agreement.ContractIds[0]}", Ct)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        var contract = await (await Provider.GetAsync($"/api/v1/contracts/{agreement.ContractIds[0]}", Ct)).ReadAsync<ContractView>();
        contract.State.ShouldBeOneOf(ContractState.Terminating, ContractState.Terminated);
        (await Provider.AuditAsync()).ShouldContain(e => e.Action == AgreementStore.Actions.Terminate && e.Target == provided.Id);
    }

    [Fact]
    public async Task Terminate_ByTheProvider_NotifiesTheConsumer()
    {
        var agreement = await RequestAsync(clouds.Terms());

        var ended = await (await Provider.PostAsJsonAsync($"/api/v1/federation/agreements/{agreement.RemoteId}/terminate",
            new AgreementTermination("capacity withdrawn"), WelkinJson.Client, Ct)).ReadAsync<AgreementView>();

        ended.State.ShouldBe(AgreementState.Terminated);
        var consumer = (await ShowAsync(Consumer, agreement.Id)).Agreement;
        consumer.State.ShouldBe(AgreementState.Terminated);
        consumer.TerminationReason!.ShouldContain("capacity withdrawn");
    }

    [Fact]
    public async Task Get_WithAMalformedOrUnknownId_Answers400Or404()
    {
        await (await Consumer.GetAsync("/api/v1/federation/agreements/ctr_01h00000000000000000000000", Ct)).ProblemAsync(HttpStatusCode.BadRequest, "invalid-id");
        await (await Consumer.GetAsync("/api/v1/federation/agreements/agr_01h00000000000000000000000", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task WireRoutes_AnswerAnotherPeer404()
    {
        var agreement = await RequestAsync(clouds.Terms());
        var (other, _) = clouds.Provider.Issue("Cloud3");

        using var stranger = clouds.Provider.Peer(other);
        var response = await stranger.PostAsJsonAsync($"/federation/v1/agreements/{agreement.RemoteId}/terminate", new AgreementTerminationNotice("mine now"), WelkinJson.Client, Ct);

        response.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await ProviderSideAsync(agreement)).State.ShouldBe(AgreementState.Active);
    }

    private async Task<string> OperatorTokenAsync()
    {
        var name = $"op-{Guid.NewGuid():n}"[..16];
        var principal = await (await Provider.PostAsJsonAsync("/api/v1/principals",
            new CreatePrincipalRequest(name, [Role.Operator], Kind: PrincipalKind.Service), WelkinJson.Client, Ct)).ReadAsync<PrincipalView>(HttpStatusCode.Created);
        var token = await (await Provider.PostAsJsonAsync($"/api/v1/principals/{principal.Id}/tokens", new CreateTokenRequest("t"), WelkinJson.Client, Ct))
            .ReadAsync<IssuedToken>(HttpStatusCode.Created);
        return token.Secret;
    }

    [Fact]
    public async Task Policy_IsVersionedAndValidated()
    {
        var current = await (await Provider.GetAsync("/api/v1/federation/policy", Ct)).ReadAsync<FederationPolicy>();
        current.Version.ShouldBeGreaterThan(0);

        var stale = await Provider.PutAsJsonAsync("/api/v1/federation/policy", current with { Version = current.Version - 1 }, WelkinJson.Client, Ct);
        stale.StatusCode.ShouldBe(HttpStatusCode.PreconditionFailed);
        var invalid = await Provider.PutAsJsonAsync("/api/v1/federation/policy", current with { CapacityReservePercent = 150m }, WelkinJson.Client, Ct);
        (await invalid.ProblemAsync(HttpStatusCode.BadRequest, "validation-failed")).GetProperty("errors").TryGetProperty("capacityReservePercent", out _).ShouldBeTrue();
        var operatorToken = await OperatorTokenAsync();
        (await clouds.Provider.Ordinary(operatorToken).GetAsync("/api/v1/federation/policy", Ct)).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
    }
}

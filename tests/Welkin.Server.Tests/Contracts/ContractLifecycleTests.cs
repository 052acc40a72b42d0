using System.Net;
using System.Net.Http.Json;
using Welkin.Contracts;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Contracts;

public sealed class ContractLifecycleTests(ContractsApp app) : IClassFixture<ContractsApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Task<HttpResponseMessage> AmendAsync(HttpClient client, string id, ContractAmendmentRequest request) =>
        client.PostAsJsonAsync($"/api/v1/contracts/{id}/amendments", request, WelkinJson.Client, Ct);

    private static async Task<List<QuotaView>> QuotasAsync(ContractsApi.Tenant tenant) =>
        await (await tenant.Client.GetAsync($"/api/v1/accounts/{tenant.AccountId}/quotas", Ct)).ReadAsync<List<QuotaView>>();

    [Fact]
    public async Task Amend_ChangesLinesAndTerm_AndKeepsAReadableHistory()
    {
        var tenant = await ContractsApi.TenantAsync(app, computeUnits: 10, storageUnits: 20);
        var active = await tenant.ActiveAsync(quantity: 2);

        var raised = await (await AmendAsync(tenant.Client, active.Id, new ContractAmendmentRequest(
            [new ContractItemRequest(tenant.Compute.Id, 5), new ContractItemRequest(tenant.Storage.Id, 4)], 12, "grown", "more traffic", active.Version)))
            .ReadAsync<ContractView>();
        var lowered = await (await AmendAsync(tenant.Client, active.Id, new ContractAmendmentRequest([new ContractItemRequest(tenant.Compute.Id, 3)], Reason: "less")))
            .ReadAsync<ContractView>();

        raised.Revision.ShouldBe(2);
        raised.Name.ShouldBe("grown");
        raised.TermMonths.ShouldBe(12);
        raised.TermEnds.ShouldBe(active.Accepted!.Value.AddMonths(12));
        raised.Items.Select(i => (i.Item, i.OfferingId, i.Quantity)).ShouldBe([(0, tenant.Compute.Id, 5), (1, tenant.Storage.Id, 4)]);
        lowered.Revision.ShouldBe(3);
        lowered.Usage.ShouldBe([new ContractItemUsage(0, 3, 0), new ContractItemUsage(1, 4, 0)]);
        (await QuotasAsync(tenant)).ShouldBe([new QuotaView("compute-unit", 10, 3, 0), new QuotaView("storage-unit", 20, 4, 0)]);

        var history = await (await tenant.Client.GetAsync($"/api/v1/contracts/{active.Id}/revisions", Ct)).ReadAsync<List<ContractRevisionView>>();
        history.Select(r => (r.Revision, r.TermMonths, r.Reason, r.ChangedBy)).ShouldBe(
        [
            (1, 1, "proposal", tenant.SignUp.Admin.Id),
            (2, 12, "more traffic", tenant.SignUp.Admin.Id),
            (3, 12, "less", tenant.SignUp.Admin.Id),
        ]);
        history.Select(r => string.Join(",", r.Items.Select(i => i.Quantity))).ShouldBe(["2", "5,4", "3,4"]);
    }

    [Fact]
    public async Task Amend_PastTheLimitOrBelowMinimumTermOrNotActive_IsRefused()
    {
        var tenant = await ContractsApi.TenantAsync(app, computeUnits: 4);
        var proposed = await tenant.Client.ProposeAsync((tenant.Compute.Id, 1));
        await (await AmendAsync(tenant.Client, proposed.Id, new ContractAmendmentRequest(Name: "x"))).ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
        var active = await tenant.Client.AcceptAsync(proposed.Id);

        await (await AmendAsync(tenant.Client, active.Id, new ContractAmendmentRequest([new ContractItemRequest(tenant.Compute.Id, 5)])))
            .ProblemAsync(HttpStatusCode.Conflict, "quota-exceeded");
        await (await AmendAsync(tenant.Client, active.Id, new ContractAmendmentRequest(Name: "x", Version: active.Version - 1)))
            .ProblemAsync(HttpStatusCode.PreconditionFailed, "precondition-failed");
        await (await AmendAsync(tenant.Client, active.Id, new ContractAmendmentRequest())).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        var (longCompute, _) = await ContractsApi.PublishedOfferingsAsync(app, minimumMonths: 6);
        await (await AmendAsync(tenant.Client, active.Id, new ContractAmendmentRequest([new ContractItemRequest(longCompute.Id, 1)])))
            .ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");

        (await tenant.Client.GetContractAsync(active.Id)).Revision.ShouldBe(1);
        (await QuotasAsync(tenant)).Single(q => q.Unit == "compute-unit").Ordered.ShouldBe(1);
    }

    [Fact]
    public async Task Terminate_ActiveContract_RunsAJobThatReleasesItsUnits()
    {
        var tenant = await ContractsApi.TenantAsync(app, computeUnits: 3);
        var active = await tenant.ActiveAsync(quantity: 3);
        (await QuotasAsync(tenant)).Single(q => q.Unit == "compute-unit").Ordered.ShouldBe(3);

        var response = await tenant.Client.PostAsJsonAsync($"/api/v1/contracts/{active.Id}/terminate", new ContractTransitionRequest(active.Version), WelkinJson.Client, Ct);
        var accepted = await response.ReadAsync<AcceptedView<ContractView>>(HttpStatusCode.Accepted);

        response.Headers.Location!.ToString().ShouldBe($"/api/v1/jobs/{accepted.Job.Id}");
        accepted.Job.Action.ShouldBe("contract.terminate");
        accepted.Job.Target.ShouldBe(active.Id);
        accepted.Resource.State.ShouldBe(ContractState.Terminating);
        (await JobWaits.FinishedAsync(app, accepted.Job.Id)).State.ShouldBe(JobState.Succeeded);
        var terminated = await tenant.Client.GetContractAsync(active.Id);
        terminated.State.ShouldBe(ContractState.Terminated);
        terminated.Terminated.ShouldNotBeNull();
        (await QuotasAsync(tenant)).Single(q => q.Unit == "compute-unit").Ordered.ShouldBe(0);
        await tenant.Client.ProposeAsync((tenant.Compute.Id, 3));
        await (await tenant.Client.PostAsJsonAsync($"/api/v1/contracts/{active.Id}/terminate", new ContractTransitionRequest(), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
        await (await AmendAsync(tenant.Client, active.Id, new ContractAmendmentRequest(Name: "late"))).ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
    }

    [Fact]
    public async Task Terminate_Proposal_DeclinesItAtOnce()
    {
        var tenant = await ContractsApi.TenantAsync(app, computeUnits: 2);
        var proposed = await tenant.Client.ProposeAsync((tenant.Compute.Id, 2));

        var accepted = await (await tenant.Client.PostAsJsonAsync($"/api/v1/contracts/{proposed.Id}/terminate", new ContractTransitionRequest(), WelkinJson.Client, Ct))
            .ReadAsync<AcceptedView<ContractView>>(HttpStatusCode.Accepted);

        accepted.Resource.State.ShouldBe(ContractState.Rejected);
        accepted.Job.State.ShouldBe(JobState.Succeeded);
        (await QuotasAsync(tenant)).Single(q => q.Unit == "compute-unit").Ordered.ShouldBe(0);
    }

    [Fact]
    public async Task Quotas_ShowLimitOrderedAndProvisionedPerUnit_ToTheAccountOnly()
    {
        var tenant = await ContractsApi.TenantAsync(app, computeUnits: 7, storageUnits: 9);
        await tenant.Client.ProposeAsync((tenant.Compute.Id, 2), (tenant.Storage.Id, 3));
        var viewer = await AccountPrincipals.CreateAsync(app, tenant.Client, Role.Viewer);
        var (_, other) = await app.SignUpAsync("other");

        var quotas = await (await viewer.GetAsync($"/api/v1/accounts/{tenant.AccountId}/quotas", Ct)).ReadAsync<List<QuotaView>>();

        quotas.ShouldBe([new QuotaView("compute-unit", 7, 2, 0), new QuotaView("storage-unit", 9, 3, 0)]);
        await (await other.GetAsync($"/api/v1/accounts/{tenant.AccountId}/quotas", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        (await (await app.Admin().GetAsync($"/api/v1/accounts/{tenant.AccountId}/quotas", Ct)).ReadAsync<List<QuotaView>>()).ShouldBe(quotas);
    }

    [Fact]
    public async Task Request_HundredConcurrentForTheLastUnits_NeverPassesTheLimit()
    {
        var tenant = await ContractsApi.TenantAsync(app, computeUnits: 50);
        await tenant.Client.ProposeAsync((tenant.Compute.Id, 40));

        var responses = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ =>
            tenant.Client.RequestAsync(new ContractRequest([new ContractItemRequest(tenant.Compute.Id, 1)]))));

        responses.Count(r => r.StatusCode == HttpStatusCode.Created).ShouldBe(10);
        foreach (var refused in responses.Where(r => r.StatusCode != HttpStatusCode.Created))
        {
            await refused.ProblemAsync(HttpStatusCode.Conflict, "quota-exceeded");
        }
        (await QuotasAsync(tenant)).Single(q => q.Unit == "compute-unit").ShouldBe(new QuotaView("compute-unit", 50, 50, 0));
        var contracts = await (await tenant.Client.GetAsync("/api/v1/contracts?limit=500", Ct)).ReadAsync<Page<ContractView>>();
        contracts.Items.Sum(c => c.Items.Sum(i => i.Units)).ShouldBe(50);
    }
}

using System.Net;
using System.Net.Http.Json;
using Welkin.Contracts;
using Welkin.Server.Tests.Contracts;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Security;

/// <summary>
/// Account limits under the provider's policy: an account-admin raises its own only up to the
/// ceiling (30 by default), beyond it through a limit request a provider admin decides, and no
/// one sets a limit below what the account holds.
/// </summary>
public sealed class LimitPolicyTests(SecurityApp app) : IClassFixture<SecurityApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task SetLimits_ByAccountAdminAboveTheCeiling_Returns403NamingTheCeilingAndTheLimitRequest()
    {
        var (signUp, tenant) = await app.SignUpAsync("ceiling");

        var problem = await (await PutLimitsAsync(tenant, signUp.Account.Id, ("compute-unit", 1_000_000_000), ("storage-unit", 5)))
            .ProblemAsync(HttpStatusCode.Forbidden, "limit-above-ceiling");

        var detail = problem.GetProperty("detail").GetString()!;
        detail.ShouldContain("compute-unit 1000000000 is above the ceiling of 30");
        detail.ShouldContain("/api/v1/limit-requests");
        detail.ShouldNotContain("storage-unit");
        (await GetAccountAsync(signUp.Account.Id)).Limits.ShouldBe(new Dictionary<string, long> { ["compute-unit"] = 0, ["storage-unit"] = 0 });
        (await PutLimitsAsync(tenant, signUp.Account.Id, ("compute-unit", 30), ("storage-unit", 30))).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task SetLimits_ByProviderAdmin_IgnoresTheCeiling_AndTheAccountMayKeepOrLowerWhatItWasGranted()
    {
        var (signUp, tenant) = await app.SignUpAsync("granted");

        (await PutLimitsAsync(app.Admin(), signUp.Account.Id, ("compute-unit", 500), ("storage-unit", 5))).StatusCode.ShouldBe(HttpStatusCode.OK);

        (await PutLimitsAsync(tenant, signUp.Account.Id, ("compute-unit", 500), ("storage-unit", 10))).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await PutLimitsAsync(tenant, signUp.Account.Id, ("compute-unit", 400), ("storage-unit", 10))).StatusCode.ShouldBe(HttpStatusCode.OK);
        await (await PutLimitsAsync(tenant, signUp.Account.Id, ("compute-unit", 401), ("storage-unit", 10))).ProblemAsync(HttpStatusCode.Forbidden, "limit-above-ceiling");
        (await GetAccountAsync(signUp.Account.Id)).Limits["compute-unit"].ShouldBe(400);
    }

    [Fact]
    public async Task SetLimits_BelowWhatTheAccountHolds_Returns409WithTheNumbers_ForAccountAndProviderAlike()
    {
        var tenant = await ContractsApi.TenantAsync(app, computeUnits: 10, storageUnits: 10);
        await tenant.Client.ProposeAsync((tenant.Compute.Id, 3));
        var before = await GetAccountAsync(tenant.AccountId);

        var problem = await (await PutLimitsAsync(app.Admin(), tenant.AccountId, ("compute-unit", 2), ("storage-unit", 10)))
            .ProblemAsync(HttpStatusCode.Conflict, "limit-below-usage");
        problem.GetProperty("detail").GetString()!.ShouldContain("compute-unit: limit 2, ordered 3, provisioned 0");
        // A unit left out of the set has limit 0.
        var omitted = await (await PutLimitsAsync(tenant.Client, tenant.AccountId, ("storage-unit", 10))).ProblemAsync(HttpStatusCode.Conflict, "limit-below-usage");
        omitted.GetProperty("detail").GetString()!.ShouldContain("compute-unit: limit 0, ordered 3, provisioned 0");

        var after = await GetAccountAsync(tenant.AccountId);
        (after.Version, after.Limits["compute-unit"]).ShouldBe((before.Version, 10));
        (await PutLimitsAsync(tenant.Client, tenant.AccountId, ("compute-unit", 3), ("storage-unit", 10))).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task LimitRequest_ApprovedByProviderAdmin_AppliesTheUnitsAskedFor_Audited()
    {
        var (signUp, tenant) = await app.SignUpAsync("asks");
        (await PutLimitsAsync(tenant, signUp.Account.Id, ("compute-unit", 5), ("storage-unit", 7))).StatusCode.ShouldBe(HttpStatusCode.OK);

        var request = await CreateRequestAsync(tenant, ("compute-unit", 200));
        request.State.ShouldBe(LimitRequestState.Pending);
        request.RequestedBy.ShouldBe(signUp.Admin.Id);
        (await (await tenant.GetAsync($"/api/v1/limit-requests/{request.Id}", Ct)).ReadAsync<LimitRequestView>()).Reason.ShouldBe("black friday");
        var pending = await (await app.Admin().GetAsync("/api/v1/limit-requests?state=pending&limit=500", Ct)).ReadAsync<Page<LimitRequestView>>();
        pending.Items.ShouldContain(r => r.Id == request.Id);

        var approved = await (await app.Admin().PostAsJsonAsync($"/api/v1/limit-requests/{request.Id}/approve", new DecisionRequest(), WelkinJson.Client, Ct))
            .ReadAsync<LimitRequestView>();

        approved.State.ShouldBe(LimitRequestState.Approved);
        approved.DecidedBy.ShouldNotBeNull();
        approved.Decided.ShouldNotBeNull();
        (await GetAccountAsync(signUp.Account.Id)).Limits.ShouldBe(new Dictionary<string, long> { ["compute-unit"] = 200, ["storage-unit"] = 7 });
        var audit = await (await app.Admin().GetAsync($"/api/v1/audit?accountId={signUp.Account.Id}&limit=100", Ct)).ReadAsync<Page<AuditEntryView>>();
        audit.Items.ShouldContain(e => e.Action == "limit-request.approve" && e.Target == request.Id && e.Outcome == "success");
        audit.Items.ShouldContain(e => e.Action == "account.set-limits" && e.Detail!.Contains(request.Id));
        await (await app.Admin().PostAsJsonAsync($"/api/v1/limit-requests/{request.Id}/refuse", new DecisionRequest("too late"), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
    }

    [Fact]
    public async Task LimitRequest_Refused_KeepsTheLimits_AndTheRequesterReadsTheReason()
    {
        var (signUp, tenant) = await app.SignUpAsync("refused");
        var request = await CreateRequestAsync(tenant, ("compute-unit", 10_000));

        await (await app.Admin().PostAsJsonAsync($"/api/v1/limit-requests/{request.Id}/refuse", new DecisionRequest(), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        (await app.Admin().PostAsJsonAsync($"/api/v1/limit-requests/{request.Id}/refuse", new DecisionRequest("the fabric is small"), WelkinJson.Client, Ct))
            .StatusCode.ShouldBe(HttpStatusCode.OK);

        var read = await (await tenant.GetAsync($"/api/v1/limit-requests/{request.Id}", Ct)).ReadAsync<LimitRequestView>();
        (read.State, read.DecisionReason).ShouldBe((LimitRequestState.Refused, "the fabric is small"));
        (await GetAccountAsync(signUp.Account.Id)).Limits["compute-unit"].ShouldBe(0);
        var own = await (await tenant.GetAsync("/api/v1/limit-requests", Ct)).ReadAsync<Page<LimitRequestView>>();
        own.Items.Select(r => r.Id).ShouldBe([request.Id]);
    }

    [Theory]
    [InlineData(Role.Engineer)]
    [InlineData(Role.Viewer)]
    public async Task LimitRequest_ByAPrincipalWithoutLimitsWrite_Returns403(Role role)
    {
        var (_, admin) = await app.SignUpAsync("noask");
        var (_, token) = await app.AccountPrincipalAsync(admin, role);

        await (await app.As(token).PostAsJsonAsync("/api/v1/limit-requests",
            new CreateLimitRequest(new Dictionary<string, long> { ["compute-unit"] = 50 }, "please"), WelkinJson.Client, Ct)).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await app.Admin().PostAsJsonAsync("/api/v1/limit-requests",
            new CreateLimitRequest(new Dictionary<string, long> { ["compute-unit"] = 50 }, "please"), WelkinJson.Client, Ct)).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task LimitRequest_WithoutReasonOrUnits_Returns400()
    {
        var (_, tenant) = await app.SignUpAsync("badask");

        await (await tenant.PostAsJsonAsync("/api/v1/limit-requests", new CreateLimitRequest(new Dictionary<string, long>(), "why not"), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        await (await tenant.PostAsJsonAsync("/api/v1/limit-requests", new CreateLimitRequest(new Dictionary<string, long> { ["compute-unit"] = 50 }, ""), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
    }

    private async Task<LimitRequestView> CreateRequestAsync(HttpClient tenant, params (string Unit, long Max)[] limits) =>
        await (await tenant.PostAsJsonAsync("/api/v1/limit-requests",
            new CreateLimitRequest(limits.ToDictionary(l => l.Unit, l => l.Max), "black friday"), WelkinJson.Client, Ct)).ReadAsync<LimitRequestView>(HttpStatusCode.Created);

    private static Task<HttpResponseMessage> PutLimitsAsync(HttpClient client, string accountId, params (string Unit, long Max)[] limits) =>
        client.PutAsJsonAsync($"/api/v1/accounts/{accountId}/limits", new SetLimitsRequest(limits.ToDictionary(l => l.Unit, l => l.Max)), WelkinJson.Client, Ct);

    private async Task<AccountView> GetAccountAsync(string id) =>
        await (await app.Admin().GetAsync($"/api/v1/accounts/{id}", Ct)).ReadAsync<AccountView>();
}

using System.Net;
using System.Net.Http.Json;
using Welkin.Contracts;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Security;

/// <summary>A cloud whose sign-up is by approval, with its own default limits and ceiling.</summary>
public sealed class ApprovalSignUpApp : WelkinApp
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Accounts:SignUp"] = "approval",
        ["Accounts:DefaultLimits:compute-unit"] = "2",
        ["Accounts:DefaultLimits:storage-unit"] = "1",
        ["Accounts:Ceiling:compute-unit"] = "8",
    };
}

/// <summary>A cloud whose sign-up is closed.</summary>
public sealed class ClosedSignUpApp : WelkinApp
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Accounts:SignUp"] = "closed" };
}

/// <summary>Sign-up by approval: a pending account can do nothing until a provider admin lets it in, and a refused one never.</summary>
public sealed class ApprovalSignUpTests(ApprovalSignUpApp app) : IClassFixture<ApprovalSignUpApp>
{
    private const string Password = "correct horse battery";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task SignUp_ByApproval_IsPendingWithDefaultLimits_UsableOnlyOnceApproved()
    {
        var signUp = await SignUpAsync("wait");
        var tenant = app.As(signUp.Token.Secret);

        signUp.Account.State.ShouldBe(AccountState.Pending);
        signUp.Account.Limits.ShouldBe(new Dictionary<string, long> { ["compute-unit"] = 2, ["storage-unit"] = 1 });
        var pending = await (await tenant.GetAsync("/api/v1/me", Ct)).ProblemAsync(HttpStatusCode.Forbidden, "account-pending");
        pending.GetProperty("detail").GetString()!.ShouldContain("approval");
        await (await tenant.GetAsync($"/api/v1/accounts/{signUp.Account.Id}", Ct)).ProblemAsync(HttpStatusCode.Forbidden, "account-pending");
        await (await app.Anonymous().PostAsJsonAsync("/api/v1/auth/login", new LoginRequest("admin", Password, signUp.Account.Name), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.Forbidden, "account-pending");
        await (await app.Anonymous().PostAsJsonAsync("/api/v1/auth/login", new LoginRequest("admin", "wrong password here", signUp.Account.Name), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.Unauthorized, "invalid-credentials");
        var listed = await (await app.Admin().GetAsync("/api/v1/accounts?state=pending&limit=500", Ct)).ReadAsync<Page<AccountView>>();
        listed.Items.ShouldContain(a => a.Id == signUp.Account.Id);
        listed.Items.ShouldAllBe(a => a.State == AccountState.Pending);

        var approved = await (await app.Admin().PostAsJsonAsync($"/api/v1/accounts/{signUp.Account.Id}/approve", new DecisionRequest(), WelkinJson.Client, Ct))
            .ReadAsync<AccountView>();

        approved.State.ShouldBe(AccountState.Active);
        approved.Version.ShouldBe(signUp.Account.Version + 1);
        (await (await tenant.GetAsync("/api/v1/me", Ct)).ReadAsync<WhoAmI>()).Principal.Id.ShouldBe(signUp.Admin.Id);
        (await app.Anonymous().PostAsJsonAsync("/api/v1/auth/login", new LoginRequest("admin", Password, signUp.Account.Name), WelkinJson.Client, Ct))
            .StatusCode.ShouldBe(HttpStatusCode.OK);
        var audit = await (await app.Admin().GetAsync($"/api/v1/audit?accountId={signUp.Account.Id}&limit=100", Ct)).ReadAsync<Page<AuditEntryView>>();
        audit.Items.ShouldContain(e => e.Action == "account.approve" && e.Outcome == "success" && e.Target == signUp.Account.Id);
        await (await app.Admin().PostAsJsonAsync($"/api/v1/accounts/{signUp.Account.Id}/approve", new DecisionRequest(), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
    }

    [Fact]
    public async Task Refuse_NeedsAReason_ThenTheAccountsTokenSaysRefused_AndTheNameStaysTaken()
    {
        var signUp = await SignUpAsync("nope");

        await (await app.Admin().PostAsJsonAsync($"/api/v1/accounts/{signUp.Account.Id}/refuse", new DecisionRequest(), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        var refused = await (await app.Admin().PostAsJsonAsync($"/api/v1/accounts/{signUp.Account.Id}/refuse", new DecisionRequest("not a customer of ours"), WelkinJson.Client, Ct))
            .ReadAsync<AccountView>();

        refused.State.ShouldBe(AccountState.Refused);
        await (await app.As(signUp.Token.Secret).GetAsync("/api/v1/me", Ct)).ProblemAsync(HttpStatusCode.Forbidden, "account-refused");
        await (await app.Admin().PostAsJsonAsync($"/api/v1/accounts/{signUp.Account.Id}/approve", new DecisionRequest(), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
        var audit = await (await app.Admin().GetAsync($"/api/v1/audit?accountId={signUp.Account.Id}&limit=100", Ct)).ReadAsync<Page<AuditEntryView>>();
        audit.Items.ShouldContain(e => e.Action == "account.refuse" && e.Detail!.Contains("not a customer of ours"));
        await (await app.Anonymous().PostAsJsonAsync("/api/v1/catalog/sign-up",
            new SignUpRequest(signUp.Account.Name, "Second party", new SignUpAdmin("admin")), WelkinJson.Client, Ct)).ProblemAsync(HttpStatusCode.Conflict, "name-taken");
    }

    [Fact]
    public async Task SignUp_WithATakenName_AnswersTheSameWhateverTheAccountsState()
    {
        var pending = await SignUpAsync("taken");
        var active = await SignUpAsync("taken");
        (await app.Admin().PostAsJsonAsync($"/api/v1/accounts/{active.Account.Id}/approve", new DecisionRequest(), WelkinJson.Client, Ct)).EnsureSuccessStatusCode();

        var forPending = await AgainAsync(pending.Account.Name);
        var forActive = await AgainAsync(active.Account.Name);

        forPending.ShouldBe(forActive);
        forPending.ShouldNotContain(pending.Account.Id);
        forPending.ShouldNotContain("pending");

        async Task<string> AgainAsync(string name)
        {
            var problem = await (await app.Anonymous().PostAsJsonAsync("/api/v1/catalog/sign-up",
                new SignUpRequest(name, "Again", new SignUpAdmin("admin")), WelkinJson.Client, Ct)).ProblemAsync(HttpStatusCode.Conflict, "name-taken");
            return $"{problem.GetProperty("title").GetString()}|{problem.GetProperty("detail").GetString()!.Replace(name, "<name>", StringComparison.Ordinal)}";
        }
    }

    [Fact]
    public async Task SignUp_ByAProviderAdmin_IsActiveAtOnce()
    {
        var signUp = await (await app.Admin().PostAsJsonAsync("/api/v1/catalog/sign-up",
            new SignUpRequest("invited-" + Guid.NewGuid().ToString("n")[..8], "Invited", new SignUpAdmin("admin")), WelkinJson.Client, Ct))
            .ReadAsync<SignUpResponse>(HttpStatusCode.Created);

        signUp.Account.State.ShouldBe(AccountState.Active);
        (await app.As(signUp.Token.Secret).GetAsync("/api/v1/me", Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task SetLimits_UsesTheConfiguredCeiling()
    {
        var signUp = await SignUpAsync("ceil");
        (await app.Admin().PostAsJsonAsync($"/api/v1/accounts/{signUp.Account.Id}/approve", new DecisionRequest(), WelkinJson.Client, Ct)).EnsureSuccessStatusCode();
        var tenant = app.As(signUp.Token.Secret);

        (await tenant.PutAsJsonAsync($"/api/v1/accounts/{signUp.Account.Id}/limits",
            new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = 8 }), WelkinJson.Client, Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        var problem = await (await tenant.PutAsJsonAsync($"/api/v1/accounts/{signUp.Account.Id}/limits",
            new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = 9 }), WelkinJson.Client, Ct)).ProblemAsync(HttpStatusCode.Forbidden, "limit-above-ceiling");
        problem.GetProperty("detail").GetString()!.ShouldContain("compute-unit 9 is above the ceiling of 8");
        // storage-unit keeps the built-in ceiling (30); a unit without any ceiling cannot be raised by the account at all.
        (await tenant.PutAsJsonAsync($"/api/v1/accounts/{signUp.Account.Id}/limits",
            new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = 8, ["storage-unit"] = 30 }), WelkinJson.Client, Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        await (await tenant.PutAsJsonAsync($"/api/v1/accounts/{signUp.Account.Id}/limits",
            new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = 8, ["gpu-hour"] = 1 }), WelkinJson.Client, Ct)).ProblemAsync(HttpStatusCode.Forbidden, "limit-above-ceiling");
    }

    private async Task<SignUpResponse> SignUpAsync(string prefix) =>
        await (await app.Anonymous().PostAsJsonAsync("/api/v1/catalog/sign-up",
            new SignUpRequest($"{prefix}-{Guid.NewGuid():n}"[..(prefix.Length + 9)], prefix, new SignUpAdmin("admin", null, Password)), WelkinJson.Client, Ct))
            .ReadAsync<SignUpResponse>(HttpStatusCode.Created);
}

/// <summary>Sign-up closed: only a provider admin creates accounts.</summary>
public sealed class ClosedSignUpTests(ClosedSignUpApp app) : IClassFixture<ClosedSignUpApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task SignUp_WhenClosed_Anonymous403SaysContactTheProvider_ProviderAdminCreatesActiveAccount()
    {
        var name = "closed-" + Guid.NewGuid().ToString("n")[..8];

        var problem = await (await app.Anonymous().PostAsJsonAsync("/api/v1/catalog/sign-up",
            new SignUpRequest(name, "Shut out", new SignUpAdmin("admin")), WelkinJson.Client, Ct)).ProblemAsync(HttpStatusCode.Forbidden, "sign-up-closed");
        problem.GetProperty("detail").GetString()!.ShouldContain("contact the provider");

        var created = await (await app.Admin().PostAsJsonAsync("/api/v1/catalog/sign-up",
            new SignUpRequest(name, "Invited", new SignUpAdmin("admin")), WelkinJson.Client, Ct)).ReadAsync<SignUpResponse>(HttpStatusCode.Created);
        created.Account.State.ShouldBe(AccountState.Active);
        // A taken name is not revealed to anonymous callers either: closed answers before any name is looked at.
        await (await app.Anonymous().PostAsJsonAsync("/api/v1/catalog/sign-up",
            new SignUpRequest(name, "Again", new SignUpAdmin("admin")), WelkinJson.Client, Ct)).ProblemAsync(HttpStatusCode.Forbidden, "sign-up-closed");
    }
}

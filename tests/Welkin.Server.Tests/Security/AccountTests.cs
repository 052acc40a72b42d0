using System.Net;
using System.Net.Http.Json;
using Welkin.Contracts;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Security;

/// <summary>Accounts and their principals: the white paper's Table 1 relationship, role scopes and account limits.</summary>
public sealed class AccountTests(SecurityApp app) : IClassFixture<SecurityApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task TableOne_ConsumerCoRegistersThreeRolesThenRaisesLimitsAndAddsThreeEngineers_HasSixAuthorizedPrincipals()
    {
        // Establish Relationship: a business manager signs ConsumerCo up through the service catalog...
        var name = "consumerco-" + Guid.NewGuid().ToString("n")[..8];
        var signUp = await (await app.Anonymous().PostAsJsonAsync("/api/v1/catalog/sign-up",
            new SignUpRequest(name, "ConsumerCo", new SignUpAdmin("business-manager", "Business manager")), WelkinJson.Client, Ct))
            .ReadAsync<SignUpResponse>(HttpStatusCode.Created);
        signUp.Admin.Roles.ShouldBe([Role.AccountAdmin]);
        var manager = app.As(signUp.Token.Secret);

        // ...and registers three ConsumerCo roles authorized to request resources within the account's limits.
        foreach (var engineer in new[] { "fred", "wilma", "barney" })
        {
            (await manager.PostAsJsonAsync("/api/v1/principals", new CreatePrincipalRequest(engineer, [Role.Engineer]), WelkinJson.Client, Ct))
                .StatusCode.ShouldBe(HttpStatusCode.Created);
        }
        var limits = await (await manager.PutAsJsonAsync($"/api/v1/accounts/{signUp.Account.Id}/limits",
            new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = 5, ["storage-unit"] = 5 }), WelkinJson.Client, Ct)).ReadAsync<AccountView>();
        (await AuthorizedAsync()).Count.ShouldBe(3);

        // Update Contract: the limit rises by 25 computing and 25 storage units, and three more engineers join.
        var raised = new Dictionary<string, long>(limits.Limits);
        raised["compute-unit"] += 25;
        raised["storage-unit"] += 25;
        var updated = await (await manager.PutAsJsonAsync($"/api/v1/accounts/{signUp.Account.Id}/limits",
            new SetLimitsRequest(raised, limits.Version), WelkinJson.Client, Ct)).ReadAsync<AccountView>();
        foreach (var engineer in new[] { "betty", "pebbles", "bamm-bamm" })
        {
            (await manager.PostAsJsonAsync("/api/v1/principals", new CreatePrincipalRequest(engineer, [Role.Engineer]), WelkinJson.Client, Ct))
                .StatusCode.ShouldBe(HttpStatusCode.Created);
        }

        updated.Limits["compute-unit"].ShouldBe(30);
        updated.Limits["storage-unit"].ShouldBe(30);
        (await (await manager.GetAsync($"/api/v1/accounts/{signUp.Account.Id}", Ct)).ReadAsync<AccountView>()).Limits.ShouldBe(updated.Limits);
        var authorized = await AuthorizedAsync();
        authorized.Count.ShouldBe(6);
        authorized.ShouldAllBe(p => p.AccountId == signUp.Account.Id && p.State == PrincipalState.Active);
        var all = await (await manager.GetAsync("/api/v1/principals", Ct)).ReadAsync<Page<PrincipalView>>();
        all.Count.ShouldBe(7, "the business manager and six engineers");
        // The provider sees the same principals when it names the account.
        (await (await app.Admin().GetAsync($"/api/v1/principals?accountId={signUp.Account.Id}", Ct)).ReadAsync<Page<PrincipalView>>())
            .Items.Select(p => p.Id).Order().ShouldBe(all.Items.Select(p => p.Id).Order());

        async Task<List<PrincipalView>> AuthorizedAsync()
        {
            var page = await (await manager.GetAsync("/api/v1/principals", Ct)).ReadAsync<Page<PrincipalView>>();
            var roles = (await (await manager.GetAsync("/api/v1/roles", Ct)).ReadAsync<List<RoleView>>())
                .Where(r => r.Permissions.Contains("contracts-request")).Select(r => r.Role).ToHashSet();
            // Engineers are the roles registered to request contracts; the business manager administers.
            return page.Items.Where(p => p.Roles.Contains(Role.Engineer) && p.Roles.All(roles.Contains)).ToList();
        }
    }

    [Fact]
    public async Task SignUp_CreatesActiveAccountWithZeroLimitsAndAccountAdmin()
    {
        var (signUp, admin) = await app.SignUpAsync("new");

        signUp.Account.State.ShouldBe(AccountState.Active);
        signUp.Account.Limits.ShouldBe(new Dictionary<string, long> { ["compute-unit"] = 0, ["storage-unit"] = 0 });
        signUp.Admin.AccountId.ShouldBe(signUp.Account.Id);
        signUp.Token.Expires.ShouldBe(app.Clock.GetUtcNow().AddDays(90));
        var me = await (await admin.GetAsync("/api/v1/me", Ct)).ReadAsync<WhoAmI>();
        me.Permissions.ShouldContain("principals-write");
        me.Permissions.ShouldNotContain("accounts-read-all");
    }

    [Fact]
    public async Task SignUp_WhenNameTaken_Returns409()
    {
        var (signUp, _) = await app.SignUpAsync("dup");

        await (await app.Anonymous().PostAsJsonAsync("/api/v1/catalog/sign-up",
            new SignUpRequest(signUp.Account.Name, "Again", new SignUpAdmin("admin")), WelkinJson.Client, Ct)).ProblemAsync(HttpStatusCode.Conflict, "name-taken");
    }

    [Theory]
    [InlineData(Role.ProviderAdmin)]
    [InlineData(Role.Auditor)]
    [InlineData(Role.Operator)]
    [InlineData(Role.CatalogManager)]
    [InlineData(Role.Developer)]
    [InlineData(Role.BillingAdmin)]
    public async Task CreatePrincipal_InAccountWithProviderRole_Returns400(Role role)
    {
        var (signUp, admin) = await app.SignUpAsync("escalate");

        var problem = await (await admin.PostAsJsonAsync("/api/v1/principals", new CreatePrincipalRequest("sneaky", [Role.Engineer, role]), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        problem.GetProperty("errors").GetProperty("roles").GetArrayLength().ShouldBe(1);

        // Not even the provider-admin may put a provider role inside an account.
        await (await app.Admin().PostAsJsonAsync("/api/v1/principals", new CreatePrincipalRequest("sneaky", [role], AccountId: signUp.Account.Id), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
    }

    [Theory]
    [InlineData(Role.AccountAdmin)]
    [InlineData(Role.Engineer)]
    [InlineData(Role.Viewer)]
    public async Task CreatePrincipal_ProviderPrincipalWithAccountRole_Returns400(Role role) =>
        await (await app.Admin().PostAsJsonAsync("/api/v1/principals", new CreatePrincipalRequest("p-" + Guid.NewGuid().ToString("n")[..8], [role]), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");

    [Fact]
    public async Task UpdatePrincipal_GivingProviderRoleInAccount_Returns400AndChangesNothing()
    {
        var (_, admin) = await app.SignUpAsync("upd");
        var (engineer, _) = await app.AccountPrincipalAsync(admin, Role.Engineer);

        await (await admin.PatchAsJsonAsync($"/api/v1/principals/{engineer.Id}", new UpdatePrincipalRequest(Roles: [Role.ProviderAdmin]), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        await (await app.Admin().PatchAsJsonAsync($"/api/v1/principals/{engineer.Id}", new UpdatePrincipalRequest(Roles: [Role.Auditor]), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");

        var after = await (await admin.GetAsync($"/api/v1/principals/{engineer.Id}", Ct)).ReadAsync<PrincipalView>();
        after.Roles.ShouldBe([Role.Engineer]);
        after.Version.ShouldBe(engineer.Version);
    }

    [Theory]
    [InlineData(Role.Engineer)]
    [InlineData(Role.Viewer)]
    public async Task AccountPrincipalWithoutAdminRole_CannotCreatePrincipalsOrGrantItselfRoles(Role role)
    {
        var (_, admin) = await app.SignUpAsync("nonadmin");
        var (principal, token) = await app.AccountPrincipalAsync(admin, role);
        var client = app.As(token);

        await (await client.PostAsJsonAsync("/api/v1/principals", new CreatePrincipalRequest("friend", [Role.Engineer]), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await client.PatchAsJsonAsync($"/api/v1/principals/{principal.Id}", new UpdatePrincipalRequest(Roles: [Role.AccountAdmin]), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        // Its own display name and password are its own to change.
        (await client.PatchAsJsonAsync($"/api/v1/principals/{principal.Id}", new UpdatePrincipalRequest(DisplayName: "Me"), WelkinJson.Client, Ct))
            .StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task UpdatePrincipal_RemovingLastAccountAdmin_Returns409UntilAnotherAdminExists()
    {
        var (signUp, admin) = await app.SignUpAsync("last");

        await (await admin.PatchAsJsonAsync($"/api/v1/principals/{signUp.Admin.Id}", new UpdatePrincipalRequest(Roles: [Role.Engineer]), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
        (await (await admin.GetAsync("/api/v1/me", Ct)).ReadAsync<WhoAmI>()).Principal.Roles.ShouldBe([Role.AccountAdmin]);

        var (second, secondToken) = await app.AccountPrincipalAsync(admin, Role.AccountAdmin);
        (await admin.PatchAsJsonAsync($"/api/v1/principals/{signUp.Admin.Id}", new UpdatePrincipalRequest(Roles: [Role.Engineer]), WelkinJson.Client, Ct))
            .StatusCode.ShouldBe(HttpStatusCode.OK);
        // Now the second is the last one: it cannot be disabled by anyone.
        await (await app.Admin().PatchAsJsonAsync($"/api/v1/principals/{second.Id}", new UpdatePrincipalRequest(State: PrincipalState.Disabled), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
        (await app.As(secondToken).GetAsync("/api/v1/me", Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task UpdatePrincipal_WithStaleVersion_Returns412()
    {
        var (_, admin) = await app.SignUpAsync("ver");
        var (engineer, _) = await app.AccountPrincipalAsync(admin, Role.Engineer);

        (await admin.PatchAsJsonAsync($"/api/v1/principals/{engineer.Id}", new UpdatePrincipalRequest(DisplayName: "One", Version: engineer.Version), WelkinJson.Client, Ct))
            .StatusCode.ShouldBe(HttpStatusCode.OK);
        await (await admin.PatchAsJsonAsync($"/api/v1/principals/{engineer.Id}", new UpdatePrincipalRequest(DisplayName: "Two", Version: engineer.Version), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.PreconditionFailed, "precondition-failed");
    }

    [Fact]
    public async Task CreatePrincipal_WithTakenName_Returns409ButSameNameInAnotherAccountIsFine()
    {
        var (_, first) = await app.SignUpAsync("names");
        var (_, second) = await app.SignUpAsync("names");
        (await first.PostAsJsonAsync("/api/v1/principals", new CreatePrincipalRequest("fred", [Role.Engineer]), WelkinJson.Client, Ct)).StatusCode.ShouldBe(HttpStatusCode.Created);

        await (await first.PostAsJsonAsync("/api/v1/principals", new CreatePrincipalRequest("fred", [Role.Viewer]), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.Conflict, "name-taken");
        (await second.PostAsJsonAsync("/api/v1/principals", new CreatePrincipalRequest("fred", [Role.Engineer]), WelkinJson.Client, Ct)).StatusCode.ShouldBe(HttpStatusCode.Created);
    }

    [Theory]
    [InlineData(Role.Engineer)]
    [InlineData(Role.Viewer)]
    public async Task SetLimits_ByEngineerOrViewer_Returns403(Role role)
    {
        var (signUp, admin) = await app.SignUpAsync("lim");
        var (_, token) = await app.AccountPrincipalAsync(admin, role);

        await (await app.As(token).PutAsJsonAsync($"/api/v1/accounts/{signUp.Account.Id}/limits",
            new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = 100 }), WelkinJson.Client, Ct)).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        (await (await admin.GetAsync($"/api/v1/accounts/{signUp.Account.Id}", Ct)).ReadAsync<AccountView>()).Limits["compute-unit"].ShouldBe(0);
    }

    [Theory]
    [InlineData(Role.Operator)]
    [InlineData(Role.Auditor)]
    [InlineData(Role.BillingAdmin)]
    public async Task SetLimits_ByProviderRoleOtherThanAdmin_Returns403(Role role)
    {
        var (signUp, _) = await app.SignUpAsync("plim");
        var client = await app.ProviderPrincipalAsync(role);

        await (await client.PutAsJsonAsync($"/api/v1/accounts/{signUp.Account.Id}/limits",
            new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = 100 }), WelkinJson.Client, Ct)).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task SetLimits_ByProviderAdmin_IsStoredAndVersioned()
    {
        var (signUp, admin) = await app.SignUpAsync("padm");

        var set = await (await app.Admin().PutAsJsonAsync($"/api/v1/accounts/{signUp.Account.Id}/limits",
            new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = 40, ["storage-unit"] = 12, ["gpu-hour"] = 3 }, signUp.Account.Version), WelkinJson.Client, Ct))
            .ReadAsync<AccountView>();

        set.Version.ShouldBe(signUp.Account.Version + 1);
        var read = await (await admin.GetAsync($"/api/v1/accounts/{signUp.Account.Id}", Ct)).ReadAsync<AccountView>();
        read.Limits.ShouldBe(new Dictionary<string, long> { ["compute-unit"] = 40, ["gpu-hour"] = 3, ["storage-unit"] = 12 });
        read.Version.ShouldBe(set.Version);
        await (await admin.PutAsJsonAsync($"/api/v1/accounts/{signUp.Account.Id}/limits",
            new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = 1 }, signUp.Account.Version), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.PreconditionFailed, "precondition-failed");
    }

    [Theory]
    [InlineData(-1L)]
    [InlineData(1_000_000_000_000L)]
    [InlineData(long.MaxValue)]
    public async Task SetLimits_WithNegativeOrAbsurdQuantity_Returns400(long quantity)
    {
        var (signUp, admin) = await app.SignUpAsync("absurd");

        var problem = await (await admin.PutAsJsonAsync($"/api/v1/accounts/{signUp.Account.Id}/limits",
            new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = quantity }), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        problem.GetProperty("errors").TryGetProperty("limits.compute-unit", out _).ShouldBeTrue();
    }

    [Fact]
    public async Task ListAccounts_ByAccountPrincipal_ShowsOnlyItsOwn_AndByDeveloperIsForbidden()
    {
        var (mine, admin) = await app.SignUpAsync("mine");
        await app.SignUpAsync("theirs");

        var page = await (await admin.GetAsync("/api/v1/accounts", Ct)).ReadAsync<Page<AccountView>>();
        page.Items.Select(a => a.Id).ShouldBe([mine.Account.Id]);

        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        await (await developer.GetAsync("/api/v1/accounts", Ct)).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        var operatorPage = await (await (await app.ProviderPrincipalAsync(Role.Operator)).GetAsync("/api/v1/accounts?limit=500", Ct)).ReadAsync<Page<AccountView>>();
        operatorPage.Items.ShouldContain(a => a.Id == mine.Account.Id);
    }
}

using Welkin.Cli.Tests.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Tests;

[Collection(CloudsCollection.Name)]
public sealed class CommandTests(TwoClouds clouds) : IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    private async Task UseAdminAsync()
    {
        await _cli.OkAsync("profile", "add", "admin", "--endpoint", clouds.A.Endpoint.AbsoluteUri, "--token-file", clouds.A.AdminTokenFile);
    }

    private async Task<SignUpResponse> SignUpAsync(string prefix = "acct")
    {
        var result = await _cli.OkAsync("account", "sign-up", "--name", Names.Unique(prefix), "--display-name", prefix + " Inc.", "--output", "json");
        return result.Json<SignUpResponse>();
    }

    [Fact]
    public async Task SignUp_PrintsTheTokenOnceWithAWarning()
    {
        await UseAdminAsync();
        var name = Names.Unique("signup");

        var result = await _cli.OkAsync("account", "sign-up", "--name", name, "--display-name", "Sign Up Ltd");

        result.Out.ShouldContain(name);
        result.Out.ShouldMatch(@"Token:\s+wkn_");
        result.Err.ShouldContain("only time the token is shown");
        var accounts = (await _cli.OkAsync("account", "list", "--limit", "500", "--output", "json")).Json<Page<AccountView>>();
        accounts.Items.ShouldContain(a => a.Name == name && a.DisplayName == "Sign Up Ltd");
    }

    [Fact]
    public async Task PrincipalCreate_WithRoles_ShowsAndListsThem()
    {
        await UseAdminAsync();
        var account = await SignUpAsync();

        var table = await _cli.OkAsync("principal", "create", "--name", "erin", "--role", "engineer", "--role", "viewer", "--account", account.Account.Id);
        var json = (await _cli.OkAsync("principal", "create", "--name", "frank", "--role", "account-admin,viewer", "--kind", "service",
            "--account", account.Account.Id, "--output", "json")).Json<PrincipalView>();

        table.Out.ShouldMatch(@"Roles:\s+engineer, viewer");
        json.Roles.ShouldBe([Role.AccountAdmin, Role.Viewer], ignoreOrder: true);
        json.Kind.ShouldBe(PrincipalKind.Service);
        json.AccountId.ShouldBe(account.Account.Id);
        var list = (await _cli.OkAsync("principal", "list", "--account", account.Account.Id, "--output", "json")).Json<Page<PrincipalView>>();
        list.Items.Select(p => p.Name).Order().ShouldBe(["admin", "erin", "frank"]);
        var listed = await _cli.OkAsync("principal", "list", "--account", account.Account.Id);
        listed.Out.ShouldMatch(@"erin\s+person\s+acc_\w+\s+active\s+engineer, viewer");
    }

    [Fact]
    public async Task PrincipalUpdateAndDisable_ChangeRolesAndState()
    {
        await UseAdminAsync();
        var account = await SignUpAsync();
        var principal = (await _cli.OkAsync("principal", "create", "--name", "gina", "--role", "viewer",
            "--account", account.Account.Id, "--output", "json")).Json<PrincipalView>();

        var updated = (await _cli.OkAsync("principal", "update", principal.Id, "--role", "engineer", "--display-name", "Gina G.",
            "--version", principal.Version.ToString(System.Globalization.CultureInfo.InvariantCulture), "--output", "json")).Json<PrincipalView>();
        var stale = await _cli.RunAsync("principal", "update", principal.Id, "--display-name", "Old", "--version", "1");
        var disabled = (await _cli.OkAsync("principal", "disable", principal.Id, "--output", "json")).Json<PrincipalView>();

        updated.Roles.ShouldBe([Role.Engineer]);
        updated.DisplayName.ShouldBe("Gina G.");
        stale.ExitCode.ShouldBe(1, stale.ToString());
        stale.Err.ShouldContain("Version mismatch");
        disabled.State.ShouldBe(PrincipalState.Disabled);
        (await _cli.OkAsync("principal", "show", principal.Id)).Out.ShouldMatch(@"State:\s+disabled");
    }

    [Fact]
    public async Task TokenCreateAndRevoke_RevokedTokenNoLongerAuthenticates()
    {
        await UseAdminAsync();
        var account = await SignUpAsync();
        var principal = (await _cli.OkAsync("principal", "create", "--name", "svc", "--role", "engineer", "--kind", "service",
            "--account", account.Account.Id, "--output", "json")).Json<PrincipalView>();
        var created = await _cli.OkAsync("token", "create", "--principal", principal.Id, "--name", "ci", "--output", "json");
        var token = created.Json<IssuedToken>();
        created.Err.ShouldContain("only time the token is shown");

        var tokenFile = Path.Combine(_cli.WorkDir, "svc.token");
        await File.WriteAllTextAsync(tokenFile, token.Secret + "\n", TestContext.Current.CancellationToken);
        await _cli.OkAsync("profile", "add", "svc", "--endpoint", clouds.A.Endpoint.AbsoluteUri, "--token-file", tokenFile);
        (await _cli.OkAsync("--profile", "svc", "whoami")).Out.ShouldContain(principal.Id);
        var listed = await _cli.OkAsync("token", "list", "--principal", principal.Id);
        listed.Out.ShouldContain(token.Id);
        listed.Out.ShouldNotContain(token.Secret);

        var revoked = await _cli.OkAsync("token", "revoke", token.Id);
        revoked.Out.ShouldMatch(@"Revoked:\s+\d{4}-");
        var refused = await _cli.RunAsync("--profile", "svc", "whoami");
        refused.ExitCode.ShouldBe(1, refused.ToString());
        refused.Err.ShouldContain("Error: Authentication required:");
        refused.Err.ShouldContain("profile 'svc'");
    }

    [Fact]
    public async Task TokenCreate_ForYourself_WithSave_StoresTheNewToken()
    {
        await UseAdminAsync();
        var account = await SignUpAsync();
        await _cli.OkAsync("profile", "add", "tenant", "--endpoint", clouds.A.Endpoint.AbsoluteUri, "--token", account.Token.Secret);

        var result = await _cli.OkAsync("--profile", "tenant", "token", "create", "--name", "laptop", "--save");

        result.Out.ShouldNotContain("wkn_");
        File.ReadAllText(_cli.ProfilesFile).ShouldNotContain(account.Token.Secret);
        var tokens = (await _cli.OkAsync("--profile", "tenant", "token", "list", "--output", "json")).Json<List<TokenView>>();
        tokens.Select(t => t.Name).ShouldContain("laptop");
        tokens.ShouldAllBe(t => t.PrincipalId == account.Admin.Id);
    }

    [Fact]
    public async Task SetLimits_ReplacesTheAccountsLimits()
    {
        await UseAdminAsync();
        var account = await SignUpAsync();

        var result = await _cli.OkAsync("account", "set-limits", account.Account.Id, "--limit", "compute-unit=25", "--limit", "storage-unit=25");
        var shown = (await _cli.OkAsync("account", "show", account.Account.Id, "--output", "json")).Json<AccountView>();

        result.Out.ShouldMatch(@"Limits:\s+compute-unit=25, storage-unit=25");
        shown.Limits.ShouldBe(new Dictionary<string, long> { ["compute-unit"] = 25, ["storage-unit"] = 25 });
        var bad = await _cli.RunAsync("account", "set-limits", account.Account.Id, "--limit", "compute-unit");
        bad.ExitCode.ShouldBe(2);
        bad.Err.ShouldContain("is not UNIT=MAX");
    }

    [Fact]
    public async Task WhoAmI_AsProviderAdmin_ShowsRolesAndPermissions()
    {
        await UseAdminAsync();

        var table = await _cli.OkAsync("whoami");
        var json = (await _cli.OkAsync("whoami", "--output", "json")).Json<WhoAmI>();

        table.Out.ShouldMatch(@"Roles:\s+provider-admin");
        table.Out.ShouldMatch(@"Account:\s+provider");
        json.Principal.Roles.ShouldBe([Role.ProviderAdmin]);
        json.Permissions.ShouldContain("audit-verify");
    }

    [Fact]
    public async Task AuditListAndVerify_ShowTheSignUpAndAnIntactChain()
    {
        await UseAdminAsync();
        var account = await SignUpAsync();

        var entries = (await _cli.OkAsync("audit", "list", "--account", account.Account.Id, "--output", "json")).Json<Page<AuditEntryView>>();
        var table = await _cli.OkAsync("audit", "list", "--account", account.Account.Id);
        var verify = await _cli.OkAsync("audit", "verify");
        var verification = (await _cli.OkAsync("audit", "verify", "--output", "json")).Json<AuditVerification>();

        entries.Items.ShouldContain(e => e.Action == "account.sign-up" && e.Target == account.Account.Id && e.Outcome == "success");
        table.Out.ShouldContain("account.sign-up");
        verify.Out.ShouldMatch(@"Valid:\s+yes");
        verification.Valid.ShouldBeTrue();
        verification.Entries.ShouldBeGreaterThan(0);
    }

    [Fact]
    public async Task AuditList_WithSmallLimit_HintsTheNextPageOnStderr()
    {
        await UseAdminAsync();
        await SignUpAsync();

        var first = await _cli.OkAsync("audit", "list", "--limit", "1");

        first.Err.ShouldContain("More results: repeat with --after 1");
        var second = await _cli.OkAsync("audit", "list", "--limit", "1", "--after", "1", "--output", "json");
        second.Json<Page<AuditEntryView>>().Items.Single().Seq.ShouldBe(2);
    }

    [Fact]
    public async Task HostAndRoleList_ShowTheFabricAndTheRoleTable()
    {
        await UseAdminAsync();

        var hosts = await _cli.OkAsync("host", "list");
        var hostJson = (await _cli.OkAsync("host", "list", "--output", "json")).Json<List<HostView>>();
        var roles = (await _cli.OkAsync("role", "list", "--output", "json")).Json<List<RoleView>>();

        hosts.Out.ShouldStartWith("NAME");
        hostJson.ShouldNotBeEmpty();
        hostJson.ShouldAllBe(h => h.Fabric == "simulated" && h.Pool == "simulated");
        hosts.Out.ShouldContain("POOL");
        foreach (var host in hostJson)
        {
            hosts.Out.ShouldContain(host.Name);
        }
        roles.Select(r => r.Role).ShouldBe(Enum.GetValues<Role>(), ignoreOrder: true);
    }

    [Fact]
    public async Task Health_ReportsLiveAndReady()
    {
        await _cli.OkAsync("profile", "add", "anon", "--endpoint", clouds.B.Endpoint.AbsoluteUri);

        var result = await _cli.OkAsync("health");

        result.Out.ShouldMatch(@"Ready:\s+yes");
    }
}

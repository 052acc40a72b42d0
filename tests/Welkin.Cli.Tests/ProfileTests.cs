using Welkin.Cli.Tests.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Tests;

[Collection(CloudsCollection.Name)]
public sealed class ProfileTests(TwoClouds clouds)
{
    private sealed record ProfileRow(string Name, string Endpoint, string Credential, bool Current);

    [Fact]
    public async Task ProfileAdd_WithToken_WritesOwnerOnlyFileAndNeverListsTheToken()
    {
        using var cli = new CliRunner();
        await cli.OkAsync("profile", "add", "a", "--endpoint", clouds.A.Endpoint.AbsoluteUri, "--token", "wkn_do-not-print-me");
        await cli.OkAsync("profile", "add", "b", "--endpoint", clouds.B.Endpoint.AbsoluteUri, "--token-file", clouds.B.AdminTokenFile);

        File.GetUnixFileMode(cli.ProfilesFile).ShouldBe(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.GetUnixFileMode(cli.ConfigDir).ShouldBe(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var table = await cli.OkAsync("profile", "list");
        table.Out.ShouldNotContain("do-not-print-me");
        table.Out.ShouldContain("*  a");
        var json = (await cli.OkAsync("profile", "list", "--output", "json")).Json<List<ProfileRow>>();
        json.ShouldBe([
            new ProfileRow("a", clouds.A.Endpoint.AbsoluteUri, "token", true),
            new ProfileRow("b", clouds.B.Endpoint.AbsoluteUri, "token-file " + clouds.B.AdminTokenFile, false),
        ]);
        (await cli.OkAsync("profile", "show")).Out.ShouldNotContain("do-not-print-me");
    }

    [Fact]
    public async Task SameCommands_AgainstTwoClouds_BySwitchingProfile()
    {
        using var cli = new CliRunner();
        await cli.OkAsync("profile", "add", "east", "--endpoint", clouds.A.Endpoint.AbsoluteUri);
        await cli.OkAsync("profile", "add", "west", "--endpoint", clouds.B.Endpoint.AbsoluteUri);
        var account = Names.Unique("shop");

        // The same sign-up on both clouds; each profile keeps its own cloud's token.
        foreach (var profile in new[] { "east", "west" })
        {
            await cli.OkAsync("profile", "use", profile);
            var signUp = await cli.OkAsync("account", "sign-up", "--name", account, "--display-name", "Shop", "--save");
            signUp.Out.ShouldNotContain("wkn_");
            await cli.OkAsync("principal", "create", "--name", "ops", "--role", "engineer");
        }

        await cli.OkAsync("profile", "use", "east");
        var east = (await cli.OkAsync("whoami", "--output", "json")).Json<WhoAmI>();
        cli.Environment["WELKIN_PROFILE"] = "west";
        var west = (await cli.OkAsync("whoami", "--output", "json")).Json<WhoAmI>();
        cli.Environment.Remove("WELKIN_PROFILE");

        east.AccountName.ShouldBe(account);
        west.AccountName.ShouldBe(account);
        east.Principal.AccountId.ShouldNotBe(west.Principal.AccountId);
        var eastPrincipals = (await cli.OkAsync("principal", "list", "--output", "json")).Json<Page<PrincipalView>>();
        var westPrincipals = (await cli.OkAsync("--profile", "west", "principal", "list", "--output", "json")).Json<Page<PrincipalView>>();
        eastPrincipals.Items.Select(p => p.Name).Order().ShouldBe(["admin", "ops"]);
        eastPrincipals.Items.ShouldAllBe(p => p.AccountId == east.Principal.AccountId);
        westPrincipals.Items.ShouldAllBe(p => p.AccountId == west.Principal.AccountId);
    }

    [Fact]
    public async Task ProfileSelection_FlagBeatsEnvironmentBeatsCurrent()
    {
        using var cli = new CliRunner();
        await cli.OkAsync("profile", "add", "one", "--endpoint", clouds.A.Endpoint.AbsoluteUri, "--token-file", clouds.A.AdminTokenFile);
        await cli.OkAsync("profile", "add", "two", "--endpoint", clouds.B.Endpoint.AbsoluteUri, "--token-file", clouds.B.AdminTokenFile);

        (await cli.OkAsync("profile", "show")).Out.ShouldContain(clouds.A.Endpoint.AbsoluteUri);
        cli.Environment["WELKIN_PROFILE"] = "two";
        (await cli.OkAsync("profile", "show")).Out.ShouldContain(clouds.B.Endpoint.AbsoluteUri);
        (await cli.OkAsync("--profile", "one", "profile", "show")).Out.ShouldContain(clouds.A.Endpoint.AbsoluteUri);
    }

    [Fact]
    public async Task ProfileUseAndRemove_UnknownName_ExitsWithUsageError()
    {
        using var cli = new CliRunner();
        await cli.OkAsync("profile", "add", "only", "--endpoint", clouds.A.Endpoint.AbsoluteUri);

        var use = await cli.RunAsync("profile", "use", "nope");
        use.ExitCode.ShouldBe(2);
        use.Err.ShouldContain("There is no profile 'nope'");
        (await cli.RunAsync("--profile", "nope", "whoami")).ExitCode.ShouldBe(2);
        (await cli.RunAsync("profile", "add", "only", "--endpoint", clouds.B.Endpoint.AbsoluteUri)).ExitCode.ShouldBe(2);
        (await cli.RunAsync("profile", "add", "bad", "--endpoint", "ftp://example")).ExitCode.ShouldBe(2);

        await cli.OkAsync("profile", "remove", "only");
        var none = await cli.RunAsync("whoami");
        none.ExitCode.ShouldBe(2);
        none.Err.ShouldContain("welkin profile add");
    }

    [Fact]
    public async Task Login_WithPasswordFromStdin_StoresTokenInProfileWithoutPrintingIt()
    {
        using var cli = new CliRunner();
        await cli.OkAsync("profile", "add", "mine", "--endpoint", clouds.A.Endpoint.AbsoluteUri);
        var account = Names.Unique("login");
        await cli.OkAsync("account", "sign-up", "--name", account, "--display-name", "Login Co", "--save");
        var created = await cli.RunWithInputAsync("correct horse battery staple\n",
            "principal", "create", "--name", "dana", "--role", "viewer", "--password-stdin");
        created.ExitCode.ShouldBe(0, created.ToString());
        await cli.OkAsync("profile", "remove", "mine");
        await cli.OkAsync("profile", "add", "dana", "--endpoint", clouds.A.Endpoint.AbsoluteUri);

        var wrong = await cli.RunWithInputAsync("wrong password\n", "login", "--name", "dana", "--account", account, "--password-stdin");
        wrong.ExitCode.ShouldBe(1, wrong.ToString());
        wrong.Err.ShouldContain("Error: Invalid credentials");
        var login = await cli.RunWithInputAsync("correct horse battery staple\n", "login", "--name", "dana", "--account", account, "--password-stdin");

        login.ExitCode.ShouldBe(0, login.ToString());
        login.Out.ShouldContain("Logged in as dana");
        login.Out.ShouldNotContain("wkn_");
        File.ReadAllText(cli.ProfilesFile).ShouldContain("wkn_");
        var me = (await cli.OkAsync("whoami", "--output", "json")).Json<WhoAmI>();
        me.Principal.Name.ShouldBe("dana");
        me.Principal.Roles.ShouldBe([Role.Viewer]);
    }

    [Fact]
    public async Task Login_WithoutTerminalOrStdinFlag_ExitsWithUsageError()
    {
        using var cli = new CliRunner();
        await cli.OkAsync("profile", "add", "x", "--endpoint", clouds.A.Endpoint.AbsoluteUri);

        var result = await cli.RunAsync("login", "--name", "someone");

        result.ExitCode.ShouldBe(2);
        result.Err.ShouldContain("--password-stdin");
    }
}

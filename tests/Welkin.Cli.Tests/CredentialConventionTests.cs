using Welkin.Cli.Tests.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Tests;

/// <summary>What users of other clouds' CLIs expect: credentials from the environment, helpful 401s and limits, owner-only token files, a bounded wait.</summary>
[Collection(CloudsCollection.Name)]
public sealed class CredentialConventionTests(TwoClouds clouds) : IDisposable
{
    private static readonly UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task EndpointAndToken_FromTheEnvironment_OverTheProfile_ButNotOverProfileFlag()
    {
        _cli.Environment["WELKIN_ENDPOINT"] = clouds.A.Endpoint.AbsoluteUri;
        _cli.Environment["WELKIN_TOKEN"] = clouds.A.AdminToken;
        var noProfiles = await _cli.OkAsync("whoami", "--output", "json");
        await _cli.OkAsync("profile", "add", "b", "--endpoint", clouds.B.Endpoint.AbsoluteUri, "--token", "wkn_not-a-real-token");
        var overProfile = await _cli.OkAsync("whoami");
        var login = await _cli.RunWithInputAsync("secret-password\n", "login", "--name", "admin", "--password-stdin");
        var flagged = await _cli.RunAsync("--profile", "b", "whoami");
        _cli.Environment.Remove("WELKIN_ENDPOINT");
        _cli.Environment["WELKIN_TOKEN"] = clouds.B.AdminToken;
        var tokenOnly = await _cli.OkAsync("whoami");

        noProfiles.Json<WhoAmI>().Principal.AccountId.ShouldBeNull();
        overProfile.Out.ShouldContain(clouds.A.Endpoint.AbsoluteUri);
        login.ExitCode.ShouldBe(2, login.ToString());
        login.Err.ShouldContain("WELKIN_ENDPOINT is set");
        // --profile names the profile and takes it whole: its (wrong) token goes to its own endpoint.
        flagged.ExitCode.ShouldBe(1, flagged.ToString());
        flagged.Err.ShouldContain("The server refused the token stored in profile 'b': it is revoked, expired or wrong.");
        tokenOnly.Out.ShouldContain(clouds.B.Endpoint.AbsoluteUri);
    }

    [Fact]
    public async Task Unauthenticated_SaysWhetherNoTokenWasSent_OrTheTokenWasRefused()
    {
        await _cli.OkAsync("profile", "add", "tenant", "--endpoint", clouds.A.Endpoint.AbsoluteUri);
        var none = await _cli.RunAsync("whoami");
        await _cli.OkAsync("account", "sign-up", "--name", Names.Unique("tok"), "--display-name", "Tok", "--save");
        var file = Path.Combine(_cli.WorkDir, "ci.token");
        var created = await _cli.OkAsync("token", "create", "--name", "ci", "--to-file", file, "--output", "json");
        var mode = File.GetUnixFileMode(file);
        var again = await _cli.RunAsync("token", "create", "--to-file", file);
        await _cli.OkAsync("profile", "add", "ci", "--endpoint", clouds.A.Endpoint.AbsoluteUri, "--token-file", file);
        var beforeRevoke = await _cli.OkAsync("--profile", "ci", "whoami");
        await _cli.OkAsync("token", "revoke", created.Json<IssuedToken>().Id);
        var revoked = await _cli.RunAsync("--profile", "ci", "whoami");
        _cli.Environment["WELKIN_TOKEN"] = "wkn_wrong";
        var wrongFromEnvironment = await _cli.RunAsync("whoami");

        none.ExitCode.ShouldBe(1, none.ToString());
        none.Err.ShouldContain("No token was sent: log in with 'welkin login --name NAME' or give profile 'tenant' a token.");
        mode.ShouldBe(OwnerOnly);
        File.ReadAllText(file).Trim().ShouldStartWith("wkn_");
        created.Out.ShouldNotContain(File.ReadAllText(file).Trim());
        again.ExitCode.ShouldBe(2, again.ToString());
        again.Err.ShouldContain("exists already");
        beforeRevoke.Out.ShouldContain("admin");
        revoked.ExitCode.ShouldBe(1, revoked.ToString());
        revoked.Err.ShouldContain($"The server refused the token file {file} of profile 'ci': it is revoked, expired or wrong.");
        revoked.Err.ShouldContain("Log in again with 'welkin login --name NAME'");
        revoked.Err.ShouldNotContain("No token was sent");
        wrongFromEnvironment.Err.ShouldContain("The server refused WELKIN_TOKEN: it is revoked, expired or wrong.");
    }

    [Fact]
    public async Task ContractRequest_OfANewAccount_RefusedByItsZeroLimit_SaysHowToRaiseIt()
    {
        await _cli.OkAsync("profile", "add", "tenant", "--endpoint", clouds.A.Endpoint.AbsoluteUri);
        await _cli.OkAsync("account", "sign-up", "--name", Names.Unique("new"), "--display-name", "New", "--save");
        var offering = await PublishOfferingAsync();

        var refused = await _cli.RunAsync("contract", "request", "--offering", offering.Id, "--quantity", "1");

        refused.ExitCode.ShouldBe(1, refused.ToString());
        refused.Err.ShouldContain("Limit of compute-unit exceeded: limit 0");
        refused.Err.ShouldContain("The account's limit for compute-unit is 0");
        refused.Err.ShouldContain("'welkin account set-limits ACCOUNT_ID --limit compute-unit=N'");
    }

    [Fact]
    public async Task WaitOptions_WithoutWait_AreAUsageError()
    {
        var result = await _cli.RunAsync("machine", "stop", "mch_01h00000000000000000000000", "--wait-timeout", "10m");
        var malformed = await _cli.RunAsync("job", "wait", "job_01h00000000000000000000000", "--wait-timeout", "soon");

        result.ExitCode.ShouldBe(2, result.ToString());
        result.Err.ShouldContain("--wait-timeout and --advance-clock go with --wait.");
        malformed.ExitCode.ShouldBe(2, malformed.ToString());
        malformed.Err.ShouldContain("'soon' is not a duration for --wait-timeout");
    }

    private async Task<OfferingView> PublishOfferingAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        using var admin = new Welkin.Client.WelkinClient(clouds.A.Endpoint, clouds.A.AdminToken);
        var name = Names.Unique("lim");
        var template = await admin.Templates.CreateAsync(new TemplateSpec(name,
        [
            new VirtualSystemSpec("web", new HardwareChoices(new Choice<int>([1], 1), new Choice<long>([512], 512), new Choice<long>([10], 10)),
                new SoftwareChoices(new Choice<string>(["debian"], "debian"))),
        ]), ct);
        await admin.Templates.PublishAsync(template.Id, new TemplateTransitionRequest(), ct);
        var offering = await admin.Offerings.CreateAsync(new OfferingSpec(name, OfferingKind.Compute,
            new PricePlan("USD", "month", [new PriceRate("compute-unit", "unit-month", 10m)]), new SlaTerms(99.9m), new OfferingTerms(0, 0m),
            "compute-unit", TemplateId: template.Id, TemplateVersion: 1), ct);
        return await admin.Offerings.PublishAsync(offering.Id, new OfferingTransitionRequest(), ct);
    }
}

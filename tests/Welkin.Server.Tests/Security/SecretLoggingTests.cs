using System.Net;
using System.Net.Http.Json;
using Welkin.Contracts;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Security;

/// <summary>No token secret or password ever reaches the log, at any level, in messages, state, scopes or exceptions.</summary>
public sealed class SecretLoggingTests(SecurityApp app) : IClassFixture<SecurityApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task SignUpLoginAndTokenCreation_NeverLogSecretsOrPasswords()
    {
        const string adminPassword = "Sup3r-Secret-Passphrase-One";
        const string engineerPassword = "An0ther-Secret-Passphrase-Two";
        const string wrongPassword = "Wr0ng-Guess-Passphrase-Three";
        var address = SecurityApp.NewAddress();
        var name = "logs-" + Guid.NewGuid().ToString("n")[..8];

        var signUp = await (await app.Anonymous().PostAsJsonAsync("/api/v1/catalog/sign-up",
            new SignUpRequest(name, "Logs", new SignUpAdmin("boss", Password: adminPassword)), WelkinJson.Client, Ct)).ReadAsync<SignUpResponse>(HttpStatusCode.Created);
        var admin = app.As(signUp.Token.Secret);
        var (engineer, engineerToken) = await app.AccountPrincipalAsync(admin, Role.Engineer, engineerPassword);
        var login = await (await app.From(address).PostAsJsonAsync("/api/v1/auth/login", new LoginRequest("boss", adminPassword, name), WelkinJson.Client, Ct))
            .ReadAsync<LoginResponse>();
        await (await app.From(address).PostAsJsonAsync("/api/v1/auth/login", new LoginRequest(engineer.Name, wrongPassword, name), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.Unauthorized, "invalid-credentials");
        (await app.As(login.Token.Secret).PatchAsJsonAsync($"/api/v1/principals/{signUp.Admin.Id}",
            new UpdatePrincipalRequest(Password: adminPassword + "-changed"), WelkinJson.Client, Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        // A bad token and a malformed body carrying a password are logged as failures, without their content.
        await (await app.As(login.Token.Secret[..^2] + "xx").GetAsync("/api/v1/me", Ct)).ProblemAsync(HttpStatusCode.Unauthorized, "unauthenticated");
        (await app.Anonymous().PostAsync("/api/v1/auth/login",
            new StringContent($"{{\"name\":\"boss\",\"password\":\"{wrongPassword}\",\"extra\":1}}", System.Text.Encoding.UTF8, "application/json"), Ct))
            .StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        await (await app.As(engineerToken).GetAsync("/api/v1/me", Ct)).ReadAsync<WhoAmI>();

        var log = string.Join("\n", app.Logs.Lines);
        log.ShouldContain("/api/v1/auth/login", customMessage: "the capture saw no request logs, so it proves nothing");
        string[] secrets =
        [
            adminPassword, engineerPassword, wrongPassword,
            signUp.Token.Secret, engineerToken, login.Token.Secret, login.Token.Secret[..^2] + "xx",
        ];
        foreach (var secret in secrets)
        {
            // The random part alone, so a secret cut or re-encoded around its prefix is caught too.
            log.ShouldNotContain(secret.StartsWith("wkn_", StringComparison.Ordinal) ? secret[4..24] : secret, Case.Sensitive);
        }
    }
}

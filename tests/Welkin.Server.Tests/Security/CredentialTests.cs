using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using Welkin.Contracts;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Security;

/// <summary>API tokens and passwords through the HTTP pipeline: storage, expiry, revocation, login and its throttle.</summary>
public sealed class CredentialTests(SecurityApp app) : IClassFixture<SecurityApp>
{
    private const string Password = "correct horse battery staple";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task IssuedToken_Has256RandomBitsAndIsStoredOnlyAsItsHash()
    {
        var (signUp, admin) = await app.SignUpAsync("tok");
        var issued = await (await admin.PostAsJsonAsync($"/api/v1/principals/{signUp.Admin.Id}/tokens", new CreateTokenRequest("ci"), WelkinJson.Client, Ct))
            .ReadAsync<IssuedToken>(HttpStatusCode.Created);
        var secrets = new[] { signUp.Token.Secret, issued.Secret };

        foreach (var secret in secrets)
        {
            secret.ShouldStartWith("wkn_");
            Convert.FromBase64String(Base64UrlToBase64(secret["wkn_".Length..])).Length.ShouldBe(32);
        }
        signUp.Token.Secret.ShouldNotBe(issued.Secret);

        await using var db = app.OpenDatabaseFile();
        var tables = new List<string>();
        await using (var list = db.CreateCommand())
        {
            list.CommandText = "SELECT name FROM sqlite_master WHERE type = 'table'";
            await using var reader = await list.ExecuteReaderAsync(Ct);
            while (await reader.ReadAsync(Ct))
            {
                tables.Add(reader.GetString(0));
            }
        }
        tables.ShouldContain("tokens");
        var storedHash = "";
        foreach (var table in tables)
        {
            await using var select = db.CreateCommand();
            select.CommandText = $"SELECT * FROM \"{table}\"";
            await using var reader = await select.ExecuteReaderAsync(Ct);
            while (await reader.ReadAsync(Ct))
            {
                for (var i = 0; i < reader.FieldCount; i++)
                {
                    var value = reader.IsDBNull(i) ? "" : Convert.ToString(reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture) ?? "";
                    foreach (var secret in secrets)
                    {
                        value.Contains(secret[4..], StringComparison.Ordinal).ShouldBeFalse($"{table}.{reader.GetName(i)} holds a token secret");
                    }
                    if (table == "tokens" && reader.GetName(i) == "hash" && reader.GetString(reader.GetOrdinal("id")) == issued.Id)
                    {
                        storedHash = value;
                    }
                }
            }
        }
        storedHash.ShouldBe(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(issued.Secret))));
    }

    [Fact]
    public async Task IssuedToken_IsShownOnceAndNeverListed()
    {
        var (signUp, admin) = await app.SignUpAsync("once");
        var text = await (await admin.GetAsync($"/api/v1/principals/{signUp.Admin.Id}/tokens", Ct)).Content.ReadAsStringAsync(Ct);
        text.ShouldContain(signUp.Token.Id);
        text.ShouldNotContain(signUp.Token.Secret[4..]);
        text.ShouldNotContain("secret", Case.Insensitive);
    }

    [Fact]
    public async Task Token_WhenExpired_Returns401()
    {
        var (signUp, admin) = await app.SignUpAsync("exp");
        var issued = await (await admin.PostAsJsonAsync($"/api/v1/principals/{signUp.Admin.Id}/tokens", new CreateTokenRequest("short", ExpiresInDays: 1), WelkinJson.Client, Ct))
            .ReadAsync<IssuedToken>(HttpStatusCode.Created);
        issued.Expires.ShouldBe(app.Clock.GetUtcNow().AddDays(1));
        var client = app.As(issued.Secret);
        (await client.GetAsync("/api/v1/me", Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);

        app.Clock.Advance(TimeSpan.FromDays(1) - TimeSpan.FromSeconds(1));
        (await client.GetAsync("/api/v1/me", Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);

        app.Clock.Advance(TimeSpan.FromSeconds(1));
        await (await client.GetAsync("/api/v1/me", Ct)).ProblemAsync(HttpStatusCode.Unauthorized, "unauthenticated");
    }

    [Fact]
    public async Task Token_WhenRevoked_Returns401AndOtherTokensStillWork()
    {
        var (signUp, admin) = await app.SignUpAsync("rev");
        var issued = await (await admin.PostAsJsonAsync($"/api/v1/principals/{signUp.Admin.Id}/tokens", new CreateTokenRequest("doomed"), WelkinJson.Client, Ct))
            .ReadAsync<IssuedToken>(HttpStatusCode.Created);
        var doomed = app.As(issued.Secret);
        (await doomed.GetAsync("/api/v1/me", Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);

        var revoked = await (await admin.DeleteAsync($"/api/v1/tokens/{issued.Id}", Ct)).ReadAsync<TokenView>();
        revoked.Revoked.ShouldBe(app.Clock.GetUtcNow());

        await (await doomed.GetAsync("/api/v1/me", Ct)).ProblemAsync(HttpStatusCode.Unauthorized, "unauthenticated");
        (await admin.GetAsync("/api/v1/me", Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        // Revoking again is harmless and keeps the first revocation time.
        app.Clock.Advance(TimeSpan.FromMinutes(5));
        (await (await admin.DeleteAsync($"/api/v1/tokens/{issued.Id}", Ct)).ReadAsync<TokenView>()).Revoked.ShouldBe(revoked.Revoked);
    }

    [Fact]
    public async Task Token_WhenPrincipalDisabled_Returns401()
    {
        var (_, admin) = await app.SignUpAsync("dis");
        var (engineer, token) = await app.AccountPrincipalAsync(admin, Role.Engineer);
        (await app.As(token).GetAsync("/api/v1/me", Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);

        (await admin.PatchAsJsonAsync($"/api/v1/principals/{engineer.Id}", new UpdatePrincipalRequest(State: PrincipalState.Disabled), WelkinJson.Client, Ct))
            .StatusCode.ShouldBe(HttpStatusCode.OK);

        await (await app.As(token).GetAsync("/api/v1/me", Ct)).ProblemAsync(HttpStatusCode.Unauthorized, "unauthenticated");
    }

    [Fact]
    public async Task Token_LastUsed_IsRecordedAtMostOncePerMinute()
    {
        var (signUp, admin) = await app.SignUpAsync("used");
        async Task<DateTimeOffset?> LastUsedAsync() =>
            (await (await admin.GetAsync($"/api/v1/principals/{signUp.Admin.Id}/tokens", Ct)).ReadAsync<List<TokenView>>())
                .Single(t => t.Id == signUp.Token.Id).LastUsed;

        var first = await LastUsedAsync();
        first.ShouldBe(app.Clock.GetUtcNow());

        app.Clock.Advance(TimeSpan.FromSeconds(30));
        (await LastUsedAsync()).ShouldBe(first);

        app.Clock.Advance(TimeSpan.FromSeconds(30));
        (await LastUsedAsync()).ShouldBe(app.Clock.GetUtcNow());
    }

    [Fact]
    public async Task Login_WithPassword_ReturnsWorkingTokenThatExpiresAfterTwelveHours()
    {
        var (signUp, admin) = await app.SignUpAsync("login");
        var (engineer, _) = await app.AccountPrincipalAsync(admin, Role.Engineer, Password);

        var login = await (await app.From(SecurityApp.NewAddress()).PostAsJsonAsync("/api/v1/auth/login",
            new LoginRequest(engineer.Name, Password, signUp.Account.Name), WelkinJson.Client, Ct)).ReadAsync<LoginResponse>();

        login.Principal.Id.ShouldBe(engineer.Id);
        login.Token.Expires.ShouldBe(app.Clock.GetUtcNow().AddHours(12));
        var client = app.As(login.Token.Secret);
        (await (await client.GetAsync("/api/v1/me", Ct)).ReadAsync<WhoAmI>()).Principal.Id.ShouldBe(engineer.Id);

        app.Clock.Advance(TimeSpan.FromHours(12));
        await (await client.GetAsync("/api/v1/me", Ct)).ProblemAsync(HttpStatusCode.Unauthorized, "unauthenticated");
    }

    [Fact]
    public async Task Login_AsProviderPrincipal_WithoutAccount_Works()
    {
        var name = "ops-" + Guid.NewGuid().ToString("n")[..8];
        (await app.Admin().PostAsJsonAsync("/api/v1/principals", new CreatePrincipalRequest(name, [Role.Operator], Password: Password), WelkinJson.Client, Ct))
            .StatusCode.ShouldBe(HttpStatusCode.Created);

        var login = await (await app.From(SecurityApp.NewAddress()).PostAsJsonAsync("/api/v1/auth/login", new LoginRequest(name, Password), WelkinJson.Client, Ct))
            .ReadAsync<LoginResponse>();

        login.Principal.Roles.ShouldBe([Role.Operator]);
        login.Principal.AccountId.ShouldBeNull();
    }

    [Theory]
    [InlineData("wrong password!!", false, false)]
    [InlineData(Password, true, false)]
    [InlineData(Password, false, true)]
    public async Task Login_WhenCredentialsWrong_Returns401InvalidCredentials(string password, bool wrongName, bool wrongAccount)
    {
        var (signUp, admin) = await app.SignUpAsync("bad");
        var (engineer, _) = await app.AccountPrincipalAsync(admin, Role.Engineer, Password);

        var response = await app.From(SecurityApp.NewAddress()).PostAsJsonAsync("/api/v1/auth/login",
            new LoginRequest(wrongName ? "nobody" : engineer.Name, password, wrongAccount ? "no-such-account" : signUp.Account.Name), WelkinJson.Client, Ct);

        await response.ProblemAsync(HttpStatusCode.Unauthorized, "invalid-credentials");
    }

    [Fact]
    public async Task Login_ForPrincipalWithoutPassword_Returns401()
    {
        var (signUp, admin) = await app.SignUpAsync("nopw");
        var (engineer, _) = await app.AccountPrincipalAsync(admin, Role.Engineer);

        await (await app.From(SecurityApp.NewAddress()).PostAsJsonAsync("/api/v1/auth/login",
            new LoginRequest(engineer.Name, Password, signUp.Account.Name), WelkinJson.Client, Ct)).ProblemAsync(HttpStatusCode.Unauthorized, "invalid-credentials");
    }

    [Fact]
    public async Task Login_AfterFiveFailuresForOnePrincipal_Returns429EvenWithRightPasswordUntilWindowPasses()
    {
        var (signUp, admin) = await app.SignUpAsync("lock");
        var (engineer, _) = await app.AccountPrincipalAsync(admin, Role.Engineer, Password);
        var attacker = app.From(SecurityApp.NewAddress());
        var right = new LoginRequest(engineer.Name, Password, signUp.Account.Name);
        var wrong = right with { Password = "guess-guess-guess" };

        for (var i = 0; i < 5; i++)
        {
            await (await attacker.PostAsJsonAsync("/api/v1/auth/login", wrong, WelkinJson.Client, Ct)).ProblemAsync(HttpStatusCode.Unauthorized, "invalid-credentials");
        }

        // The owner, from another address and with the right password, is refused too.
        var owner = app.From(SecurityApp.NewAddress());
        var refused = await owner.PostAsJsonAsync("/api/v1/auth/login", right, WelkinJson.Client, Ct);
        await refused.ProblemAsync(HttpStatusCode.TooManyRequests, "too-many-attempts");
        var retryAfter = refused.Headers.RetryAfter?.Delta;
        retryAfter.ShouldNotBeNull();
        retryAfter.Value.ShouldBeInRange(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(15));

        app.Clock.Advance(retryAfter.Value - TimeSpan.FromSeconds(1));
        await (await owner.PostAsJsonAsync("/api/v1/auth/login", right, WelkinJson.Client, Ct)).ProblemAsync(HttpStatusCode.TooManyRequests, "too-many-attempts");

        app.Clock.Advance(TimeSpan.FromSeconds(1));
        (await owner.PostAsJsonAsync("/api/v1/auth/login", right, WelkinJson.Client, Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Login_AfterFiveFailuresFromOneAddress_Returns429ForAnyPrincipalFromThatAddressOnly()
    {
        var (signUp, admin) = await app.SignUpAsync("addr");
        var (engineer, _) = await app.AccountPrincipalAsync(admin, Role.Engineer, Password);
        var address = SecurityApp.NewAddress();
        var scanner = app.From(address);

        for (var i = 0; i < 5; i++)
        {
            await (await scanner.PostAsJsonAsync("/api/v1/auth/login", new LoginRequest($"user{i}", "guess-guess-guess", signUp.Account.Name), WelkinJson.Client, Ct))
                .ProblemAsync(HttpStatusCode.Unauthorized, "invalid-credentials");
        }

        var right = new LoginRequest(engineer.Name, Password, signUp.Account.Name);
        var refused = await scanner.PostAsJsonAsync("/api/v1/auth/login", right, WelkinJson.Client, Ct);
        await refused.ProblemAsync(HttpStatusCode.TooManyRequests, "too-many-attempts");
        refused.Headers.RetryAfter.ShouldNotBeNull();

        (await app.From(SecurityApp.NewAddress()).PostAsJsonAsync("/api/v1/auth/login", right, WelkinJson.Client, Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);

        app.Clock.Advance(TimeSpan.FromMinutes(15));
        (await scanner.PostAsJsonAsync("/api/v1/auth/login", right, WelkinJson.Client, Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Login_WithManyParallelGuesses_LetsOnlyFiveBeChecked()
    {
        var (signUp, admin) = await app.SignUpAsync("burst");
        var (engineer, _) = await app.AccountPrincipalAsync(admin, Role.Engineer, Password);

        // Each guess from its own address, so only the principal's limit applies.
        var responses = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => app.From(SecurityApp.NewAddress())
            .PostAsJsonAsync("/api/v1/auth/login", new LoginRequest(engineer.Name, $"guess-number-{i:00}", signUp.Account.Name), WelkinJson.Client, Ct)));

        responses.Count(r => r.StatusCode == HttpStatusCode.Unauthorized).ShouldBe(5);
        responses.Count(r => r.StatusCode == HttpStatusCode.TooManyRequests).ShouldBe(11);
    }

    [Fact]
    public async Task Login_SuccessDoesNotForgiveTheAddressCounter()
    {
        var (signUp, admin) = await app.SignUpAsync("reset");
        var (mine, _) = await app.AccountPrincipalAsync(admin, Role.Viewer, Password);
        var client = app.From(SecurityApp.NewAddress());
        var own = new LoginRequest(mine.Name, Password, signUp.Account.Name);

        for (var i = 0; i < 5; i++)
        {
            // A valid login between guesses must not reset the address's count of failures.
            (await client.PostAsJsonAsync("/api/v1/auth/login", own, WelkinJson.Client, Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
            await (await client.PostAsJsonAsync("/api/v1/auth/login", new LoginRequest($"victim{i}", "guess-guess-guess", signUp.Account.Name), WelkinJson.Client, Ct))
                .ProblemAsync(HttpStatusCode.Unauthorized, "invalid-credentials");
        }

        await (await client.PostAsJsonAsync("/api/v1/auth/login", own, WelkinJson.Client, Ct)).ProblemAsync(HttpStatusCode.TooManyRequests, "too-many-attempts");
    }

    [Fact]
    public async Task Login_WithPasswordChangedByOwner_AcceptsOnlyTheNewPassword()
    {
        var (signUp, admin) = await app.SignUpAsync("chpw");
        var (engineer, token) = await app.AccountPrincipalAsync(admin, Role.Engineer, Password);
        const string newPassword = "a much better passphrase";

        (await app.As(token).PatchAsJsonAsync($"/api/v1/principals/{engineer.Id}", new UpdatePrincipalRequest(Password: newPassword), WelkinJson.Client, Ct))
            .StatusCode.ShouldBe(HttpStatusCode.OK);

        var client = app.From(SecurityApp.NewAddress());
        await (await client.PostAsJsonAsync("/api/v1/auth/login", new LoginRequest(engineer.Name, Password, signUp.Account.Name), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.Unauthorized, "invalid-credentials");
        (await client.PostAsJsonAsync("/api/v1/auth/login", new LoginRequest(engineer.Name, newPassword, signUp.Account.Name), WelkinJson.Client, Ct))
            .StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    private static string Base64UrlToBase64(string s)
    {
        var b = s.Replace('-', '+').Replace('_', '/');
        return b + new string('=', (4 - (b.Length % 4)) % 4);
    }
}

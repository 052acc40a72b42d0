using System.Net;
using System.Net.Http.Json;
using Welkin.Contracts;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Security;

/// <summary>A cloud whose sign-up and login routes take three requests per client address and minute.</summary>
public sealed class LimitedSecurityApp : SecurityApp
{
    public const int Limit = 3;

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Security:CredentialRequestLimit"] = Limit.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}

public sealed class CredentialRateLimitTests(LimitedSecurityApp app) : IClassFixture<LimitedSecurityApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Login_BeyondTheLimitOfAnAddress_Returns429WithRetryAfter_WhileOtherAddressesAndTokensGoOn()
    {
        var address = SecurityApp.NewAddress();
        var client = app.From(address);
        var wrong = new LoginRequest("nobody", "not the password");
        for (var i = 0; i < LimitedSecurityApp.Limit; i++)
        {
            await (await client.PostAsJsonAsync("/api/v1/auth/login", wrong, WelkinJson.Client, Ct)).ProblemAsync(HttpStatusCode.Unauthorized, "invalid-credentials");
        }

        var refused = await client.PostAsJsonAsync("/api/v1/auth/login", wrong, WelkinJson.Client, Ct);

        await refused.ProblemAsync(HttpStatusCode.TooManyRequests, "too-many-requests");
        int.Parse(refused.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture).ShouldBeInRange(1, 60);
        await (await app.From(SecurityApp.NewAddress()).PostAsJsonAsync("/api/v1/auth/login", wrong, WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.Unauthorized, "invalid-credentials");
        // Other routes from the same address are not limited.
        (await app.From(address, app.AdminToken).GetAsync("/api/v1/me", Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task SignUp_SharesTheLimitWithLogin()
    {
        var client = app.From(SecurityApp.NewAddress());
        await (await client.PostAsJsonAsync("/api/v1/auth/login", new LoginRequest("nobody", "not the password"), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.Unauthorized, "invalid-credentials");
        for (var i = 1; i < LimitedSecurityApp.Limit; i++)
        {
            (await client.PostAsJsonAsync("/api/v1/catalog/sign-up", NewSignUp(), WelkinJson.Client, Ct)).StatusCode.ShouldBe(HttpStatusCode.Created);
        }

        var refused = await client.PostAsJsonAsync("/api/v1/catalog/sign-up", NewSignUp(), WelkinJson.Client, Ct);

        await refused.ProblemAsync(HttpStatusCode.TooManyRequests, "too-many-requests");
        refused.Headers.Contains("Retry-After").ShouldBeTrue();
    }

    private static SignUpRequest NewSignUp()
    {
        var name = "lim-" + Guid.NewGuid().ToString("n")[..12];
        return new SignUpRequest(name, "Limited", new SignUpAdmin("admin"));
    }
}

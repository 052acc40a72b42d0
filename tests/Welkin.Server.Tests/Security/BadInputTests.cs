using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Security;

/// <summary>Hostile and clumsy requests to the security endpoints: always a 4xx problem, never a 500.</summary>
public sealed class BadInputTests(WelkinApp app) : IClassFixture<WelkinApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string, string, string, HttpStatusCode, string> BadBodies() => new()
    {
        // method, path ({acc}/{prn} replaced), body, expected status, expected code
        { "POST", "/api/v1/catalog/sign-up", "{\"accountName\": \"x\", ", HttpStatusCode.BadRequest, "malformed-json" },
        { "POST", "/api/v1/catalog/sign-up", "[1,2,3]", HttpStatusCode.BadRequest, "malformed-json" },
        { "POST", "/api/v1/catalog/sign-up", "null", HttpStatusCode.BadRequest, "missing-body" },
        { "POST", "/api/v1/catalog/sign-up", "{\"accountName\":\"a\",\"displayName\":\"A\",\"admin\":{\"name\":\"x\"},\"isRoot\":true}", HttpStatusCode.BadRequest, "unknown-field" },
        { "POST", "/api/v1/catalog/sign-up", "{\"accountName\":\"a\",\"displayName\":\"A\"}", HttpStatusCode.BadRequest, "malformed-json" },
        { "POST", "/api/v1/catalog/sign-up", "{\"accountName\":\"a\",\"displayName\":\"A\",\"admin\":{\"name\":\"x\",\"password\":\"short\"}}", HttpStatusCode.BadRequest, "validation-failed" },
        { "POST", "/api/v1/catalog/sign-up", "{\"accountName\":\"../etc\",\"displayName\":\"\",\"admin\":{\"name\":\"x\"}}", HttpStatusCode.BadRequest, "validation-failed" },
        { "POST", "/api/v1/auth/login", "{\"name\":\"admin\"}", HttpStatusCode.BadRequest, "malformed-json" },
        { "POST", "/api/v1/auth/login", "{\"name\":\"admin\",\"password\":null}", HttpStatusCode.BadRequest, "malformed-json" },
        { "POST", "/api/v1/principals", "{\"name\":\"god\",\"roles\":[\"god\"]}", HttpStatusCode.BadRequest, "malformed-json" },
        { "POST", "/api/v1/principals", "{\"name\":\"god\",\"roles\":[0]}", HttpStatusCode.BadRequest, "malformed-json" },
        { "POST", "/api/v1/principals", "{\"name\":\"god\",\"roles\":\"engineer\"}", HttpStatusCode.BadRequest, "malformed-json" },
        { "POST", "/api/v1/principals", "{\"name\":\"nobody\",\"roles\":[]}", HttpStatusCode.BadRequest, "validation-failed" },
        { "POST", "/api/v1/principals", "{\"name\":\"kind\",\"roles\":[\"engineer\"],\"kind\":\"robot\"}", HttpStatusCode.BadRequest, "malformed-json" },
        { "POST", "/api/v1/principals", "{\"name\":\"x\",\"roles\":[\"engineer\"],\"accountId\":\"acc_../../etc\"}", HttpStatusCode.BadRequest, "invalid-id" },
        { "POST", "/api/v1/principals", "{\"name\":\"x\",\"roles\":[\"engineer\"],\"displayName\":\"\"}", HttpStatusCode.BadRequest, "validation-failed" },
        { "PATCH", "/api/v1/principals/{prn}", "{\"roles\":[\"god\"]}", HttpStatusCode.BadRequest, "malformed-json" },
        { "PATCH", "/api/v1/principals/{prn}", "{\"state\":\"deleted\"}", HttpStatusCode.BadRequest, "malformed-json" },
        { "PATCH", "/api/v1/principals/{prn}", "{\"version\":\"one\"}", HttpStatusCode.BadRequest, "malformed-json" },
        { "POST", "/api/v1/principals/{prn}/tokens", "{\"expiresInDays\":0}", HttpStatusCode.BadRequest, "validation-failed" },
        { "POST", "/api/v1/principals/{prn}/tokens", "{\"expiresInDays\":-5}", HttpStatusCode.BadRequest, "validation-failed" },
        { "POST", "/api/v1/principals/{prn}/tokens", "{\"expiresInDays\":100000}", HttpStatusCode.BadRequest, "validation-failed" },
        { "POST", "/api/v1/principals/{prn}/tokens", "{\"expiresInDays\":1e40}", HttpStatusCode.BadRequest, "malformed-json" },
        { "POST", "/api/v1/principals/{prn}/tokens", "{\"expiresInDays\":\"7\"}", HttpStatusCode.BadRequest, "malformed-json" },
        { "PUT", "/api/v1/accounts/{acc}/limits", "{\"limits\":{\"compute-unit\":-1}}", HttpStatusCode.BadRequest, "validation-failed" },
        { "PUT", "/api/v1/accounts/{acc}/limits", "{\"limits\":{\"compute-unit\":1000000000000}}", HttpStatusCode.BadRequest, "validation-failed" },
        { "PUT", "/api/v1/accounts/{acc}/limits", "{\"limits\":{\"compute-unit\":99999999999999999999999}}", HttpStatusCode.BadRequest, "malformed-json" },
        { "PUT", "/api/v1/accounts/{acc}/limits", "{\"limits\":{\"compute-unit\":1.5}}", HttpStatusCode.BadRequest, "malformed-json" },
        { "PUT", "/api/v1/accounts/{acc}/limits", "{\"limits\":{\"Compute Unit!\":1}}", HttpStatusCode.BadRequest, "validation-failed" },
        { "PUT", "/api/v1/accounts/{acc}/limits", "{\"limits\":null}", HttpStatusCode.BadRequest, "malformed-json" },
        { "PUT", "/api/v1/accounts/{acc}/limits", "{}", HttpStatusCode.BadRequest, "malformed-json" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task BadBody_Returns4xxProblem(string method, string path, string body, HttpStatusCode status, string code)
    {
        var (signUp, admin) = await app.SignUpAsync("bad");
        using var request = new HttpRequestMessage(new HttpMethod(method), path.Replace("{acc}", signUp.Account.Id).Replace("{prn}", signUp.Admin.Id))
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };

        var response = await admin.SendAsync(request, Ct);

        var problem = await response.ProblemAsync(status, code);
        (problem.GetProperty("detail").GetString() ?? "").ShouldNotContain("System.", Case.Sensitive);
    }

    [Theory]
    [InlineData("GET", "/api/v1/principals/not-an-id")]
    [InlineData("GET", "/api/v1/principals/acc_01h0000000000000000000000")]
    [InlineData("GET", "/api/v1/principals/prn_zzzzzzzzzzzzzzzzzzzzzzzzzz")]
    [InlineData("GET", "/api/v1/principals/PRN_01H0000000000000000000000")]
    [InlineData("GET", "/api/v1/principals/prn_01h0000000000000000000000")]
    [InlineData("PATCH", "/api/v1/principals/x")]
    [InlineData("GET", "/api/v1/principals/x/tokens")]
    [InlineData("POST", "/api/v1/principals/x/tokens")]
    [InlineData("DELETE", "/api/v1/tokens/prn_01h0000000000000000000000")]
    [InlineData("GET", "/api/v1/accounts/1")]
    [InlineData("PUT", "/api/v1/accounts/acc_/limits")]
    [InlineData("GET", "/api/v1/principals?accountId=nope")]
    [InlineData("GET", "/api/v1/principals?after=nope")]
    [InlineData("GET", "/api/v1/accounts?after=nope")]
    [InlineData("GET", "/api/v1/audit?accountId=nope")]
    [InlineData("GET", "/api/v1/contracts?accountId=nope")]
    [InlineData("GET", "/api/v1/jobs?accountId=nope")]
    [InlineData("GET", "/api/v1/events?accountId=nope")]
    [InlineData("GET", "/api/v1/volumes?accountId=nope")]
    [InlineData("GET", "/api/v1/networks?accountId=nope")]
    public async Task WrongShapedId_Returns400InvalidId(string method, string path)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        request.Content = method is "GET" or "DELETE" ? null : new StringContent(method == "PUT" ? "{\"limits\":{}}" : "{}", Encoding.UTF8, "application/json");

        var response = await app.Admin().SendAsync(request, Ct);

        await response.ProblemAsync(HttpStatusCode.BadRequest, "invalid-id");
    }

    [Theory]
    [InlineData("/api/v1/principals/..%2f..%2fetc")]
    [InlineData("/api/v1/principals/..%2F..%2Fetc%2Fpasswd")]
    [InlineData("/api/v1/principals/%2e%2e/%2e%2e/etc")]
    [InlineData("/api/v1/principals/%c0%ae%c0%ae%c0%af")]
    [InlineData("/api/v1/principals/%252e%252e%252f")]
    [InlineData("/api/v1/accounts/..;/..;/admin")]
    [InlineData("/api/v1/tokens/%ff%fe")]
    [InlineData("/api/v1//principals")]
    [InlineData("/api/v1/principals/" + "prn_0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000")]
    public async Task PathTricks_Return4xxNever500(string path)
    {
        var response = await app.Admin().GetAsync(path, Ct);

        var text = await response.Content.ReadAsStringAsync(Ct);
        ((int)response.StatusCode).ShouldBeInRange(400, 499, text);
        text.ShouldNotContain("root:");
    }

    [Theory]
    [InlineData("/api/v1/catalog/sign-up")]
    [InlineData("/api/v1/auth/login")]
    [InlineData("/api/v1/principals")]
    public async Task EmptyBody_Returns400(string path)
    {
        var response = await app.Admin().PostAsync(path, new StringContent("", Encoding.UTF8, "application/json"), Ct);

        await response.ProblemAsync(HttpStatusCode.BadRequest, "missing-body");
    }

    [Theory]
    [InlineData("/api/v1/catalog/sign-up", "text/plain")]
    [InlineData("/api/v1/auth/login", "application/x-www-form-urlencoded")]
    [InlineData("/api/v1/principals", "application/xml")]
    public async Task WrongContentType_Returns415(string path, string mediaType)
    {
        var content = new StringContent("{\"name\":\"x\",\"password\":\"y\"}", Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);

        var response = await app.Admin().PostAsync(path, content, Ct);

        await response.ProblemAsync(HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
    }

    [Fact]
    public async Task DeeplyNestedJson_Returns400()
    {
        var body = "{\"name\":\"x\",\"roles\":[\"engineer\"],\"displayName\":" + new string('[', 500) + new string(']', 500) + "}";

        var response = await app.Admin().PostAsync("/api/v1/principals", new StringContent(body, Encoding.UTF8, "application/json"), Ct);

        await response.ProblemAsync(HttpStatusCode.BadRequest, "malformed-json");
    }

    [Theory]
    [InlineData("Bearer")]
    [InlineData("Bearer ")]
    [InlineData("Bearer wkn_short")]
    [InlineData("Basic YWRtaW46YWRtaW4=")]
    [InlineData("Bearer wkn_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public async Task BadCredentials_Return401Problem(string authorization)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/me");
        request.Headers.TryAddWithoutValidation("Authorization", authorization);

        var response = await app.Anonymous().SendAsync(request, Ct);

        await response.ProblemAsync(HttpStatusCode.Unauthorized, "unauthenticated");
        response.Headers.WwwAuthenticate.ToString().ShouldContain("Bearer");
    }

    [Theory]
    [InlineData("limit=-5")]
    [InlineData("limit=0")]
    [InlineData("limit=100000")]
    public async Task OutOfRangePageSize_IsClamped(string query)
    {
        var response = await app.Admin().GetAsync("/api/v1/principals?" + query, Ct);

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Theory]
    [InlineData("/api/v1/principals?limit=many")]
    [InlineData("/api/v1/audit?after=-1")]
    [InlineData("/api/v1/audit?after=ten")]
    public async Task MalformedQuery_Returns400(string path)
    {
        var response = await app.Admin().GetAsync(path, Ct);

        var text = await response.Content.ReadAsStringAsync(Ct);
        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest, text);
    }
}

/// <summary>A cloud with a tiny body limit, as an operator would set with Welkin:MaxRequestBodyBytes.</summary>
public sealed class SmallBodyApp : WelkinApp
{
    public const int Limit = 512;

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Welkin:MaxRequestBodyBytes"] = Limit.ToString(System.Globalization.CultureInfo.InvariantCulture) };
}

public sealed class BodyLimitTests(SmallBodyApp app) : IClassFixture<SmallBodyApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task BodyOverLimit_WithContentLength_Returns413()
    {
        var body = "{\"accountName\":\"big\",\"displayName\":\"" + new string('x', SmallBodyApp.Limit) + "\",\"admin\":{\"name\":\"a\"}}";

        var response = await app.Anonymous().PostAsync("/api/v1/catalog/sign-up", new StringContent(body, Encoding.UTF8, "application/json"), Ct);

        await response.ProblemAsync(HttpStatusCode.RequestEntityTooLarge, "body-too-large");
    }

    [Fact]
    public async Task BodyOverLimit_Chunked_Returns413()
    {
        var body = "{\"accountName\":\"big\",\"displayName\":\"" + new string('x', SmallBodyApp.Limit * 4) + "\",\"admin\":{\"name\":\"a\"}}";
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/catalog/sign-up")
        {
            Content = new StreamContent(new UnseekableStream(Encoding.UTF8.GetBytes(body))),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.TransferEncodingChunked = true;

        var response = await app.Anonymous().SendAsync(request, Ct);

        await response.ProblemAsync(HttpStatusCode.RequestEntityTooLarge, "body-too-large");
    }

    [Fact]
    public async Task BodyUnderLimit_IsAccepted()
    {
        var body = "{\"accountName\":\"small-" + Guid.NewGuid().ToString("n")[..8] + "\",\"displayName\":\"Small\",\"admin\":{\"name\":\"a\"}}";

        var response = await app.Anonymous().PostAsync("/api/v1/catalog/sign-up", new StringContent(body, Encoding.UTF8, "application/json"), Ct);

        response.StatusCode.ShouldBe(HttpStatusCode.Created);
    }

    private sealed class UnseekableStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
    }
}

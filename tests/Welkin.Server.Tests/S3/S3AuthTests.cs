using System.Net;
using System.Net.Http.Json;
using System.Xml.Linq;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;

namespace Welkin.Server.Tests.S3;

/// <summary>
/// The S3 face's door, driven by AWSSDK.S3 and by hand-signed requests: access keys, Signature Version 4
/// in headers and presigned URLs, and S3's XML errors.
/// </summary>
public sealed class S3AuthTests(S3App app) : IClassFixture<S3App>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static DateTimeOffset Now => TimeProvider.System.GetUtcNow();

    private static async Task<(HttpStatusCode Status, XElement? Error, string Text)> SendAsync(HttpClient client, HttpRequestMessage request)
    {
        using var response = await client.SendAsync(request, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        return (response.StatusCode, text.StartsWith("<?xml", StringComparison.Ordinal) ? XElement.Parse(text) : null, text);
    }

    private static void ShouldBeS3Error((HttpStatusCode Status, XElement? Error, string Text) answer, HttpStatusCode status, string code)
    {
        answer.Status.ShouldBe(status, $"{answer.Status}: {answer.Text}");
        answer.Error.ShouldNotBeNull(answer.Text);
        answer.Error.Name.LocalName.ShouldBe("Error");
        answer.Error.Element("Code")!.Value.ShouldBe(code, answer.Text);
        answer.Error.Element("Message")!.Value.ShouldNotBeNullOrEmpty();
        answer.Error.Element("RequestId")!.Value.ShouldNotBeNullOrEmpty();
        answer.Error.Element("Resource").ShouldNotBeNull();
    }

    [Fact]
    public async Task AccessKey_CreatedOnce_ListedWithoutSecret_Revoked_AndAudited()
    {
        var (account, admin, key) = await app.AccountWithKeyAsync();

        key.Id.Length.ShouldBe(20);
        key.Id.ShouldStartWith("WK");
        key.Secret.Length.ShouldBe(40);
        var listed = await (await admin.GetAsync($"/api/v1/principals/{account.Admin.Id}/access-keys", Ct)).ReadAsync<List<AccessKeyView>>();
        listed.Select(k => (k.Id, k.Name, k.Revoked)).ShouldBe([(key.Id, "tests", (DateTimeOffset?)null)]);
        (await admin.GetStringAsync($"/api/v1/principals/{account.Admin.Id}/access-keys", Ct)).ShouldNotContain(key.Secret);

        var revoked = await (await admin.DeleteAsync($"/api/v1/access-keys/{key.Id}", Ct)).ReadAsync<AccessKeyView>();
        var again = await (await admin.DeleteAsync($"/api/v1/access-keys/{key.Id}", Ct)).ReadAsync<AccessKeyView>();

        revoked.Revoked.ShouldNotBeNull();
        again.Revoked.ShouldBe(revoked.Revoked);
        var audit = await (await admin.GetAsync($"/api/v1/audit?accountId={account.Account.Id}&limit=500", Ct)).ReadAsync<Page<AuditEntryView>>();
        audit.Items.Where(e => e.Target == key.Id).Select(e => e.Action).Order().ShouldBe(["access-key.create", "access-key.revoke"]);
        audit.Items.ShouldAllBe(e => e.Detail == null || !e.Detail.Contains(key.Secret));
    }

    [Fact]
    public async Task AccessKeys_AtMostTwoLivePerPrincipal_RevokingOneMakesRoom()
    {
        var (account, admin, first) = await app.AccountWithKeyAsync();
        var path = $"/api/v1/principals/{account.Admin.Id}/access-keys";
        await (await admin.PostAsJsonAsync(path, new CreateAccessKeyRequest("second"), WelkinJson.Client, Ct)).ReadAsync<IssuedAccessKey>(HttpStatusCode.Created);

        await (await admin.PostAsJsonAsync(path, new CreateAccessKeyRequest("third"), WelkinJson.Client, Ct)).ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
        await (await admin.DeleteAsync($"/api/v1/access-keys/{first.Id}", Ct)).ReadAsync<AccessKeyView>();
        await (await admin.PostAsJsonAsync(path, new CreateAccessKeyRequest("third"), WelkinJson.Client, Ct)).ReadAsync<IssuedAccessKey>(HttpStatusCode.Created);
    }

    [Fact]
    public async Task Sdk_ListBuckets_WithAGoodKey_AnswersTheAccountsEmptyList()
    {
        var (account, _, key) = await app.AccountWithKeyAsync();
        using var s3 = app.S3Client(key.Id, key.Secret);

        var answer = await s3.ListBucketsAsync(Ct);

        answer.HttpStatusCode.ShouldBe(HttpStatusCode.OK);
        (answer.Buckets ?? []).ShouldBeEmpty();
        answer.Owner.Id.ShouldBe(account.Account.Id);
    }

    [Fact]
    public async Task Sdk_ListBuckets_ShowsOnlyTheCallersAccountsBuckets()
    {
        var (victim, _, _) = await app.AccountWithKeyAsync();
        var (attacker, _, attackerKey) = await app.AccountWithKeyAsync();
        app.Buckets.Add(victim.Account.Id, "victim-ledgers", Now.AddDays(-3));
        app.Buckets.Add(attacker.Account.Id, "attacker-photos", Now.AddDays(-1));
        using var s3 = app.S3Client(attackerKey.Id, attackerKey.Secret);

        var answer = await s3.ListBucketsAsync(Ct);
        var foreign = await Should.ThrowAsync<AmazonS3Exception>(() => s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = "victim-ledgers" }, Ct));
        var missing = await Should.ThrowAsync<AmazonS3Exception>(() => s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = "no-such-bucket" }, Ct));

        answer.Buckets.Select(b => b.BucketName).ShouldBe(["attacker-photos"]);
        (foreign.StatusCode, foreign.ErrorCode).ShouldBe((HttpStatusCode.NotFound, "NoSuchBucket"));
        (missing.StatusCode, missing.ErrorCode).ShouldBe((foreign.StatusCode, foreign.ErrorCode));
    }

    [Fact]
    public async Task Sdk_RevokedKey_IsInvalidAccessKeyId()
    {
        var (_, admin, key) = await app.AccountWithKeyAsync();
        using var s3 = app.S3Client(key.Id, key.Secret);
        await s3.ListBucketsAsync(Ct);

        await (await admin.DeleteAsync($"/api/v1/access-keys/{key.Id}", Ct)).ReadAsync<AccessKeyView>();
        var refused = await Should.ThrowAsync<AmazonS3Exception>(() => s3.ListBucketsAsync(Ct));

        (refused.StatusCode, refused.ErrorCode).ShouldBe((HttpStatusCode.Forbidden, "InvalidAccessKeyId"));
    }

    [Fact]
    public async Task Sdk_KeyOfADisabledPrincipal_IsInvalidAccessKeyId()
    {
        var (account, admin, _) = await app.AccountWithKeyAsync();
        var engineer = await (await admin.PostAsJsonAsync("/api/v1/principals", new CreatePrincipalRequest("eng", [Role.Engineer]), WelkinJson.Client, Ct))
            .ReadAsync<PrincipalView>(HttpStatusCode.Created);
        var key = await (await admin.PostAsJsonAsync($"/api/v1/principals/{engineer.Id}/access-keys", new CreateAccessKeyRequest(), WelkinJson.Client, Ct))
            .ReadAsync<IssuedAccessKey>(HttpStatusCode.Created);
        using var s3 = app.S3Client(key.Id, key.Secret);
        await s3.ListBucketsAsync(Ct);

        await (await admin.PatchAsJsonAsync($"/api/v1/principals/{engineer.Id}", new UpdatePrincipalRequest(State: PrincipalState.Disabled), WelkinJson.Client, Ct))
            .ReadAsync<PrincipalView>();
        var refused = await Should.ThrowAsync<AmazonS3Exception>(() => s3.ListBucketsAsync(Ct));

        refused.ErrorCode.ShouldBe("InvalidAccessKeyId");
        account.Account.Id.ShouldNotBeNullOrEmpty();
    }

    [Fact]
    public async Task Sdk_WrongSecret_IsSignatureDoesNotMatch_AndUnknownKeyIsInvalidAccessKeyId()
    {
        var (_, _, key) = await app.AccountWithKeyAsync();
        using var wrongSecret = app.S3Client(key.Id, key.Secret[..^1] + (key.Secret[^1] == 'a' ? 'b' : 'a'));
        using var unknown = app.S3Client(Welkin.Core.Security.AccessKeys.NewId(), key.Secret);

        var bad = await Should.ThrowAsync<AmazonS3Exception>(() => wrongSecret.ListBucketsAsync(Ct));
        var stranger = await Should.ThrowAsync<AmazonS3Exception>(() => unknown.ListBucketsAsync(Ct));

        (bad.StatusCode, bad.ErrorCode).ShouldBe((HttpStatusCode.Forbidden, "SignatureDoesNotMatch"));
        (stranger.StatusCode, stranger.ErrorCode).ShouldBe((HttpStatusCode.Forbidden, "InvalidAccessKeyId"));
    }

    [Fact]
    public async Task RefusedSignature_IsAuditedAsAnAnonymousRefusal_WithoutTheSecret()
    {
        var (_, _, key) = await app.AccountWithKeyAsync();
        // Another first character than the secret's own, whatever that is.
        using var wrongSecret = app.S3Client(key.Id, (key.Secret[0] == 'x' ? "y" : "x") + key.Secret[1..]);

        await Should.ThrowAsync<AmazonS3Exception>(() => wrongSecret.ListBucketsAsync(Ct));

        var audit = app.Services.GetRequiredService<Welkin.Core.Audit.AuditLog>();
        var db = app.Services.GetRequiredService<Welkin.Core.Data.IDatabase>();
        var entries = new List<AuditEntryView>();
        for (long? after = null; ;)
        {
            var page = await audit.ListAsync(db, null, after, 500, Ct);
            entries.AddRange(page.Items);
            if (page.Items.Count < 500)
            {
                break;
            }
            after = page.Items[^1].Seq;
        }
        var refusal = entries.Where(e => e.Target == "access-key:" + key.Id).ShouldHaveSingleItem();
        (refusal.Action, refusal.Outcome, refusal.Detail).ShouldBe(("s3.authenticate", "denied", "SignatureDoesNotMatch"));
        var secretTail = key.Secret[1..];
        entries.ShouldAllBe(e => e.Detail == null || !e.Detail.Contains(secretTail));
    }

    [Theory]
    [InlineData(16)]
    [InlineData(-16)]
    public async Task ClockSkewedBeyondFifteenMinutes_IsRequestTimeTooSkewed(int minutes)
    {
        var (_, _, key) = await app.AccountWithKeyAsync();
        using var client = app.Raw();

        var skewed = await SendAsync(client, HandSigned.Get(app.S3Endpoint, "/", key.Id, key.Secret, Now.AddMinutes(minutes)));
        var within = await SendAsync(client, HandSigned.Get(app.S3Endpoint, "/", key.Id, key.Secret, Now.AddMinutes(Math.Sign(minutes) * 14)));

        ShouldBeS3Error(skewed, HttpStatusCode.Forbidden, "RequestTimeTooSkewed");
        within.Status.ShouldBe(HttpStatusCode.OK, within.Text);
        within.Text.ShouldContain("<ListAllMyBucketsResult");
    }

    [Fact]
    public async Task SignedForAnotherRegion_IsAuthorizationHeaderMalformed_NamingTheRegion()
    {
        var (_, _, key) = await app.AccountWithKeyAsync();
        using var client = app.Raw();

        var answer = await SendAsync(client, HandSigned.Get(app.S3Endpoint, "/", key.Id, key.Secret, Now, region: "eu-west-1"));

        ShouldBeS3Error(answer, HttpStatusCode.BadRequest, "AuthorizationHeaderMalformed");
        answer.Error!.Element("Region")!.Value.ShouldBe("us-east-1");
    }

    [Fact]
    public async Task SdkPresignedGet_IsVerified_AndATamperedOneIsSignatureDoesNotMatch()
    {
        var (account, _, key) = await app.AccountWithKeyAsync();
        app.Buckets.Add(account.Account.Id, "reports", Now);
        using var s3 = app.S3Client(key.Id, key.Secret);
        var url = new Uri(await s3.GetPreSignedURLAsync(new GetPreSignedUrlRequest
        {
            BucketName = "reports", Key = "2026/q1 summary+final.pdf", Verb = HttpVerb.GET, Expires = Now.UtcDateTime.AddMinutes(10), Protocol = Protocol.HTTP,
        }));
        using var client = app.Raw();

        var genuine = await SendAsync(client, new HttpRequestMessage(HttpMethod.Get, url));
        var otherKey = await SendAsync(client, new HttpRequestMessage(HttpMethod.Get, new Uri(url.AbsoluteUri.Replace("final", "draft", StringComparison.Ordinal))));
        var longer = await SendAsync(client, new HttpRequestMessage(HttpMethod.Get,
            new Uri(System.Text.RegularExpressions.Regex.Replace(url.AbsoluteUri, "X-Amz-Expires=[0-9]+", "X-Amz-Expires=604800"))));

        // Past the signature check: the bucket exists and object reads are not on this endpoint yet.
        ShouldBeS3Error(genuine, HttpStatusCode.NotImplemented, "NotImplemented");
        ShouldBeS3Error(otherKey, HttpStatusCode.Forbidden, "SignatureDoesNotMatch");
        ShouldBeS3Error(longer, HttpStatusCode.Forbidden, "SignatureDoesNotMatch");
        url.Query.ShouldContain("X-Amz-Expires=");
    }

    [Fact]
    public async Task PresignedGet_Expired_IsAccessDeniedRequestHasExpired_AndBeyondSevenDaysIsRefused()
    {
        var (_, _, key) = await app.AccountWithKeyAsync();
        using var client = app.Raw();

        var expired = await SendAsync(client, new HttpRequestMessage(HttpMethod.Get, HandSigned.Presign(app.S3Endpoint, "/", key.Id, key.Secret, Now.AddHours(-2), 3600)));
        var tooLong = await SendAsync(client, new HttpRequestMessage(HttpMethod.Get, HandSigned.Presign(app.S3Endpoint, "/", key.Id, key.Secret, Now, 604_801)));
        var valid = await SendAsync(client, new HttpRequestMessage(HttpMethod.Get, HandSigned.Presign(app.S3Endpoint, "/", key.Id, key.Secret, Now.AddHours(-2), 604_800)));

        ShouldBeS3Error(expired, HttpStatusCode.Forbidden, "AccessDenied");
        expired.Error!.Element("Message")!.Value.ShouldBe("Request has expired");
        ShouldBeS3Error(tooLong, HttpStatusCode.BadRequest, "AuthorizationQueryParametersError");
        valid.Status.ShouldBe(HttpStatusCode.OK, valid.Text);
    }

    [Fact]
    public async Task PresignedUrl_SignatureAndSecret_NeverReachTheLog()
    {
        var (_, _, key) = await app.AccountWithKeyAsync();
        var url = HandSigned.Presign(app.S3Endpoint, "/", key.Id, key.Secret, Now, 300);
        var signature = url[(url.LastIndexOf('=') + 1)..];
        using var client = app.Raw();

        var answer = await SendAsync(client, new HttpRequestMessage(HttpMethod.Get, url));

        answer.Status.ShouldBe(HttpStatusCode.OK, answer.Text);
        // The request line is logged once the response is complete, which the client may see first.
        for (var waited = 0; waited < 100 && !app.Logs.Lines.Any(l => l.Contains("GET / -> 200", StringComparison.Ordinal)); waited++)
        {
            await Task.Delay(100, Ct);
        }
        var log = string.Join("\n", app.Logs.Lines);
        log.ShouldContain("GET / -> 200", customMessage: "the capture saw no request line, so it proves nothing");
        log.ShouldNotContain(signature);
        log.ShouldNotContain(key.Secret);
        log.ShouldNotContain("X-Amz-Signature");
    }

    public static TheoryData<string, string?, HttpStatusCode, string> Refusals() => new()
    {
        { "/", null, HttpStatusCode.Forbidden, "AccessDenied" },
        { "/", "Bearer wkn_abc", HttpStatusCode.BadRequest, "InvalidRequest" },
        { "/", "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=", HttpStatusCode.BadRequest, "InvalidRequest" },
        { "/", "AWS4-HMAC-SHA256", HttpStatusCode.BadRequest, "InvalidRequest" },
        { "/", "AWS4-HMAC-SHA256 garbage", HttpStatusCode.BadRequest, "AuthorizationHeaderMalformed" },
        { "/", "AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host, Signature=00", HttpStatusCode.BadRequest, "AuthorizationHeaderMalformed" },
        { "/", "AWS4-HMAC-SHA256 Credential=WKAAAAAAAAAAAAAAAAAA/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=zz",
            HttpStatusCode.BadRequest, "AuthorizationHeaderMalformed" },
        { "/?X-Amz-Algorithm=AWS4-HMAC-SHA256", null, HttpStatusCode.BadRequest, "AuthorizationQueryParametersError" },
        { "/?X-Amz-Algorithm=HMAC-MD5&X-Amz-Credential=x", null, HttpStatusCode.BadRequest, "AuthorizationQueryParametersError" },
        { "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=x&X-Amz-Date=x&X-Amz-Expires=-5&X-Amz-SignedHeaders=host&X-Amz-Signature=x", null,
            HttpStatusCode.BadRequest, "AuthorizationQueryParametersError" },
        { "/?X-Amz-Algorithm=AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256 Credential=x", HttpStatusCode.BadRequest, "InvalidArgument" },
        { "/bucket/%C0%AF%01%7F%FF", null, HttpStatusCode.Forbidden, "AccessDenied" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task MalformedOrAnonymousRequest_GetsItsS3Error_NeverA500(string pathAndQuery, string? authorization, HttpStatusCode status, string code)
    {
        using var client = app.Raw();
        using var request = new HttpRequestMessage(HttpMethod.Get, pathAndQuery);
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }
        request.Headers.TryAddWithoutValidation("x-amz-date", HandSigned.AmzDate(Now));

        var answer = await SendAsync(client, request);
        ShouldBeS3Error(answer, status, code);
    }

    [Fact]
    public async Task MalformedPercentEscapeInThePath_IsInvalidUri()
    {
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync("127.0.0.1", app.S3Port, Ct);
        await using var stream = tcp.GetStream();
        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"GET /bucket/%zz HTTP/1.1\r\nHost: 127.0.0.1:{app.S3Port}\r\nConnection: close\r\n\r\n"), Ct);
        using var reader = new StreamReader(stream);

        var response = await reader.ReadToEndAsync(Ct);

        response.ShouldStartWith("HTTP/1.1 400");
        response.ShouldContain("<Code>InvalidURI</Code>");
    }

    [Fact]
    public async Task HeadRefusal_HasTheStatusAndRequestIdButNoBody()
    {
        using var client = app.Raw();

        using var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/bucket/key"), Ct);

        response.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        response.Headers.GetValues("x-amz-request-id").Single().ShouldNotBeNullOrEmpty();
        (await response.Content.ReadAsByteArrayAsync(Ct)).ShouldBeEmpty();
    }

    [Fact]
    public async Task TheTwoListenersServeOnlyTheirOwnInterface()
    {
        var (account, _, key) = await app.AccountWithKeyAsync();
        using var s3 = app.Raw();
        using var api = new HttpClient { BaseAddress = app.ApiAddress };

        using var apiOnS3 = new HttpRequestMessage(HttpMethod.Get, "/api/v1/me");
        apiOnS3.Headers.TryAddWithoutValidation("Authorization", "Bearer " + account.Token.Secret);
        var s3OnApi = HandSigned.Get(new Uri(app.ApiAddress.AbsoluteUri), "/", key.Id, key.Secret, Now);

        ShouldBeS3Error(await SendAsync(s3, apiOnS3), HttpStatusCode.BadRequest, "InvalidRequest");
        using var response = await api.SendAsync(s3OnApi, Ct);
        // On the API's listener "/" is the portal's start page: a signed S3 ListBuckets there is never answered as S3.
        response.Content.Headers.ContentType?.MediaType.ShouldBe("text/html");
        (await response.Content.ReadAsStringAsync(Ct)).ShouldNotContain("ListAllMyBucketsResult");
    }
}

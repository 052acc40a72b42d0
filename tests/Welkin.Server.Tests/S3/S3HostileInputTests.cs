using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Xml.Linq;
using Welkin.Contracts;
using Welkin.Server.S3;
using Welkin.Server.Tests.Vault;

namespace Welkin.Server.Tests.S3;

/// <summary>
/// Hostile requests through the S3 face's listener: path tricks sent byte for byte, bodies that break
/// their signature, XML bombs on the wire, headers and request lines past the server's limits. Each
/// gets S3's error (or the HTTP server's limit status), never a 500, and keeps nothing.
/// </summary>
public sealed class S3HostileInputTests(S3VaultApp app) : IClassFixture<S3VaultApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(string Bucket, IssuedAccessKey Key)> BucketWithObjectAsync()
    {
        var (tenant, vault) = await VaultApi.VaultAsync(app);
        var key = await app.KeyOfAsync(tenant.Client, tenant.SignUp.Admin.Id);
        var (status, text) = await SendRawAsync(S3Requests.Signed(app.S3Endpoint, key, "PUT", $"/{vault.Name}/ledger.csv", "kept"u8.ToArray()),
            $"/{vault.Name}/ledger.csv", "kept"u8.ToArray());
        status.ShouldBe(200, text);
        return (vault.Name, key);
    }

    public static TheoryData<string, string, int, string> PathTricks => new()
    {
        { "PUT", "/{bucket}/a/../b", 400, "InvalidArgument" },
        { "PUT", "/{bucket}/./a", 400, "InvalidArgument" },
        { "PUT", "/{bucket}/a//b", 400, "InvalidArgument" },
        // An escaped NUL: the HTTP server refuses the request target itself (400, no body), before the S3 face.
        { "PUT", "/{bucket}/a%00b", 400, "" },
        { "PUT", "/{bucket}/a%5Cb", 400, "InvalidArgument" },
        { "PUT", "/{bucket}/" + new string('k', 1025), 400, "KeyTooLongError" },
        { "PUT", "/{bucket}/" + string.Concat(Enumerable.Repeat("%C3%A9", 513)), 400, "KeyTooLongError" },
        { "PUT", "/{bucket}/..%2F..%2Fescaped", 400, "InvalidArgument" },
        { "GET", "/{bucket}/..%2F..%2Fetc%2Fpasswd", 400, "InvalidArgument" },
        { "GET", "/..%2F{bucket}/ledger.csv", 404, "NoSuchBucket" },
        { "GET", "/../{bucket}/ledger.csv", 404, "NoSuchBucket" },
        { "DELETE", "/{bucket}/a/../ledger.csv?versionId=vrc_01h00000000000000000000000", 400, "InvalidArgument" },
    };

    [Theory]
    [MemberData(nameof(PathTricks))]
    public async Task PathTrick_GetsItsS3Error_AndKeepsNothing(string method, string target, int status, string code)
    {
        var (bucket, key) = await BucketWithObjectAsync();
        var rawTarget = target.Replace("{bucket}", bucket, StringComparison.Ordinal);
        var body = method == "PUT" ? "planted"u8.ToArray() : null;

        var (answered, text) = await SendRawAsync(S3Requests.Signed(app.S3Endpoint, key, method, rawTarget, body), rawTarget, body);

        answered.ShouldBe(status, text);
        if (code.Length > 0)
        {
            text.ShouldContain($"<Code>{code}</Code>");
        }
        (await KeysAsync(bucket, key)).ShouldBe(["ledger.csv"]);
    }

    [Fact]
    public async Task EscapedSlash_IsASlash_TheSameObjectOfTheCallersOwnBucket()
    {
        var (bucket, key) = await BucketWithObjectAsync();
        var rawTarget = $"/{bucket}%2Fledger.csv";

        var (status, text) = await SendRawAsync(S3Requests.Signed(app.S3Endpoint, key, "GET", rawTarget), rawTarget, null);

        status.ShouldBe(200);
        text.ShouldBe("kept");
    }

    [Fact]
    public async Task BodyOtherThanTheSignedOne_IsXAmzContentSha256Mismatch_AndKeepsNothing()
    {
        var (bucket, key) = await BucketWithObjectAsync();
        using var request = S3Requests.Signed(app.S3Endpoint, key, "PUT", $"/{bucket}/swapped.txt", "signed bytes"u8.ToArray());
        request.Content = new ByteArrayContent("other bytes!"u8.ToArray());
        using var raw = app.Raw();

        using var answer = await raw.SendAsync(request, Ct);

        answer.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await answer.Content.ReadAsStringAsync(Ct)).ShouldContain("<Code>XAmzContentSHA256Mismatch</Code>");
        (await KeysAsync(bucket, key)).ShouldBe(["ledger.csv"]);
    }

    [Fact]
    public async Task SignedHeaderChangedAfterSigning_IsSignatureDoesNotMatch_AndKeepsNothing()
    {
        var (bucket, key) = await BucketWithObjectAsync();
        using var request = S3Requests.Signed(app.S3Endpoint, key, "PUT", $"/{bucket}/meta.txt", "x"u8.ToArray(), [("x-amz-meta-owner", "alice")]);
        request.Headers.Remove("x-amz-meta-owner");
        request.Headers.TryAddWithoutValidation("x-amz-meta-owner", "mallory");
        using var raw = app.Raw();

        using var answer = await raw.SendAsync(request, Ct);

        answer.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        (await answer.Content.ReadAsStringAsync(Ct)).ShouldContain("<Code>SignatureDoesNotMatch</Code>");
        (await KeysAsync(bucket, key)).ShouldBe(["ledger.csv"]);
    }

    [Fact]
    public async Task MalformedAwsChunkedBody_IsInvalidRequest_AndKeepsNothing()
    {
        var (bucket, key) = await BucketWithObjectAsync();
        var body = Encoding.ASCII.GetBytes("zz;chunk-signature=" + new string('0', 64) + "\r\nabc\r\n");
        using var request = S3Requests.Signed(app.S3Endpoint, key, "PUT", $"/{bucket}/chunked.txt", body,
            [("x-amz-decoded-content-length", "3")], contentSha256: S3Body.StreamingSigned);
        using var raw = app.Raw();

        using var answer = await raw.SendAsync(request, Ct);

        answer.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await answer.Content.ReadAsStringAsync(Ct)).ShouldContain("<Code>InvalidRequest</Code>");
        (await KeysAsync(bucket, key)).ShouldBe(["ledger.csv"]);
    }

    public static TheoryData<string, string> XmlBombs => new()
    {
        { "?versioning", "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]><VersioningConfiguration><Status>&c;</Status></VersioningConfiguration>" },
        { "?versioning", "<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><VersioningConfiguration><Status>&e;</Status></VersioningConfiguration>" },
        { "?object-lock", string.Concat(Enumerable.Repeat("<a>", 10_000)) + string.Concat(Enumerable.Repeat("</a>", 10_000)) },
        { "?object-lock", "<ObjectLockConfiguration><ObjectLockEnabled>Enabled" },
        { "?versioning", "<VersioningConfiguration>" + new string(' ', 2 * 1024 * 1024) + "</VersioningConfiguration>" },
    };

    /// <summary>The bucket operations read their XML safely: the answer is S3's and never a 500.</summary>
    [Theory]
    [MemberData(nameof(XmlBombs))]
    public async Task HostileXmlBody_OnABucketSubresource_GetsS3sError_NeverA500(string subresource, string xml)
    {
        var (bucket, key) = await BucketWithObjectAsync();
        using var raw = app.Raw();

        var body = Encoding.UTF8.GetBytes(xml);
#pragma warning disable CA5351 // Content-MD5 is S3's integrity header, not a security measure: with it the XML is read.
        var md5 = Convert.ToBase64String(System.Security.Cryptography.MD5.HashData(body));
#pragma warning restore CA5351

        using var answer = await raw.SendAsync(S3Requests.Signed(app.S3Endpoint, key, "PUT", $"/{bucket}{subresource}", body, [("Content-MD5", md5)]), Ct);
        var text = await answer.Content.ReadAsStringAsync(Ct);

        ((int)answer.StatusCode).ShouldBeOneOf(400, 501);
        XDocument.Parse(text).Root!.Element("Code")!.Value.ShouldBeOneOf("MalformedXML", "MaxMessageLengthExceeded", "NotImplemented");
        text.ShouldNotContain("root:");
    }

    [Fact]
    public async Task HeadersPastTheServersLimit_Are431_BeforeTheS3Face()
    {
        var (bucket, key) = await BucketWithObjectAsync();
        using var request = S3Requests.Signed(app.S3Endpoint, key, "GET", $"/{bucket}/ledger.csv");
        request.Headers.TryAddWithoutValidation("x-padding", new string('p', 40 * 1024));
        using var raw = app.Raw();

        using var answer = await raw.SendAsync(request, Ct);

        answer.StatusCode.ShouldBe(HttpStatusCode.RequestHeaderFieldsTooLarge);
    }

    [Fact]
    public async Task RequestLinePastTheServersLimit_Is414_BeforeTheS3Face()
    {
        var (bucket, key) = await BucketWithObjectAsync();
        var target = $"/{bucket}/" + new string('k', 10 * 1024);

        var (status, _) = await SendRawAsync(S3Requests.Signed(app.S3Endpoint, key, "GET", target), target, null);

        status.ShouldBe(414);
    }

    [Fact]
    public async Task UnsignedAmzHeader_IsAccessDenied_NamingIt()
    {
        var (bucket, key) = await BucketWithObjectAsync();
        using var request = S3Requests.Signed(app.S3Endpoint, key, "PUT", $"/{bucket}/sneaky.txt", "x"u8.ToArray());
        request.Headers.TryAddWithoutValidation("x-amz-object-lock-mode", "COMPLIANCE");
        using var raw = app.Raw();

        using var answer = await raw.SendAsync(request, Ct);
        var text = await answer.Content.ReadAsStringAsync(Ct);

        answer.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        text.ShouldContain("<Code>AccessDenied</Code>");
        text.ShouldContain("x-amz-object-lock-mode");
        (await KeysAsync(bucket, key)).ShouldBe(["ledger.csv"]);
    }

    private async Task<List<string>> KeysAsync(string bucket, IssuedAccessKey key)
    {
        using var raw = app.Raw();
        using var list = await raw.SendAsync(S3Requests.Signed(app.S3Endpoint, key, "GET", $"/{bucket}?list-type=2"), Ct);
        var listing = XDocument.Parse(await list.Content.ReadAsStringAsync(Ct));
        return listing.Descendants().Where(e => e.Name.LocalName == "Key").Select(e => e.Value).ToList();
    }

    /// <summary>Sends <paramref name="signed"/>'s headers with <paramref name="target"/> exactly as given (no client normalizes it), and reads the answer.</summary>
    private async Task<(int Status, string Body)> SendRawAsync(HttpRequestMessage signed, string target, byte[]? body)
    {
        using var _ = signed;
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, app.S3Port, Ct);
        await using var stream = tcp.GetStream();
        var head = new StringBuilder();
        head.Append(CultureInfo.InvariantCulture, $"{signed.Method} {target} HTTP/1.1\r\nHost: {app.S3Endpoint.Authority}\r\nConnection: close\r\n");
        foreach (var header in signed.Headers)
        {
            head.Append(CultureInfo.InvariantCulture, $"{header.Key}: {string.Join(",", header.Value)}\r\n");
        }
        head.Append(CultureInfo.InvariantCulture, $"Content-Length: {body?.Length ?? 0}\r\n\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()), Ct);
        await stream.WriteAsync(body ?? [], Ct);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var response = await reader.ReadToEndAsync(Ct);
        var status = int.Parse(response.AsSpan(9, 3), CultureInfo.InvariantCulture);
        var split = response.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        return (status, split < 0 ? "" : response[(split + 4)..]);
    }
}

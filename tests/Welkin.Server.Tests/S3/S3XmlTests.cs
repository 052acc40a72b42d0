using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Welkin.Core.Security;
using Welkin.Server.S3;

namespace Welkin.Server.Tests.S3;

/// <summary>Hostile XML bodies and payloads get S3's errors, never an exception (and never a 500).</summary>
public sealed class S3XmlTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static S3Identity Identity(string contentSha256) =>
        new(Caller.System("test"), "WKAAAAAAAAAAAAAAAAAA", contentSha256,
            new SigV4Claim("WKAAAAAAAAAAAAAAAAAA", "20260101", "us-east-1", "s3", ["host"], new string('0', 64), TimeProvider.System.GetUtcNow(), "20260101T000000Z", false, null),
            new byte[32]);

    private static HttpRequest Request(byte[] body, bool declareLength = true)
    {
        var context = new DefaultHttpContext();
        context.Request.Body = new MemoryStream(body);
        context.Request.ContentLength = declareLength ? body.Length : null;
        return context.Request;
    }

    [Fact]
    public void WellFormedDocument_Parses()
    {
        var (document, error) = S3Xml.Parse("<Delete><Object><Key>a</Key></Object></Delete>"u8.ToArray());

        error.ShouldBeNull();
        document!.Root!.Name.LocalName.ShouldBe("Delete");
    }

    [Theory]
    [InlineData("<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><d>&e;</d>")]
    [InlineData("<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]><l>&c;</l>")]
    [InlineData("<Delete><Object><Key>a</Key></Object>")]
    [InlineData("not xml at all")]
    [InlineData("")]
    [InlineData("<a>\u0001</a>")]
    public void HostileOrBrokenDocument_IsMalformedXml(string text)
    {
        var (document, error) = S3Xml.Parse(Encoding.UTF8.GetBytes(text));

        document.ShouldBeNull();
        error!.Code.ShouldBe("MalformedXML");
        error.Status.ShouldBe(400);
    }

    [Fact]
    public void DeepNesting_IsMalformedXml()
    {
        var text = string.Concat(Enumerable.Repeat("<a>", 10_000)) + string.Concat(Enumerable.Repeat("</a>", 10_000));

        var (_, error) = S3Xml.Parse(Encoding.UTF8.GetBytes(text));

        error!.Code.ShouldBe("MalformedXML");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task OversizedBody_IsMaxMessageLengthExceeded_DeclaredOrNot(bool declared)
    {
        var body = new byte[5000];

        var (read, error) = await S3Xml.ReadBodyAsync(Request(body, declared), Identity(SigV4.UnsignedPayload), 4096, Ct);

        read.ShouldBeNull();
        (error!.Code, error.Status).ShouldBe(("MaxMessageLengthExceeded", 400));
    }

    [Fact]
    public async Task BodyNotMatchingItsSignedHash_IsXAmzContentSha256Mismatch()
    {
        var signedFor = Convert.ToHexStringLower(SHA256.HashData("<a/>"u8));

        var (_, error) = await S3Xml.ReadBodyAsync(Request("<b/>"u8.ToArray()), Identity(signedFor), 4096, Ct);
        var (body, fine) = await S3Xml.ReadBodyAsync(Request("<a/>"u8.ToArray()), Identity(signedFor), 4096, Ct);

        error!.Code.ShouldBe("XAmzContentSHA256Mismatch");
        fine.ShouldBeNull();
        body.ShouldBe("<a/>"u8.ToArray());
    }

    [Theory]
    [InlineData("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD")]
    [InlineData("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER")]
    public async Task EcdsaStreamingForms_AreRefusedAsNotImplemented(string contentSha256)
    {
        var (_, error) = await S3Xml.ReadBodyAsync(Request("0\r\n\r\n"u8.ToArray()), Identity(contentSha256), 4096, Ct);

        (error!.Code, error.Status).ShouldBe(("NotImplemented", 501));
        error.Message.ShouldContain("STREAMING-AWS4-HMAC-SHA256-PAYLOAD");
    }

    [Theory]
    [InlineData("STREAMING-UNSIGNED-PAYLOAD-TRAILER")]
    [InlineData("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER")]
    public async Task TrailerForms_WithoutXAmzTrailer_AreInvalidRequest(string contentSha256)
    {
        var (_, error) = await S3Xml.ReadBodyAsync(Request("0\r\n\r\n"u8.ToArray()), Identity(contentSha256), 4096, Ct);

        (error!.Code, error.Status).ShouldBe(("InvalidRequest", 400));
    }

    [Fact]
    public async Task UnsignedTrailerBody_IsDecodedAndItsChecksumChecked()
    {
        var xml = "<a/>"u8.ToArray();
        var crc = Chunked.Checksum("x-amz-checksum-crc32", xml);
        var request = Request(Chunked.Unsigned(xml, $"x-amz-checksum-crc32:{crc}\r\n"));
        request.Headers["x-amz-trailer"] = "x-amz-checksum-crc32";
        request.Headers["x-amz-decoded-content-length"] = "4";
        var wrong = Request(Chunked.Unsigned(xml, $"x-amz-checksum-crc32:{Chunked.Checksum("x-amz-checksum-crc32", [])}\r\n"));
        wrong.Headers["x-amz-trailer"] = "x-amz-checksum-crc32";

        var (body, fine) = await S3Xml.ReadBodyAsync(request, Identity(S3Body.StreamingUnsignedTrailer), 4096, Ct);
        var (_, error) = await S3Xml.ReadBodyAsync(wrong, Identity(S3Body.StreamingUnsignedTrailer), 4096, Ct);

        fine.ShouldBeNull();
        body.ShouldBe(xml);
        error!.Code.ShouldBe("BadDigest");
    }

    [Fact]
    public async Task AwsChunkedBody_WithABadChunkSignature_IsRefusedNotRead()
    {
        var body = "3;chunk-signature=" + new string('0', 64) + "\r\nabc\r\n0;chunk-signature=" + new string('0', 64) + "\r\n\r\n";

        var (read, error) = await S3Xml.ReadBodyAsync(Request(Encoding.ASCII.GetBytes(body)), Identity("STREAMING-AWS4-HMAC-SHA256-PAYLOAD"), 4096, Ct);

        read.ShouldBeNull();
        (error!.Code, error.Status).ShouldBe(("SignatureDoesNotMatch", 403));
    }
}

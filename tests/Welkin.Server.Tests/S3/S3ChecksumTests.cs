using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Amazon.S3;
using Amazon.S3.Model;
using Welkin.Contracts;
using Welkin.Server.S3;
using Welkin.Server.Tests.Vault;

namespace Welkin.Server.Tests.S3;

/// <summary>
/// S3's checksums against their published check values (the CRC catalogue's check of "123456789";
/// FIPS 180's digests), and the aws-chunked trailer that carries one, signed and unsigned.
/// </summary>
public sealed class S3ChecksumVectorTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("x-amz-checksum-crc32", "cbf43926")]
    [InlineData("x-amz-checksum-crc32c", "e3069283")]
    [InlineData("x-amz-checksum-crc64nvme", "ae8b14860a799888")]
    [InlineData("x-amz-checksum-sha1", "f7c3bc1d808e04732adf679965ccc34ca7ae3441")]
    [InlineData("x-amz-checksum-sha256", "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225")]
    public void CheckValue_Of123456789_IsThePublishedOne(string header, string hex)
    {
        using var checksum = S3Checksum.For(header.ToUpperInvariant())!;
        checksum.Append("12345"u8);
        checksum.Append("6789"u8);

        Convert.ToHexStringLower(Convert.FromBase64String(checksum.Value())).ShouldBe(hex);
        checksum.Matches(Convert.ToBase64String(Convert.FromHexString(hex))).ShouldBeTrue();
        checksum.IsWellFormed("AAAA").ShouldBe(false);
    }

    [Fact]
    public void Crc32c_OfAwsTrailerExamplePayload_IsTheExamplesValue()
    {
        // AWS's trailing-header example: 66,560 bytes of 'a' carry x-amz-checksum-crc32c:sOO8/Q==.
        using var checksum = S3Checksum.For("x-amz-checksum-crc32c")!;
        checksum.Append(Enumerable.Repeat((byte)'a', 66560).ToArray());

        checksum.Value().ShouldBe("sOO8/Q==");
    }

    [Fact]
    public async Task SignedTrailer_WithItsChecksumAndSignature_DecodesAndReportsTheChecksum()
    {
        var payload = RandomNumberGenerator.GetBytes(70_000);
        var body = Chunked.Signed(payload, Chunked.Checksum("x-amz-checksum-crc32", payload));

        await using var stream = Chunked.Stream(body, "x-amz-checksum-crc32");
        var output = new MemoryStream();
        await stream.CopyToAsync(output, 7_000, Ct);

        output.ToArray().ShouldBe(payload);
        stream.Verified.ShouldBe(("x-amz-checksum-crc32", Chunked.Checksum("x-amz-checksum-crc32", payload)));
    }

    [Fact]
    public async Task SignedTrailer_WithAWrongChecksum_IsBadDigest()
    {
        var payload = RandomNumberGenerator.GetBytes(1000);
        var body = Chunked.Signed(payload, Chunked.Checksum("x-amz-checksum-crc32c", "other"u8.ToArray()), header: "x-amz-checksum-crc32c");

        await using var stream = Chunked.Stream(body, "x-amz-checksum-crc32c");
        var refused = await Should.ThrowAsync<S3PayloadException>(() => stream.CopyToAsync(Stream.Null, Ct));

        refused.Error.Code.ShouldBe("BadDigest");
        refused.Error.Message.ShouldContain("CRC32C");
        stream.Verified.ShouldBeNull();
    }

    [Fact]
    public async Task SignedTrailer_WithAnAlteredChecksum_IsSignatureDoesNotMatch()
    {
        var payload = RandomNumberGenerator.GetBytes(1000);
        var right = Chunked.Checksum("x-amz-checksum-crc32", payload);
        var body = Encoding.ASCII.GetString(Chunked.Signed(payload, right)).Replace(right, Chunked.Checksum("x-amz-checksum-crc32", []), StringComparison.Ordinal);

        await using var stream = Chunked.Stream(Encoding.ASCII.GetBytes(body), "x-amz-checksum-crc32");
        var refused = await Should.ThrowAsync<S3PayloadException>(() => stream.CopyToAsync(Stream.Null, Ct));

        refused.Error.Code.ShouldBe("SignatureDoesNotMatch");
    }

    [Theory]
    [InlineData("", "IncompleteBody")]
    [InlineData("x-amz-checksum-sha1", "InvalidRequest")]
    public async Task Trailer_WithoutTheNamedChecksum_IsRefused(string carried, string code)
    {
        var payload = "hello"u8.ToArray();
        var body = Chunked.Unsigned(payload, carried.Length == 0 ? "" : $"{carried}:{Chunked.Checksum(carried, payload)}\r\n");

        await using var stream = Chunked.Stream(body, "x-amz-checksum-crc32", signed: false);
        var refused = await Should.ThrowAsync<S3PayloadException>(() => stream.CopyToAsync(Stream.Null, Ct));

        refused.Error.Code.ShouldBe(code);
    }

    [Fact]
    public async Task UnsignedTrailer_DecodesAndChecks()
    {
        var payload = RandomNumberGenerator.GetBytes(200_000);
        var good = Chunked.Unsigned(payload, $"x-amz-checksum-crc64nvme:{Chunked.Checksum("x-amz-checksum-crc64nvme", payload)}\r\n");
        var bad = Chunked.Unsigned(payload, $"x-amz-checksum-crc64nvme:{Chunked.Checksum("x-amz-checksum-crc64nvme", [1])}\r\n");

        await using var stream = Chunked.Stream(good, "x-amz-checksum-crc64nvme", signed: false);
        var output = new MemoryStream();
        await stream.CopyToAsync(output, Ct);
        await using var refusing = Chunked.Stream(bad, "x-amz-checksum-crc64nvme", signed: false);
        var refused = await Should.ThrowAsync<S3PayloadException>(() => refusing.CopyToAsync(Stream.Null, Ct));

        output.ToArray().ShouldBe(payload);
        refused.Error.Code.ShouldBe("BadDigest");
    }
}

/// <summary>aws-chunked bodies with a trailer, built as the AWS SDKs build them, under AWS's example credentials.</summary>
internal static class Chunked
{
    public const string AmzDate = "20130524T000000Z";
    public const string Scope = "20130524/us-east-1/s3/aws4_request";
    public const string Seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";

    public static readonly byte[] Key = SigV4.SigningKey("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1", "s3");

    public static string Checksum(string header, byte[] payload)
    {
        using var checksum = S3Checksum.For(header)!;
        checksum.Append(payload);
        return checksum.Value();
    }

    public static AwsChunkedStream Stream(byte[] body, string trailer, bool signed = true) =>
        new(new MemoryStream(body), signed ? Key : null, AmzDate, Scope, Seed, null, S3Checksum.For(trailer));

    /// <summary>Signed chunks of up to 64 KiB, the final one, then the checksum and the trailer's signature.</summary>
    public static byte[] Signed(byte[] payload, string checksumValue, string header = "x-amz-checksum-crc32",
        byte[]? key = null, string amzDate = AmzDate, string scope = Scope, string seed = Seed)
    {
        key ??= Key;
        var body = new MemoryStream();
        var previous = seed;
        for (var offset = 0; ; offset = Math.Min(payload.Length, offset + 65536))
        {
            var chunk = payload.AsSpan(offset, Math.Min(65536, payload.Length - offset)).ToArray();
            previous = SigV4.Signature(key, $"AWS4-HMAC-SHA256-PAYLOAD\n{amzDate}\n{scope}\n{previous}\n{SigV4.EmptySha256}\n{SigV4.Hex(SHA256.HashData(chunk))}");
            body.Write(Encoding.ASCII.GetBytes($"{chunk.Length:x};chunk-signature={previous}\r\n"));
            body.Write(chunk);
            if (chunk.Length == 0)
            {
                break;
            }
            body.Write("\r\n"u8);
        }
        var trailer = $"{header}:{checksumValue}\n";
        var signature = SigV4.Signature(key, $"AWS4-HMAC-SHA256-TRAILER\n{amzDate}\n{scope}\n{previous}\n{SigV4.Hex(SHA256.HashData(Encoding.ASCII.GetBytes(trailer)))}");
        body.Write(Encoding.ASCII.GetBytes($"{header}:{checksumValue}\r\nx-amz-trailer-signature:{signature}\r\n\r\n"));
        return body.ToArray();
    }

    /// <summary>Unsigned chunks of up to 64 KiB, the final one, then <paramref name="trailerLines"/> and the empty line.</summary>
    public static byte[] Unsigned(byte[] payload, string trailerLines)
    {
        var body = new MemoryStream();
        for (var offset = 0; offset < payload.Length; offset += 65536)
        {
            var chunk = payload.AsSpan(offset, Math.Min(65536, payload.Length - offset));
            body.Write(Encoding.ASCII.GetBytes($"{chunk.Length:x}\r\n"));
            body.Write(chunk);
            body.Write("\r\n"u8);
        }
        body.Write(Encoding.ASCII.GetBytes($"0\r\n{trailerLines}\r\n"));
        return body.ToArray();
    }
}

/// <summary>Checksums on PutObject through the S3 face: AWSSDK.S3 with each algorithm, and hand-made bodies that fail them.</summary>
public sealed class S3ChecksumTests(S3VaultApp app) : IClassFixture<S3VaultApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(VaultView Vault, IssuedAccessKey Key, AmazonS3Client S3)> BucketAsync()
    {
        var (tenant, vault) = await VaultApi.VaultAsync(app);
        var key = await app.KeyOfAsync(tenant.Client, tenant.SignUp.Admin.Id);
        return (vault, key, app.S3Client(key.Id, key.Secret));
    }

    // The SDK computes CRC32C and CRC64NVME only with its native runtime package (AWSSDK.Extensions.CrtIntegration):
    // those two go through hand-made trailers below.
    [Theory]
    [InlineData("CRC32")]
    [InlineData("SHA1")]
    [InlineData("SHA256")]
    public async Task SdkPut_WithEachChecksumAlgorithm_IsStoredAndEchoed(string algorithm)
    {
        var (vault, _, s3) = await BucketAsync();
        using var _ = s3;
        var payload = RandomNumberGenerator.GetBytes(300_000);

        var put = await s3.PutObjectAsync(new PutObjectRequest
        {
            BucketName = vault.Name, Key = "data.bin", InputStream = new MemoryStream(payload), ChecksumAlgorithm = new ChecksumAlgorithm(algorithm),
        }, Ct);
        using var got = await s3.GetObjectAsync(vault.Name, "data.bin", Ct);
        var read = new MemoryStream();
        await got.ResponseStream.CopyToAsync(read, Ct);

        var expected = Chunked.Checksum("x-amz-checksum-" + algorithm.ToLowerInvariant(), payload);
        var echoed = algorithm switch
        {
            "CRC32" => put.ChecksumCRC32,
            "SHA1" => put.ChecksumSHA1,
            _ => put.ChecksumSHA256,
        };
        echoed.ShouldBe(expected);
        read.ToArray().ShouldBe(payload);
    }

    [Theory]
    [InlineData("x-amz-checksum-crc32")]
    [InlineData("x-amz-checksum-crc32c")]
    [InlineData("x-amz-checksum-crc64nvme")]
    public async Task SignedTrailer_WithAWrongChecksum_IsBadDigest_AndKeepsNothing(string header)
    {
        var (vault, key, s3) = await BucketAsync();
        using var _ = s3;
        var payload = RandomNumberGenerator.GetBytes(100_000);
        using var raw = app.Raw();

        using var wrong = await raw.SendAsync(TrailerPut(vault.Name, "t.bin", key, payload, header, Chunked.Checksum(header, [0])), Ct);
        var wrongText = await wrong.Content.ReadAsStringAsync(Ct);
        var listed = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = vault.Name }, Ct);
        using var right = await raw.SendAsync(TrailerPut(vault.Name, "t.bin", key, payload, header, Chunked.Checksum(header, payload)), Ct);

        wrong.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        wrongText.ShouldContain("<Code>BadDigest</Code>");
        (listed.S3Objects ?? []).ShouldBeEmpty();
        right.StatusCode.ShouldBe(HttpStatusCode.OK, await right.Content.ReadAsStringAsync(Ct));
        right.Headers.GetValues(header).ShouldBe([Chunked.Checksum(header, payload)]);
    }

    [Theory]
    [InlineData("x-amz-checksum-crc32", false, HttpStatusCode.BadRequest, "BadDigest")]
    [InlineData("x-amz-checksum-sha1", false, HttpStatusCode.BadRequest, "BadDigest")]
    [InlineData("x-amz-checksum-crc32", true, HttpStatusCode.OK, null)]
    [InlineData("x-amz-checksum-crc64nvme", true, HttpStatusCode.OK, null)]
    [InlineData("x-amz-checksum-sha256", false, HttpStatusCode.BadRequest, "BadDigest")]
    [InlineData("x-amz-checksum-sha256", true, HttpStatusCode.OK, null)]
    public async Task PlainChecksumHeader_IsCheckedAndEchoed(string header, bool right, HttpStatusCode status, string? code)
    {
        var (vault, key, s3) = await BucketAsync();
        using var _ = s3;
        var payload = "day,amount\n1,100\n"u8.ToArray();
        var value = Chunked.Checksum(header, right ? payload : [9]);
        using var raw = app.Raw();

        using var answer = await raw.SendAsync(Put(vault.Name, "p.csv", key, payload, (header, value)), Ct);
        var text = await answer.Content.ReadAsStringAsync(Ct);
        var listed = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = vault.Name }, Ct);

        answer.StatusCode.ShouldBe(status, text);
        if (code is not null)
        {
            text.ShouldContain($"<Code>{code}</Code>");
            (listed.S3Objects ?? []).ShouldBeEmpty();
        }
        else
        {
            answer.Headers.GetValues(header).ShouldBe([value]);
            listed.S3Objects.Select(o => o.Key).ShouldBe(["p.csv"]);
        }
    }

    [Theory]
    [InlineData("x-amz-checksum-crc32", "not base64!")]
    [InlineData("x-amz-checksum-crc32", "AAAAAAAA")]
    [InlineData("x-amz-checksum-crc64nvme", "AAAA")]
    public async Task MalformedChecksumHeader_IsInvalidRequest(string header, string value)
    {
        var (vault, key, s3) = await BucketAsync();
        using var _ = s3;
        using var raw = app.Raw();

        using var answer = await raw.SendAsync(Put(vault.Name, "p.csv", key, "x"u8.ToArray(), (header, value)), Ct);

        answer.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await answer.Content.ReadAsStringAsync(Ct)).ShouldContain("<Code>InvalidRequest</Code>");
    }

    [Fact]
    public async Task TwoChecksumHeaders_AreInvalidRequest()
    {
        var (vault, key, s3) = await BucketAsync();
        using var _ = s3;
        using var raw = app.Raw();
        var payload = "x"u8.ToArray();

        using var answer = await raw.SendAsync(Put(vault.Name, "p.csv", key, payload,
            ("x-amz-checksum-crc32", Chunked.Checksum("x-amz-checksum-crc32", payload)), ("x-amz-checksum-sha1", Chunked.Checksum("x-amz-checksum-sha1", payload))), Ct);

        answer.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await answer.Content.ReadAsStringAsync(Ct)).ShouldContain("<Code>InvalidRequest</Code>");
    }

    /// <summary>A PUT signed now with the payload's SHA-256 and <paramref name="extra"/> headers signed too.</summary>
    private HttpRequestMessage Put(string bucket, string key, IssuedAccessKey accessKey, byte[] payload, params (string Name, string Value)[] extra)
    {
        var request = Signed(bucket, key, accessKey, SigV4.Hex(SHA256.HashData(payload)), extra, out _, out _, out _);
        request.Content = new ByteArrayContent(payload);
        return request;
    }

    /// <summary>A PUT with a signed aws-chunked body whose trailer carries <paramref name="header"/>: <paramref name="value"/>.</summary>
    private HttpRequestMessage TrailerPut(string bucket, string key, IssuedAccessKey accessKey, byte[] payload, string header, string value)
    {
        var request = Signed(bucket, key, accessKey, S3Body.StreamingSignedTrailer,
            [("x-amz-decoded-content-length", payload.Length.ToString(CultureInfo.InvariantCulture)), ("x-amz-trailer", header)],
            out var signingKey, out var amzDate, out var seed);
        var scope = $"{amzDate[..8]}/us-east-1/s3/aws4_request";
        request.Content = new ByteArrayContent(Chunked.Signed(payload, value, header, signingKey, amzDate, scope, seed));
        request.Content.Headers.ContentEncoding.Add("aws-chunked");
        return request;
    }

    private HttpRequestMessage Signed(string bucket, string key, IssuedAccessKey accessKey, string contentSha256, IReadOnlyList<(string Name, string Value)> extra,
        out byte[] signingKey, out string amzDate, out string signature)
    {
        amzDate = HandSigned.AmzDate(TimeProvider.System.GetUtcNow());
        var path = $"/{bucket}/{key}";
        var headers = new Dictionary<string, string> { ["host"] = app.S3Endpoint.Authority, ["x-amz-content-sha256"] = contentSha256, ["x-amz-date"] = amzDate };
        foreach (var (name, value) in extra)
        {
            headers[name] = value;
        }
        var names = headers.Keys.Order(StringComparer.Ordinal).ToList();
        var canonical = SigV4.CanonicalRequest(new SigV4Request("PUT", path, "", n => headers.GetValueOrDefault(n), contentSha256), names, presigned: false)!;
        var scope = $"{amzDate[..8]}/us-east-1/s3/aws4_request";
        signingKey = SigV4.SigningKey(accessKey.Secret, amzDate[..8], "us-east-1", "s3");
        signature = SigV4.Signature(signingKey, SigV4.StringToSign(amzDate, scope, canonical));
        var request = new HttpRequestMessage(HttpMethod.Put, new Uri(app.S3Endpoint, path));
        foreach (var (name, value) in headers.Where(h => h.Key != "host"))
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        request.Headers.TryAddWithoutValidation("Authorization",
            $"{SigV4.Algorithm} Credential={accessKey.Id}/{scope}, SignedHeaders={string.Join(';', names)}, Signature={signature}");
        return request;
    }
}

using System.Text;
using Welkin.Server.S3;

namespace Welkin.Server.Tests.S3;

/// <summary>
/// aws-chunked bodies against AWS's published example of a signed streaming upload (66,560 bytes of 'a'
/// in chunks of 65,536, 1,024 and 0 bytes, with the example credentials of <see cref="SigV4Tests"/>):
/// "Signature Calculations for the Authorization Header: Transferring Payload in Multiple Chunks",
/// docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html.
/// </summary>
public sealed class AwsChunkedTests
{
    private const string Seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
    private const string Chunk1 = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648";
    private const string Chunk2 = "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497";
    private const string Final = "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9";
    private const string Scope = "20130524/us-east-1/s3/aws4_request";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly byte[] Key = SigV4.SigningKey("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1", "s3");

    private static byte[] Body(Action<byte[]>? corruptSecond = null, bool withFinal = true, string trailer = "")
    {
        var body = new MemoryStream();
        void Chunk(int size, string signature, Action<byte[]>? corrupt = null)
        {
            var data = Enumerable.Repeat((byte)'a', size).ToArray();
            corrupt?.Invoke(data);
            body.Write(Encoding.ASCII.GetBytes($"{size:x};chunk-signature={signature}\r\n"));
            body.Write(data);
            body.Write("\r\n"u8);
        }
        Chunk(65536, Chunk1);
        Chunk(1024, Chunk2, corruptSecond);
        if (withFinal)
        {
            Chunk(0, Final);
        }
        body.Write(Encoding.ASCII.GetBytes(trailer));
        return body.ToArray();
    }

    private static async Task<byte[]> ReadAllAsync(byte[] body, int bufferSize = 8192, long? decodedLength = 66560)
    {
        await using var stream = new AwsChunkedStream(new MemoryStream(body), Key, "20130524T000000Z", Scope, Seed, decodedLength);
        var output = new MemoryStream();
        var buffer = new byte[bufferSize];
        int read;
        while ((read = await stream.ReadAsync(buffer, Ct)) > 0)
        {
            output.Write(buffer, 0, read);
        }
        return output.ToArray();
    }

    [Fact]
    public void SeedSignature_MatchesAwsExample()
    {
        var headers = new Dictionary<string, string>
        {
            ["content-encoding"] = "aws-chunked", ["content-length"] = "66824", ["host"] = "s3.amazonaws.com",
            ["x-amz-content-sha256"] = S3Body.StreamingSigned, ["x-amz-date"] = "20130524T000000Z", ["x-amz-decoded-content-length"] = "66560",
            ["x-amz-storage-class"] = "REDUCED_REDUNDANCY",
        };
        var canonical = SigV4.CanonicalRequest(new SigV4Request("PUT", "/examplebucket/chunkObject.txt", "", n => headers.GetValueOrDefault(n), S3Body.StreamingSigned),
            headers.Keys.Order(StringComparer.Ordinal).ToList(), presigned: false)!;

        SigV4.Signature(Key, SigV4.StringToSign("20130524T000000Z", Scope, canonical)).ShouldBe(Seed);
        Body().Length.ShouldBe(66824);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(8192)]
    [InlineData(100_000)]
    public async Task AwsExampleBody_DecodesToItsPayload_WhateverTheReadSize(int bufferSize)
    {
        var payload = await ReadAllAsync(Body(), bufferSize);

        payload.Length.ShouldBe(66560);
        payload.ShouldAllBe(b => b == (byte)'a');
    }

    [Fact]
    public async Task ChangedByte_IsSignatureDoesNotMatch()
    {
        var refused = await Should.ThrowAsync<S3PayloadException>(() => ReadAllAsync(Body(data => data[10] = (byte)'b')));

        refused.Error.Code.ShouldBe("SignatureDoesNotMatch");
    }

    [Fact]
    public async Task ChunksReplayedUnderAnotherSeed_AreSignatureDoesNotMatch()
    {
        await using var stream = new AwsChunkedStream(new MemoryStream(Body()), Key, "20130524T000000Z", Scope, Chunk2, 66560);

        var refused = await Should.ThrowAsync<S3PayloadException>(() => stream.CopyToAsync(Stream.Null, Ct));

        refused.Error.Code.ShouldBe("SignatureDoesNotMatch");
    }

    [Fact]
    public async Task MissingFinalChunk_IsIncompleteBody()
    {
        var refused = await Should.ThrowAsync<S3PayloadException>(() => ReadAllAsync(Body(withFinal: false)));

        refused.Error.Code.ShouldBe("IncompleteBody");
    }

    [Fact]
    public async Task WrongDecodedLength_IsIncompleteBody()
    {
        var refused = await Should.ThrowAsync<S3PayloadException>(() => ReadAllAsync(Body(), decodedLength: 66561));

        refused.Error.Code.ShouldBe("IncompleteBody");
    }

    [Theory]
    [InlineData("junk")]
    [InlineData("x-amz-checksum-crc32:AAAAAA==\r\n\r\n")]
    public async Task BytesAfterTheFinalChunk_AreRefused(string trailer)
    {
        var refused = await Should.ThrowAsync<S3PayloadException>(() => ReadAllAsync(Body(trailer: trailer)));

        refused.Error.Code.ShouldBe("InvalidRequest");
    }

    [Theory]
    [InlineData("zz;chunk-signature=" + Chunk1 + "\r\n")]
    [InlineData("10000\r\n")]
    [InlineData("10000;chunk-signature=short\r\n")]
    [InlineData("fffffffff;chunk-signature=" + Chunk1 + "\r\n")]
    [InlineData("10000;chunk-signature=" + Chunk1 + "\n")]
    public async Task MalformedChunkHeader_IsInvalidRequest(string header)
    {
        var refused = await Should.ThrowAsync<S3PayloadException>(() => ReadAllAsync(Encoding.ASCII.GetBytes(header + new string('a', 100))));

        refused.Error.Code.ShouldBeOneOf("InvalidRequest", "IncompleteBody");
    }
}

using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Welkin.Server.S3;

/// <summary>A request body that turned out to break what its signature promised; the S3 face answers with <see cref="Error"/>.</summary>
public sealed class S3PayloadException(S3Error error) : Exception(error.Message)
{
    public S3Error Error { get; } = error;
}

/// <summary>
/// The body of an S3 request as its signature covers it. Read it to its end: only then is the last
/// check made, and a failed check throws <see cref="S3PayloadException"/> (which the gateway answers
/// as its S3 error), so a consumer keeps nothing until the read completes.
/// </summary>
public static class S3Body
{
    public const string StreamingSigned = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";

    /// <summary>
    /// The payload: checked against its SHA-256 (a hex <c>x-amz-content-sha256</c>), as sent
    /// (UNSIGNED-PAYLOAD), or decoded from aws-chunked with every chunk signature verified
    /// (STREAMING-AWS4-HMAC-SHA256-PAYLOAD). The other STREAMING-* forms (trailers, ECDSA) are refused.
    /// </summary>
    public static (Stream? Body, S3Error? Error) Open(HttpRequest request, S3Identity identity)
    {
        var declared = identity.ContentSha256;
        if (declared == SigV4.UnsignedPayload)
        {
            return (request.Body, null);
        }
        if (declared == StreamingSigned)
        {
            long? decoded = long.TryParse(request.Headers["x-amz-decoded-content-length"].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var n)
                ? n : null;
            return (new AwsChunkedStream(request.Body, identity.SigningKey, identity.Claim.AmzDate, identity.Claim.Scope, identity.Claim.Signature, decoded), null);
        }
        if (declared.StartsWith("STREAMING-", StringComparison.Ordinal))
        {
            return (null, S3Errors.NotImplemented(
                $"x-amz-content-sha256 {declared} is not accepted: sign the payload's SHA-256, send UNSIGNED-PAYLOAD, or use {StreamingSigned}."));
        }
        return (new Sha256CheckingStream(request.Body, declared), null);
    }

    /// <summary>Passes the bytes through; at their end, refuses them unless their SHA-256 is the signed one.</summary>
    private sealed class Sha256CheckingStream(Stream inner, string expectedHex) : ReadOnlyStream
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await inner.ReadAsync(buffer, cancellationToken);
            if (read > 0)
            {
                _hash.AppendData(buffer.Span[..read]);
            }
            else if (SigV4.Hex(_hash.GetHashAndReset()) != expectedHex)
            {
                throw new S3PayloadException(S3Errors.ContentSha256Mismatch());
            }
            return read;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _hash.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}

/// <summary>
/// Decodes an aws-chunked body (AWS: "Signature Calculations for the Authorization Header: Transferring
/// Payload in Multiple Chunks", docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html): each chunk
/// is <c>hex-size;chunk-signature=SIG\r\n</c>, its bytes and <c>\r\n</c>, the last one of size 0. A chunk's
/// signature chains from the previous one (the seed: the request's own signature) over the SHA-256 of its
/// bytes. Bytes pass through as they come; a chunk whose signature is wrong throws before the next one,
/// and the end of the stream is reported only after the final chunk verified.
/// </summary>
public sealed class AwsChunkedStream(Stream inner, byte[] signingKey, string amzDate, string scope, string seedSignature, long? decodedLength)
    : ReadOnlyStream
{
    /// <summary>Largest chunk accepted (clients send 8 KiB to 1 MiB).</summary>
    public const int MaxChunkBytes = 16 * 1024 * 1024;

    private const int MaxHeaderLine = 4096;

    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly byte[] _one = new byte[1];
    private string _previous = seedSignature;
    private string _chunkSignature = "";
    private long _remaining;
    private long _total;
    private bool _done;

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_done || buffer.Length == 0)
        {
            return 0;
        }
        if (_remaining == 0)
        {
            await NextChunkAsync(cancellationToken);
            if (_done)
            {
                return 0;
            }
        }
        var read = await inner.ReadAsync(buffer[..(int)Math.Min(buffer.Length, _remaining)], cancellationToken);
        if (read == 0)
        {
            throw Incomplete();
        }
        _hash.AppendData(buffer.Span[..read]);
        _remaining -= read;
        _total += read;
        if (_remaining == 0)
        {
            await ExpectCrLfAsync(cancellationToken);
            Verify();
        }
        return read;
    }

    private async Task NextChunkAsync(CancellationToken ct)
    {
        var line = await ReadLineAsync(ct);
        var separator = line.IndexOf(";chunk-signature=", StringComparison.Ordinal);
        if (separator <= 0 || separator > 8
            || !long.TryParse(line.AsSpan(0, separator), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var size)
            || size > MaxChunkBytes)
        {
            throw Malformed($"a chunk header must be hex-size;chunk-signature=SIGNATURE, with at most {MaxChunkBytes} bytes a chunk");
        }
        _chunkSignature = line[(separator + ";chunk-signature=".Length)..];
        if (_chunkSignature.Length != 64 || !_chunkSignature.All(char.IsAsciiHexDigitLower))
        {
            throw Malformed("a chunk signature must be 64 lower-case hex digits");
        }
        _remaining = size;
        if (size > 0)
        {
            return;
        }
        Verify();
        await ExpectCrLfAsync(ct);
        if (await inner.ReadAsync(_one, ct) != 0)
        {
            throw Malformed("bytes follow the final chunk");
        }
        if (decodedLength is { } expected && expected != _total)
        {
            throw new S3PayloadException(new S3Error("IncompleteBody", 400,
                "You did not provide the number of bytes specified by the x-amz-decoded-content-length HTTP header."));
        }
        _done = true;
    }

    private void Verify()
    {
        var stringToSign = $"AWS4-HMAC-SHA256-PAYLOAD\n{amzDate}\n{scope}\n{_previous}\n{SigV4.EmptySha256}\n{SigV4.Hex(_hash.GetHashAndReset())}";
        var expected = SigV4.Signature(signingKey, stringToSign);
        if (!SigV4.SameSignature(expected, _chunkSignature))
        {
            throw new S3PayloadException(S3Errors.SignatureDoesNotMatch());
        }
        _previous = expected;
    }

    private async Task<string> ReadLineAsync(CancellationToken ct)
    {
        var line = new StringBuilder();
        while (true)
        {
            if (await inner.ReadAsync(_one, ct) == 0)
            {
                throw Incomplete();
            }
            if (_one[0] == '\r')
            {
                if (await inner.ReadAsync(_one, ct) == 0 || _one[0] != '\n')
                {
                    throw Malformed("a chunk header must end with CRLF");
                }
                return line.ToString();
            }
            if (line.Length >= MaxHeaderLine || _one[0] is < 0x20 or > 0x7E)
            {
                throw Malformed("a chunk header is too long or not printable ASCII");
            }
            line.Append((char)_one[0]);
        }
    }

    private async Task ExpectCrLfAsync(CancellationToken ct)
    {
        for (var i = 0; i < 2; i++)
        {
            if (await inner.ReadAsync(_one, ct) == 0)
            {
                throw Incomplete();
            }
            if (_one[0] != (i == 0 ? '\r' : '\n'))
            {
                throw Malformed("a chunk's bytes must be followed by CRLF");
            }
        }
    }

    private static S3PayloadException Malformed(string why) =>
        new(S3Errors.InvalidRequest("The aws-chunked body is malformed: " + why + "."));

    private static S3PayloadException Incomplete() =>
        new(new S3Error("IncompleteBody", 400, "The aws-chunked body ended before its final chunk."));

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash.Dispose();
        }
        base.Dispose(disposing);
    }
}

/// <summary>The plumbing of a forward-only read stream; subclasses implement <see cref="ReadAsync(Memory{byte}, CancellationToken)"/>.</summary>
public abstract class ReadOnlyStream : Stream
{
    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public abstract override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

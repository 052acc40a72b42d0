using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Welkin.Core.Common;

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

    public const string StreamingSignedTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";

    public const string StreamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

    /// <summary>Whether the body is aws-chunked: its length is then <c>x-amz-decoded-content-length</c>, not Content-Length.</summary>
    public static bool IsChunked(string contentSha256) =>
        contentSha256 is StreamingSigned or StreamingSignedTrailer or StreamingUnsignedTrailer;

    /// <summary>
    /// The payload: checked against its SHA-256 (a hex <c>x-amz-content-sha256</c>), as sent
    /// (UNSIGNED-PAYLOAD), or decoded from aws-chunked with every chunk signature verified
    /// (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), with a trailing checksum verified and its trailer signature
    /// too (the -TRAILER forms). A checksum header sent plainly (<see cref="S3Checksum.Headers"/>) is
    /// checked against the decoded bytes, except <paramref name="checkedByOperation"/>, which the
    /// operation checks itself. ECDSA-signed forms are refused.
    /// </summary>
    /// <param name="payloadCheckedByOperation">The operation checks a signed SHA-256 of the payload itself (against a digest it computes anyway).</param>
    public static (Stream? Body, S3Error? Error) Open(HttpRequest request, S3Identity identity, string? checkedByOperation = null, bool payloadCheckedByOperation = false)
    {
        var (checksum, expected, invalid) = S3Checksum.FromHeaders(request.Headers, checkedByOperation);
        if (invalid is not null)
        {
            return (null, invalid);
        }
        var (body, error) = payloadCheckedByOperation && IsPayloadSha256(identity.ContentSha256)
            ? (request.Body, null)
            : Decoded(request, identity, hasPlainChecksum: checksum is not null || request.Headers.ContainsKey(checkedByOperation ?? ""));
        if (error is not null || checksum is null)
        {
            checksum?.Dispose();
            return (body, error);
        }
        return (new ChecksumCheckingStream(body!, checksum, expected!), null);
    }

    /// <summary>Whether <c>x-amz-content-sha256</c> is the payload's SHA-256 itself (64 lower-case hex digits), not one of the named forms.</summary>
    public static bool IsPayloadSha256(string contentSha256) => contentSha256.Length == 64 && contentSha256.All(char.IsAsciiHexDigitLower);

    /// <summary>The checksum a body verified by its end (a plain header or a trailer), for the operation to echo; null if none.</summary>
    public static (string Header, string Value)? VerifiedChecksum(Stream? body) => (body as IS3ChecksumSource)?.Verified;

    private static (Stream? Body, S3Error? Error) Decoded(HttpRequest request, S3Identity identity, bool hasPlainChecksum)
    {
        var declared = identity.ContentSha256;
        if (declared == SigV4.UnsignedPayload)
        {
            return (request.Body, null);
        }
        long? decoded = long.TryParse(request.Headers["x-amz-decoded-content-length"].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? n : null;
        if (declared == StreamingSigned)
        {
            return (new AwsChunkedStream(request.Body, identity.SigningKey, identity.Claim.AmzDate, identity.Claim.Scope, identity.Claim.Signature, decoded), null);
        }
        if (declared is StreamingSignedTrailer or StreamingUnsignedTrailer)
        {
            var trailer = request.Headers["x-amz-trailer"].ToString().Trim();
            if (hasPlainChecksum && trailer.Length > 0)
            {
                return (null, S3Checksum.MultipleChecksums());
            }
            if (S3Checksum.For(trailer) is not { } checksum)
            {
                return (null, S3Errors.InvalidRequest(trailer.Length == 0
                    ? $"x-amz-content-sha256 {declared} needs an x-amz-trailer header naming the trailing checksum."
                    : "The value specified in the x-amz-trailer header is not supported."));
            }
            var signingKey = declared == StreamingSignedTrailer ? identity.SigningKey : null;
            return (new AwsChunkedStream(request.Body, signingKey, identity.Claim.AmzDate, identity.Claim.Scope, identity.Claim.Signature, decoded, checksum), null);
        }
        if (declared.StartsWith("STREAMING-", StringComparison.Ordinal))
        {
            return (null, S3Errors.NotImplemented(
                $"x-amz-content-sha256 {declared} is not accepted: sign the payload's SHA-256, send UNSIGNED-PAYLOAD, or use {StreamingSigned} (with or without -TRAILER) or {StreamingUnsignedTrailer}."));
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
/// bytes. Without a <paramref name="signingKey"/> the chunks are unsigned (<c>hex-size\r\n</c>).
/// With a <paramref name="trailer"/> checksum, trailing headers follow the final chunk ("Signature
/// calculations for trailing headers", sigv4-streaming-trailers.html): the checksum, and when signed
/// <c>x-amz-trailer-signature</c>, chained from the final chunk's signature over the SHA-256 of the
/// trailing headers as <c>name:value\n</c> lines. Bytes pass through as they come; a chunk whose
/// signature is wrong throws before the next one, and the end of the stream is reported only after the
/// final chunk, the trailer's signature and the checksum verified.
/// </summary>
public sealed class AwsChunkedStream(Stream body, byte[]? signingKey, string amzDate, string scope, string seedSignature, long? decodedLength,
    S3Checksum? trailer = null) : ReadOnlyStream, IS3ChecksumSource
{
    /// <summary>Largest chunk accepted (clients send 8 KiB to 1 MiB).</summary>
    public const int MaxChunkBytes = 16 * 1024 * 1024;

    private const int MaxHeaderLine = 4096;

    private const int MaxTrailerLines = 8;

    private const string SignatureSeparator = ";chunk-signature=";

    // Chunk headers and CRLFs are read a byte at a time: from a buffer, not from the connection each time.
    private readonly BufferedStream _inner = new(body, 64 * 1024);
    private readonly IncrementalHash? _hash = signingKey is null ? null : IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly byte[] _one = new byte[1];
    private string _previous = seedSignature;
    private string _chunkSignature = "";
    private long _remaining;
    private long _total;
    private bool _done;

    public (string Header, string Value)? Verified { get; private set; }

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
        var read = await _inner.ReadAsync(buffer[..(int)Math.Min(buffer.Length, _remaining)], cancellationToken);
        if (read == 0)
        {
            throw Incomplete();
        }
        _hash?.AppendData(buffer.Span[..read]);
        trailer?.Append(buffer.Span[..read]);
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
        var separator = signingKey is null ? line.Length : line.IndexOf(SignatureSeparator, StringComparison.Ordinal);
        if (separator <= 0 || separator > 8
            || !long.TryParse(line.AsSpan(0, separator), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var size)
            || size > MaxChunkBytes)
        {
            throw Malformed(signingKey is null
                ? $"a chunk header must be hex-size, with at most {MaxChunkBytes} bytes a chunk"
                : $"a chunk header must be hex-size;chunk-signature=SIGNATURE, with at most {MaxChunkBytes} bytes a chunk");
        }
        if (signingKey is not null)
        {
            _chunkSignature = line[(separator + SignatureSeparator.Length)..];
            if (!IsSignature(_chunkSignature))
            {
                throw Malformed("a chunk signature must be 64 lower-case hex digits");
            }
        }
        _remaining = size;
        if (size > 0)
        {
            return;
        }
        Verify();
        if (trailer is null)
        {
            await ExpectCrLfAsync(ct);
        }
        else
        {
            await ReadTrailerAsync(trailer, ct);
        }
        if (await _inner.ReadAsync(_one, ct) != 0)
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

    /// <summary>The trailing headers after the final chunk, up to the empty line that ends them; the checksum checked last.</summary>
    private async Task ReadTrailerAsync(S3Checksum checksum, CancellationToken ct)
    {
        var headers = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var line = await ReadLineAsync(ct);
        // Some clients close the final chunk's (empty) data with CRLF before the trailer, as for any chunk.
        if (line.Length == 0)
        {
            line = await ReadLineAsync(ct);
        }
        for (; line.Length > 0; line = await ReadLineAsync(ct))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || headers.Count == MaxTrailerLines || !headers.TryAdd(line[..colon].Trim().ToLowerInvariant(), line[(colon + 1)..].Trim()))
            {
                throw Malformed("a trailing header must be name:value, each name once");
            }
        }
        if (signingKey is not null)
        {
            if (!headers.Remove("x-amz-trailer-signature", out var signature) || !IsSignature(signature))
            {
                throw Malformed("a signed trailer must end with x-amz-trailer-signature, 64 lower-case hex digits");
            }
            var canonical = string.Concat(headers.Select(h => $"{h.Key}:{h.Value}\n"));
            var stringToSign = $"AWS4-HMAC-SHA256-TRAILER\n{amzDate}\n{scope}\n{_previous}\n{SigV4.Hex(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)))}";
            if (!SigV4.SameSignature(SigV4.Signature(signingKey, stringToSign), signature))
            {
                throw new S3PayloadException(S3Errors.SignatureDoesNotMatch());
            }
        }
        if (!headers.TryGetValue(checksum.Header, out var value))
        {
            throw new S3PayloadException(S3Errors.InvalidRequest($"The trailer does not carry the {checksum.Header} that x-amz-trailer names."));
        }
        if (!checksum.IsWellFormed(value))
        {
            throw new S3PayloadException(checksum.Invalid());
        }
        if (!checksum.Matches(value))
        {
            throw new S3PayloadException(checksum.Mismatch());
        }
        Verified = (checksum.Header, value);
    }

    private static bool IsSignature(string signature) => signature.Length == 64 && signature.All(char.IsAsciiHexDigitLower);

    private void Verify()
    {
        if (signingKey is null)
        {
            return;
        }
        var stringToSign = $"AWS4-HMAC-SHA256-PAYLOAD\n{amzDate}\n{scope}\n{_previous}\n{SigV4.EmptySha256}\n{SigV4.Hex(_hash!.GetHashAndReset())}";
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
            if (await _inner.ReadAsync(_one, ct) == 0)
            {
                throw Incomplete();
            }
            if (_one[0] == '\r')
            {
                if (await _inner.ReadAsync(_one, ct) == 0 || _one[0] != '\n')
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
            if (await _inner.ReadAsync(_one, ct) == 0)
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
            _hash?.Dispose();
            trailer?.Dispose();
        }
        base.Dispose(disposing);
    }
}

using System.Buffers.Binary;
using System.IO.Hashing;
using System.Security.Cryptography;
using Welkin.Core.Common;

namespace Welkin.Server.S3;

/// <summary>
/// One of the checksums S3 lets a client send with a body, as a header or as an aws-chunked trailer
/// (AWS: "Checking object integrity", x-amz-checksum-crc32, -crc32c, -crc64nvme, -sha1, -sha256):
/// computed over the decoded bytes as they pass, its value the big-endian digest in base64.
/// </summary>
public sealed class S3Checksum : IDisposable
{
    /// <summary>The checksum headers S3 knows, each naming its algorithm.</summary>
    public static readonly IReadOnlyList<string> Headers =
        ["x-amz-checksum-crc32", "x-amz-checksum-crc32c", "x-amz-checksum-crc64nvme", "x-amz-checksum-sha1", "x-amz-checksum-sha256"];

    private readonly Crc32? _crc32;
    private readonly Crc64? _crc64;
    private readonly IncrementalHash? _hash;

    private S3Checksum(string header, Crc32? crc32, Crc64? crc64, IncrementalHash? hash)
    {
        Header = header;
        _crc32 = crc32;
        _crc64 = crc64;
        _hash = hash;
    }

    /// <summary>The header that carries it, e.g. <c>x-amz-checksum-crc32</c>.</summary>
    public string Header { get; }

    /// <summary>Its algorithm as S3 names it in messages: CRC32, CRC32C, CRC64NVME, SHA1, SHA256.</summary>
    public string Algorithm => Header["x-amz-checksum-".Length..].ToUpperInvariant();

    /// <summary>Bytes of the digest: its base64 value must decode to exactly this many.</summary>
    public int Length => _crc32 is not null ? 4 : _crc64 is not null ? 8 : _hash!.HashLengthInBytes;

    /// <summary>The checksum a header names (any case), or null for a name S3 does not know.</summary>
    public static S3Checksum? For(string header) => header.ToLowerInvariant() switch
    {
        "x-amz-checksum-crc32" => new("x-amz-checksum-crc32", new Crc32(), null, null),
        "x-amz-checksum-crc32c" => new("x-amz-checksum-crc32c", new Crc32(Crc32ParameterSet.Crc32C), null, null),
        "x-amz-checksum-crc64nvme" => new("x-amz-checksum-crc64nvme", null, new Crc64(Crc64ParameterSet.Nvme), null),
        "x-amz-checksum-sha1" => new("x-amz-checksum-sha1", null, null, IncrementalHash.CreateHash(HashAlgorithmName.SHA1)),
        "x-amz-checksum-sha256" => new("x-amz-checksum-sha256", null, null, IncrementalHash.CreateHash(HashAlgorithmName.SHA256)),
        _ => null,
    };

    public void Append(ReadOnlySpan<byte> bytes)
    {
        if (_crc32 is not null)
        {
            _crc32.Append(bytes);
        }
        else if (_crc64 is not null)
        {
            _crc64.Append(bytes);
        }
        else
        {
            _hash!.AppendData(bytes);
        }
    }

    /// <summary>The digest of the bytes appended so far, as S3 writes it: big-endian, base64.</summary>
    public string Value()
    {
        var digest = new byte[Length];
        if (_crc32 is not null)
        {
            BinaryPrimitives.WriteUInt32BigEndian(digest, _crc32.GetCurrentHashAsUInt32());
        }
        else if (_crc64 is not null)
        {
            BinaryPrimitives.WriteUInt64BigEndian(digest, _crc64.GetCurrentHashAsUInt64());
        }
        else
        {
            _hash!.GetCurrentHash(digest);
        }
        return Convert.ToBase64String(digest);
    }

    /// <summary>Whether <paramref name="value"/> is a base64 digest of this algorithm's length.</summary>
    public bool IsWellFormed(string value)
    {
        Span<byte> decoded = stackalloc byte[64];
        return Convert.TryFromBase64String(value, decoded, out var written) && written == Length;
    }

    /// <summary>Whether the bytes appended so far have the digest <paramref name="value"/> (well-formed, as <see cref="IsWellFormed"/>).</summary>
    public bool Matches(string value) =>
        CryptographicOperations.FixedTimeEquals(Convert.FromBase64String(Value()), Convert.FromBase64String(value));

    public S3Error Mismatch() => new("BadDigest", 400, $"The {Algorithm} you specified did not match the calculated checksum.");

    public S3Error Invalid() => S3Errors.InvalidRequest($"Value for {Header} header is invalid.");

    public void Dispose() => _hash?.Dispose();

    /// <summary>
    /// The checksum a request's headers carry plainly, checked as the body is read; none when it sends
    /// none. More than one, or a malformed value, is refused (AWS: InvalidRequest).
    /// <paramref name="except"/> names a header the operation checks itself.
    /// </summary>
    public static (S3Checksum? Checksum, string? Expected, S3Error? Error) FromHeaders(IHeaderDictionary headers, string? except = null)
    {
        var sent = Headers.Where(h => headers.ContainsKey(h)).ToList();
        if (sent.Count > 1)
        {
            return (null, null, MultipleChecksums());
        }
        if (sent.Count == 0 || sent[0] == except)
        {
            return (null, null, null);
        }
        var checksum = For(sent[0])!;
        var value = headers[sent[0]].ToString();
        if (!checksum.IsWellFormed(value))
        {
            var invalid = checksum.Invalid();
            checksum.Dispose();
            return (null, null, invalid);
        }
        return (checksum, value, null);
    }

    public static S3Error MultipleChecksums() =>
        S3Errors.InvalidRequest("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.");
}

/// <summary>A body stream that has verified a checksum of S3's by its end; the operation echoes it on its answer, as AWS does.</summary>
public interface IS3ChecksumSource
{
    /// <summary>The header and value verified; null until the end of the body, or when none was sent.</summary>
    (string Header, string Value)? Verified { get; }
}

/// <summary>Passes the bytes through; at their end, refuses them (BadDigest) unless their checksum is the one the header sent.</summary>
public sealed class ChecksumCheckingStream(Stream inner, S3Checksum checksum, string expected) : ReadOnlyStream, IS3ChecksumSource
{
    public (string Header, string Value)? Verified { get; private set; }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await inner.ReadAsync(buffer, cancellationToken);
        if (read > 0)
        {
            checksum.Append(buffer.Span[..read]);
        }
        else if (buffer.Length > 0 && Verified is null)
        {
            if (!checksum.Matches(expected))
            {
                throw new S3PayloadException(checksum.Mismatch());
            }
            Verified = (checksum.Header, expected);
        }
        return read;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            checksum.Dispose();
        }
        base.Dispose(disposing);
    }
}

/// <summary>
/// The integrity header S3 requires on some request bodies (Object Lock configuration, retention,
/// legal holds, versioning, DeleteObjects): Content-MD5 or an x-amz-checksum-* header, checked
/// against the body (AWS: "Checking object integrity").
/// </summary>
public static class S3Checksums
{
    /// <summary>Null when the body carries an integrity header and matches every one sent; else the S3 error.</summary>
    public static S3Error? CheckRequired(IHeaderDictionary headers, byte[] body)
    {
        var md5 = headers["Content-MD5"].ToString();
        var (checksum, expected, invalid) = S3Checksum.FromHeaders(headers);
        using (checksum)
        {
            if (invalid is not null)
            {
                return invalid;
            }
            if (md5.Length == 0 && checksum is null)
            {
                return S3Errors.InvalidRequest("Missing required header for this request: Content-MD5 (or an x-amz-checksum- header).");
            }
            if (md5.Length > 0)
            {
                var sent = new byte[16];
                if (!Convert.TryFromBase64String(md5, sent, out var written) || written != 16)
                {
                    return new S3Error("InvalidDigest", 400, "The Content-MD5 you specified was invalid.");
                }
                if (!CryptographicOperations.FixedTimeEquals(sent, Md5(body)))
                {
                    return new S3Error("BadDigest", 400, "The Content-MD5 you specified did not match what we received.");
                }
            }
            if (checksum is not null)
            {
                checksum.Append(body);
                if (!checksum.Matches(expected!))
                {
                    return checksum.Mismatch();
                }
            }
            return null;
        }
    }

    /// <summary>MD5 checks integrity here, not authenticity: the signature covers the body.</summary>
    private static byte[] Md5(byte[] body)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        hash.AppendData(body);
        return hash.GetHashAndReset();
    }
}

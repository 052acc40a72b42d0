using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Welkin.Server.S3;

/// <summary>
/// The integrity header S3 requires on some request bodies (Object Lock configuration, retention,
/// legal holds, versioning): Content-MD5 or one x-amz-checksum-* header, checked against the body.
/// Amazon S3 API Reference, "Checking object integrity": the values are base64 of the digest, CRCs big-endian.
/// </summary>
public static class S3Checksums
{
    private const uint Crc32Polynomial = 0xEDB88320;
    private const uint Crc32CPolynomial = 0x82F63B78;

    /// <summary>Null when the body carries an integrity header it matches; else the S3 error.</summary>
    public static S3Error? Check(IHeaderDictionary headers, byte[] body)
    {
        var md5 = headers["Content-MD5"].ToString();
        var checksums = headers.Keys.Where(h => h.StartsWith("x-amz-checksum-", StringComparison.OrdinalIgnoreCase)
            && !h.Equals("x-amz-checksum-type", StringComparison.OrdinalIgnoreCase)).ToList();
        if (md5.Length == 0 && checksums.Count == 0)
        {
            return S3Errors.InvalidRequest("Missing required header for this request: Content-MD5 (or an x-amz-checksum- header).");
        }
        if (md5.Length > 0 && !Matches(md5, Hash(HashAlgorithmName.MD5, body)))
        {
            return Decode(md5, 16) is null
                ? new S3Error("InvalidDigest", 400, "The Content-MD5 you specified was invalid.")
                : new S3Error("BadDigest", 400, "The Content-MD5 you specified did not match what we received.");
        }
        foreach (var header in checksums)
        {
            var algorithm = header["x-amz-checksum-".Length..].ToLowerInvariant();
            byte[]? actual = algorithm switch
            {
                "sha256" => SHA256.HashData(body),
                "sha1" => Hash(HashAlgorithmName.SHA1, body),
                "crc32" => BigEndian(Crc(body, Crc32Polynomial)),
                "crc32c" => BigEndian(Crc(body, Crc32CPolynomial)),
                _ => null,
            };
            if (actual is null)
            {
                return S3Errors.NotImplemented($"{header} is not checked on this endpoint: send Content-MD5, or an x-amz-checksum- of crc32, crc32c, sha1 or sha256.");
            }
            var value = headers[header].ToString();
            if (Decode(value, actual.Length) is null)
            {
                return S3Errors.InvalidRequest($"Value for {header.ToLowerInvariant()} header is invalid.");
            }
            if (!Matches(value, actual))
            {
                return new S3Error("BadDigest", 400, $"The {algorithm.ToUpperInvariant()} you specified did not match the calculated checksum.");
            }
        }
        return null;
    }

    private static bool Matches(string base64, byte[] actual) => Decode(base64, actual.Length) is { } sent && CryptographicOperations.FixedTimeEquals(sent, actual);

    private static byte[]? Decode(string base64, int length)
    {
        var bytes = new byte[length];
        return Convert.TryFromBase64String(base64, bytes, out var written) && written == length ? bytes : null;
    }

    /// <summary>A digest the client chose (MD5 and SHA-1 here check integrity, not authenticity: the signature covers the body).</summary>
    private static byte[] Hash(HashAlgorithmName algorithm, byte[] body)
    {
        using var hash = IncrementalHash.CreateHash(algorithm);
        hash.AppendData(body);
        return hash.GetHashAndReset();
    }

    private static byte[] BigEndian(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return bytes;
    }

    /// <summary>A reflected CRC-32 (bit by bit: these bodies are at most S3:MaxXmlBodyBytes).</summary>
    private static uint Crc(ReadOnlySpan<byte> data, uint polynomial)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var bit = 0; bit < 8; bit++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ polynomial : crc >> 1;
            }
        }
        return ~crc;
    }
}

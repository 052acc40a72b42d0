using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Welkin.Server.S3;

/// <summary>
/// The integrity headers of an operation whose body S3 requires them for (DeleteObjects):
/// <c>Content-MD5</c> or one of the <c>x-amz-checksum-*</c> headers (CRC32, CRC32C, CRC64NVME, SHA-1,
/// SHA-256, each base64 of the big-endian digest), every one sent checked against the whole body.
/// </summary>
public static class S3Checksums
{
    private static readonly ulong[] Crc32Table = Table(0xEDB88320);
    private static readonly ulong[] Crc32CTable = Table(0x82F63B78);
    private static readonly ulong[] Crc64NvmeTable = Table(0x9A6C9329AC4BC9B5);

    private static readonly (string Header, string Name, Func<byte[], byte[]> Digest)[] Checksums =
    [
        ("x-amz-checksum-crc32", "CRC32", Crc32),
        ("x-amz-checksum-crc32c", "CRC32C", Crc32C),
        ("x-amz-checksum-crc64nvme", "CRC64NVME", Crc64Nvme),
#pragma warning disable CA5350 // SHA-1 is one of S3's integrity checksums here, not a security measure.
        ("x-amz-checksum-sha1", "SHA1", SHA1.HashData),
#pragma warning restore CA5350
        ("x-amz-checksum-sha256", "SHA256", SHA256.HashData),
    ];

    /// <summary>Refuses the body unless an integrity header came with it and every one sent matches it.</summary>
    public static S3Error? CheckRequired(HttpRequest request, byte[] body)
    {
        var any = false;
        if (request.Headers["Content-MD5"].ToString() is { Length: > 0 } md5)
        {
            any = true;
            var sent = new byte[16];
            if (!Convert.TryFromBase64String(md5, sent, out var written) || written != 16)
            {
                return new S3Error("InvalidDigest", 400, "The Content-MD5 you specified was invalid.");
            }
#pragma warning disable CA5351 // Content-MD5 is S3's integrity header, not a security measure.
            if (!MD5.HashData(body).AsSpan().SequenceEqual(sent))
#pragma warning restore CA5351
            {
                return new S3Error("BadDigest", 400, "The Content-MD5 you specified did not match what we received.");
            }
        }
        foreach (var (header, name, digest) in Checksums)
        {
            if (request.Headers[header].ToString() is not { Length: > 0 } value)
            {
                continue;
            }
            any = true;
            var expected = digest(body);
            var sent = new byte[expected.Length];
            if (!Convert.TryFromBase64String(value, sent, out var written) || written != expected.Length)
            {
                return S3Errors.InvalidRequest($"Value for {header} header is invalid.");
            }
            if (!expected.AsSpan().SequenceEqual(sent))
            {
                return new S3Error("BadDigest", 400, $"The {name} you specified did not match the calculated checksum.");
            }
        }
        return any ? null : S3Errors.InvalidRequest("Missing required header for this request: Content-MD5 OR x-amz-checksum-*");
    }

    public static byte[] Crc32(byte[] data) => Crc(Crc32Table, data, 4);

    public static byte[] Crc32C(byte[] data) => Crc(Crc32CTable, data, 4);

    public static byte[] Crc64Nvme(byte[] data) => Crc(Crc64NvmeTable, data, 8);

    /// <summary>A reflected CRC with all-ones initial value and final XOR (CRC-32, CRC-32C, CRC-64/NVME alike), big-endian.</summary>
    private static byte[] Crc(ulong[] table, ReadOnlySpan<byte> data, int bytes)
    {
        var mask = bytes == 8 ? ulong.MaxValue : (1UL << (bytes * 8)) - 1;
        var crc = mask;
        foreach (var b in data)
        {
            crc = table[(int)((crc ^ b) & 0xFF)] ^ (crc >> 8);
        }
        crc ^= mask;
        var output = new byte[bytes];
        if (bytes == 8)
        {
            BinaryPrimitives.WriteUInt64BigEndian(output, crc);
        }
        else
        {
            BinaryPrimitives.WriteUInt32BigEndian(output, (uint)crc);
        }
        return output;
    }

    private static ulong[] Table(ulong polynomial)
    {
        var table = new ulong[256];
        for (var i = 0; i < 256; i++)
        {
            var c = (ulong)i;
            for (var k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? polynomial ^ (c >> 1) : c >> 1;
            }
            table[i] = c;
        }
        return table;
    }
}

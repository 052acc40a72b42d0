using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Welkin.Core.Instances;

/// <summary>OpenSSH public keys (RFC 4253 6.6 key blobs in the authorized_keys line format).</summary>
public static class SshKeys
{
    public const int MaxLength = 16 * 1024;

    private static readonly HashSet<string> Types = new(StringComparer.Ordinal)
    {
        "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
    };

    /// <summary>The key's SHA-256 fingerprint as OpenSSH prints it (<c>SHA256:…</c>), or null when it is not a public key line.</summary>
    public static string? Fingerprint(string? line)
    {
        if (line is null || line.Length > MaxLength)
        {
            return null;
        }
        var parts = line.Trim().Split(' ', 3, StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length < 2 || !Types.Contains(parts[0]))
        {
            return null;
        }
        byte[] blob;
        try
        {
            blob = Convert.FromBase64String(parts[1]);
        }
        catch (FormatException)
        {
            return null;
        }
        // The blob starts with the key type as a length-prefixed string, which must match the line's.
        if (blob.Length < 4)
        {
            return null;
        }
        var length = BinaryPrimitives.ReadUInt32BigEndian(blob);
        if (length != parts[0].Length || blob.Length < 4 + length + 4
            || System.Text.Encoding.ASCII.GetString(blob, 4, (int)length) != parts[0])
        {
            return null;
        }
        return "SHA256:" + Convert.ToBase64String(SHA256.HashData(blob)).TrimEnd('=');
    }
}

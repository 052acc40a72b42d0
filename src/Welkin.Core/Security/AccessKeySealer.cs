using System.Security.Cryptography;
using System.Text;

namespace Welkin.Core.Security;

/// <summary>
/// Keeps S3 secret access keys encrypted at rest. AWS Signature Version 4 is an HMAC keyed by the
/// secret itself, so the server must be able to recover the secret (a hash, as for API tokens, cannot
/// verify a signature). Each secret is sealed with AES-256-GCM under a key held in a file outside the
/// database (mode 0600), with the access key id as associated data so a sealed secret cannot be moved
/// to another key's row. A copy of the database alone does not reveal any secret.
/// </summary>
public sealed class AccessKeySealer
{
    private const string Scheme = "a256gcm";
    private const int NonceBytes = 12;
    private const int TagBytes = 16;

    private readonly byte[] _key;

    private AccessKeySealer(byte[] key, string? keyFile, bool created)
    {
        _key = key;
        KeyFile = keyFile;
        Created = created;
        KeyId = Convert.ToHexStringLower(SHA256.HashData(key))[..16];
    }

    /// <summary>Identifies the sealing key (a prefix of its SHA-256), stored with each sealed secret so a rotation can tell them apart.</summary>
    public string KeyId { get; }

    public string? KeyFile { get; }

    /// <summary>Whether <see cref="LoadOrCreate"/> made the key file.</summary>
    public bool Created { get; }

    /// <summary>A sealer with a key in memory only (tests).</summary>
    public static AccessKeySealer Ephemeral() => new(RandomNumberGenerator.GetBytes(32), null, false);

    /// <summary>Reads the key file, creating it (32 random bytes, base64, mode 0600) when it does not exist.</summary>
    public static AccessKeySealer LoadOrCreate(string keyFile)
    {
        var created = false;
        if (!File.Exists(keyFile))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(keyFile))!);
            var options = new FileStreamOptions
            {
                Mode = FileMode.CreateNew, Access = FileAccess.Write,
                UnixCreateMode = OperatingSystem.IsWindows() ? null : UnixFileMode.UserRead | UnixFileMode.UserWrite,
            };
            try
            {
                using var stream = new FileStream(keyFile, options);
                stream.Write(Encoding.ASCII.GetBytes(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)) + "\n"));
                stream.Flush(flushToDisk: true);
                created = true;
            }
            catch (IOException) when (File.Exists(keyFile))
            {
                // Another process made it first: use that one.
            }
        }
        var key = Convert.FromBase64String(File.ReadAllText(keyFile).Trim());
        if (key.Length != 32)
        {
            throw new InvalidOperationException($"The access key sealing key {keyFile} does not hold 32 bytes in base64.");
        }
        return new AccessKeySealer(key, keyFile, created);
    }

    /// <summary><c>a256gcm$keyId$base64(nonce | ciphertext | tag)</c>.</summary>
    public string Seal(string accessKeyId, string secret)
    {
        var plain = Encoding.UTF8.GetBytes(secret);
        var sealedBytes = new byte[NonceBytes + plain.Length + TagBytes];
        var nonce = sealedBytes.AsSpan(0, NonceBytes);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_key, TagBytes);
        aes.Encrypt(nonce, plain, sealedBytes.AsSpan(NonceBytes, plain.Length), sealedBytes.AsSpan(NonceBytes + plain.Length), Encoding.ASCII.GetBytes(accessKeyId));
        return $"{Scheme}${KeyId}${Convert.ToBase64String(sealedBytes)}";
    }

    /// <summary>The secret, or null when the value was not sealed by this key for this access key id.</summary>
    public string? Open(string accessKeyId, string sealedValue)
    {
        var parts = sealedValue.Split('$');
        if (parts.Length != 3 || parts[0] != Scheme || parts[1] != KeyId)
        {
            return null;
        }
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(parts[2]);
        }
        catch (FormatException)
        {
            return null;
        }
        if (bytes.Length < NonceBytes + TagBytes)
        {
            return null;
        }
        var length = bytes.Length - NonceBytes - TagBytes;
        var plain = new byte[length];
        using var aes = new AesGcm(_key, TagBytes);
        try
        {
            aes.Decrypt(bytes.AsSpan(0, NonceBytes), bytes.AsSpan(NonceBytes, length), bytes.AsSpan(NonceBytes + length), plain, Encoding.ASCII.GetBytes(accessKeyId));
        }
        catch (AuthenticationTagMismatchException)
        {
            return null;
        }
        return Encoding.UTF8.GetString(plain);
    }
}

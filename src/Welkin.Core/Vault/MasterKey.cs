using System.Security.Cryptography;
using System.Text;

namespace Welkin.Core.Vault;

/// <summary>
/// The key that wraps every tenant key, kept outside the database. How to add one (a KMS, an HSM):
/// implement <see cref="Wrap"/> and <see cref="Unwrap"/> with the service's encrypt and decrypt
/// calls, binding <c>context</c> as the additional authenticated data (AWS KMS: the encryption
/// context), and register it instead of <see cref="FileMasterKey"/>.
/// </summary>
public interface IMasterKey
{
    /// <summary>Names the key (never derived so as to reveal it); stored beside every tenant key it wraps.</summary>
    string KeyId { get; }

    /// <summary>Encrypts <paramref name="key"/>, bound to <paramref name="context"/>.</summary>
    byte[] Wrap(byte[] key, byte[] context);

    /// <summary>Decrypts what <see cref="Wrap"/> made with the same <paramref name="context"/>; null when it was made otherwise or altered.</summary>
    byte[]? Unwrap(byte[] wrapped, byte[] context);
}

/// <summary>Thrown at start-up when the master key file cannot be used as it is.</summary>
public sealed class MasterKeyException(string message) : Exception(message);

/// <summary>
/// The master key in a file of the data directory: 32 random bytes, hex, created on first start
/// with mode 0600 and refused when its mode lets anyone but its owner read or write it.
/// </summary>
public sealed class FileMasterKey : IMasterKey, IDisposable
{
    public const string DefaultFileName = "vault-master.key";

    private const UnixFileMode Wider = (UnixFileMode)0x1FF & ~(UnixFileMode.UserRead | UnixFileMode.UserWrite);

    private readonly byte[] _key;

    private FileMasterKey(byte[] key, string file, bool created)
    {
        _key = key;
        File = file;
        Created = created;
        KeyId = "file:" + Convert.ToHexStringLower(SHA256.HashData([.. "welkin-vault-master-id/1"u8, .. key])[..8]);
    }

    public string KeyId { get; }

    public string File { get; }

    /// <summary>Whether this process created the key file.</summary>
    public bool Created { get; }

    /// <summary>Reads the key file, or creates it (mode 0600) when it does not exist.</summary>
    public static FileMasterKey LoadOrCreate(string file)
    {
        var created = false;
        if (!System.IO.File.Exists(file))
        {
            created = TryCreate(file);
        }
        if (!OperatingSystem.IsWindows() && (System.IO.File.GetUnixFileMode(file) & Wider) != 0)
        {
            throw new MasterKeyException($"The vault master key file {file} may be read or written by others than its owner; make it mode 0600.");
        }
        var text = System.IO.File.ReadAllText(file).Trim();
        byte[] key;
        try
        {
            key = Convert.FromHexString(text);
        }
        catch (FormatException)
        {
            throw new MasterKeyException($"The vault master key file {file} does not hold a key (64 hexadecimal characters).");
        }
        if (key.Length != 32)
        {
            throw new MasterKeyException($"The vault master key file {file} does not hold a key (64 hexadecimal characters).");
        }
        return new FileMasterKey(key, file, created);
    }

    public byte[] Wrap(byte[] key, byte[] context) => KeyWrap.Seal(_key, key, context);

    public byte[]? Unwrap(byte[] wrapped, byte[] context) => KeyWrap.Open(_key, wrapped, context);

    public void Dispose() => CryptographicOperations.ZeroMemory(_key);

    private static bool TryCreate(string file)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(file))!);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        try
        {
            using var stream = new FileStream(file, options);
            stream.Write(Encoding.ASCII.GetBytes(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)) + "\n"));
            stream.Flush(flushToDisk: true);
            return true;
        }
        catch (IOException) when (System.IO.File.Exists(file))
        {
            return false;
        }
    }
}

/// <summary>AES-256-GCM key wrapping: a random 12-byte nonce, the ciphertext and the 16-byte tag, with a context bound as associated data.</summary>
public static class KeyWrap
{
    public const int NonceBytes = 12;
    public const int TagBytes = 16;

    public static byte[] Seal(byte[] kek, byte[] plaintext, byte[] context)
    {
        var output = new byte[NonceBytes + plaintext.Length + TagBytes];
        var nonce = output.AsSpan(0, NonceBytes);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(kek, TagBytes);
        aes.Encrypt(nonce, plaintext, output.AsSpan(NonceBytes, plaintext.Length), output.AsSpan(NonceBytes + plaintext.Length), context);
        return output;
    }

    public static byte[]? Open(byte[] kek, byte[] sealedKey, byte[] context)
    {
        if (sealedKey.Length < NonceBytes + TagBytes)
        {
            return null;
        }
        var length = sealedKey.Length - NonceBytes - TagBytes;
        var plaintext = new byte[length];
        using var aes = new AesGcm(kek, TagBytes);
        try
        {
            aes.Decrypt(sealedKey.AsSpan(0, NonceBytes), sealedKey.AsSpan(NonceBytes, length), sealedKey.AsSpan(NonceBytes + length), plaintext, context);
            return plaintext;
        }
        catch (AuthenticationTagMismatchException)
        {
            return null;
        }
    }
}

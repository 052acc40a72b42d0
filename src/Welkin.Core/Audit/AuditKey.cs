using System.Security.Cryptography;
using System.Text;

namespace Welkin.Core.Audit;

/// <summary>
/// The public half of the audit signing key: enough to check checkpoints, never to make them.
/// The key id is the first 8 bytes of the SHA-256 of the SubjectPublicKeyInfo, in hex.
/// </summary>
public sealed class AuditPublicKey : IDisposable
{
    public const string Algorithm = "ECDSA P-256 SHA-256";

    private readonly ECDsa _key;

    private AuditPublicKey(ECDsa key)
    {
        _key = key;
        var spki = key.ExportSubjectPublicKeyInfo();
        KeyId = Convert.ToHexStringLower(SHA256.HashData(spki)[..8]);
        Pem = key.ExportSubjectPublicKeyInfoPem();
    }

    public string KeyId { get; }

    public string Pem { get; }

    public static AuditPublicKey FromPem(string pem)
    {
        var key = ECDsa.Create();
        key.ImportFromPem(pem);
        return new AuditPublicKey(key);
    }

    internal static AuditPublicKey Of(ECDsa privateKey) => FromPem(privateKey.ExportSubjectPublicKeyInfoPem());

    public bool Verify(byte[] data, byte[] signature) => _key.VerifyData(data, signature, HashAlgorithmName.SHA256);

    public void Dispose() => _key.Dispose();
}

/// <summary>
/// The audit signing key, kept in a PEM file outside the database (mode 0600): it signs
/// checkpoints (ECDSA P-256), and a seal key derived from it (HKDF-SHA256) seals every audit
/// entry with an HMAC, so an entry written into the database by anyone but this server is found.
/// The public half is written beside the key file (<c>.pub</c>) for verifiers that must not hold
/// the private key.
/// </summary>
public sealed class AuditKey : IDisposable
{
    private static readonly byte[] SealLabel = Encoding.UTF8.GetBytes("welkin-audit-seal/1");

    private readonly ECDsa _key;
    private readonly byte[] _sealKey;

    private AuditKey(ECDsa key)
    {
        _key = key;
        Public = AuditPublicKey.Of(key);
        _sealKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, key.ExportParameters(includePrivateParameters: true).D!, 32, info: SealLabel);
    }

    public AuditPublicKey Public { get; }

    public string KeyId => Public.KeyId;

    /// <summary>The key file this key was read from.</summary>
    public string? KeyFile { get; private init; }

    /// <summary>Whether this process created the key file.</summary>
    public bool Created { get; private init; }

    /// <summary>Where the public half of the key at <paramref name="keyFile"/> is written.</summary>
    public static string PublicKeyFile(string keyFile) => Path.ChangeExtension(keyFile, ".pub");

    /// <summary>Reads the key file, or creates it (mode 0600) when it does not exist, and writes its public half beside it.</summary>
    public static AuditKey LoadOrCreate(string keyFile)
    {
        var created = false;
        if (!File.Exists(keyFile))
        {
            created = TryCreate(keyFile);
        }
        var key = Load(keyFile, created);
        var publicFile = PublicKeyFile(keyFile);
        try
        {
            if (!File.Exists(publicFile) || File.ReadAllText(publicFile) != key.Public.Pem)
            {
                File.WriteAllText(publicFile, key.Public.Pem);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A key kept on a read-only mount: the public key is still served by the API.
        }
        return key;
    }

    public static AuditKey Load(string keyFile) => Load(keyFile, created: false);

    private static AuditKey Load(string keyFile, bool created)
    {
        var key = ECDsa.Create();
        key.ImportFromPem(File.ReadAllText(keyFile));
        return new AuditKey(key) { KeyFile = keyFile, Created = created };
    }

    /// <summary>Whether others than the owner may read the key file (its mode should be 0600).</summary>
    public static bool IsExposed(string keyFile) =>
        !OperatingSystem.IsWindows()
        && (File.GetUnixFileMode(keyFile) & (UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite)) != 0;

    public byte[] Sign(byte[] data) => _key.SignData(data, HashAlgorithmName.SHA256);

    /// <summary>An entry's seal: HMAC-SHA256 of its hash, which covers all its fields and its predecessor's hash.</summary>
    public string Seal(string entryHash) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(_sealKey, Encoding.UTF8.GetBytes(entryHash)));

    public void Dispose()
    {
        _key.Dispose();
        Public.Dispose();
        CryptographicOperations.ZeroMemory(_sealKey);
    }

    private static bool TryCreate(string keyFile)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(keyFile))!);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        try
        {
            using var stream = new FileStream(keyFile, options);
            stream.Write(Encoding.ASCII.GetBytes(key.ExportPkcs8PrivateKeyPem() + "\n"));
            stream.Flush(flushToDisk: true);
            return true;
        }
        catch (IOException) when (File.Exists(keyFile))
        {
            // Another server sharing the key file created it first.
            return false;
        }
    }
}

using System.Numerics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Welkin.Intercloud.Trust;

public enum FederationKeyAlgorithm
{
    Ecdsa,
    Rsa,
}

/// <summary>A certificate the authority issued, as its index keeps it.</summary>
public sealed record IssuedCertificate(
    string Serial, string Cloud, string XmppAddress, Uri ApiUrl, DateTimeOffset NotBefore, DateTimeOffset NotAfter,
    DateTimeOffset? RevokedAt = null, X509RevocationReason? RevocationReason = null);

/// <summary>A freshly issued cloud certificate with its private key, both PEM.</summary>
public sealed record CloudCredentials(IssuedCertificate Issued, string CertificatePem, string PrivateKeyPem);

/// <summary>Why the authority refused: the directory, serial or arguments do not allow it.</summary>
public sealed class FederationAuthorityException(string message) : Exception(message);

/// <summary>
/// The federation's certificate authority, kept in one directory: <c>ca.pem</c> (the certificate),
/// <c>ca.key</c> (its private key, mode 0600 from creation) and <c>index.json</c> (every issued serial,
/// the revocations and the last CRL number), each rewritten atomically. The key never leaves the directory.
/// </summary>
public sealed class FederationAuthority : IDisposable
{
    public const string CertificateFile = "ca.pem";
    public const string KeyFile = "ca.key";
    public const string IndexFile = "index.json";
    public static readonly TimeSpan DefaultCaValidity = TimeSpan.FromDays(3650);
    public static readonly TimeSpan DefaultCertificateValidity = TimeSpan.FromDays(365);
    public static readonly TimeSpan DefaultCrlValidity = TimeSpan.FromDays(7);

    private const string ServerAuthOid = "1.3.6.1.5.5.7.3.1";
    private const string ClientAuthOid = "1.3.6.1.5.5.7.3.2";
    private static readonly UnixFileMode PrivateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    private readonly string _directory;
    private readonly TimeProvider _clock;
    private Index _index;

    private FederationAuthority(string directory, X509Certificate2 certificate, Index index, TimeProvider clock)
    {
        _directory = directory;
        Certificate = certificate;
        _index = index;
        _clock = clock;
    }

    /// <summary>The CA certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    public IReadOnlyList<IssuedCertificate> Issued => _index.Certificates;

    public static FederationAuthority Create(string directory, string name, FederationKeyAlgorithm algorithm, TimeProvider clock, TimeSpan? validity = null)
    {
        Directory.CreateDirectory(directory, PrivateMode | UnixFileMode.UserExecute);
        if (File.Exists(Path.Combine(directory, KeyFile)) || File.Exists(Path.Combine(directory, CertificateFile)))
        {
            throw new FederationAuthorityException($"a federation CA already exists in {directory}");
        }
        using var key = NewKey(algorithm);
        var request = Request(new X500DistinguishedName("CN=" + EscapeCn(name)), key);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = clock.GetUtcNow();
        var certificate = request.CreateSelfSigned(now.AddMinutes(-5), now + (validity ?? DefaultCaValidity));
        WritePrivate(Path.Combine(directory, KeyFile), ExportKeyPem(key));
        var index = new Index([], 0);
        WriteAtomically(Path.Combine(directory, IndexFile), JsonSerializer.Serialize(index, Json));
        WriteAtomically(Path.Combine(directory, CertificateFile), certificate.ExportCertificatePem() + "\n");
        certificate.Dispose();
        return Open(directory, clock);
    }

    public static FederationAuthority Open(string directory, TimeProvider clock)
    {
        var certificateFile = Path.Combine(directory, CertificateFile);
        var keyFile = Path.Combine(directory, KeyFile);
        if (!File.Exists(certificateFile) || !File.Exists(keyFile))
        {
            throw new FederationAuthorityException($"no federation CA in {directory} (expected {CertificateFile} and {KeyFile})");
        }
        var certificate = X509Certificate2.CreateFromPemFile(certificateFile, keyFile);
        var index = JsonSerializer.Deserialize<Index>(File.ReadAllText(Path.Combine(directory, IndexFile)), Json)
            ?? throw new FederationAuthorityException($"{IndexFile} in {directory} is empty");
        return new FederationAuthority(directory, certificate, index, clock);
    }

    /// <summary>Issues a certificate for a cloud, with a new key of the CA's algorithm, and records its serial.</summary>
    public CloudCredentials Issue(CloudIdentity identity, TimeSpan? validity = null)
    {
        if (string.IsNullOrWhiteSpace(identity.Cloud) || !IsBareJid(identity.XmppAddress) || !identity.ApiUrl.IsAbsoluteUri)
        {
            throw new FederationAuthorityException("a cloud certificate needs a cloud name, a bare XMPP address (cloud@domain) and an absolute API URL");
        }
        // Certificates carry whole seconds; the index records what the certificate says.
        var now = _clock.GetUtcNow();
        now = now.AddTicks(-(now.Ticks % TimeSpan.TicksPerSecond));
        var notBefore = now.AddMinutes(-5);
        var notAfter = now + (validity ?? DefaultCertificateValidity);
        if (notAfter > Certificate.NotAfter.ToUniversalTime() || validity <= TimeSpan.Zero)
        {
            throw new FederationAuthorityException($"the validity must be positive and end before the CA's ({Certificate.NotAfter.ToUniversalTime():O})");
        }
        using var key = NewKey(Certificate.GetECDsaPublicKey() is null ? FederationKeyAlgorithm.Rsa : FederationKeyAlgorithm.Ecdsa);
        var request = Request(new X500DistinguishedName("CN=" + EscapeCn(identity.Cloud)), key);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(ServerAuthOid), new Oid(ClientAuthOid)], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, true, false));
        request.CertificateExtensions.Add(identity.ToExtension());
        var serial = NewSerial();
        using var certificate = request.Create(Certificate, notBefore, notAfter, Convert.FromHexString(serial));
        var issued = new IssuedCertificate(serial, identity.Cloud, identity.XmppAddress, identity.ApiUrl, notBefore, notAfter);
        Save(_index with { Certificates = [.. _index.Certificates, issued] });
        return new CloudCredentials(issued, certificate.ExportCertificatePem() + "\n", ExportKeyPem(key));
    }

    public IssuedCertificate Revoke(string serial, X509RevocationReason reason)
    {
        var found = _index.Certificates.FirstOrDefault(c => c.Serial.Equals(serial, StringComparison.OrdinalIgnoreCase))
            ?? throw new FederationAuthorityException($"no certificate with serial {serial} was issued by this CA");
        if (found.RevokedAt is not null)
        {
            throw new FederationAuthorityException($"certificate {found.Serial} was already revoked at {found.RevokedAt:O}");
        }
        var revoked = found with { RevokedAt = _clock.GetUtcNow(), RevocationReason = reason };
        Save(_index with { Certificates = [.. _index.Certificates.Select(c => c == found ? revoked : c)] });
        return revoked;
    }

    /// <summary>A new CRL (PEM), signed by the CA, listing every revocation; its number is one more than the last.</summary>
    public string CreateCrl(TimeSpan? validity = null)
    {
        var builder = new CertificateRevocationListBuilder();
        foreach (var c in _index.Certificates.Where(c => c.RevokedAt is not null))
        {
            builder.AddEntry(Convert.FromHexString(c.Serial), c.RevokedAt!.Value, c.RevocationReason);
        }
        var now = _clock.GetUtcNow();
        var number = _index.CrlNumber + 1;
        var padding = Certificate.GetRSAPrivateKey() is null ? null : RSASignaturePadding.Pkcs1;
        var der = builder.Build(Certificate, new BigInteger(number), now + (validity ?? DefaultCrlValidity), HashAlgorithmName.SHA256, padding, now);
        Save(_index with { CrlNumber = number });
        return PemEncoding.WriteString("X509 CRL", der) + "\n";
    }

    public void Dispose() => Certificate.Dispose();

    /// <summary>Writes a file that only its owner can read, created so (never widened afterwards).</summary>
    public static void WritePrivate(string path, string content)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = PrivateMode };
        using var stream = new FileStream(path, options);
        using var writer = new StreamWriter(stream);
        writer.Write(content);
    }

    /// <summary>Writes beside the target and renames over it, so a reader sees the old file or the new one.</summary>
    public static void WriteAtomically(string path, string content)
    {
        var temporary = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = PrivateMode | UnixFileMode.GroupRead | UnixFileMode.OtherRead };
        using (var stream = new FileStream(temporary, options))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(content);
            writer.Flush();
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
    }

    private void Save(Index index)
    {
        WriteAtomically(Path.Combine(_directory, IndexFile), JsonSerializer.Serialize(index, Json));
        _index = index;
    }

    // RFC 5280 4.1.2.2: positive, at most 20 octets; 16 random octets make a collision negligible, and the
    // index check makes it impossible.
    private string NewSerial()
    {
        while (true)
        {
            var bytes = RandomNumberGenerator.GetBytes(16);
            bytes[0] = (byte)((bytes[0] & 0x7F) | 0x40);
            var serial = Convert.ToHexString(bytes);
            if (_index.Certificates.All(c => !c.Serial.Equals(serial, StringComparison.OrdinalIgnoreCase)))
            {
                return serial;
            }
        }
    }

    private static bool IsBareJid(string address)
    {
        var at = address.IndexOf('@', StringComparison.Ordinal);
        return at > 0 && at < address.Length - 1 && address.IndexOfAny(['/', ' ', '@'], at + 1) < 0;
    }

    private static string EscapeCn(string name) =>
        name.Contains('"', StringComparison.Ordinal) ? throw new FederationAuthorityException("a name may not contain '\"'") : "\"" + name + "\"";

    private static AsymmetricAlgorithm NewKey(FederationKeyAlgorithm algorithm) =>
        algorithm == FederationKeyAlgorithm.Rsa ? RSA.Create(3072) : ECDsa.Create(ECCurve.NamedCurves.nistP256);

    private static CertificateRequest Request(X500DistinguishedName subject, AsymmetricAlgorithm key) => key switch
    {
        ECDsa ec => new CertificateRequest(subject, ec, HashAlgorithmName.SHA256),
        RSA rsa => new CertificateRequest(subject, rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
        _ => throw new ArgumentException("unsupported key", nameof(key)),
    };

    private static string ExportKeyPem(AsymmetricAlgorithm key) => key.ExportPkcs8PrivateKeyPem() + "\n";

    private sealed record Index(IReadOnlyList<IssuedCertificate> Certificates, long CrlNumber);
}

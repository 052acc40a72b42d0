using System.Net.Http;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Welkin.Intercloud.Trust;

/// <summary>
/// What a cloud holds to take part in a federation: the federation CA certificate, the CA's current
/// CRL (re-read when its file changes), and the cloud's own certificate with its private key. One
/// instance serves the presence signer, the peer verifier and the federation listener.
/// </summary>
public sealed class FederationCredentials : IDisposable
{
    private readonly string _crlFile;
    private readonly TimeProvider _clock;
    private readonly Lock _lock = new();
    private (DateTime Written, long Length, PeerVerifier Verifier, FederationCrl Crl) _current;

    private FederationCredentials(X509Certificate2 ca, X509Certificate2 certificate, string crlFile, TimeProvider clock, FederationCrl crl, DateTime written, long length)
    {
        Ca = ca;
        Certificate = certificate;
        _crlFile = crlFile;
        _clock = clock;
        _current = (written, length, new PeerVerifier(ca, crl, clock), crl);
    }

    /// <summary>The federation CA certificate every peer must chain to.</summary>
    public X509Certificate2 Ca { get; }

    /// <summary>This cloud's certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>SHA-256 of this cloud's certificate (DER), lower-case hex: what peers pin and the presence names.</summary>
    public string Fingerprint => Federation.CloudPresence.FingerprintOf(Certificate.RawData);

    /// <summary>The CRL in force: the file's content as of the last time it changed.</summary>
    public FederationCrl Crl => Current().Crl;

    /// <summary>A verifier over the CA and the CRL in force.</summary>
    public PeerVerifier Verifier => Current().Verifier;

    /// <summary>
    /// Loads the files; the error says which file is wrong and why (never a key's content). The CRL must
    /// be signed by the CA, and the certificate issued by it and matching the key.
    /// </summary>
    public static (FederationCredentials? Credentials, string? Error) Load(string caFile, string crlFile, string certificateFile, string keyFile, TimeProvider clock)
    {
        X509Certificate2? ca = null;
        X509Certificate2? certificate = null;
        try
        {
            ca = X509CertificateLoader.LoadCertificateFromFile(caFile);
            var info = new FileInfo(crlFile);
            var crl = FederationCrl.Load(File.ReadAllBytes(crlFile), ca);
            certificate = LoadWithKey(certificateFile, keyFile);
            if (!certificate.IssuerName.RawData.AsSpan().SequenceEqual(ca.SubjectName.RawData))
            {
                return Fail($"the certificate {certificateFile} is not issued by the federation CA {caFile}");
            }
            return (new FederationCredentials(ca, certificate, crlFile, clock, crl, info.LastWriteTimeUtc, info.Length), null);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            return Fail(exception.Message);
        }

        (FederationCredentials?, string?) Fail(string reason)
        {
            ca?.Dispose();
            certificate?.Dispose();
            return (null, reason);
        }
    }

    /// <summary>
    /// An HTTP handler for calling peer clouds over mutual TLS: it presents this cloud's certificate and
    /// accepts a server only when its certificate chains to the federation CA, is not revoked by the CRL in
    /// force, and names the host called (the URL in a cloud certificate is also a DNS or IP name in it).
    /// </summary>
    public SocketsHttpHandler CreatePeerHandler() => new()
    {
        SslOptions = new SslClientAuthenticationOptions
        {
            ClientCertificates = new X509CertificateCollection { Certificate },
            RemoteCertificateValidationCallback = (_, server, _, errors) =>
                server is X509Certificate2 peer
                && (errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) == 0
                && Verifier.VerifyCertificate(peer).IsTrusted,
        },
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        ConnectTimeout = TimeSpan.FromSeconds(10),
    };

    public void Dispose()
    {
        Ca.Dispose();
        Certificate.Dispose();
    }

    private static X509Certificate2 LoadWithKey(string certificateFile, string keyFile)
    {
        using var pem = X509Certificate2.CreateFromPemFile(certificateFile, keyFile);
        // An ephemeral PEM key cannot serve TLS on every platform; a PKCS#12 round trip gives a persisted one.
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }

    private (DateTime Written, long Length, PeerVerifier Verifier, FederationCrl Crl) Current()
    {
        lock (_lock)
        {
            try
            {
                var info = new FileInfo(_crlFile);
                if (info.Exists && (info.LastWriteTimeUtc != _current.Written || info.Length != _current.Length))
                {
                    var crl = FederationCrl.Load(File.ReadAllBytes(_crlFile), Ca);
                    _current = (info.LastWriteTimeUtc, info.Length, new PeerVerifier(Ca, crl, _clock), crl);
                }
            }
            catch (Exception exception) when (exception is IOException or CryptographicException)
            {
                // A CRL being rewritten, or a bad one, leaves the last good CRL in force until its next update.
            }
            return _current;
        }
    }
}

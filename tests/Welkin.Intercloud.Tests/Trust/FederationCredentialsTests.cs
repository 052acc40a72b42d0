using System.Security.Cryptography.X509Certificates;
using Welkin.Intercloud.Trust;
using Welkin.Testing;

namespace Welkin.Intercloud.Tests.Trust;

public sealed class FederationCredentialsTests : IDisposable
{
    private static readonly Uri AlphaUrl = new("https://alpha.example:8443/api/v1");
    private readonly string _dir = TempDirectories.NewPath("welkin-ca-");
    private readonly string _otherDir = TempDirectories.NewPath("welkin-ca-");
    private readonly string _files = TempDirectories.NewPath("welkin-cloud-");
    private readonly FakeTimeProvider _clock = new();
    private readonly FederationAuthority _ca;

    public FederationCredentialsTests()
    {
        _ca = FederationAuthority.Create(_dir, "federation", FederationKeyAlgorithm.Ecdsa, _clock);
        Directory.CreateDirectory(_files);
    }

    public void Dispose()
    {
        _ca.Dispose();
        TempDirectories.TryDelete(_dir);
        TempDirectories.TryDelete(_otherDir);
        TempDirectories.TryDelete(_files);
    }

    [Fact]
    public void Load_KeepsTheCertificateWithItsKey_AndAFingerprintOfItsDer()
    {
        var issued = WriteCloud(_ca, "alpha");
        File.WriteAllText(Crl, _ca.CreateCrl());

        var (credentials, error) = FederationCredentials.Load(Ca, Crl, issued.Certificate, issued.Key, _clock);

        Assert.Null(error);
        using var loaded = credentials!;
        Assert.True(loaded.Certificate.HasPrivateKey);
        Assert.Equal("alpha", loaded.Certificate.GetNameInfo(X509NameType.SimpleName, false));
        Assert.Equal(64, loaded.Fingerprint.Length);
        Assert.Equal(PeerVerdictKind.Trusted, loaded.Verifier.Verify(loaded.Certificate, "alpha@alpha.example", AlphaUrl).Kind);
    }

    [Fact]
    public void Verifier_ReadsTheCrlAgainWhenItsFileChanges()
    {
        var issued = WriteCloud(_ca, "alpha");
        File.WriteAllText(Crl, _ca.CreateCrl());
        var (credentials, _) = FederationCredentials.Load(Ca, Crl, issued.Certificate, issued.Key, _clock);
        using var loaded = credentials!;

        _ca.Revoke(loaded.Certificate.SerialNumber, X509RevocationReason.KeyCompromise);
        File.WriteAllText(Crl, _ca.CreateCrl() + "\n");

        Assert.Equal(PeerVerdictKind.Revoked, loaded.Verifier.Verify(loaded.Certificate, "alpha@alpha.example", AlphaUrl).Kind);
    }

    [Fact]
    public void Load_ACertificateOfAnotherCa_IsRefusedNamingTheFile()
    {
        using var other = FederationAuthority.Create(_otherDir, "elsewhere", FederationKeyAlgorithm.Ecdsa, _clock);
        var issued = WriteCloud(other, "mallory");
        File.WriteAllText(Crl, _ca.CreateCrl());

        var (credentials, error) = FederationCredentials.Load(Ca, Crl, issued.Certificate, issued.Key, _clock);

        Assert.Null(credentials);
        Assert.Contains("is not issued by the federation CA", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ACrlSignedByAnotherCa_IsRefused()
    {
        using var other = FederationAuthority.Create(_otherDir, "elsewhere", FederationKeyAlgorithm.Ecdsa, _clock);
        var issued = WriteCloud(_ca, "alpha");
        File.WriteAllText(Crl, other.CreateCrl());

        var (credentials, error) = FederationCredentials.Load(Ca, Crl, issued.Certificate, issued.Key, _clock);

        Assert.Null(credentials);
        Assert.Contains("not signed by the federation CA", error, StringComparison.Ordinal);
    }

    private string Ca => Path.Combine(_dir, FederationAuthority.CertificateFile);

    private string Crl => Path.Combine(_files, "federation.crl");

    private (string Certificate, string Key) WriteCloud(FederationAuthority ca, string name)
    {
        var credentials = ca.Issue(new CloudIdentity(name, name + "@alpha.example", AlphaUrl));
        var certificate = Path.Combine(_files, name + ".pem");
        var key = Path.Combine(_files, name + ".key");
        File.WriteAllText(certificate, credentials.CertificatePem);
        File.WriteAllText(key, credentials.PrivateKeyPem);
        return (certificate, key);
    }
}

using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Welkin.Intercloud.Trust;
using Welkin.Testing;

namespace Welkin.Intercloud.Tests.Trust;

public sealed class FederationAuthorityTests : IDisposable
{
    private readonly string _dir = TempDirectories.NewPath("welkin-ca-");
    private readonly FakeTimeProvider _clock = new();

    public void Dispose() => TempDirectories.TryDelete(_dir);

    private static CloudIdentity Alpha => new("alpha", "cloud@alpha.example", new Uri("https://alpha.example:8443/api/v1"));

    [Theory]
    [InlineData(FederationKeyAlgorithm.Ecdsa)]
    [InlineData(FederationKeyAlgorithm.Rsa)]
    public void Create_WritesKeyOwnerOnlyAndCaCertificate(FederationKeyAlgorithm algorithm)
    {
        using var ca = FederationAuthority.Create(_dir, "Welkin federation", algorithm, _clock);

        File.GetUnixFileMode(Path.Combine(_dir, FederationAuthority.KeyFile)).ShouldBe(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        using var certificate = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(_dir, FederationAuthority.CertificateFile)));
        certificate.HasPrivateKey.ShouldBeFalse();
        certificate.Subject.ShouldBe("CN=Welkin federation");
        certificate.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority.ShouldBeTrue();
        certificate.Extensions.OfType<X509KeyUsageExtension>().Single().KeyUsages.ShouldBe(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign);
        if (algorithm == FederationKeyAlgorithm.Rsa)
        {
            using var rsa = certificate.GetRSAPublicKey();
            rsa!.KeySize.ShouldBe(3072);
        }
        else
        {
            using var ec = certificate.GetECDsaPublicKey();
            ec!.KeySize.ShouldBe(256);
        }
    }

    [Fact]
    public void Create_WhenCaExists_Refuses()
    {
        FederationAuthority.Create(_dir, "first", FederationKeyAlgorithm.Ecdsa, _clock).Dispose();
        var key = File.ReadAllText(Path.Combine(_dir, FederationAuthority.KeyFile));

        Should.Throw<FederationAuthorityException>(() => FederationAuthority.Create(_dir, "second", FederationKeyAlgorithm.Ecdsa, _clock));
        File.ReadAllText(Path.Combine(_dir, FederationAuthority.KeyFile)).ShouldBe(key);
    }

    [Fact]
    public void Issue_BindsNamesUsagesAndValidity()
    {
        using var ca = FederationAuthority.Create(_dir, "federation", FederationKeyAlgorithm.Ecdsa, _clock);

        var issued = ca.Issue(Alpha, TimeSpan.FromDays(30));

        using var certificate = X509Certificate2.CreateFromPem(issued.CertificatePem, issued.PrivateKeyPem);
        certificate.Subject.ShouldBe("CN=alpha");
        certificate.Issuer.ShouldBe("CN=federation");
        certificate.SerialNumber.ShouldBe(issued.Issued.Serial);
        certificate.NotAfter.ToUniversalTime().ShouldBe(_clock.GetUtcNow().AddDays(30).UtcDateTime, TimeSpan.FromSeconds(1));
        certificate.Extensions.OfType<X509KeyUsageExtension>().Single().KeyUsages.ShouldBe(X509KeyUsageFlags.DigitalSignature);
        certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<Oid>().Select(o => o.Value)
            .ShouldBe(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
        var (addresses, urls) = CloudIdentity.Read(certificate);
        addresses.ShouldBe(["cloud@alpha.example"]);
        urls.ShouldBe([new Uri("https://alpha.example:8443/api/v1")]);
        certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single().Format(false).ShouldContain("URI:xmpp:cloud@alpha.example");
        // The URL's host too, for TLS clients that check host names.
        certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single().EnumerateDnsNames().ShouldBe(["alpha.example"]);
        certificate.MatchesHostname("alpha.example").ShouldBeTrue();
    }

    [Fact]
    public void Issue_ForAnIpAddressUrl_NamesTheAddress()
    {
        using var ca = FederationAuthority.Create(_dir, "federation", FederationKeyAlgorithm.Ecdsa, _clock);

        var issued = ca.Issue(new CloudIdentity("local", "local@alpha.example", new Uri("https://127.0.0.1:9111/api/v1")));

        using var certificate = X509Certificate2.CreateFromPem(issued.CertificatePem);
        certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single().EnumerateIPAddresses().Select(a => a.ToString()).ShouldBe(["127.0.0.1"]);
        certificate.MatchesHostname("127.0.0.1").ShouldBeTrue();
        CloudIdentity.Read(certificate).Urls.ShouldBe([new Uri("https://127.0.0.1:9111/api/v1")]);
    }

    [Fact]
    public void Issue_GivesUniqueSerialsAndKeepsThemInTheIndex()
    {
        using (var ca = FederationAuthority.Create(_dir, "federation", FederationKeyAlgorithm.Ecdsa, _clock))
        {
            for (var i = 0; i < 5; i++)
            {
                ca.Issue(Alpha);
            }
        }

        using var reopened = FederationAuthority.Open(_dir, _clock);
        reopened.Issued.Count.ShouldBe(5);
        reopened.Issued.Select(c => c.Serial).Distinct().Count().ShouldBe(5);
        Directory.GetFiles(_dir).Select(Path.GetFileName).Order().ShouldBe(["ca.key", "ca.pem", "index.json"]);
    }

    [Theory]
    [InlineData("alpha", "no-at-sign", "https://a.example/")]
    [InlineData("alpha", "cloud@alpha.example/resource", "https://a.example/")]
    [InlineData(" ", "cloud@alpha.example", "https://a.example/")]
    public void Issue_WithInvalidIdentity_Refuses(string cloud, string xmpp, string url)
    {
        using var ca = FederationAuthority.Create(_dir, "federation", FederationKeyAlgorithm.Ecdsa, _clock);

        Should.Throw<FederationAuthorityException>(() => ca.Issue(new CloudIdentity(cloud, xmpp, new Uri(url))));
        ca.Issued.ShouldBeEmpty();
    }

    [Fact]
    public void Revoke_RecordsReasonAndCrlListsIt()
    {
        using var ca = FederationAuthority.Create(_dir, "federation", FederationKeyAlgorithm.Ecdsa, _clock);
        var good = ca.Issue(Alpha).Issued;
        var bad = ca.Issue(Alpha).Issued;
        _clock.Advance(TimeSpan.FromHours(1));

        ca.Revoke(bad.Serial.ToLowerInvariant(), X509RevocationReason.KeyCompromise);
        var crl = FederationCrl.Load(System.Text.Encoding.ASCII.GetBytes(ca.CreateCrl(TimeSpan.FromDays(2))), ca.Certificate);

        crl.Find(good.Serial).ShouldBeNull();
        var entry = crl.Find(bad.Serial).ShouldNotBeNull();
        entry.Reason.ShouldBe(X509RevocationReason.KeyCompromise);
        entry.RevokedAt.ShouldBe(_clock.GetUtcNow(), TimeSpan.FromSeconds(1));
        crl.NextUpdate.ShouldNotBeNull().ShouldBe(_clock.GetUtcNow().AddDays(2), TimeSpan.FromSeconds(1));
        using var reopened = FederationAuthority.Open(_dir, _clock);
        reopened.Issued.Single(c => c.Serial == bad.Serial).RevocationReason.ShouldBe(X509RevocationReason.KeyCompromise);
    }

    [Fact]
    public void Revoke_UnknownOrTwice_Refuses()
    {
        using var ca = FederationAuthority.Create(_dir, "federation", FederationKeyAlgorithm.Ecdsa, _clock);
        var issued = ca.Issue(Alpha).Issued;
        ca.Revoke(issued.Serial, X509RevocationReason.Superseded);

        Should.Throw<FederationAuthorityException>(() => ca.Revoke(issued.Serial, X509RevocationReason.Superseded));
        Should.Throw<FederationAuthorityException>(() => ca.Revoke("0123", X509RevocationReason.Superseded));
    }

    [Fact]
    public void CrlLoad_SignedByAnotherCa_Throws()
    {
        using var ca = FederationAuthority.Create(_dir, "federation", FederationKeyAlgorithm.Ecdsa, _clock);
        var other = TempDirectories.NewPath("welkin-ca-");
        try
        {
            using var otherCa = FederationAuthority.Create(other, "federation", FederationKeyAlgorithm.Ecdsa, _clock);
            var forged = System.Text.Encoding.ASCII.GetBytes(otherCa.CreateCrl());

            Should.Throw<CryptographicException>(() => FederationCrl.Load(forged, ca.Certificate));
        }
        finally
        {
            TempDirectories.TryDelete(other);
        }
    }
}

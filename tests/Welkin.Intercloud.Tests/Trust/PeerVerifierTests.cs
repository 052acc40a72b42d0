using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Welkin.Intercloud.Trust;
using Welkin.Testing;

namespace Welkin.Intercloud.Tests.Trust;

public sealed class PeerVerifierTests : IDisposable
{
    private static readonly Uri AlphaUrl = new("https://alpha.example:8443/api/v1");
    private const string AlphaXmpp = "cloud@alpha.example";

    private readonly string _dir = TempDirectories.NewPath("welkin-ca-");
    private readonly string _otherDir = TempDirectories.NewPath("welkin-ca-");
    private readonly FakeTimeProvider _clock = new();
    private readonly FederationAuthority _ca;

    public PeerVerifierTests() => _ca = FederationAuthority.Create(_dir, "federation", FederationKeyAlgorithm.Ecdsa, _clock);

    public void Dispose()
    {
        _ca.Dispose();
        TempDirectories.TryDelete(_dir);
        TempDirectories.TryDelete(_otherDir);
    }

    private X509Certificate2 IssueAlpha(FederationAuthority? by = null, TimeSpan? validity = null) =>
        X509Certificate2.CreateFromPem((by ?? _ca).Issue(new CloudIdentity("alpha", AlphaXmpp, AlphaUrl), validity).CertificatePem);

    private PeerVerifier Verifier(TimeSpan? crlValidity = null)
    {
        var crl = FederationCrl.Load(Encoding.ASCII.GetBytes(_ca.CreateCrl(crlValidity)), _ca.Certificate);
        return new PeerVerifier(X509Certificate2.CreateFromPem(_ca.Certificate.ExportCertificatePem()), crl, _clock);
    }

    [Fact]
    public void Verify_CertificateOfTheFederation_IsTrusted()
    {
        using var peer = IssueAlpha();

        var verdict = Verifier().Verify(peer, AlphaXmpp, AlphaUrl);

        verdict.Kind.ShouldBe(PeerVerdictKind.Trusted, verdict.Reason);
        verdict.Cloud.ShouldBe("alpha");
    }

    [Fact]
    public void VerifyCertificate_ComparesNoNames_ButChecksChainValidityAndRevocation()
    {
        using var peer = IssueAlpha();
        using var other = FederationAuthority.Create(_otherDir, "federation", FederationKeyAlgorithm.Ecdsa, _clock);
        using var stranger = IssueAlpha(other);

        var trusted = Verifier().VerifyCertificate(peer);
        var untrusted = Verifier().VerifyCertificate(stranger);
        _ca.Revoke(peer.SerialNumber, X509RevocationReason.KeyCompromise);
        var revoked = Verifier().VerifyCertificate(peer);

        trusted.Kind.ShouldBe(PeerVerdictKind.Trusted, trusted.Reason);
        trusted.Cloud.ShouldBe("alpha");
        untrusted.Kind.ShouldBe(PeerVerdictKind.Untrusted);
        revoked.Kind.ShouldBe(PeerVerdictKind.Revoked);
    }

    [Fact]
    public void Verify_WithRsaAuthority_IsTrusted()
    {
        using var rsa = FederationAuthority.Create(_otherDir, "federation", FederationKeyAlgorithm.Rsa, _clock);
        using var peer = IssueAlpha(rsa);
        var crl = FederationCrl.Load(Encoding.ASCII.GetBytes(rsa.CreateCrl()), rsa.Certificate);

        var verdict = new PeerVerifier(rsa.Certificate, crl, _clock).Verify(peer, AlphaXmpp, AlphaUrl);

        verdict.Kind.ShouldBe(PeerVerdictKind.Trusted, verdict.Reason);
    }

    [Fact]
    public void Verify_CertificateOfAnotherCa_IsUntrusted()
    {
        using var other = FederationAuthority.Create(_otherDir, "federation", FederationKeyAlgorithm.Ecdsa, _clock);
        using var peer = IssueAlpha(other);

        var verdict = Verifier().Verify(peer, AlphaXmpp, AlphaUrl);

        verdict.Kind.ShouldBe(PeerVerdictKind.Untrusted);
        verdict.Reason.ShouldContain("does not chain to the federation CA");
    }

    [Fact]
    public void Verify_SelfSignedCertificateWithTheRightNames_IsUntrusted()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=alpha", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new CloudIdentity("alpha", AlphaXmpp, AlphaUrl).ToExtension());
        using var peer = request.CreateSelfSigned(_clock.GetUtcNow().AddDays(-1), _clock.GetUtcNow().AddDays(1));

        Verifier().Verify(peer, AlphaXmpp, AlphaUrl).Kind.ShouldBe(PeerVerdictKind.Untrusted);
    }

    [Fact]
    public void Verify_AfterNotAfter_IsExpired()
    {
        using var peer = IssueAlpha(validity: TimeSpan.FromDays(30));
        var verifier = Verifier(TimeSpan.FromDays(60));
        _clock.Advance(TimeSpan.FromDays(31));

        var verdict = verifier.Verify(peer, AlphaXmpp, AlphaUrl);

        verdict.Kind.ShouldBe(PeerVerdictKind.Expired);
        verdict.Reason.ShouldContain("expired");
    }

    [Fact]
    public void Verify_BeforeNotBefore_IsNotYetValid()
    {
        using var peer = IssueAlpha();
        var verifier = new PeerVerifier(_ca.Certificate, FederationCrl.Load(Encoding.ASCII.GetBytes(_ca.CreateCrl()), _ca.Certificate), new FakeTimeProvider(_clock.GetUtcNow().AddHours(-1)));

        verifier.Verify(peer, AlphaXmpp, AlphaUrl).Kind.ShouldBe(PeerVerdictKind.NotYetValid);
    }

    [Fact]
    public void Verify_RevokedCertificate_IsRevokedWithDateAndReason()
    {
        using var peer = IssueAlpha();
        _clock.Advance(TimeSpan.FromHours(2));
        _ca.Revoke(peer.SerialNumber, X509RevocationReason.KeyCompromise);

        var verdict = Verifier().Verify(peer, AlphaXmpp, AlphaUrl);

        verdict.Kind.ShouldBe(PeerVerdictKind.Revoked);
        verdict.Revocation.ShouldNotBeNull().Reason.ShouldBe(X509RevocationReason.KeyCompromise);
        verdict.Revocation.RevokedAt.ShouldBe(_clock.GetUtcNow(), TimeSpan.FromSeconds(1));
        verdict.Reason.ShouldContain("KeyCompromise");
    }

    [Fact]
    public void Verify_WithCrlPastItsNextUpdate_IsRevocationUnknown()
    {
        using var peer = IssueAlpha();
        var verifier = Verifier(TimeSpan.FromDays(1));
        _clock.Advance(TimeSpan.FromDays(2));

        verifier.Verify(peer, AlphaXmpp, AlphaUrl).Kind.ShouldBe(PeerVerdictKind.RevocationUnknown);
    }

    [Fact]
    public void Verify_RevokedCertificateWithStaleCrl_IsStillRevoked()
    {
        using var peer = IssueAlpha();
        _ca.Revoke(peer.SerialNumber, X509RevocationReason.Superseded);
        var verifier = Verifier(TimeSpan.FromDays(1));
        _clock.Advance(TimeSpan.FromDays(2));

        verifier.Verify(peer, AlphaXmpp, AlphaUrl).Kind.ShouldBe(PeerVerdictKind.Revoked);
    }

    [Fact]
    public void Verify_FromAnotherXmppAddress_IsNameMismatch()
    {
        using var peer = IssueAlpha();

        var verdict = Verifier().Verify(peer, "cloud@beta.example", AlphaUrl);

        verdict.Kind.ShouldBe(PeerVerdictKind.NameMismatch);
        verdict.Reason.ShouldContain("cloud@beta.example");
    }

    [Theory]
    [InlineData("https://beta.example:8443/api/v1")]
    [InlineData("https://alpha.example/api/v1")]
    [InlineData("http://alpha.example:8443/api/v1")]
    [InlineData("https://alpha.example:8443/other")]
    public void Verify_FromAnotherUrl_IsNameMismatch(string url)
    {
        using var peer = IssueAlpha();

        var verdict = Verifier().Verify(peer, AlphaXmpp, new Uri(url));

        verdict.Kind.ShouldBe(PeerVerdictKind.NameMismatch);
        verdict.Reason.ShouldContain("API URL");
    }

    [Theory]
    [InlineData("CLOUD@Alpha.Example", "https://ALPHA.example:8443/api/v1/")]
    public void Verify_NamesDifferingOnlyInCaseOfHostOrTrailingSlash_IsTrusted(string xmpp, string url)
    {
        using var peer = IssueAlpha();

        Verifier().Verify(peer, xmpp, new Uri(url)).Kind.ShouldBe(PeerVerdictKind.Trusted);
    }
}

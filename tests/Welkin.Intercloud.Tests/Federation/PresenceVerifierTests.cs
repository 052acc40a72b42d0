using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Xml.Linq;
using Welkin.Contracts;
using Welkin.Intercloud.Federation;
using Welkin.Intercloud.Trust;
using Welkin.Testing;

namespace Welkin.Intercloud.Tests.Federation;

public sealed class PresenceVerifierTests : IDisposable
{
    private static readonly Uri AlphaUrl = new("https://alpha.example:8443/api/v1");
    private const string AlphaXmpp = "alpha@exchange.example";
    private static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(10);

    private readonly string _dir = TempDirectories.NewPath("welkin-ca-");
    private readonly string _otherDir = TempDirectories.NewPath("welkin-ca-");
    private readonly FakeTimeProvider _clock = new();
    private readonly FederationAuthority _ca;

    public PresenceVerifierTests() => _ca = FederationAuthority.Create(_dir, "federation", FederationKeyAlgorithm.Ecdsa, _clock);

    public void Dispose()
    {
        _ca.Dispose();
        TempDirectories.TryDelete(_dir);
        TempDirectories.TryDelete(_otherDir);
    }

    private static readonly CloudCapacity Capacity = new([new RegionCapacity("US", "us-east", 64, 131072, 2048)], 3);

    private X509Certificate2 Issue(FederationAuthority? by = null, TimeSpan? validity = null, string address = AlphaXmpp)
    {
        var issued = (by ?? _ca).Issue(new CloudIdentity("alpha", address, AlphaUrl), validity);
        using var pem = X509Certificate2.CreateFromPem(issued.CertificatePem, issued.PrivateKeyPem);
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }

    private CloudPresence PresenceOf(X509Certificate2 certificate, long sequence = 10) =>
        new("alpha", AlphaUrl, CloudPresence.FingerprintOf(certificate.RawData), certificate.RawData, sequence, _clock.GetUtcNow(), CloudPresence.Available, Capacity);

    private PresenceCheck Check(XElement payload, string from = AlphaXmpp, long lastSequence = 0)
    {
        var crl = FederationCrl.Load(Encoding.ASCII.GetBytes(_ca.CreateCrl()), _ca.Certificate);
        var verifier = new PeerVerifier(X509Certificate2.CreateFromPem(_ca.Certificate.ExportCertificatePem()), crl, _clock);
        // Through text, as the payload travels.
        return PresenceVerifier.Check(XElement.Parse(payload.ToString()), from, verifier, lastSequence, _clock.GetUtcNow(), MaxAge);
    }

    [Fact]
    public void Check_SignedByTheFederationsCertificate_IsAccepted()
    {
        using var certificate = Issue();

        var check = Check(PresenceOf(certificate).ToSignedXml(certificate));

        check.Outcome.ShouldBe(PresenceOutcome.Accepted, check.Reason);
        check.State.ShouldBe(PeerTrustState.Trusted);
        check.Presence!.Capacity.Regions.ShouldBe(Capacity.Regions);
        check.Presence.Capacity.Offerings.ShouldBe(3);
        check.SignedSequence.ShouldBe(10);
    }

    [Fact]
    public void Check_WithRsaKey_IsAccepted()
    {
        using var rsa = FederationAuthority.Create(_otherDir, "federation", FederationKeyAlgorithm.Rsa, _clock);
        using var certificate = Issue(rsa);
        var crl = FederationCrl.Load(Encoding.ASCII.GetBytes(rsa.CreateCrl()), rsa.Certificate);

        var check = PresenceVerifier.Check(PresenceOf(certificate).ToSignedXml(certificate), AlphaXmpp, new PeerVerifier(rsa.Certificate, crl, _clock), 0, _clock.GetUtcNow(), MaxAge);

        check.Outcome.ShouldBe(PresenceOutcome.Accepted, check.Reason);
    }

    [Fact]
    public void Check_TamperedCapacity_IsBadSignature()
    {
        using var certificate = Issue();
        var payload = PresenceOf(certificate).ToSignedXml(certificate);
        payload.Descendants(CloudPresence.Ns + "region").Single().SetAttributeValue("vcpus", "6400");

        var check = Check(payload);

        check.Outcome.ShouldBe(PresenceOutcome.Refused);
        check.State.ShouldBe(PeerTrustState.BadSignature);
    }

    [Fact]
    public void Check_SignedWithAnotherKey_IsBadSignature()
    {
        using var certificate = Issue();
        using var other = Issue();

        var check = Check(PresenceOf(certificate).ToSignedXml(other));

        check.State.ShouldBe(PeerTrustState.BadSignature);
        check.Reason.ShouldContain("signature");
    }

    [Fact]
    public void Check_FingerprintOfAnotherCertificate_IsBadSignature()
    {
        using var certificate = Issue();
        using var other = Issue();

        var check = Check((PresenceOf(certificate) with { Fingerprint = CloudPresence.FingerprintOf(other.RawData) }).ToSignedXml(certificate));

        check.State.ShouldBe(PeerTrustState.BadSignature);
        check.Reason.ShouldContain("fingerprint");
    }

    [Fact]
    public void Check_CertificateOfAnotherCa_IsUntrusted()
    {
        using var rogue = FederationAuthority.Create(_otherDir, "federation", FederationKeyAlgorithm.Ecdsa, _clock);
        using var certificate = Issue(rogue);

        var check = Check(PresenceOf(certificate).ToSignedXml(certificate));

        check.Outcome.ShouldBe(PresenceOutcome.Refused);
        check.State.ShouldBe(PeerTrustState.Untrusted);
        check.SignedSequence.ShouldBe(10);
    }

    [Fact]
    public void Check_ExpiredCertificate_IsExpired()
    {
        using var certificate = Issue(validity: TimeSpan.FromHours(1));
        _clock.Advance(TimeSpan.FromHours(2));

        var check = Check(PresenceOf(certificate).ToSignedXml(certificate));

        check.State.ShouldBe(PeerTrustState.Expired);
    }

    [Fact]
    public void Check_RevokedCertificate_IsRevoked()
    {
        using var certificate = Issue();
        _ca.Revoke(certificate.SerialNumber, X509RevocationReason.KeyCompromise);

        var check = Check(PresenceOf(certificate).ToSignedXml(certificate));

        check.State.ShouldBe(PeerTrustState.Revoked);
        check.Reason.ShouldContain("KeyCompromise");
    }

    [Fact]
    public void Check_FromAnotherAddress_IsNameMismatch()
    {
        using var certificate = Issue();

        var check = Check(PresenceOf(certificate).ToSignedXml(certificate), from: "mallory@exchange.example");

        check.State.ShouldBe(PeerTrustState.NameMismatch);
        check.Reason.ShouldContain("mallory@exchange.example");
    }

    [Fact]
    public void Check_SequenceAlreadySeen_IsIgnoredAsReplay()
    {
        using var certificate = Issue();

        var check = Check(PresenceOf(certificate, sequence: 10).ToSignedXml(certificate), lastSequence: 10);

        check.Outcome.ShouldBe(PresenceOutcome.Ignored);
        check.Reason.ShouldContain("replay");
    }

    [Fact]
    public void Check_IssuedLongAgo_IsIgnored()
    {
        using var certificate = Issue();
        var payload = PresenceOf(certificate).ToSignedXml(certificate);
        _clock.Advance(MaxAge + TimeSpan.FromSeconds(1));

        var check = Check(payload);

        check.Outcome.ShouldBe(PresenceOutcome.Ignored);
    }

    [Fact]
    public void Check_NoPayload_IsUnverified()
    {
        var check = PresenceVerifier.Check(null, AlphaXmpp, null!, 0, _clock.GetUtcNow(), MaxAge);

        check.Outcome.ShouldBe(PresenceOutcome.Refused);
        check.State.ShouldBe(PeerTrustState.Unverified);
    }

    [Fact]
    public void Check_MalformedPayload_IsUnverified()
    {
        using var certificate = Issue();
        var payload = PresenceOf(certificate).ToSignedXml(certificate);
        payload.SetAttributeValue("sequence", "-1");

        var check = Check(payload);

        check.State.ShouldBe(PeerTrustState.Unverified);
        check.Reason.ShouldContain("malformed");
    }
}

using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Xml.Linq;
using Welkin.Contracts;
using Welkin.Intercloud.Trust;

namespace Welkin.Intercloud.Federation;

public enum PresenceOutcome
{
    /// <summary>Signed by a certificate the federation trusts, bound to the sender: use it.</summary>
    Accepted,

    /// <summary>Refused for <see cref="PresenceCheck.State"/>: record it, never use the peer.</summary>
    Refused,

    /// <summary>A replay (a sequence number already seen) or too old or too far ahead: drop it, keep what is known.</summary>
    Ignored,
}

/// <summary>What <see cref="PresenceVerifier.Check"/> concluded about one presence payload.</summary>
/// <param name="Presence">The payload, when it parsed; its fields are only to be used when <see cref="Outcome"/> is Accepted.</param>
public sealed record PresenceCheck(PresenceOutcome Outcome, PeerTrustState State, string Reason, CloudPresence? Presence = null)
{
    /// <summary>The payload's sequence number when its signature held (a refusal on trust still advances it).</summary>
    public long? SignedSequence { get; init; }
}

/// <summary>
/// Checks a peer's presence payload: it parses, its certificate is the one its fingerprint names, the
/// certificate's key signed it, it is newer than the last one seen from that address and not older
/// (or further ahead) than <c>maxAge</c>, and the federation trusts the certificate for the address the
/// presence came from and the URL it names.
/// </summary>
public static class PresenceVerifier
{
    public static PresenceCheck Check(XElement? payload, string fromBareAddress, PeerVerifier verifier, long lastSequence, DateTimeOffset now, TimeSpan maxAge)
    {
        if (payload is null)
        {
            return new PresenceCheck(PresenceOutcome.Refused, PeerTrustState.Unverified, $"the presence carries no {CloudPresence.ElementName.LocalName} payload in {CloudPresence.Namespace}");
        }
        var (presence, signature, error) = CloudPresence.Parse(payload);
        if (presence is null || signature is null)
        {
            return new PresenceCheck(PresenceOutcome.Refused, PeerTrustState.Unverified, error!);
        }
        X509Certificate2 certificate;
        try
        {
            certificate = X509CertificateLoader.LoadCertificate(presence.Certificate);
        }
        catch (CryptographicException)
        {
            return new PresenceCheck(PresenceOutcome.Refused, PeerTrustState.Unverified, "the presence's certificate cannot be read", presence);
        }
        using (certificate)
        {
            if (!string.Equals(CloudPresence.FingerprintOf(presence.Certificate), presence.Fingerprint, StringComparison.OrdinalIgnoreCase))
            {
                return new PresenceCheck(PresenceOutcome.Refused, PeerTrustState.BadSignature, "the fingerprint is not the certificate's", presence);
            }
            if (!SignatureHolds(certificate, presence.CanonicalBytes(), signature))
            {
                return new PresenceCheck(PresenceOutcome.Refused, PeerTrustState.BadSignature, "the signature is not made by the certificate's key", presence);
            }
            if (presence.Sequence <= lastSequence)
            {
                return new PresenceCheck(PresenceOutcome.Ignored, PeerTrustState.Unverified, $"sequence {presence.Sequence} is not after {lastSequence} (a replay)", presence);
            }
            if ((now - presence.IssuedAt).Duration() > maxAge)
            {
                return new PresenceCheck(PresenceOutcome.Ignored, PeerTrustState.Unverified, $"issued at {presence.IssuedAt:O}, more than {maxAge} from now", presence);
            }
            var verdict = verifier.Verify(certificate, fromBareAddress, presence.Url);
            var state = StateOf(verdict.Kind);
            return new PresenceCheck(verdict.IsTrusted ? PresenceOutcome.Accepted : PresenceOutcome.Refused, state, verdict.Reason, presence)
            {
                SignedSequence = presence.Sequence,
            };
        }
    }

    public static PeerTrustState StateOf(PeerVerdictKind kind) => kind switch
    {
        PeerVerdictKind.Trusted => PeerTrustState.Trusted,
        PeerVerdictKind.Expired => PeerTrustState.Expired,
        PeerVerdictKind.NotYetValid => PeerTrustState.NotYetValid,
        PeerVerdictKind.Revoked => PeerTrustState.Revoked,
        PeerVerdictKind.RevocationUnknown => PeerTrustState.RevocationUnknown,
        PeerVerdictKind.NameMismatch => PeerTrustState.NameMismatch,
        _ => PeerTrustState.Untrusted,
    };

    private static bool SignatureHolds(X509Certificate2 certificate, byte[] data, byte[] signature)
    {
        try
        {
            using var ecdsa = certificate.GetECDsaPublicKey();
            if (ecdsa is not null)
            {
                return ecdsa.VerifyData(data, signature, HashAlgorithmName.SHA256);
            }
            using var rsa = certificate.GetRSAPublicKey();
            return rsa is not null && rsa.VerifyData(data, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pss);
        }
        catch (CryptographicException)
        {
            return false;
        }
    }
}

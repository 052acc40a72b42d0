using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Welkin.Intercloud.Trust;

public enum PeerVerdictKind
{
    Trusted,
    Untrusted,
    Expired,
    NotYetValid,
    Revoked,
    RevocationUnknown,
    NameMismatch,
}

/// <summary>What <see cref="PeerVerifier"/> concluded about a peer's certificate, and why.</summary>
public sealed record PeerVerdict(PeerVerdictKind Kind, string Reason, string? Cloud = null, CrlEntry? Revocation = null)
{
    public bool IsTrusted => Kind == PeerVerdictKind.Trusted;
}

/// <summary>
/// Decides whether a peer cloud's certificate may be trusted: issued by the federation CA alone (no
/// system roots), within its validity at the clock's time, absent from the CA's current CRL, and bound to
/// the XMPP address the peer speaks from and the API URL it serves from.
/// </summary>
public sealed class PeerVerifier(X509Certificate2 federationCa, FederationCrl crl, TimeProvider clock)
{
    private const string ServerAuthOid = "1.3.6.1.5.5.7.3.1";
    private const string ClientAuthOid = "1.3.6.1.5.5.7.3.2";

    public PeerVerdict Verify(X509Certificate2 peer, string xmppAddress, Uri apiUrl)
    {
        var verdict = VerifyCertificate(peer);
        if (!verdict.IsTrusted)
        {
            return verdict;
        }
        var (addresses, urls) = CloudIdentity.Read(peer);
        if (!addresses.Any(a => a.Equals(xmppAddress, StringComparison.OrdinalIgnoreCase)))
        {
            return new PeerVerdict(PeerVerdictKind.NameMismatch, $"the XMPP address {xmppAddress} is not in the certificate (it names {string.Join(", ", addresses)})");
        }
        if (!urls.Any(u => SameUrl(u, apiUrl)))
        {
            return new PeerVerdict(PeerVerdictKind.NameMismatch, $"the API URL {apiUrl} is not in the certificate (it names {string.Join(", ", urls)})");
        }
        return new PeerVerdict(PeerVerdictKind.Trusted, "issued by the federation CA, valid, not revoked, names bound", verdict.Cloud);
    }

    /// <summary>
    /// The checks of <see cref="Verify"/> that need no claimed names: chain, validity and revocation. What
    /// a TLS client certificate gets, whose names are then read from it rather than compared.
    /// </summary>
    public PeerVerdict VerifyCertificate(X509Certificate2 peer)
    {
        var now = clock.GetUtcNow();
        var trust = Chain(peer, now);
        if (trust is not null)
        {
            return new PeerVerdict(PeerVerdictKind.Untrusted, trust);
        }
        if (now < peer.NotBefore.ToUniversalTime())
        {
            return new PeerVerdict(PeerVerdictKind.NotYetValid, $"the certificate is valid from {peer.NotBefore.ToUniversalTime():O}");
        }
        if (now > peer.NotAfter.ToUniversalTime())
        {
            return new PeerVerdict(PeerVerdictKind.Expired, $"the certificate expired at {peer.NotAfter.ToUniversalTime():O}");
        }
        if (crl.Find(peer.SerialNumber) is { } entry)
        {
            return new PeerVerdict(PeerVerdictKind.Revoked, $"the certificate was revoked at {entry.RevokedAt:O} ({entry.Reason?.ToString() ?? "no reason given"})", Revocation: entry);
        }
        // A stale CRL still proves a revocation it lists, but not the absence of a newer one.
        if (crl.NextUpdate is { } next && now > next)
        {
            return new PeerVerdict(PeerVerdictKind.RevocationUnknown, $"the CRL was due for renewal at {next:O}");
        }
        return new PeerVerdict(PeerVerdictKind.Trusted, "issued by the federation CA, valid, not revoked", peer.GetNameInfo(X509NameType.SimpleName, false));
    }

    /// <summary>Null when the certificate chains to the federation CA for server and client use; else why not.</summary>
    private string? Chain(X509Certificate2 peer, DateTimeOffset now)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(federationCa);
        chain.ChainPolicy.DisableCertificateDownloads = true;
        // Revocation comes from the federation's own CRL below; time is judged below too, to name it.
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationFlags = X509VerificationFlags.IgnoreNotTimeValid;
        chain.ChainPolicy.VerificationTime = now.UtcDateTime;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid(ServerAuthOid));
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid(ClientAuthOid));
        if (chain.Build(peer))
        {
            var root = chain.ChainElements[^1].Certificate;
            return root.RawDataMemory.Span.SequenceEqual(federationCa.RawDataMemory.Span) ? null : "the chain does not end at the federation CA";
        }
        var problems = chain.ChainStatus.Where(s => s.Status != X509ChainStatusFlags.NoError).Select(s => s.Status.ToString()).Distinct();
        return $"the certificate does not chain to the federation CA ({string.Join(", ", problems)})";
    }

    private static bool SameUrl(Uri a, Uri b) =>
        a.IsAbsoluteUri && b.IsAbsoluteUri
        && Uri.Compare(a, b, UriComponents.SchemeAndServer, UriFormat.SafeUnescaped, StringComparison.OrdinalIgnoreCase) == 0
        && a.AbsolutePath.TrimEnd('/').Equals(b.AbsolutePath.TrimEnd('/'), StringComparison.Ordinal);
}

namespace Welkin.Contracts;

/// <summary>What a cloud concluded about a peer's signed presence; only <see cref="Trusted"/> peers are used.</summary>
public enum PeerTrustState
{
    Trusted,

    /// <summary>The certificate does not chain to the federation CA.</summary>
    Untrusted,
    Expired,
    NotYetValid,
    Revoked,

    /// <summary>The CRL in force is past its next update, so a newer revocation cannot be excluded.</summary>
    RevocationUnknown,

    /// <summary>The XMPP address the presence came from, or the URL it names, is not in the certificate.</summary>
    NameMismatch,

    /// <summary>The payload's signature is not the certificate's key's, or its fingerprint is not the certificate's.</summary>
    BadSignature,

    /// <summary>No verifiable payload yet: a presence without one, or one that does not parse.</summary>
    Unverified,
}

/// <summary>Free capacity in one jurisdiction and region of a cloud, after overcommit.</summary>
public sealed record RegionCapacity(string Jurisdiction, string Region, long FreeVcpus, long FreeMemoryMiB, long FreeStorageGiB);

/// <summary>The capacity summary a cloud publishes in its presence.</summary>
public sealed record CloudCapacity(IReadOnlyList<RegionCapacity> Regions, int Offerings);

/// <summary>A peer cloud as this cloud knows it from its signed presence.</summary>
/// <param name="Address">The peer's bare XMPP address on the exchange.</param>
/// <param name="Name">The federation name from its certificate; null until a trusted presence named it.</param>
/// <param name="Capacity">Its last verified capacity summary; null until one arrived.</param>
/// <param name="Reason">Why the trust state is what it is.</param>
public sealed record PeerView(
    string Address,
    string? Name,
    string? Url,
    bool Online,
    DateTimeOffset? LastSeen,
    CloudCapacity? Capacity,
    PeerTrustState Trust,
    string? Reason,
    string? Fingerprint,
    DateTimeOffset UpdatedAt);

/// <summary>The answer of <c>GET /api/v1/federation/peers</c>: whether federation is on, and the peers.</summary>
/// <param name="Federation">"on" or "off" (no Federation section configured: the list is empty).</param>
public sealed record PeerList(string Federation, string? Address, IReadOnlyList<PeerView> Peers);

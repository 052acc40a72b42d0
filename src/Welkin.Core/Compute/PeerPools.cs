using Welkin.Contracts;
using Welkin.Core.Common;

namespace Welkin.Core.Compute;

/// <summary>
/// What a host pool served by another cloud can take now. A peer pool is never placed on while
/// <see cref="Available"/> is false: the peer has no agreement in force with this cloud, is not
/// trusted, or is offline (<see cref="Reason"/> says which).
/// </summary>
/// <param name="Vcpus">vCPUs the pool may still take: what the agreement's entitlement leaves, capped by the capacity the peer's presence announces.</param>
/// <param name="Jurisdictions">Where the peer's machines run for this cloud (the agreement's policy).</param>
/// <param name="PricePerCpuHour">The peer's per-vCPU-hour rate under the agreement, in <paramref name="Currency"/>; null when it has none.</param>
public sealed record PeerPoolStatus(
    bool Available,
    string? Reason,
    int Vcpus,
    long MemoryMiB,
    long DiskGiB,
    IReadOnlyList<string> Jurisdictions,
    decimal? PricePerCpuHour,
    string? Currency,
    string? AgreementId)
{
    public static PeerPoolStatus Unavailable(string reason) => new(false, reason, 0, 0, 0, [], null, null, null);
}

/// <summary>
/// A driver whose hosts are another cloud (the peer-cloud driver). Placement uses such a pool only to
/// burst, when no local pool can place a machine and the offering and the cloud allow it, and only
/// within <see cref="Status"/>.
/// </summary>
public interface IPeerPool
{
    /// <summary>The peer's federation name.</summary>
    string Peer { get; }

    PeerPoolStatus Status { get; }

    /// <summary>Makes the pool read its status again soon (the agreement or the trust behind it changed); never waits for it.</summary>
    void Refresh();
}

/// <summary>
/// How this cloud reaches a peer as a consumer: the peer's API under the credential of this cloud's
/// agreement in force with it. <see cref="Http"/> presents this cloud's federation certificate (the
/// credential is bound to it) and verifies the peer's; the caller does not dispose it.
/// </summary>
/// <param name="ContractIds">The agreement's contracts on the peer.</param>
/// <param name="Online">Whether the peer's presence is available now.</param>
/// <param name="Capacity">The free capacity the peer's last verified presence announced; null when none arrived.</param>
public sealed record PeerLink(
    string Peer,
    string AgreementId,
    Uri ApiUrl,
    HttpClient Http,
    string Credential,
    IReadOnlyList<string> ContractIds,
    AgreementTerms Terms,
    bool Online,
    CloudCapacity? Capacity = null);

/// <summary>The links to peers this cloud consumes, from its agreements in force, trust and presence.</summary>
public interface IPeerLinks
{
    /// <summary>
    /// The link to <paramref name="peer"/> (federation name), or <c>peer-unavailable</c> naming why:
    /// no agreement in force, the peer is not trusted, or it has no API URL.
    /// </summary>
    Task<Result<PeerLink>> GetAsync(string peer, CancellationToken ct);
}

/// <summary>A machine packed as an OVA (its disk and description) in a local file, with the file's size and SHA-256 (hex).</summary>
public sealed record MachinePackage(string Path, long SizeBytes, string Sha256);

/// <summary>
/// A move's transfer as its job keeps it: the upload opened at the peer by an earlier attempt (null: none yet),
/// and <see cref="Opened"/>, told the id of an upload the import opens, so that an attempt after a restart
/// resumes it where the peer's offset stands instead of sending the package again.
/// </summary>
public sealed record PackageTransfer(string? UploadId, Func<string, CancellationToken, Task> Opened);

/// <summary>
/// A peer pool that creates a machine from a package of this cloud (a cold move to a peer): the package is
/// uploaded to the peer (resumable, its digest verified there), made an image of the agreement's account and
/// the machine provisioned from it. The machine then belongs to the pool like any other; destroying it removes
/// it at the peer.
/// </summary>
public interface IPeerMachineImport
{
    /// <summary>Creates <paramref name="spec"/>'s machine (stopped or running, as the peer boots it) from <paramref name="package"/>; repeating it returns the same machine.</summary>
    Task<Result<DriverMachine>> ImportAsync(MachineSpec spec, MachinePackage package, PackageTransfer transfer, IProgress<int>? progress, CancellationToken ct);
}

namespace Welkin.Contracts;

/// <summary>
/// What a peer cloud needs to take one of its machines home live (<c>GET /api/v1/machines/{id}/outgoing</c>): its
/// sizes, its disks (<c>root</c>, the system disk, and its virtual size), whether the guest runs (a paused one
/// arrives paused) and the hypervisor's settings the destination reproduces (opaque: for example <c>qemu.subnet</c>).
/// </summary>
public sealed record OutgoingMachineView(
    string MachineId, int Vcpus, long MemoryMiB, long DiskGiB, string? OperatingSystem, IReadOnlyList<IncomingDisk> Disks, bool Running,
    IReadOnlyDictionary<string, string> Hypervisor);

/// <summary>
/// Where the peer cloud prepared the machine (<c>POST /api/v1/machines/{id}/send</c>): its disk server's port (one
/// export name per disk id) and its migration port on <paramref name="Address"/>, both TLS with the federation's
/// certificates; <paramref name="PeerName"/> is what the destination's certificate must name (the host of the
/// peer cloud's federation API).
/// </summary>
public sealed record SendMachineRequest(string Address, int DiskPort, int MigrationPort, IReadOnlyDictionary<string, string> Exports, string PeerName);

/// <summary>Where a machine's live move home stands.</summary>
public enum SendState
{
    /// <summary>The disks and the guest's state are on their way; the guest runs here.</summary>
    Sending,

    /// <summary>Everything is sent and the guest is paused here: the peer cloud resumes it, then calls <c>handover</c> (or cancels).</summary>
    Ready,

    /// <summary>The peer cloud runs the guest; the machine here is ended (billed up to the handover).</summary>
    HandedOver,

    /// <summary>The move failed or was cancelled; the guest runs here (<see cref="SendView.Detail"/> says why).</summary>
    Failed,
}

/// <summary>A machine's live move home, as its peer cloud follows it.</summary>
public sealed record SendView(string MachineId, SendState State, string? Detail = null);

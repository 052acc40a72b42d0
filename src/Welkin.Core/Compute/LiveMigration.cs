using System.Diagnostics;
using Welkin.Core.Common;

namespace Welkin.Core.Compute;

/// <summary>
/// One side's x509 material for a live move between fabrics that share nothing: PEM files of the
/// certificate authority both sides trust (the federation's), of this side's certificate and of its key.
/// </summary>
/// <param name="PeerName">
/// What the other side's certificate must say. On the source: the name the destination's certificate
/// carries in its subjectAltName (the host of the destination cloud's federation API URL), checked as a
/// TLS client checks a server's name. On the destination: the source certificate's subject distinguished
/// name (for example <c>CN=cloud-a</c>). Null on the destination accepts any certificate the authority issued.
/// </param>
public sealed record MigrationTls(string CaCertificatePath, string CertificatePath, string PrivateKeyPath, string? PeerName);

/// <summary>A disk that moves with the machine: <c>root</c> (the system disk) or a volume id, and its virtual size.</summary>
public sealed record MigrationDisk(string Id, long VirtualSizeBytes);

/// <summary>
/// What a destination needs to take a running machine: its spec (current size and volumes), its disks,
/// whether it runs (a paused machine arrives paused), and the hypervisor's settings the destination must
/// reproduce for the guest's devices and addresses to match (<paramref name="Hypervisor"/>, opaque to Core).
/// </summary>
public sealed record OutgoingMachine(MachineSpec Spec, IReadOnlyList<MigrationDisk> Disks, bool Running, IReadOnlyDictionary<string, string> Hypervisor);

/// <summary>
/// A machine a destination prepared to receive: where its disk server listens (<paramref name="DiskPort"/>,
/// one export per disk id in <paramref name="Exports"/>) and where it waits for the guest's state
/// (<paramref name="MigrationPort"/>), both on <paramref name="Address"/> and both TLS with verified peers.
/// </summary>
public sealed record IncomingMachine(string MachineId, string Address, int DiskPort, int MigrationPort, IReadOnlyDictionary<string, string> Exports);

/// <summary>
/// A finished live move: the machine at its destination (its new host and endpoints), the whole time from
/// the first disk block to the guest running there, the time the guest was paused, the time the disks took
/// to reach their first full copy, the bytes of disk the copy went over (the disks' virtual size: areas
/// never written travel as zero-write requests, not as data) and the bytes of memory sent.
/// </summary>
public sealed record LiveMigrationReport(DriverMachine Machine, TimeSpan Total, TimeSpan Downtime, TimeSpan DiskCopy, long DiskBytes, long MemoryBytes);

/// <summary>
/// A driver that can send a running machine, with its disks, to a fabric that shares no storage with it
/// (another cloud's pool). The streams are TLS with x509 certificates verified on both ends.
/// </summary>
public interface ILiveMigrationSource
{
    /// <summary>What the destination needs to prepare for the machine; <c>invalid-state</c> unless it runs or is paused.</summary>
    Task<Result<OutgoingMachine>> DescribeOutgoingAsync(string machineId, CancellationToken ct);

    /// <summary>
    /// Copies the machine's disks to <paramref name="target"/> while the guest runs, keeps them in step,
    /// sends the guest's state, ends the copy consistently and calls <paramref name="resumeAtTarget"/>;
    /// when that succeeds, the machine is ended and removed here. Any failure before (a refused
    /// certificate, a destination gone, a timeout) or of <paramref name="resumeAtTarget"/> leaves the
    /// guest running here and gives <c>hypervisor-error</c> with the cause in <see cref="Error.Cause"/>.
    /// </summary>
    Task<Result<LiveMigrationReport>> MigrateOutAsync(
        string machineId, IncomingMachine target, MigrationTls tls, Func<CancellationToken, Task<Result<DriverMachine>>> resumeAtTarget,
        IProgress<int>? progress, CancellationToken ct);
}

/// <summary>The receiving side of <see cref="ILiveMigrationSource"/>.</summary>
public interface ILiveMigrationTarget
{
    /// <summary>
    /// Makes the machine on <paramref name="host"/> with empty disks of the given sizes, waiting for its
    /// disks and state; errors as for a create (<c>unknown-host</c>, <c>host-unavailable</c>, …).
    /// </summary>
    Task<Result<IncomingMachine>> PrepareIncomingAsync(OutgoingMachine machine, string host, MigrationTls tls, CancellationToken ct);

    /// <summary>Once the source has sent everything: closes the disk server and runs the guest (or keeps it paused); the machine is this fabric's from then on.</summary>
    Task<Result<DriverMachine>> ResumeIncomingAsync(string machineId, CancellationToken ct);

    /// <summary>Removes a prepared machine that will not come (its process, disks and files); one never prepared succeeds.</summary>
    Task<Result<bool>> AbortIncomingAsync(string machineId, CancellationToken ct);
}

/// <summary>A live move between two fabrics, driven from one place (both drivers at hand).</summary>
public static class CrossFabricMigration
{
    /// <summary>
    /// Moves a running machine from <paramref name="source"/> to <paramref name="targetHost"/> of
    /// <paramref name="target"/>. On any failure the destination is cleaned up and the machine runs on at the source.
    /// </summary>
    public static async Task<Result<LiveMigrationReport>> MoveAsync(
        ILiveMigrationSource source, ILiveMigrationTarget target, string machineId, string targetHost,
        MigrationTls sourceTls, MigrationTls targetTls, IProgress<int>? progress, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        var outgoing = await source.DescribeOutgoingAsync(machineId, ct);
        if (!outgoing.IsSuccess)
        {
            return outgoing.Error!;
        }
        var started = Stopwatch.GetTimestamp();
        var incoming = await target.PrepareIncomingAsync(outgoing.Value, targetHost, targetTls, ct);
        if (!incoming.IsSuccess)
        {
            return incoming.Error!;
        }
        Result<LiveMigrationReport> moved;
        try
        {
            moved = await source.MigrateOutAsync(machineId, incoming.Value, sourceTls, c => target.ResumeIncomingAsync(machineId, c), progress, ct);
        }
        catch
        {
            await target.AbortIncomingAsync(machineId, CancellationToken.None);
            throw;
        }
        if (!moved.IsSuccess)
        {
            await target.AbortIncomingAsync(machineId, CancellationToken.None);
            return moved.Error!;
        }
        // The destination's preparation (its QEMU starting) is part of what the move costs.
        return moved.Value with { Total = Stopwatch.GetElapsedTime(started) };
    }
}

using Welkin.Core.Common;

namespace Welkin.Core.Compute;

/// <summary>
/// A repatriation's download as its job keeps it: the package (by its SHA-256; null before the first attempt) whose
/// first <see cref="ReceivedBytes"/> are durably in the spool file, and <see cref="Saved"/>, told the digest and the
/// durable length each time more arrived, so that an attempt after a restart fetches only the rest.
/// </summary>
public sealed record PackageDownload(string? Sha256, long ReceivedBytes, Func<string, long, CancellationToken, Task> Saved);

/// <summary>
/// A peer pool that hands out its machines' packages (a machine coming home cold): the peer writes the machine's
/// OVA once (the machine must be stopped there), and it is downloaded into a local spool file in ranges, resumed
/// after a cut and checked against the SHA-256 the peer gave.
/// </summary>
public interface IPeerMachineExport
{
    /// <summary>
    /// Downloads the package of the peer's machine behind <paramref name="machineId"/> into <paramref name="spoolPath"/>,
    /// going on from <paramref name="download"/>'s bytes when they belong to the same package; <c>invalid-state</c> when the
    /// machine is not stopped at the peer.
    /// </summary>
    Task<Result<MachinePackage>> ExportAsync(string machineId, string spoolPath, PackageDownload download, IProgress<int>? progress, CancellationToken ct);

    /// <summary>Deletes the package the peer keeps for <paramref name="machineId"/>'s machine; nothing when there is none.</summary>
    Task DiscardAsync(string machineId, CancellationToken ct);
}

using Welkin.Client;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Compute;

namespace Welkin.Compute.Peer;

/// <summary>
/// A machine of the pool coming home cold: the peer writes the stopped machine's OVA once (its package, the same
/// one again while the machine is unchanged), and it comes down in ranges into this cloud's spool file. Bytes an
/// earlier attempt received are kept when they belong to the same package (same SHA-256); the durable length is
/// told to the job after every checkpoint, so a restart resumes the download rather than repeating it.
/// </summary>
public sealed partial class PeerDriver : IPeerMachineExport
{
    public async Task<Result<MachinePackage>> ExportAsync(string machineId, string spoolPath, PackageDownload download, IProgress<int>? progress, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(download);
        using var hold = await HoldAsync(machineId, ct);
        var found = await FindAsync(machineId, ct);
        if (!found.IsSuccess)
        {
            return found.Error!;
        }
        var (row, client, machine) = found.Value;
        if (machine.State != DriverMachineState.Stopped)
        {
            return DriverErrors.InvalidState(machineId, machine.State, "be exported until it is stopped");
        }
        var package = await CallAsync(machineId, () => client.MachinePackages.CreateAsync(row.RemoteMachineId!, ct), ct);
        if (!package.IsSuccess)
        {
            return package.Error!;
        }
        var p = package.Value;
        var kept = download.Sha256 == p.Sha256 ? download.ReceivedBytes : 0;
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(spoolPath))!);
        await using (var file = new FileStream(spoolPath, FileMode.OpenOrCreate, FileAccess.Write, FileShare.None))
        {
            // The job's record is the truth: bytes beyond it were written but never confirmed durable.
            file.SetLength(Math.Min(file.Length, kept));
            kept = file.Length;
        }
        await download.Saved(p.Sha256, kept, ct);
        var received = progress is null || p.SizeBytes == 0 ? null : new Progress<long>(bytes => progress.Report((int)(bytes * 100 / p.SizeBytes)));
        string? failed = null;
        var done = await CallAsync(machineId, async () =>
        {
            try
            {
                return await client.MachinePackages.DownloadAsync(p, spoolPath, (bytes, c) => download.Saved(p.Sha256, bytes, c), received, null, ct);
            }
            catch (WelkinProtocolException e)
            {
                // Cut too often, changed meanwhile, or arrived with another digest (then the file is gone): the peer answered, so it is not unreachable.
                failed = e.Message;
                return p;
            }
        }, ct);
        if (!done.IsSuccess)
        {
            return done.Error!;
        }
        if (failed is not null)
        {
            if (!File.Exists(spoolPath))
            {
                await download.Saved(p.Sha256, 0, CancellationToken.None);
            }
            return DriverErrors.HypervisorFailed(machineId, HypervisorFailure.DiskCopy, "the package from the peer: " + failed);
        }
        return new MachinePackage(spoolPath, p.SizeBytes, p.Sha256);
    }

    public async Task DiscardAsync(string machineId, CancellationToken ct)
    {
        var row = await _store.GetAsync(machineId, ct);
        if (row is not { RemoteMachineId: { } remote } || await ConnectAsync(ct) is not { IsSuccess: true } connected)
        {
            return;
        }
        await CallAsync(machineId, () => connected.Value.Client.MachinePackages.DeleteAsync(remote, ct), ct);
    }
}

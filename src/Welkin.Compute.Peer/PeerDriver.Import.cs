using Welkin.Client;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Compute;

namespace Welkin.Compute.Peer;

/// <summary>
/// A machine of this cloud moved cold to the peer: its package goes up as a resumable upload of the agreement's
/// account (the peer verifies its SHA-256), becomes an image of that account, and the machine is provisioned from
/// it like any other of the pool (same Idempotency-Key). The upload and the image are opened under keys made of the
/// machine id and the package's digest, so an attempt after a crash finds them again; the image is deleted once the
/// machine has its own disk.
/// </summary>
public sealed partial class PeerDriver
{
    /// <summary>Share of the import's progress the transfer takes; the provision on the peer takes the rest.</summary>
    private const int TransferShare = 80;

    public async Task<Result<DriverMachine>> ImportAsync(MachineSpec spec, MachinePackage package, PackageTransfer transfer, IProgress<int>? progress, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(package);
        ArgumentNullException.ThrowIfNull(transfer);
        if (spec.Host != _host.Name)
        {
            return DriverErrors.UnknownHost(spec.Host);
        }
        using var hold = await HoldAsync(spec.MachineId, ct);
        var existing = await _store.GetAsync(spec.MachineId, ct);
        if (existing is { IsDestroyed: false, RemoteMachineId: not null } && await InspectAsync(spec.MachineId, ct) is { } known)
        {
            progress?.Report(100);
            return known;
        }
        var connected = await ConnectAsync(ct);
        if (!connected.IsSuccess)
        {
            return connected.Error!;
        }
        var (link, client) = connected.Value;
        var image = await ImageOfAsync(spec.MachineId, client, package, transfer, progress, ct);
        if (!image.IsSuccess)
        {
            return image.Error!;
        }
        var rest = progress is null ? null : new Progress<int>(p => progress.Report(TransferShare + p * (100 - TransferShare) / 100));
        var created = await ProvisionAsync(spec, existing is { IsDestroyed: false } ? existing : null, link, client, rest, ct, image.Value);
        // The machine has its own disk now (or failed to get one): the image was only the way there.
        await CallAsync(spec.MachineId, () => client.AccountImages.DeleteAsync(image.Value, ct), ct);
        return created;
    }

    /// <summary>The id of the image of the agreement's account made from <paramref name="package"/>, sending what the peer does not have yet.</summary>
    private async Task<Result<string>> ImageOfAsync(
        string machineId, WelkinClient client, MachinePackage package, PackageTransfer transfer, IProgress<int>? progress, CancellationToken ct)
    {
        var key = $"move.{machineId}.{package.Sha256[..Math.Min(16, package.Sha256.Length)]}";
        var upload = await ResumableAsync(machineId, client, package, transfer.UploadId, ct);
        if (!upload.IsSuccess)
        {
            // No earlier upload, or the peer no longer has it (expired, used up): the key finds the one an attempt opened but did not record.
            upload = await CallAsync(machineId, () => client.Uploads.CreateAsync(package.SizeBytes, package.Sha256, "upload." + key, ct), ct);
            if (!upload.IsSuccess)
            {
                return upload.Error!;
            }
            await transfer.Opened(upload.Value.Id, ct);
        }
        var uploadId = upload.Value.Id;
        if (upload.Value.State != UploadState.Complete)
        {
            var sent = progress is null || package.SizeBytes == 0
                ? null
                : new Progress<long>(bytes => progress.Report((int)(bytes * TransferShare / package.SizeBytes)));
            upload = await CallAsync(machineId, () => client.Uploads.UploadFileAsync(package.Path, uploadId, sent, new UploadSettings(_options.UploadChunkBytes), ct), ct);
            if (!upload.IsSuccess)
            {
                // Given up for good (the job fails): the peer keeps nothing of the move.
                await CallAsync(machineId, () => client.Uploads.DeleteAsync(uploadId, ct), ct);
                return upload.Error!;
            }
        }
        progress?.Report(TransferShare);
        var image = await CallAsync(machineId, () => client.AccountImages.CreateAsync(uploadId, "move-" + machineId, "A machine moved from a peer cloud", "image." + key, ct), ct);
        return image.IsSuccess ? image.Value.Id : image.Error!;
    }

    /// <summary>The upload an earlier attempt opened for this package, when the peer still has it.</summary>
    private async Task<Result<UploadView>> ResumableAsync(string machineId, WelkinClient client, MachinePackage package, string? uploadId, CancellationToken ct)
    {
        if (uploadId is null)
        {
            return DriverErrors.MachineNotFound(machineId);
        }
        var upload = await CallAsync(machineId, () => client.Uploads.GetAsync(uploadId, ct), ct);
        return upload.IsSuccess && (upload.Value.SizeBytes != package.SizeBytes || upload.Value.Sha256 != package.Sha256)
            ? DriverErrors.MachineNotFound(machineId)
            : upload;
    }
}

using Welkin.Client;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Compute;

namespace Welkin.Compute.Peer;

/// <summary>
/// This cloud's volumes on the machines of a peer pool. A volume's data lives where its machine runs: attaching one
/// to a machine of the pool creates (once, under the local volume id as Idempotency-Key, kept in <c>peer_volumes</c>)
/// a volume of the same size on the peer, on a storage line of the agreement's contracts, under the agreement's
/// account, and attaches it to the machine there; detaching detaches it there, deleting deletes it there. It stays
/// on the peer between attachments, so it can only be attached to machines of that pool (the Configuration Manager
/// refuses others).
/// </summary>
public sealed partial class PeerDriver
{
    private static readonly TimeSpan VolumeSettleMost = TimeSpan.FromSeconds(30);

    public async Task<Result<bool>> AttachVolumeAsync(string machineId, VolumeAttachment volume, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(volume);
        using var hold = await HoldAsync(machineId, ct);
        var found = await FindAsync(machineId, ct);
        if (!found.IsSuccess)
        {
            return found.Error!;
        }
        var (machine, client, _) = found.Value;
        var kept = await KeptVolumeAsync(machineId, volume, client, ct);
        if (!kept.IsSuccess)
        {
            return kept.Error!;
        }
        var remote = await SettledAsync(machineId, client, kept.Value, ct);
        if (!remote.IsSuccess)
        {
            return remote.Error!.Code == "machine-not-found" ? VolumeLost(volume.VolumeId) : remote.Error!;
        }
        if (remote.Value.MachineId == machine.RemoteMachineId && remote.Value.State == VolumeState.Attached)
        {
            return true;
        }
        if (remote.Value.State is VolumeState.Deleted or VolumeState.Deleting)
        {
            return VolumeLost(volume.VolumeId);
        }
        if (remote.Value.State != VolumeState.Available)
        {
            // Attached to another of the peer's machines: this cloud attaches a volume to one machine at a time.
            return VolumeBusy(volume.VolumeId);
        }
        var accepted = await CallAsync(machineId, () => client.Volumes.AttachAsync(kept.Value, new AttachVolumeRequest(machine.RemoteMachineId!), ct), ct);
        var done = accepted.IsSuccess ? await WaitAsync(machineId, client, accepted.Value.Job, null, ct) : accepted.Error!;
        return done.IsSuccess ? true : done.Error!;
    }

    public async Task<Result<bool>> DetachVolumeAsync(string machineId, string volumeId, CancellationToken ct)
    {
        using var hold = await HoldAsync(machineId, ct);
        var found = await FindAsync(machineId, ct);
        if (!found.IsSuccess)
        {
            return found.Error!;
        }
        var (machine, client, _) = found.Value;
        var row = await _store.Volumes.GetAsync(volumeId, ct);
        if (row is null || row.IsDeleted || row.RemoteVolumeId is null)
        {
            return true;
        }
        var remote = await SettledAsync(machineId, client, row.RemoteVolumeId, ct);
        if (!remote.IsSuccess)
        {
            return remote.Error!.Code == "machine-not-found" ? true : remote.Error!;
        }
        if (remote.Value.MachineId != machine.RemoteMachineId || remote.Value.State != VolumeState.Attached)
        {
            return true;
        }
        var accepted = await CallAsync(machineId, () => client.Volumes.DetachAsync(row.RemoteVolumeId, null, ct), ct);
        var done = accepted.IsSuccess ? await WaitAsync(machineId, client, accepted.Value.Job, null, ct) : accepted.Error!;
        return done.IsSuccess ? true : done.Error!;
    }

    /// <summary>Deletes the volume's copy on the peer; one this pool never kept is nothing to delete.</summary>
    public async Task<Result<bool>> DeleteVolumeAsync(string volumeId, CancellationToken ct)
    {
        var row = await _store.Volumes.GetAsync(volumeId, ct);
        if (row is null || row.IsDeleted || row.Pool != _pool)
        {
            return true;
        }
        var connected = await ConnectAsync(ct);
        if (!connected.IsSuccess)
        {
            return connected.Error!;
        }
        var client = connected.Value.Client;
        // A create whose answer was lost is repeated under its key: the peer names the volume it made, if it made one.
        var remoteId = row.RemoteVolumeId;
        if (remoteId is null)
        {
            var created = await CreateRemoteVolumeAsync(volumeId, row, connected.Value.Link, client, ct);
            if (!created.IsSuccess && created.Error!.Code == "host-unavailable")
            {
                return created.Error!;
            }
            if (!created.IsSuccess)
            {
                // The peer refuses the create: it never made the volume.
                await _store.Volumes.DeletedAsync(row, ct);
                return true;
            }
            remoteId = created.Value;
        }
        var remote = await SettledAsync(volumeId, client, remoteId, ct);
        if (!remote.IsSuccess)
        {
            // A volume the peer no longer has is deleted already.
            if (remote.Error!.Code != "machine-not-found")
            {
                return remote.Error!;
            }
        }
        else if (remote.Value.State is VolumeState.Attached or VolumeState.Attaching or VolumeState.Detaching)
        {
            return VolumeBusy(volumeId);
        }
        else if (remote.Value.State == VolumeState.Available)
        {
            var deleted = await CallAsync(volumeId, () => client.Volumes.DeleteAsync(remoteId, null, ct), ct);
            if (!deleted.IsSuccess && deleted.Error!.Code != "machine-not-found")
            {
                return deleted.Error!;
            }
        }
        await _store.Volumes.DeletedAsync(row, ct);
        return true;
    }

    /// <summary>The id on the peer of the volume this pool keeps for <paramref name="volume"/>, created there when it has none.</summary>
    private async Task<Result<string>> KeptVolumeAsync(string machineId, VolumeAttachment volume, WelkinClient client, CancellationToken ct)
    {
        var row = await _store.Volumes.GetAsync(volume.VolumeId, ct);
        if (row is { IsDeleted: false } && row.Pool != _pool)
        {
            return VolumeElsewhere(volume.VolumeId, row.Pool);
        }
        if (row is { IsDeleted: false, RemoteVolumeId: { } kept })
        {
            return kept;
        }
        var link = await _links.GetAsync(Peer, ct);
        if (!link.IsSuccess)
        {
            return DriverErrors.HostUnavailable(_host.Name) with { Cause = link.Error!.Detail };
        }
        row = row is { IsDeleted: false } ? row : await _store.Volumes.BeginAsync(_pool, Peer, link.Value.AgreementId, volume.VolumeId, volume.SizeGiB, ct);
        return await CreateRemoteVolumeAsync(machineId, row, link.Value, client, ct);
    }

    private async Task<Result<string>> CreateRemoteVolumeAsync(string subject, PeerVolumeRow row, PeerLink link, WelkinClient client, CancellationToken ct)
    {
        var request = await StorageLineAsync(client, link, row, ct);
        if (!request.IsSuccess)
        {
            return request.Error!;
        }
        var created = await CallAsync(subject, () => client.Volumes.CreateAsync(request.Value, row.IdempotencyKey, ct), ct);
        if (!created.IsSuccess)
        {
            return created.Error!;
        }
        await _store.Volumes.CompleteAsync(row, created.Value.Id, ct);
        return created.Value.Id;
    }

    /// <summary>The first storage line of the agreement's active contracts on the peer that takes a volume of the size.</summary>
    private async Task<Result<CreateVolumeRequest>> StorageLineAsync(WelkinClient client, PeerLink link, PeerVolumeRow row, CancellationToken ct)
    {
        var why = new List<string>();
        foreach (var contractId in link.ContractIds)
        {
            var contract = await CallAsync(row.VolumeId, () => client.Contracts.GetAsync(contractId, ct), ct);
            if (!contract.IsSuccess)
            {
                return contract.Error!;
            }
            if (contract.Value.State != ContractState.Active)
            {
                continue;
            }
            foreach (var line in contract.Value.Items.Where(i => i.Kind == OfferingKind.Storage))
            {
                if (line.Storage is { IncrementGiB: > 0 } storage && row.SizeGiB % storage.IncrementGiB == 0 && (storage.MaxGiB <= 0 || row.SizeGiB <= storage.MaxGiB))
                {
                    return new CreateVolumeRequest(contractId, row.SizeGiB, "welkin-" + row.VolumeId, line.Item);
                }
                why.Add($"line {line.Item} of contract {contractId} takes {line.Storage?.IncrementGiB} GiB increments up to {line.Storage?.MaxGiB} GiB");
            }
        }
        return DriverErrors.Unsupported($"a volume of {row.SizeGiB} GiB on peer cloud '{Peer}': no storage line of its agreement takes it") with
        {
            Cause = why.Count == 0 ? $"agreement {link.AgreementId} has no active storage line" : string.Join("; ", why),
        };
    }

    /// <summary>The peer's volume once no attach or detach of its own is under way.</summary>
    private async Task<Result<VolumeView>> SettledAsync(string subject, WelkinClient client, string remoteId, CancellationToken ct)
    {
        var delay = JobPollFirst;
        var since = _clock.GetTimestamp();
        while (true)
        {
            var view = await CallAsync(subject, () => client.Volumes.GetAsync(remoteId, ct), ct);
            if (!view.IsSuccess || view.Value.State is not (VolumeState.Attaching or VolumeState.Detaching) || _clock.GetElapsedTime(since) > VolumeSettleMost)
            {
                return view;
            }
            await Task.Delay(delay, _clock, ct);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, JobPollMost.Ticks));
        }
    }

    private static Error VolumeBusy(string volumeId) =>
        new("invalid-state", ErrorKind.Conflict, $"Volume '{volumeId}' is attached on the peer cloud; it cannot be attached elsewhere or deleted until it is detached.");

    private Error VolumeLost(string volumeId) =>
        new("invalid-state", ErrorKind.Conflict, $"Volume '{volumeId}' is no longer kept on peer cloud '{Peer}'; its data is gone.");

    private Error VolumeElsewhere(string volumeId, string pool) =>
        new("invalid-state", ErrorKind.Conflict, $"Volume '{volumeId}' keeps its data in host pool '{pool}', not in '{_pool}'.");
}

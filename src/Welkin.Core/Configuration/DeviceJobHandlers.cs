using System.Text.Json;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Data;
using Welkin.Core.Jobs;

namespace Welkin.Core.Configuration;

/// <summary>
/// When a device change reaches the driver. A live machine (running or paused) takes it at once
/// when the driver can hot-plug that kind of device; a stopped machine takes it into its
/// definition at once (cold plug). Otherwise (no hot-plug, a machine still being created or in
/// error) the change is recorded with applied = false and <see cref="MachineDevices.ApplyPendingAsync"/>
/// hands it to the driver before the machine's next start.
/// </summary>
internal static class DevicePolicy
{
    public static bool ApplyNow(MachineRef machine, DriverCapabilities capabilities, DriverCapabilities hotPlug) =>
        machine.State == "inactive" || (machine.IsLive && capabilities.HasFlag(hotPlug));

    /// <summary>Driver answers that mean "nothing to remove": the machine or its device is already gone.</summary>
    public static bool IsGone(Error error) => error.Code is "machine-not-found";

    public static T Request<T>(JobRecord job) =>
        JsonSerializer.Deserialize<T>(job.Request ?? "null", WelkinJson.Client) ?? throw new InvalidOperationException($"Job {job.Id} has no request.");

}

/// <summary><c>volume.attach</c>: puts the volume on the machine (or records it for the next start) and marks it attached.</summary>
public sealed class VolumeAttachHandler(IDatabase db, ComputeFabric fabric, TimeProvider clock) : IJobHandler
{
    public string Action => VolumeService.AttachAction;

    public async Task RunAsync(JobContext context, CancellationToken ct)
    {
        var request = DevicePolicy.Request<VolumeJob>(context.Job);
        var (volume, machine) = await db.ReadAsync(async tx => (
            await VolumeStore.GetAsync(tx, request.VolumeId),
            await Resources.FindAsync(tx, request.MachineId)), ct);
        if (volume is null || volume.MachineId != request.MachineId || volume.State != VolumeStore.Attaching)
        {
            // A re-run after the attach committed finds it attached; anything else changed the volume meanwhile.
            await FinishAsync(context, volume is not null && volume.State == VolumeStore.Attached && volume.MachineId == request.MachineId
                ? null
                : Error.InvalidState($"Volume '{request.VolumeId}' is no longer being attached to '{request.MachineId}'."), ct);
            return;
        }
        if (machine is null || machine.IsGone)
        {
            await RevertAsync(context, volume, request, Error.InvalidState($"Machine '{request.MachineId}' is {machine?.State ?? "gone"}; the volume stays available."), ct);
            return;
        }
        var driver = fabric.DriverOf(machine.Pool);
        if (!driver.IsSuccess)
        {
            await RevertAsync(context, volume, request, driver.Error!, ct);
            return;
        }
        var applied = false;
        if (DevicePolicy.ApplyNow(machine, driver.Value.Capabilities, DriverCapabilities.HotPlugVolumes))
        {
            var done = await driver.Value.AttachVolumeAsync(machine.Id, new VolumeAttachment(volume.Id, volume.SizeGiB, request.Device), ct);
            if (!done.IsSuccess)
            {
                await RevertAsync(context, volume, request, done.Error!, ct);
                return;
            }
            applied = true;
        }
        await db.WriteAsync<bool>(async tx =>
        {
            var attached = volume with { State = VolumeStore.Attached, Applied = applied ? 1 : 0, Version = volume.Version + 1, UpdatedAt = Now() };
            if (await VolumeStore.UpdateAsync(tx, attached, volume.Version) == 0)
            {
                await context.Queue.FailAsync(tx, context.Job.Id, Error.Concurrency("Volume", volume.Id));
                return true;
            }
            await context.Queue.SucceedAsync(tx, context.Job.Id, VolumeService.ToView(attached),
                applied ? $"attached as {request.Device}" : $"recorded as {request.Device}; the machine takes it at its next start");
            return true;
        }, ct);
    }

    /// <summary>
    /// Puts the volume back to available. A failed first attach holds no data anywhere, so the volume is not bound to
    /// that pool: whatever the pool's driver made of it is removed and the pool forgotten (kept when the removal fails).
    /// </summary>
    private async Task RevertAsync(JobContext context, VolumeRow volume, VolumeJob request, Error error, CancellationToken ct)
    {
        var pool = volume.Pool;
        if (request.FirstAttach && (await fabric.DeleteVolumeAsync(volume.Id, pool, ct)).IsSuccess)
        {
            pool = null;
        }
        await db.WriteAsync<bool>(async tx =>
        {
            var reverted = volume with
            {
                State = VolumeStore.Available, MachineId = null, Device = null, Applied = 0, Pool = pool, Version = volume.Version + 1, UpdatedAt = Now(),
            };
            await VolumeStore.UpdateAsync(tx, reverted, volume.Version);
            await context.Queue.FailAsync(tx, context.Job.Id, error, VolumeService.ToView(reverted));
            return true;
        }, ct);
    }

    private Task FinishAsync(JobContext context, Error? error, CancellationToken ct) =>
        db.WriteAsync<bool>(async tx =>
        {
            await (error is null ? context.Queue.SucceedAsync(tx, context.Job.Id) : context.Queue.FailAsync(tx, context.Job.Id, error));
            return true;
        }, ct);

    private long Now() => clock.GetUtcNow().ToUnixTimeMilliseconds();
}

/// <summary><c>volume.detach</c>: takes the volume off the machine and makes it available again.</summary>
public sealed class VolumeDetachHandler(IDatabase db, ComputeFabric fabric, TimeProvider clock) : IJobHandler
{
    public string Action => VolumeService.DetachAction;

    public async Task RunAsync(JobContext context, CancellationToken ct)
    {
        var request = DevicePolicy.Request<VolumeJob>(context.Job);
        var volume = await VolumeStore.GetAsync(db, request.VolumeId, ct);
        if (volume is null || volume.State != VolumeStore.Detaching)
        {
            await db.WriteAsync<bool>(async tx =>
            {
                await (volume is not null && volume.State == VolumeStore.Available
                    ? context.Queue.SucceedAsync(tx, context.Job.Id)
                    : context.Queue.FailAsync(tx, context.Job.Id, Error.InvalidState($"Volume '{request.VolumeId}' is no longer being detached.")));
                return true;
            }, ct);
            return;
        }
        var removed = await MachineDevices.DetachVolumeAsync(db, fabric, volume, ct);
        await db.WriteAsync<bool>(async tx =>
        {
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            if (removed is { } error)
            {
                var back = volume with { State = VolumeStore.Attached, Version = volume.Version + 1, UpdatedAt = now };
                await VolumeStore.UpdateAsync(tx, back, volume.Version);
                await context.Queue.FailAsync(tx, context.Job.Id, error, VolumeService.ToView(back));
                return true;
            }
            var detached = volume with { State = VolumeStore.Available, MachineId = null, Device = null, Applied = 0, Version = volume.Version + 1, UpdatedAt = now };
            if (await VolumeStore.UpdateAsync(tx, detached, volume.Version) == 0)
            {
                await context.Queue.FailAsync(tx, context.Job.Id, Error.Concurrency("Volume", volume.Id));
                return true;
            }
            await context.Queue.SucceedAsync(tx, context.Job.Id, VolumeService.ToView(detached), "detached");
            return true;
        }, ct);
    }
}

/// <summary><c>network.connect</c>: gives the machine its NIC (or records it for the next start) and marks it connected.</summary>
public sealed class NetworkConnectHandler(IDatabase db, ComputeFabric fabric, TimeProvider clock) : IJobHandler
{
    public string Action => NetworkService.ConnectAction;

    public async Task RunAsync(JobContext context, CancellationToken ct)
    {
        var request = DevicePolicy.Request<NetworkJob>(context.Job);
        var (network, attachment, machine) = await db.ReadAsync(async tx => (
            await NetworkStore.GetAsync(tx, request.NetworkId),
            await NetworkStore.AttachmentAsync(tx, request.NetworkId, request.MachineId),
            await Resources.FindAsync(tx, request.MachineId)), ct);
        if (network is null || attachment is null || attachment.State != NetworkStore.Connecting)
        {
            await db.WriteAsync<bool>(async tx =>
            {
                await (attachment?.State == NetworkStore.Connected
                    ? context.Queue.SucceedAsync(tx, context.Job.Id)
                    : context.Queue.FailAsync(tx, context.Job.Id, Error.InvalidState($"Machine '{request.MachineId}' is no longer being connected.")));
                return true;
            }, ct);
            return;
        }
        Error? failed = machine is null || machine.IsGone ? Error.InvalidState($"Machine '{request.MachineId}' is {machine?.State ?? "gone"}.") : null;
        var driver = failed is null ? fabric.DriverOf(machine!.Pool) : default;
        failed ??= driver.Error;
        var applied = false;
        if (failed is null && DevicePolicy.ApplyNow(machine!, driver.Value.Capabilities, DriverCapabilities.HotPlugNetworks))
        {
            var done = await driver.Value.ConnectNetworkAsync(machine!.Id, MachineDevices.Nic(network, attachment), ct);
            failed = done.Error;
            applied = done.IsSuccess;
        }
        await db.WriteAsync<bool>(async tx =>
        {
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            if (failed is not null)
            {
                // The address goes back to the pool.
                await NetworkStore.RemoveConnectingAsync(tx, request.NetworkId, request.MachineId);
                await context.Queue.FailAsync(tx, context.Job.Id, failed);
                return true;
            }
            await NetworkStore.MarkConnectedAsync(tx, request.NetworkId, request.MachineId, applied, now);
            var view = NetworkService.ToView(network, await NetworkStore.AttachmentsAsync(tx, network.Id));
            await context.Queue.SucceedAsync(tx, context.Job.Id, view,
                applied ? $"connected as {attachment.Address}" : $"recorded as {attachment.Address}; the machine takes it at its next start");
            return true;
        }, ct);
    }
}

/// <summary><c>network.disconnect</c>: removes the NIC and frees the address.</summary>
public sealed class NetworkDisconnectHandler(IDatabase db, ComputeFabric fabric, TimeProvider clock) : IJobHandler
{
    public string Action => NetworkService.DisconnectAction;

    public async Task RunAsync(JobContext context, CancellationToken ct)
    {
        var request = DevicePolicy.Request<NetworkJob>(context.Job);
        var attachment = await NetworkStore.AttachmentAsync(db, request.NetworkId, request.MachineId, ct);
        Error? failed = null;
        if (attachment is not null && attachment.State == NetworkStore.Disconnecting)
        {
            failed = await MachineDevices.DisconnectAsync(db, fabric, attachment, ct);
        }
        else if (attachment is not null)
        {
            failed = Error.InvalidState($"Machine '{request.MachineId}' is {attachment.State} on network '{request.NetworkId}'.");
        }
        await db.WriteAsync<bool>(async tx =>
        {
            if (failed is not null)
            {
                await NetworkStore.RevertDisconnectAsync(tx, request.NetworkId, request.MachineId, clock.GetUtcNow().ToUnixTimeMilliseconds());
                await context.Queue.FailAsync(tx, context.Job.Id, failed);
                return true;
            }
            await NetworkStore.RemoveAsync(tx, request.NetworkId, request.MachineId);
            await context.Queue.SucceedAsync(tx, context.Job.Id, null, "disconnected");
            return true;
        }, ct);
    }
}

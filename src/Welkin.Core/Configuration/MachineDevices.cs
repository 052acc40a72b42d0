using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Data;

namespace Welkin.Core.Configuration;

/// <summary>
/// The volumes and NICs of one machine as the Service Manager needs them: for the
/// <see cref="MachineSpec"/> of a machine it creates, to apply what was recorded while the
/// machine could not take it (before its next start), and to free them when it is terminated.
/// </summary>
public sealed class MachineDevices(IDatabase db, TimeProvider clock)
{
    /// <summary>Volumes attached (or attaching) and networks connected (or connecting) to the machine, for its <see cref="MachineSpec"/>.</summary>
    public async Task<(IReadOnlyList<VolumeAttachment> Volumes, IReadOnlyList<NetworkAttachment> Networks)> OfAsync(string machineId, CancellationToken ct) =>
        await db.ReadAsync(async tx =>
        {
            var volumes = await VolumeStore.OnMachineAsync(tx, machineId);
            var nics = await NicsAsync(tx, machineId);
            return ((IReadOnlyList<VolumeAttachment>)volumes.Select(v => new VolumeAttachment(v.Id, v.SizeGiB, v.Device!)).ToList(),
                (IReadOnlyList<NetworkAttachment>)nics.Select(n => Nic(n.Network, n.Attachment)).ToList());
        }, ct);

    /// <summary>
    /// Hands the driver (of the machine's pool) every attachment recorded for the machine but not
    /// yet applied, and marks them applied; call it before starting a stopped machine (and after
    /// creating one). Returns how many it applied; stops at the first driver error.
    /// </summary>
    public async Task<Result<int>> ApplyPendingAsync(IComputeDriver driver, string machineId, CancellationToken ct)
    {
        var (volumes, nics) = await db.ReadAsync(async tx => (
            await VolumeStore.PendingOnMachineAsync(tx, machineId),
            (await NicsAsync(tx, machineId)).Where(n => n.Attachment.Applied == 0 && n.Attachment.State == NetworkStore.Connected).ToList()), ct);
        var applied = 0;
        foreach (var volume in volumes)
        {
            var done = await driver.AttachVolumeAsync(machineId, new VolumeAttachment(volume.Id, volume.SizeGiB, volume.Device!), ct);
            if (!done.IsSuccess)
            {
                return done.Error!;
            }
            await db.WriteAsync<bool>(async tx =>
            {
                await VolumeStore.MarkAppliedAsync(tx, volume.Id, machineId, Now());
                return true;
            }, ct);
            applied++;
        }
        foreach (var (network, attachment) in nics)
        {
            var done = await driver.ConnectNetworkAsync(machineId, Nic(network, attachment), ct);
            if (!done.IsSuccess)
            {
                return done.Error!;
            }
            await db.WriteAsync<bool>(async tx =>
            {
                await NetworkStore.MarkAppliedAsync(tx, attachment.NetworkId, machineId, Now());
                return true;
            }, ct);
            applied++;
        }
        // Properties recorded while the guest could not take them live (drivers answer at once when nothing changed).
        var machine = await db.ReadAsync(tx => Instances.MachineStore.GetMachineAsync(tx, machineId), ct);
        if (machine is not null && machine.ParsedConfig.Properties.Count > 0)
        {
            var set = await driver.SetPropertiesAsync(machineId, machine.ParsedConfig.Properties, ct);
            if (!set.IsSuccess)
            {
                return set.Error!;
            }
        }
        return applied;
    }

    /// <summary>
    /// Frees a terminated machine's devices in the Service Manager's transaction: its volumes
    /// become available (they keep their data and units) and its addresses become free.
    /// </summary>
    public static async Task ReleaseAsync(Tx tx, string machineId, long now)
    {
        await VolumeStore.ReleaseMachineAsync(tx, machineId, now);
        await NetworkStore.ReleaseMachineAsync(tx, machineId);
    }

    internal static NetworkAttachment Nic(NetworkRow network, AttachmentRow attachment) =>
        new(network.Id, attachment.Address, attachment.Mac, network.Cidr);

    /// <summary>Takes a volume off its machine when the driver (of the machine's pool) has it; null when it is off (or the machine is gone).</summary>
    internal static async Task<Error?> DetachVolumeAsync(IDatabase db, ComputeFabric fabric, VolumeRow volume, CancellationToken ct)
    {
        if (volume.MachineId is null || volume.Applied == 0)
        {
            return null;
        }
        var driver = await DriverOfAsync(db, fabric, volume.MachineId, ct);
        if (!driver.IsSuccess)
        {
            return driver.Error;
        }
        var done = await driver.Value.DetachVolumeAsync(volume.MachineId, volume.Id, ct);
        return done.IsSuccess || DevicePolicy.IsGone(done.Error!) ? null : done.Error;
    }

    internal static async Task<Error?> DisconnectAsync(IDatabase db, ComputeFabric fabric, AttachmentRow attachment, CancellationToken ct)
    {
        if (attachment.Applied == 0)
        {
            return null;
        }
        var driver = await DriverOfAsync(db, fabric, attachment.MachineId, ct);
        if (!driver.IsSuccess)
        {
            return driver.Error;
        }
        var done = await driver.Value.DisconnectNetworkAsync(attachment.MachineId, attachment.NetworkId, ct);
        return done.IsSuccess || DevicePolicy.IsGone(done.Error!) ? null : done.Error;
    }

    /// <summary>The driver of the pool a machine runs in; a machine that is gone has nothing to remove (machine-not-found).</summary>
    private static async Task<Result<IComputeDriver>> DriverOfAsync(IDatabase db, ComputeFabric fabric, string machineId, CancellationToken ct)
    {
        var machine = await db.ReadAsync(tx => Instances.MachineStore.GetMachineAsync(tx, machineId), ct);
        return machine is null ? DriverErrors.MachineNotFound(machineId) : fabric.DriverOf(machine.Pool);
    }

    private static async Task<IReadOnlyList<(NetworkRow Network, AttachmentRow Attachment)>> NicsAsync(Tx tx, string machineId)
    {
        var attachments = await NetworkStore.OfMachineAsync(tx, machineId);
        var result = new List<(NetworkRow, AttachmentRow)>(attachments.Count);
        foreach (var a in attachments)
        {
            var network = await NetworkStore.GetAsync(tx, a.NetworkId);
            if (network is not null && a.State != NetworkStore.Disconnecting)
            {
                result.Add((network, a));
            }
        }
        return result;
    }

    private long Now() => clock.GetUtcNow().ToUnixTimeMilliseconds();
}

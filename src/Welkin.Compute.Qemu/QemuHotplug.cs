using System.Text.Json;
using System.Text.Json.Nodes;
using Welkin.Core.Common;
using Welkin.Core.Compute;

namespace Welkin.Compute.Qemu;

/// <summary>
/// Volumes and NICs added to and removed from a machine. On a running machine they go onto its
/// free PCIe root ports: a volume as <c>blockdev-add</c> + <c>virtio-blk-pci</c>, a NIC as a socket
/// netdev on its network's segment + <c>virtio-net-pci</c>; removing one waits for the guest to
/// release it. On a stopped machine only its record changes, for its next launch. Each change runs
/// holding the machine; the caller saves the record when it succeeds.
/// </summary>
internal sealed class QemuHotplug(QemuFabric fabric, QemuGuests guests)
{
    public async Task<Error?> AttachVolumeAsync(QemuMachine machine, VolumeAttachment volume, CancellationToken ct)
    {
        if (machine.Record.Volumes.Any(v => v.Volume == volume))
        {
            return null;
        }
        if (machine.Record.Volumes.Any(v => v.Volume.VolumeId == volume.VolumeId))
        {
            return DriverErrors.InvalidState(machine.Id, machine.State, $"attach volume '{volume.VolumeId}' again with another size or device");
        }
        var path = await fabric.Disks.VolumeAsync(volume.VolumeId, volume.SizeGiB, ct);
        string? bus = null;
        if (machine.Process is not null)
        {
            if (FreeBus(machine) is not { } free)
            {
                return NoFreeBus(machine);
            }
            bus = free;
            var disk = new QemuDisk(volume.VolumeId, path, "qcow2", bus);
            if (await guests.ExecuteAsync(machine, "blockdev-add", BlockdevNode(disk), ct) is { } failed)
            {
                return failed;
            }
            if (await guests.ExecuteAsync(machine, "device_add", new JsonObject
                {
                    ["driver"] = "virtio-blk-pci", ["id"] = "dev-" + disk.Id, ["drive"] = "disk-" + disk.Id, ["bus"] = bus,
                }, ct) is { } plugFailed)
            {
                await guests.ExecuteAsync(machine, "blockdev-del", new JsonObject { ["node-name"] = "disk-" + disk.Id }, ct);
                return plugFailed;
            }
        }
        lock (fabric.Gate)
        {
            machine.Record.Volumes.Add(new QemuVolume(volume, path, bus));
        }
        return null;
    }

    public async Task<Error?> DetachVolumeAsync(QemuMachine machine, string volumeId, CancellationToken ct)
    {
        var attached = machine.Record.Volumes.FirstOrDefault(v => v.Volume.VolumeId == volumeId);
        if (attached is null)
        {
            return null;
        }
        if (machine.Process is not null)
        {
            if (await UnplugAsync(machine, "dev-" + volumeId, ct) is { } failed)
            {
                return failed;
            }
            if (await guests.ExecuteAsync(machine, "blockdev-del", new JsonObject { ["node-name"] = "disk-" + volumeId }, ct) is { } delFailed)
            {
                return delFailed;
            }
        }
        lock (fabric.Gate)
        {
            machine.Record.Volumes.Remove(attached);
        }
        return null;
    }

    /// <summary>Deletes the volume's qcow2 file once no machine has the volume.</summary>
    public Result<bool> DeleteVolume(string volumeId)
    {
        lock (fabric.Gate)
        {
            var holder = fabric.Machines.Machines.FirstOrDefault(m => m.Record.Volumes.Exists(v => v.Volume.VolumeId == volumeId));
            if (holder is not null)
            {
                return DriverErrors.InvalidState(holder.Id, holder.State, $"let volume '{volumeId}' be deleted while it is attached");
            }
            File.Delete(fabric.Disks.VolumePath(volumeId));
            return true;
        }
    }

    public async Task<Error?> ConnectAsync(QemuMachine machine, NetworkAttachment nic, CancellationToken ct)
    {
        if (machine.Record.Nics.Any(n => n.Nic == nic))
        {
            return null;
        }
        if (machine.Record.Nics.Any(n => n.Nic.NetworkId == nic.NetworkId))
        {
            return DriverErrors.InvalidState(machine.Id, machine.State, $"connect to network '{nic.NetworkId}' twice");
        }
        (string Group, int Port) segment;
        lock (fabric.Gate)
        {
            segment = QemuAllocator.Segment(nic.NetworkId, fabric.Machines.Machines.Select(m => m.Record));
        }
        string? bus = null;
        if (machine.Process is not null)
        {
            if (FreeBus(machine) is not { } free)
            {
                return NoFreeBus(machine);
            }
            bus = free;
            var id = nic.NetworkId;
            if (await guests.ExecuteAsync(machine, "netdev_add", new JsonObject
                {
                    ["type"] = "socket", ["id"] = "net-" + id, ["mcast"] = $"{segment.Group}:{segment.Port}", ["localaddr"] = "127.0.0.1",
                }, ct) is { } failed)
            {
                return failed;
            }
            if (await guests.ExecuteAsync(machine, "device_add", new JsonObject
                {
                    ["driver"] = "virtio-net-pci", ["id"] = "nic-" + id, ["netdev"] = "net-" + id, ["mac"] = nic.Mac, ["romfile"] = "", ["bus"] = bus,
                }, ct) is { } plugFailed)
            {
                await guests.ExecuteAsync(machine, "netdev_del", new JsonObject { ["id"] = "net-" + id }, ct);
                return plugFailed;
            }
        }
        lock (fabric.Gate)
        {
            machine.Record.Nics.Add(new QemuNic(nic, segment.Group, segment.Port, bus));
        }
        return null;
    }

    public async Task<Error?> DisconnectAsync(QemuMachine machine, string networkId, CancellationToken ct)
    {
        var attached = machine.Record.Nics.FirstOrDefault(n => n.Nic.NetworkId == networkId);
        if (attached is null)
        {
            return null;
        }
        if (machine.Process is not null)
        {
            if (await UnplugAsync(machine, "nic-" + networkId, ct) is { } failed)
            {
                return failed;
            }
            if (await guests.ExecuteAsync(machine, "netdev_del", new JsonObject { ["id"] = "net-" + networkId }, ct) is { } delFailed)
            {
                return delFailed;
            }
        }
        lock (fabric.Gate)
        {
            machine.Record.Nics.Remove(attached);
        }
        return null;
    }

    private static JsonObject BlockdevNode(QemuDisk disk) => new()
    {
        ["driver"] = disk.Format,
        ["node-name"] = "disk-" + disk.Id,
        ["file"] = new JsonObject { ["driver"] = "file", ["filename"] = disk.Path },
    };

    private static string? FreeBus(QemuMachine machine)
    {
        var used = machine.Record.Volumes.Select(v => v.Bus).Concat(machine.Record.Nics.Select(n => n.Bus)).OfType<string>().ToHashSet(StringComparer.Ordinal);
        return Enumerable.Range(0, machine.Process!.Options.HotplugPorts).Select(i => $"hp{i}").FirstOrDefault(b => !used.Contains(b));
    }

    private static Error NoFreeBus(QemuMachine machine) =>
        DriverErrors.HypervisorFailed(machine.Id, HypervisorFailure.NoDeviceSlot,
            $"All {machine.Process!.Options.HotplugPorts} hot-plug ports of the machine are taken; the device can be added while it is stopped.");

    /// <summary>Asks the guest to release a device and waits for QEMU to report it gone.</summary>
    private async Task<Error?> UnplugAsync(QemuMachine machine, string deviceId, CancellationToken ct)
    {
        var qmp = machine.Process!.Qmp;
        var before = qmp.Events.Count(e => IsDeleted(e, deviceId));
        if (await guests.ExecuteAsync(machine, "device_del", new JsonObject { ["id"] = deviceId }, ct) is { } failed)
        {
            return failed;
        }
        var timeout = fabric.Options.UnplugTimeout;
        var deadline = fabric.Now + timeout;
        while (qmp.Events.Count(e => IsDeleted(e, deviceId)) == before)
        {
            if (fabric.Now > deadline)
            {
                return DriverErrors.HypervisorFailed(machine.Id, HypervisorFailure.DeviceNotReleased,
                    $"the guest did not release device {deviceId} within {timeout.TotalSeconds:0} s.", timeout);
            }
            await Task.Delay(TimeSpan.FromMilliseconds(50), ct);
        }
        return null;
    }

    private static bool IsDeleted(QmpEvent e, string deviceId) =>
        e.Name == "DEVICE_DELETED" && e.Data.ValueKind == JsonValueKind.Object
        && e.Data.TryGetProperty("device", out var device) && device.GetString() == deviceId;
}

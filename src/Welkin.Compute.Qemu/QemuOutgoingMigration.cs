using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Welkin.Core.Common;
using Welkin.Core.Compute;

namespace Welkin.Compute.Qemu;

/// <summary>
/// The source of a live move to another fabric (<see cref="ILiveMigrationSource"/>). The fabrics share
/// no storage, so each disk is mirrored (<c>blockdev-mirror</c>, full) to the destination's NBD export
/// while the guest runs; once every mirror is ready (the copies are in step and stay so), the guest's
/// memory and state go across (<c>migrate</c>); when that completes the source is paused, each ready
/// mirror is ended with <c>block-job-cancel</c> (which leaves its target a consistent copy), and the
/// destination runs the guest. Disk and state streams are TLS: the destination's certificate must come
/// from the authority and carry the expected name (<c>tls-hostname</c>). Until the destination runs the
/// guest, every failure puts the source back as it was: a guest QEMU paused by a completed migration
/// is resumed with <c>cont</c>.
/// </summary>
internal sealed class QemuOutgoingMigration(QemuFabric fabric, QemuGuests guests)
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(10);

    public async Task<Result<OutgoingMachine>> DescribeAsync(QemuMachine machine, CancellationToken ct)
    {
        if (machine.State is not (DriverMachineState.Running or DriverMachineState.Paused) || machine.Process is not { } process)
        {
            return DriverErrors.InvalidState(machine.Id, machine.State, "move live");
        }
        // The move between fabrics copies the system disk and volumes only; data disks would be left behind.
        if (machine.Record.Spec.DataDisks.Count > 0)
        {
            return DriverErrors.Unsupported("moving a machine with data disks live to another fabric");
        }
        var nodes = await QemuQmp.RunAsync(process.Qmp, "query-named-block-nodes", new JsonObject { ["flat"] = true }, ct);
        var sizes = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var node in nodes.EnumerateArray())
        {
            if (node.GetProperty("node-name").GetString() is { } name && name.StartsWith("disk-", StringComparison.Ordinal))
            {
                sizes[name["disk-".Length..]] = node.GetProperty("image").GetProperty("virtual-size").GetInt64();
            }
        }
        var record = machine.Record;
        var disks = record.Volumes.Select(v => v.Volume.VolumeId).Prepend("root").Select(id => new MigrationDisk(id, sizes[id])).ToList();
        var settings = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [QemuIncomingMigration.SubnetSetting] = record.Subnet.ToString(CultureInfo.InvariantCulture),
            [QemuIncomingMigration.HotplugSetting] = guests.LaunchOptions(machine, record.Slot, guests.KnownAccelerator).HotplugPorts.ToString(CultureInfo.InvariantCulture),
        };
        foreach (var volume in record.Volumes.Where(v => v.Bus is not null))
        {
            settings[QemuIncomingMigration.BusSetting + volume.Volume.VolumeId] = volume.Bus!;
        }
        foreach (var nic in record.Nics.Where(n => n.Bus is not null))
        {
            settings[QemuIncomingMigration.BusSetting + nic.Nic.NetworkId] = nic.Bus!;
        }
        var spec = record.Spec with
        {
            Vcpus = record.Vcpus,
            MemoryMiB = record.MemoryMiB,
            Properties = new Dictionary<string, string>(record.Properties, StringComparer.Ordinal),
            Volumes = [.. record.Volumes.Select(v => v.Volume)],
            Networks = [.. record.Nics.Select(n => n.Nic)],
        };
        return new OutgoingMachine(spec, disks, machine.State == DriverMachineState.Running, settings);
    }

    public async Task<Result<LiveMigrationReport>> MigrateAsync(
        QemuMachine machine, IncomingMachine target, MigrationTls tls, Func<CancellationToken, Task<Result<DriverMachine>>> resumeAtTarget,
        IProgress<int>? progress, CancellationToken ct)
    {
        if (machine.State is not (DriverMachineState.Running or DriverMachineState.Paused) || machine.Process is not { } process)
        {
            return DriverErrors.InvalidState(machine.Id, machine.State, "move live");
        }
        if (machine.Record.Spec.DataDisks.Count > 0)
        {
            return DriverErrors.Unsupported("moving a machine with data disks live to another fabric");
        }
        var started = Stopwatch.GetTimestamp();
        var disks = machine.Record.Volumes.Select(v => v.Volume.VolumeId).Prepend("root").ToList();
        var tlsDirectory = Path.Combine(machine.Directory, "tls-out");
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(fabric.Options.CrossMigrationTimeout);
        var handedOver = false;
        try
        {
            progress?.Report(0);
            await QemuMigrationTls.AddAsync(process.Qmp, tls, tlsDirectory, server: false, limit.Token);
            var (diskBytes, diskCopy) = await MirrorAsync(process.Qmp, target, tls, disks, progress, limit.Token);
            var (downtime, memoryBytes) = await SendStateAsync(process.Qmp, target, tls, progress, limit.Token);
            await EndMirrorsAsync(process.Qmp, disks, limit.Token);
            var arrived = await resumeAtTarget(ct);
            if (!arrived.IsSuccess)
            {
                var why = arrived.Error!.Cause ?? arrived.Error.Detail;
                return DriverErrors.HypervisorFailed(machine.Id, HypervisorFailure.Migration, "the destination did not resume the guest: " + why);
            }
            handedOver = true;
            await LeaveAsync(machine);
            progress?.Report(100);
            return new LiveMigrationReport(arrived.Value, Stopwatch.GetElapsedTime(started), downtime, diskCopy, diskBytes, memoryBytes);
        }
        catch (Exception exception) when (exception is IOException or JsonException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            var cause = exception is OperationCanceledException
                ? $"the move did not finish within {fabric.Options.CrossMigrationTimeout.TotalSeconds:0} s"
                : exception.Message;
            fabric.Logger.LogWarning("Machine {Machine}: the live move to {Address} failed: {Cause}", machine.Id, target.Address, cause);
            return DriverErrors.HypervisorFailed(machine.Id, HypervisorFailure.Migration, cause);
        }
        finally
        {
            if (!handedOver)
            {
                await RollBackAsync(machine, process, disks, tlsDirectory);
            }
        }
    }

    /// <summary>Starts one full mirror per disk to its NBD export and waits until all are ready; the bytes copied and the time it took.</summary>
    private static async Task<(long Bytes, TimeSpan Took)> MirrorAsync(QmpClient qmp, IncomingMachine target, MigrationTls tls, IReadOnlyList<string> disks, IProgress<int>? progress, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        foreach (var disk in disks)
        {
            var nbd = new JsonObject
            {
                ["driver"] = "nbd",
                ["node-name"] = "mig-" + disk,
                ["export"] = target.Exports[disk],
                ["server"] = new JsonObject { ["type"] = "inet", ["host"] = target.Address, ["port"] = target.DiskPort.ToString(CultureInfo.InvariantCulture) },
                ["tls-creds"] = QemuMigrationTls.CredentialsId,
            };
            if (tls.PeerName is { } name)
            {
                nbd["tls-hostname"] = name;
            }
            await QemuQmp.RunAsync(qmp, "blockdev-add", nbd, ct);
            await QemuQmp.RunAsync(qmp, "blockdev-mirror", new JsonObject
            {
                ["job-id"] = "mig-" + disk,
                ["device"] = "disk-" + disk,
                ["target"] = "mig-" + disk,
                ["sync"] = "full",
                // A job that fails or ends stays listed until dismissed, so its error can be read.
                ["auto-dismiss"] = false,
            }, ct);
        }
        while (true)
        {
            var jobs = Jobs(await QemuQmp.RunAsync(qmp, "query-block-jobs", null, ct));
            long done = 0, total = 0;
            var ready = true;
            foreach (var disk in disks)
            {
                if (!jobs.TryGetValue("mig-" + disk, out var job))
                {
                    throw new IOException($"the mirror of disk {disk} ended before it was ready");
                }
                if (job.Status is "concluded" or "aborting" or "null" || job.Error is not null)
                {
                    throw new IOException($"the mirror of disk {disk} failed: {job.Error ?? job.Status}");
                }
                ready &= job.Ready;
                done += job.Offset;
                total += job.Length;
            }
            if (ready)
            {
                return (done, Stopwatch.GetElapsedTime(started));
            }
            progress?.Report(total == 0 ? 0 : (int)(50 * done / total));
            await Task.Delay(Poll, ct);
        }
    }

    /// <summary>Sends the guest's state with TLS and waits until it is across; the time the guest was paused and the memory bytes sent.</summary>
    private static async Task<(TimeSpan Downtime, long Bytes)> SendStateAsync(QmpClient qmp, IncomingMachine target, MigrationTls tls, IProgress<int>? progress, CancellationToken ct)
    {
        var parameters = new JsonObject { ["tls-creds"] = QemuMigrationTls.CredentialsId };
        if (tls.PeerName is { } name)
        {
            parameters["tls-hostname"] = name;
        }
        await QemuQmp.RunAsync(qmp, "migrate-set-parameters", parameters, ct);
        await QemuQmp.RunAsync(qmp, "migrate", new JsonObject { ["uri"] = $"tcp:{target.Address}:{target.MigrationPort}" }, ct);
        while (true)
        {
            var status = await QemuQmp.RunAsync(qmp, "query-migrate", null, ct);
            var state = status.TryGetProperty("status", out var s) ? s.GetString() : null;
            var ram = status.TryGetProperty("ram", out var r) ? r : default;
            if (state == "completed")
            {
                var downtime = status.TryGetProperty("downtime", out var d) ? d.GetInt64() : 0;
                var bytes = ram.ValueKind == JsonValueKind.Object ? ram.GetProperty("transferred").GetInt64() : 0;
                return (TimeSpan.FromMilliseconds(downtime), bytes);
            }
            if (state is "failed" or "cancelled")
            {
                throw new IOException("the migration failed: " + (status.TryGetProperty("error-desc", out var e) ? e.GetString() : state));
            }
            if (ram.ValueKind == JsonValueKind.Object && ram.GetProperty("total").GetInt64() is > 0 and var total)
            {
                progress?.Report((int)Math.Clamp(50 + (40 * ram.GetProperty("transferred").GetInt64() / total), 50, 90));
            }
            await Task.Delay(Poll, ct);
        }
    }

    /// <summary>Ends every ready mirror (its target then holds what the paused guest's disk holds) and closes the NBD connections.</summary>
    private static async Task EndMirrorsAsync(QmpClient qmp, IReadOnlyList<string> disks, CancellationToken ct)
    {
        foreach (var disk in disks)
        {
            await QemuQmp.RunAsync(qmp, "block-job-cancel", new JsonObject { ["device"] = "mig-" + disk }, ct);
        }
        while (true)
        {
            var jobs = Jobs(await QemuQmp.RunAsync(qmp, "query-block-jobs", null, ct));
            var pending = disks.Select(d => "mig-" + d).Where(jobs.ContainsKey).ToList();
            if (pending.Any(id => jobs[id].Error is not null))
            {
                throw new IOException("a mirror did not finish: " + string.Join("; ", pending.Select(id => jobs[id].Error).OfType<string>()));
            }
            if (pending.All(id => jobs[id].Status == "concluded"))
            {
                foreach (var id in pending)
                {
                    await QemuQmp.RunAsync(qmp, "job-dismiss", new JsonObject { ["id"] = id }, ct);
                }
                break;
            }
            await Task.Delay(Poll, ct);
        }
        foreach (var disk in disks)
        {
            await QemuQmp.RunAsync(qmp, "blockdev-del", new JsonObject { ["node-name"] = "mig-" + disk }, ct);
        }
    }

    /// <summary>After the destination runs the guest: ends the source's QEMU and removes the machine, its disks and its files here.</summary>
    private async Task LeaveAsync(QemuMachine machine)
    {
        await guests.EndProcessAsync(machine, force: true, CancellationToken.None);
        foreach (var volume in machine.Record.Volumes)
        {
            File.Delete(volume.Path);
        }
        await guests.DiscardAsync(machine);
    }

    /// <summary>Cancels what the move started and lets the guest run on here, as it did before.</summary>
    private async Task RollBackAsync(QemuMachine machine, QemuProcess process, IReadOnlyList<string> disks, string tlsDirectory)
    {
        var qmp = process.Qmp;
        await QemuQmp.TryAsync(qmp, "migrate_cancel", null);
        foreach (var disk in disks)
        {
            await QemuQmp.TryAsync(qmp, "block-job-cancel", new JsonObject { ["device"] = "mig-" + disk, ["force"] = true });
        }
        await WaitForJobsToEndAsync(qmp, disks);
        foreach (var disk in disks)
        {
            await QemuQmp.TryAsync(qmp, "job-dismiss", new JsonObject { ["id"] = "mig-" + disk });
            await QemuQmp.TryAsync(qmp, "blockdev-del", new JsonObject { ["node-name"] = "mig-" + disk });
        }
        await QemuMigrationTls.RemoveAsync(qmp, tlsDirectory);
        // A completed migration leaves the source paused with its disks handed over; cont takes them back.
        if (machine.State == DriverMachineState.Running)
        {
            await QemuQmp.TryAsync(qmp, "cont", null);
        }
    }

    private static async Task WaitForJobsToEndAsync(QmpClient qmp, IReadOnlyList<string> disks)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            while (true)
            {
                var jobs = Jobs(await QemuQmp.RunAsync(qmp, "query-block-jobs", null, limit.Token));
                if (disks.All(d => !jobs.TryGetValue("mig-" + d, out var job) || job.Status == "concluded"))
                {
                    return;
                }
                await Task.Delay(Poll, limit.Token);
            }
        }
        catch (Exception exception) when (exception is IOException or OperationCanceledException)
        {
            // QEMU is gone or the job is stuck: the clean-up goes on with what it can do.
        }
    }

    private sealed record Job(string Status, bool Ready, long Offset, long Length, string? Error);

    private static Dictionary<string, Job> Jobs(JsonElement list) =>
        list.EnumerateArray().ToDictionary(
            j => j.GetProperty("device").GetString()!,
            j => new Job(
                j.TryGetProperty("status", out var s) ? s.GetString() ?? "" : "",
                j.TryGetProperty("ready", out var r) && r.GetBoolean(),
                j.GetProperty("offset").GetInt64(),
                j.GetProperty("len").GetInt64(),
                j.TryGetProperty("error", out var e) ? e.GetString() : null),
            StringComparer.Ordinal);
}

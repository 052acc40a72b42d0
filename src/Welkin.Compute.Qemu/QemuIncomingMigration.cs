using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Welkin.Core.Common;
using Welkin.Core.Compute;

namespace Welkin.Compute.Qemu;

/// <summary>
/// The destination of a live move from another fabric (<see cref="ILiveMigrationTarget"/>): the machine
/// is made here with empty disks of its source's sizes, QEMU starts with its CPUs stopped and waiting
/// for the guest's state (<c>-S -incoming defer</c>), an NBD server exports the disks writable for the
/// source's mirror, and the migration listener waits; both are TLS with the source's certificate
/// verified. The machine keeps its user-mode subnet, so the guest's address and its access endpoints'
/// target stay what they were; the endpoints are this fabric's ports.
/// </summary>
internal sealed class QemuIncomingMigration(QemuFabric fabric, QemuGuests guests, Func<MachineSpec, Result<QemuMachine>> admit)
{
    public const string SubnetSetting = "qemu.subnet";
    public const string HotplugSetting = "qemu.hotplug-ports";
    public const string BusSetting = "qemu.bus.";

    public async Task<Result<IncomingMachine>> PrepareAsync(OutgoingMachine outgoing, string host, MigrationTls tls, CancellationToken ct)
    {
        var spec = outgoing.Spec with { Host = host };
        if (spec.DataDisks.Count > 0)
        {
            return DriverErrors.Unsupported("moving a machine with data disks live to another fabric");
        }
        var admitted = Admit(spec, outgoing);
        if (!admitted.IsSuccess)
        {
            return admitted.Error!;
        }
        var machine = admitted.Value;
        try
        {
            var prepared = await BuildAsync(machine, outgoing, tls, ct);
            if (!prepared.IsSuccess)
            {
                await DiscardAsync(machine);
            }
            return prepared;
        }
        catch (Exception exception) when (exception is IOException or InvalidDataException or UnauthorizedAccessException or QemuLaunchException)
        {
            await DiscardAsync(machine);
            return DriverErrors.HypervisorFailed(spec.MachineId, HypervisorFailure.IncomingMigration, exception.Message);
        }
        catch (OperationCanceledException)
        {
            await DiscardAsync(machine);
            throw;
        }
    }

    /// <summary>Admits the machine as a create would, with its source's subnet and device layout, and puts it in the table (being created).</summary>
    private Result<QemuMachine> Admit(MachineSpec spec, OutgoingMachine outgoing)
    {
        lock (fabric.Gate)
        {
            if (fabric.Machines.Find(spec.MachineId) is not null)
            {
                return DriverErrors.InvalidState(spec.MachineId, DriverMachineState.Creating, "arrive: the fabric has it already");
            }
            var made = admit(spec);
            if (!made.IsSuccess)
            {
                return made.Error!;
            }
            var record = made.Value.Record;
            if (outgoing.Hypervisor.TryGetValue(SubnetSetting, out var subnet) && int.TryParse(subnet, CultureInfo.InvariantCulture, out var s))
            {
                record.Subnet = s;
            }
            if (outgoing.Hypervisor.TryGetValue(HotplugSetting, out var ports) && int.TryParse(ports, CultureInfo.InvariantCulture, out var p))
            {
                record.HotplugPorts = p;
            }
            record.Volumes = [.. record.Volumes.Select(v => v with { Bus = outgoing.Hypervisor.GetValueOrDefault(BusSetting + v.Volume.VolumeId) })];
            record.Nics = [.. record.Nics.Select(n => n with { Bus = outgoing.Hypervisor.GetValueOrDefault(BusSetting + n.Nic.NetworkId) })];
            if (!fabric.Machines.TryAdd(made.Value))
            {
                return DriverErrors.InvalidState(spec.MachineId, DriverMachineState.Creating, "arrive: the fabric has it already");
            }
            return made.Value;
        }
    }

    private async Task<Result<IncomingMachine>> BuildAsync(QemuMachine machine, OutgoingMachine outgoing, MigrationTls tls, CancellationToken ct)
    {
        Directory.CreateDirectory(machine.Directory);
        var boot = await guests.ResolveBootAsync(machine, ct);
        if (!boot.IsSuccess)
        {
            return boot.Error!;
        }
        foreach (var disk in outgoing.Disks)
        {
            var path = disk.Id == "root" ? machine.DiskPath : fabric.Disks.VolumePath(disk.Id);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.Delete(path);
            await fabric.Disks.RunAsync(ct, "create", "-q", "-f", "qcow2", path, disk.VirtualSizeBytes.ToString(CultureInfo.InvariantCulture));
        }
        machine.Save();
        QemuGuests.WriteProperties(machine);
        var accelerator = await guests.AcceleratorAsync(ct);
        var options = guests.LaunchOptions(machine, machine.Record.Slot, accelerator, incoming: "defer") with { StartPaused = true };
        var process = await QemuProcess.StartAsync(options, ct);
        lock (fabric.Gate)
        {
            machine.Process = process;
            machine.ExitExpected = true;
        }
        var qmp = process.Qmp;
        var address = fabric.Options.ManagementAddress;
        var diskPort = FreePort(address);
        var migrationPort = FreePort(address);
        await QemuMigrationTls.AddAsync(qmp, tls, TlsDirectory(machine), server: true, ct);
        var authz = tls.PeerName is null ? null : QemuMigrationTls.AuthorizationId;
        var tlsParameters = new JsonObject { ["tls-creds"] = QemuMigrationTls.CredentialsId };
        if (authz is not null)
        {
            tlsParameters["tls-authz"] = authz;
        }
        await QemuQmp.RunAsync(qmp, "migrate-set-parameters", tlsParameters, ct);
        var server = new JsonObject
        {
            ["addr"] = new JsonObject { ["type"] = "inet", ["data"] = new JsonObject { ["host"] = address, ["port"] = diskPort.ToString(CultureInfo.InvariantCulture) } },
            ["tls-creds"] = QemuMigrationTls.CredentialsId,
        };
        if (authz is not null)
        {
            server["tls-authz"] = authz;
        }
        await QemuQmp.RunAsync(qmp, "nbd-server-start", server, ct);
        var exports = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var disk in outgoing.Disks)
        {
            var name = machine.Id + "-" + disk.Id;
            await QemuQmp.RunAsync(qmp, "block-export-add", new JsonObject
            {
                ["type"] = "nbd",
                ["id"] = "export-" + disk.Id,
                ["node-name"] = "disk-" + disk.Id,
                ["name"] = name,
                ["writable"] = true,
            }, ct);
            exports[disk.Id] = name;
        }
        await QemuQmp.RunAsync(qmp, "migrate-incoming", new JsonObject { ["uri"] = $"tcp:{address}:{migrationPort}" }, ct);
        lock (fabric.Gate)
        {
            machine.IncomingRuns = outgoing.Running;
        }
        return new IncomingMachine(machine.Id, address, diskPort, migrationPort, exports);
    }

    /// <summary>Waits until the guest's state is all here, closes the disk server and the credentials, and runs the guest.</summary>
    public async Task<Result<DriverMachine>> ResumeAsync(QemuMachine machine, CancellationToken ct)
    {
        if (machine.IncomingRuns is not { } running || machine.Process is not { } process)
        {
            return DriverErrors.InvalidState(machine.Id, machine.State, "resume an incoming migration");
        }
        var qmp = process.Qmp;
        try
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
            limit.CancelAfter(TimeSpan.FromMinutes(1));
            while (true)
            {
                var status = await QemuQmp.RunAsync(qmp, "query-migrate", null, limit.Token);
                var state = status.TryGetProperty("status", out var s) ? s.GetString() : null;
                if (state == "completed")
                {
                    break;
                }
                if (state is "failed" or "cancelled")
                {
                    throw new IOException("the incoming migration " + state);
                }
                await Task.Delay(TimeSpan.FromMilliseconds(10), limit.Token);
            }
            // The source has ended its mirror and closed its connections: nothing writes the disks but the guest from here.
            foreach (var node in machine.Record.Volumes.Select(v => v.Volume.VolumeId).Prepend("root"))
            {
                await QemuQmp.TryAsync(qmp, "block-export-del", new JsonObject { ["id"] = "export-" + node, ["mode"] = "hard" });
            }
            await QemuQmp.RunAsync(qmp, "nbd-server-stop", null, ct);
            await QemuMigrationTls.RemoveAsync(qmp, TlsDirectory(machine));
            if (running)
            {
                await QemuQmp.RunAsync(qmp, "cont", null, ct);
            }
            lock (fabric.Gate)
            {
                machine.Record.Created = true;
                machine.IncomingRuns = null;
            }
            machine.Save();
            guests.Adopt(machine, process, running ? DriverMachineState.Running : DriverMachineState.Paused);
            return fabric.Describe(machine);
        }
        catch (Exception exception) when (exception is IOException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            return DriverErrors.HypervisorFailed(machine.Id, HypervisorFailure.IncomingMigration, "resuming the incoming machine failed: " + exception.Message);
        }
    }

    /// <summary>Removes a machine prepared for an incoming migration that is not coming (its process, disks and files).</summary>
    public async Task<Result<bool>> AbortAsync(QemuMachine machine)
    {
        if (machine.IncomingRuns is null)
        {
            return DriverErrors.InvalidState(machine.Id, machine.State, "be abandoned: it has arrived");
        }
        await DiscardAsync(machine);
        return true;
    }

    private async Task DiscardAsync(QemuMachine machine)
    {
        foreach (var volume in machine.Record.Volumes)
        {
            File.Delete(volume.Path);
        }
        await guests.DiscardAsync(machine);
    }

    private static string TlsDirectory(QemuMachine machine) => Path.Combine(machine.Directory, "tls-in");

    private static int FreePort(string address)
    {
        using var listener = new TcpListener(IPAddress.Parse(address), 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Welkin.Core.Common;
using Welkin.Core.Compute;

namespace Welkin.Compute.Qemu;

/// <summary>
/// Moves a machine to another host of the fabric. A stopped machine moves cold: it takes its
/// place on the target and starts there next time. A running machine moves live: a QEMU waiting
/// for the migration starts on the target (in the machine's other launch slot), the source sends
/// the guest's memory and state (QMP <c>migrate</c>) and is ended once it is all across, and the
/// target gets the machine's port forwards; the guest keeps running throughout. The hosts share
/// the fabric's storage, so the disk stays where it is.
/// </summary>
internal sealed class QemuMigration(QemuFabric fabric, QemuGuests guests)
{
    /// <summary>Moves the machine (called holding it) and returns it on the target.</summary>
    public async Task<Result<DriverMachine>> MigrateAsync(QemuMachine machine, string targetHost, IProgress<int>? progress, CancellationToken ct)
    {
        lock (fabric.Gate)
        {
            if (fabric.Hosts.Find(targetHost) is not { } target)
            {
                return DriverErrors.UnknownHost(targetHost);
            }
            if (fabric.Hosts.IsFailed(targetHost))
            {
                return DriverErrors.HostUnavailable(targetHost);
            }
            if (machine.Record.Host == targetHost)
            {
                return machine.ToDriver(fabric.Options.ManagementAddress);
            }
            if (fabric.Hosts.CapacityError(target, machine.Record.Vcpus, machine.Record.MemoryMiB, fabric.Machines.Machines, except: machine) is { } full)
            {
                return full;
            }
        }
        switch (machine.State)
        {
            case DriverMachineState.Stopped or DriverMachineState.Error:
                lock (fabric.Gate)
                {
                    machine.Record.Host = targetHost;
                    fabric.TrySave(machine);
                    return machine.ToDriver(fabric.Options.ManagementAddress);
                }
            case DriverMachineState.Running or DriverMachineState.Paused:
                return await LiveMigrateAsync(machine, targetHost, progress, ct);
            default:
                return DriverErrors.InvalidState(machine.Id, machine.State, "migrate");
        }
    }

    private async Task<Result<DriverMachine>> LiveMigrateAsync(QemuMachine machine, string targetHost, IProgress<int>? progress, CancellationToken ct)
    {
        var source = machine.Process!;
        var slot = machine.Record.Slot == "a" ? "b" : "a";
        var port = FreeLoopbackPort();
        var accelerator = await guests.AcceleratorAsync(ct);
        QemuGuests.WriteProperties(machine);
        // The destination has the source's port forwards, which the source holds until it stops: it gets none until then.
        var options = guests.LaunchOptions(machine, slot, accelerator, incoming: $"tcp:127.0.0.1:{port}") with { HostForwards = [] };
        QemuProcess destination;
        try
        {
            destination = await QemuProcess.StartAsync(options, ct);
        }
        catch (QemuLaunchException exception)
        {
            return DriverErrors.HypervisorFailed(machine.Id, HypervisorFailure.Migration, "the migration target did not start: " + exception.Message);
        }
        progress?.Report(10);
        try
        {
            await TransferAsync(source, port, progress, ct);
        }
        catch (Exception exception) when (exception is IOException or OperationCanceledException)
        {
            // The source keeps the machine; the half-made destination goes.
            await destination.DisposeAsync();
            QemuFabric.DeleteDirectory(machine.RunDirectory(slot));
            if (exception is OperationCanceledException)
            {
                throw;
            }
            return DriverErrors.HypervisorFailed(machine.Id, HypervisorFailure.Migration, exception.Message);
        }
        // The destination now holds the guest (paused after an incoming migration); the source is ended and the target takes over.
        await guests.EndProcessAsync(machine, force: true, ct);
        var paused = machine.State == DriverMachineState.Paused;
        if (!paused)
        {
            await destination.Qmp.ExecuteAsync("cont", null, ct);
        }
        await AddForwardsAsync(destination, machine.Record, ct);
        var previousSlot = machine.Record.Slot;
        lock (fabric.Gate)
        {
            machine.Record.Host = targetHost;
            machine.Record.Slot = slot;
        }
        guests.KeepConsoleHistory(machine, previousSlot);
        machine.Save();
        guests.Adopt(machine, destination, paused ? DriverMachineState.Paused : DriverMachineState.Running);
        progress?.Report(100);
        return fabric.Describe(machine);
    }

    /// <summary>Sends the guest from <paramref name="source"/> to the QEMU waiting on <paramref name="port"/> and polls until it is across; an <see cref="IOException"/> when it fails.</summary>
    private static async Task TransferAsync(QemuProcess source, int port, IProgress<int>? progress, CancellationToken ct)
    {
        var started = await source.Qmp.ExecuteAsync("migrate", new JsonObject { ["uri"] = $"tcp:127.0.0.1:{port}" }, ct);
        if (!started.Succeeded)
        {
            throw new IOException("QMP migrate: " + started.Error!.Description);
        }
        while (true)
        {
            var status = await source.Qmp.ExecuteAsync("query-migrate", null, ct);
            var state = status.Return.TryGetProperty("status", out var s) ? s.GetString() : null;
            if (state == "completed")
            {
                return;
            }
            if (state is "failed" or "cancelled")
            {
                var reason = status.Return.TryGetProperty("error-desc", out var d) ? d.GetString() : state;
                throw new IOException("the migration failed: " + reason);
            }
            if (status.Return.TryGetProperty("ram", out var ram) && ram.TryGetProperty("total", out var total) && total.GetInt64() > 0)
            {
                progress?.Report((int)Math.Clamp(10 + (80 * ram.GetProperty("transferred").GetInt64() / total.GetInt64()), 10, 90));
            }
            await Task.Delay(TimeSpan.FromMilliseconds(20), ct);
        }
    }

    /// <summary>Gives a migrated machine its access endpoints back (QEMU's <c>hostfwd_add</c>, through the human monitor).</summary>
    private async Task AddForwardsAsync(QemuProcess process, QemuMachineRecord record, CancellationToken ct)
    {
        foreach (var (protocol, port) in record.Ports)
        {
            var guest = fabric.Options.Forwards.GetValueOrDefault(protocol, 22);
            var answer = await process.Qmp.ExecuteAsync("human-monitor-command",
                new JsonObject { ["command-line"] = $"hostfwd_add n0 tcp:127.0.0.1:{port}-:{guest}" }, ct);
            if (!answer.Succeeded || (answer.Return.GetString() ?? "").Length > 0)
            {
                fabric.Logger.LogWarning("Machine {Machine}: forwarding port {Port} after migration failed: {Answer}", record.Spec.MachineId, port,
                    answer.Error?.Description ?? answer.Return.GetString());
            }
        }
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

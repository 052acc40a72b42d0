using Microsoft.Extensions.Logging;
using Welkin.Core.Common;
using Welkin.Core.Compute;

namespace Welkin.Compute.Qemu;

/// <summary>
/// What happens to machines without Welkin asking: Welkin restarted (re-attaching to the
/// machines it knows, ending and removing the ones it does not) and hosts failing or coming back.
/// </summary>
internal sealed class QemuRecovery(QemuFabric fabric, QemuGuests guests)
{
    /// <summary>
    /// Re-attaches to the machines Welkin knows: a machine whose QEMU still runs is found through
    /// its pid file and QMP socket and comes back running or paused; one whose process is gone
    /// comes back stopped when it was stopped, and in error when it should have been running (it
    /// died while Welkin was away); one without a directory is lost (missing from the answer). A
    /// machine directory Welkin does not know is an orphan: its process is ended and its files removed.
    /// </summary>
    public async Task<IReadOnlyList<DriverMachine>> RecoverAsync(IReadOnlyList<KnownMachine> known, CancellationToken ct)
    {
        var wanted = known.ToDictionary(k => k.Spec.MachineId, StringComparer.Ordinal);
        var answer = new List<DriverMachine>();
        foreach (var k in known.OrderBy(k => k.Spec.MachineId, StringComparer.Ordinal))
        {
            if (await RecoverAsync(k, ct) is { } machine)
            {
                answer.Add(machine);
            }
        }
        await SweepOrphansAsync(wanted);
        return answer;
    }

    private async Task<DriverMachine?> RecoverAsync(KnownMachine k, CancellationToken ct)
    {
        if (fabric.Machines.Describe(k.Spec.MachineId) is { } present)
        {
            return present;
        }
        var directory = Path.Combine(fabric.MachinesDirectory, k.Spec.MachineId);
        var record = QemuMachineRecord.Load(Path.Combine(directory, "machine.json"));
        bool hostKnown;
        lock (fabric.Gate)
        {
            hostKnown = record is not null && fabric.Hosts.Find(record.Host) is not null;
        }
        if (record is null || !record.Created || !hostKnown)
        {
            return null;
        }
        var machine = new QemuMachine(record, directory);
        // Held while re-attaching, so an operation or a repeated create waits for the machine as it comes back.
        using var hold = fabric.Machines.TryAddHeld(machine);
        if (hold is null)
        {
            return fabric.Machines.Describe(k.Spec.MachineId);
        }
        var process = await QemuProcess.AttachAsync(guests.LaunchOptions(machine, record.Slot, guests.KnownAccelerator), ct);
        if (process is not null)
        {
            var status = await process.Qmp.ExecuteAsync("query-status", null, ct);
            var running = status.Succeeded && status.Return.TryGetProperty("running", out var r) && r.GetBoolean();
            guests.Adopt(machine, process, running ? DriverMachineState.Running : DriverMachineState.Paused);
            fabric.Logger.LogInformation("Machine {Machine}: re-attached to QEMU pid {Pid}", machine.Id, process.ProcessId);
            return fabric.Describe(machine);
        }
        lock (fabric.Gate)
        {
            if (fabric.Hosts.IsFailed(record.Host))
            {
                machine.State = DriverMachineState.Error;
                record.Error = "The host failed.";
            }
            else if (k.LastKnown is DriverMachineState.Running or DriverMachineState.Paused)
            {
                machine.State = DriverMachineState.Error;
                record.Error = "The machine's QEMU process ended while Welkin was not running.";
                fabric.TrySave(machine);
            }
            else
            {
                machine.State = k.LastKnown == DriverMachineState.Error ? DriverMachineState.Error : DriverMachineState.Stopped;
                record.Error ??= machine.State == DriverMachineState.Error ? "The machine was in error when Welkin stopped." : null;
            }
            return machine.ToDriver(fabric.Options.ManagementAddress);
        }
    }

    private async Task SweepOrphansAsync(Dictionary<string, KnownMachine> wanted)
    {
        foreach (var directory in Directory.EnumerateDirectories(fabric.MachinesDirectory))
        {
            var id = Path.GetFileName(directory);
            if (wanted.ContainsKey(id) || fabric.Machines.Find(id) is not null)
            {
                continue;
            }
            foreach (var slot in new[] { "a", "b" })
            {
                var socket = fabric.QmpSocket(id, slot);
                if (QemuProcess.ReadPid(Path.Combine(directory, "run-" + slot, "qemu.pid")) is { } pid && QemuProcess.CommandLineMentions(pid, socket))
                {
                    fabric.Logger.LogWarning("Machine {Machine} is unknown to Welkin: ending its QEMU (pid {Pid})", id, pid);
                    await QemuProcess.KillAsync(pid);
                }
                File.Delete(socket);
            }
            QemuFabric.DeleteDirectory(directory);
        }
    }

    /// <summary>Fails a host (its QEMU processes are killed, as a power loss would) or brings it back.</summary>
    public async Task<Result<bool>> SetHostFailedAsync(string host, bool failed, CancellationToken ct)
    {
        List<QemuMachine> victims;
        lock (fabric.Gate)
        {
            if (fabric.Hosts.Find(host) is null)
            {
                return DriverErrors.UnknownHost(host);
            }
            if (!fabric.Hosts.SetFailed(host, failed, fabric.Now))
            {
                return true;
            }
            if (!failed)
            {
                fabric.Events.Writer.TryWrite(new DriverEvent(DriverEvent.HostRecovered, host, null,
                    "The host is back; its machines stay in error until started or re-created.", fabric.Now));
                return true;
            }
            fabric.Events.Writer.TryWrite(new DriverEvent(DriverEvent.HostFailed, host, null, "The host failed.", fabric.Now));
            victims = [.. fabric.Machines.Machines.Where(m => m.Record.Host == host && m.State != DriverMachineState.Error).OrderBy(m => m.Id, StringComparer.Ordinal)];
            foreach (var m in victims)
            {
                m.ExitExpected = true;
                m.State = DriverMachineState.Error;
                m.Record.Error = "The host failed.";
                fabric.Events.Writer.TryWrite(new DriverEvent(DriverEvent.MachineCrashed, host, m.Id, m.Record.Error, fabric.Now));
            }
        }
        foreach (var m in victims)
        {
            QemuProcess? process;
            lock (fabric.Gate)
            {
                process = m.Process;
                m.Process = null;
                m.Sampler = null;
                fabric.TrySave(m);
            }
            if (process is not null)
            {
                await process.DisposeAsync();
            }
        }
        await Task.CompletedTask.WaitAsync(ct);
        return true;
    }
}

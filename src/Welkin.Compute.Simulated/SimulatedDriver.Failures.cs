using Welkin.Core.Common;
using Welkin.Core.Compute;

namespace Welkin.Compute.Simulated;

/// <summary>The simulated fabric's failures (hosts failing and coming back, machines crashing) and its recovery after Welkin restarts.</summary>
public sealed partial class SimulatedDriver
{
    /// <summary>
    /// Nothing of the simulation survives a restart of Welkin, so recovery rebuilds the bookkeeping
    /// from what Welkin recorded: each machine comes back in its last recorded state, as a real
    /// fabric's machines that kept running while Welkin was down would. A machine that was being
    /// created finishes after the create delay; machines on a failed host come back in error;
    /// machines on hosts the fabric no longer has are lost (missing from the answer). Addresses and
    /// SSH ports are derived from the machine id, so they usually come back the same.
    /// </summary>
    public async Task<IReadOnlyList<DriverMachine>> RecoverAsync(IReadOnlyList<KnownMachine> known, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(known);
        var recovered = new List<SimulatedMachine>(known.Count);
        var creating = new List<(SimulatedMachine Machine, IDisposable Hold)>();
        lock (_gate)
        {
            var now = Now;
            foreach (var k in known.OrderBy(k => k.Spec.MachineId, StringComparer.Ordinal))
            {
                if (_machines.Find(k.Spec.MachineId) is { } present)
                {
                    recovered.Add(present);
                    continue;
                }
                var admitted = Admit(k.Spec, recovering: true);
                if (!admitted.IsSuccess)
                {
                    continue;
                }
                var machine = admitted.Value;
                recovered.Add(machine);
                if (k.LastKnown == DriverMachineState.Creating && !machine.Host.Failed)
                {
                    // Held until the create finishes, so a create repeated meanwhile waits for it.
                    creating.Add((machine, _machines.TryAddHeld(machine)!));
                    continue;
                }
                _machines.TryAdd(machine);
                if (machine.Host.Failed)
                {
                    machine.Enter(DriverMachineState.Error, now, "The host failed.");
                    continue;
                }
                switch (k.LastKnown)
                {
                    case DriverMachineState.Running or DriverMachineState.Paused:
                        machine.PowerOn(now);
                        machine.Write("welkin: driver re-attached to the running guest");
                        machine.Enter(k.LastKnown, now);
                        break;
                    default:
                        machine.Enter(k.LastKnown, now, k.LastKnown == DriverMachineState.Error ? "The machine was in error when Welkin stopped." : null);
                        break;
                }
            }
        }
        foreach (var (machine, hold) in creating)
        {
            _ = FinishRecoveredCreateAsync(machine, hold);
        }
        await Task.CompletedTask;
        lock (_gate)
        {
            return recovered.Where(_machines.IsCurrent).Select(m => m.ToDriver()).ToList();
        }
    }

    public Task<Result<bool>> SetHostFailedAsync(string host, bool failed, CancellationToken ct)
    {
        lock (_gate)
        {
            if (_hosts.Find(host) is not { } slot)
            {
                return Task.FromResult<Result<bool>>(DriverErrors.UnknownHost(host));
            }
            if (slot.Failed == failed)
            {
                return Task.FromResult<Result<bool>>(true);
            }
            slot.Failed = failed;
            var now = Now;
            if (!failed)
            {
                _events.Writer.TryWrite(new DriverEvent(DriverEvent.HostRecovered, host, null, "The host is back; its machines stay in error until started or re-created.", now));
                return Task.FromResult<Result<bool>>(true);
            }
            _events.Writer.TryWrite(new DriverEvent(DriverEvent.HostFailed, host, null, "The host failed.", now));
            foreach (var machine in _machines.Machines.Where(m => m.Host == slot && m.State != DriverMachineState.Error).OrderBy(m => m.Spec.MachineId, StringComparer.Ordinal))
            {
                Crash(machine, now, "The host failed.");
            }
            return Task.FromResult<Result<bool>>(true);
        }
    }

    /// <summary>Crashes one machine (its guest dies): it goes to error and a machine-crashed event is raised. False when there is no such machine or it is not powered on.</summary>
    public bool CrashMachine(string machineId, string reason = "The guest crashed.")
    {
        lock (_gate)
        {
            var machine = _machines.Find(machineId);
            if (machine is null || machine.State is DriverMachineState.Stopped or DriverMachineState.Error)
            {
                return false;
            }
            Crash(machine, Now, reason);
            return true;
        }
    }

    private async Task FinishRecoveredCreateAsync(SimulatedMachine machine, IDisposable hold)
    {
        try
        {
            await DelayAsync(_options.Timing.Create, _disposed.Token);
            lock (_gate)
            {
                if (_machines.IsCurrent(machine) && machine.State == DriverMachineState.Creating)
                {
                    machine.PowerOn(Now);
                    machine.BootLines(Now);
                    machine.ReadyLines(Now, _options.DefaultOperatingSystem);
                    machine.Enter(DriverMachineState.Running, Now);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The driver is being disposed.
        }
        catch (ObjectDisposedException)
        {
            // The driver was disposed before the delay began.
        }
        finally
        {
            hold.Dispose();
        }
    }

    private void Crash(SimulatedMachine machine, DateTimeOffset now, string reason)
    {
        if (machine.IsActive)
        {
            machine.Kernel(now, "Kernel panic - not syncing: " + reason);
        }
        machine.Crashes++;
        machine.Enter(DriverMachineState.Error, now, reason);
        _events.Writer.TryWrite(new DriverEvent(DriverEvent.MachineCrashed, machine.Host.Host.Name, machine.Spec.MachineId, reason, now));
    }
}

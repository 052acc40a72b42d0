using System.Threading.Channels;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Compute;

namespace Welkin.Compute.Simulated;

/// <summary>
/// A compute fabric that exists only in memory but behaves like the QEMU driver: the same states,
/// the same errors (<see cref="DriverErrors"/>), operations that take time on the injected clock
/// (<see cref="SimulatedTiming"/>), an SSH endpoint per machine as user-mode networking with a host
/// port forward gives, a serial console, counters that advance with load, and failure injection.
/// </summary>
/// <remarks>
/// Operations on one machine run one at a time (a hypervisor serialises commands on a domain);
/// <see cref="InspectAsync"/>, the console and metrics never wait. A machine keeps its state while
/// an operation is under way and takes the new one when the operation completes. A machine in
/// error stays there until it is started, stopped or destroyed: a host coming back does not
/// restart anything by itself, so the Service Manager decides what to do with each machine.
/// </remarks>
public sealed partial class SimulatedDriver : IComputeDriver, ILoadSimulation, IDisposable
{
    private readonly Lock _gate = new();
    private readonly MachineTable<SimulatedMachine> _machines;
    private readonly SimulatedHosts _hosts;
    private readonly SimulatedLoads _loads;
    private readonly Channel<DriverEvent> _events = Channel.CreateUnbounded<DriverEvent>();
    private readonly CancellationTokenSource _disposed = new();
    private readonly SimulatedFabricOptions _options;
    private readonly TimeProvider _clock;
    private int _disposeCount;

    public SimulatedDriver(SimulatedFabricOptions options, TimeProvider clock)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(clock);
        if (options.MemoryOvercommit < 1)
        {
            throw new ArgumentException("Fabric:MemoryOvercommit must be at least 1.", nameof(options));
        }
        if (options.SshPortFirst < 1 || options.SshPortLast > 65_535 || options.SshPortFirst > options.SshPortLast)
        {
            throw new ArgumentException("Fabric:SshPortFirst..SshPortLast must be a range of TCP ports.", nameof(options));
        }
        _options = options;
        _clock = clock;
        Hosts = options.Hosts.Count > 0 ? [.. options.Hosts] : SimulatedFabricOptions.DefaultHosts;
        _hosts = new SimulatedHosts(options, Hosts);
        _machines = new(m => m.Spec, m => m.ToDriver(), _gate, m => m.Host.Failed ? DriverErrors.HostUnavailable(m.Host.Host.Name) : null);
        _loads = new SimulatedLoads(_machines);
    }

    public string Kind => "simulated";

    public IReadOnlyList<FabricHost> Hosts { get; }

    public DriverCapabilities Capabilities =>
        DriverCapabilities.Pause | DriverCapabilities.HotPlugVolumes | DriverCapabilities.HotPlugNetworks
        | DriverCapabilities.LiveProperties | DriverCapabilities.LiveMigration | DriverCapabilities.FailureInjection | DriverCapabilities.Devices
        | DriverCapabilities.Volumes | DriverCapabilities.DataDisks;

    public ChannelReader<DriverEvent> Events => _events.Reader;

    private DateTimeOffset Now => _clock.GetUtcNow();

    public Task<Result<DriverMachine>> CreateAsync(MachineSpec spec, IProgress<int>? progress, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return _machines.CreateAsync(spec, () => Admit(spec), m => BootNewAsync(m, progress, ct), progress, ct);
    }

    public Task<Result<DriverMachine>> StartAsync(string machineId, CancellationToken ct) =>
        TransitionAsync(machineId, "start", m => m.State switch
        {
            DriverMachineState.Running => Step.Done,
            DriverMachineState.Stopped or DriverMachineState.Error => Step.Proceed(_options.Timing.Start),
            _ => Step.Refuse(DriverErrors.InvalidState(machineId, m.State, "start")),
        },
        (m, now) =>
        {
            m.PowerOn(now);
            m.BootLines(now);
        },
        (m, now) =>
        {
            m.ReadyLines(now, _options.DefaultOperatingSystem);
            m.Enter(DriverMachineState.Running, now);
            return null;
        }, ct);

    public Task<Result<DriverMachine>> StopAsync(string machineId, bool force, CancellationToken ct) =>
        TransitionAsync(machineId, "stop", m => m.State switch
        {
            DriverMachineState.Stopped => Step.Done,
            DriverMachineState.Running when !force => Step.Proceed(_options.Timing.Stop),
            // A forced stop, a paused guest (which cannot answer ACPI) and a crashed one are simply switched off.
            DriverMachineState.Running or DriverMachineState.Paused or DriverMachineState.Error => Step.Proceed(TimeSpan.Zero),
            _ => Step.Refuse(DriverErrors.InvalidState(machineId, m.State, "stop")),
        },
        (m, now) =>
        {
            if (m.State == DriverMachineState.Running && !force)
            {
                m.Write("systemd[1]: Stopping the system...");
            }
        },
        (m, now) =>
        {
            m.Kernel(now, "reboot: Power down");
            m.Enter(DriverMachineState.Stopped, now);
            return null;
        }, ct);

    public Task<Result<DriverMachine>> PauseAsync(string machineId, CancellationToken ct) =>
        TransitionAsync(machineId, "pause", m => m.State switch
        {
            DriverMachineState.Paused => Step.Done,
            DriverMachineState.Running => Step.Proceed(_options.Timing.Pause),
            _ => Step.Refuse(DriverErrors.InvalidState(machineId, m.State, "pause")),
        },
        null,
        (m, now) =>
        {
            m.Enter(DriverMachineState.Paused, now);
            return null;
        }, ct);

    public Task<Result<DriverMachine>> ResumeAsync(string machineId, CancellationToken ct) =>
        TransitionAsync(machineId, "resume", m => m.State switch
        {
            DriverMachineState.Running => Step.Done,
            DriverMachineState.Paused => Step.Proceed(_options.Timing.Resume),
            _ => Step.Refuse(DriverErrors.InvalidState(machineId, m.State, "resume")),
        },
        null,
        (m, now) =>
        {
            m.Enter(DriverMachineState.Running, now);
            return null;
        }, ct);

    public Task<Result<DriverMachine>> RebootAsync(string machineId, CancellationToken ct) =>
        TransitionAsync(machineId, "reboot", m => m.State switch
        {
            DriverMachineState.Running => Step.Proceed(_options.Timing.Reboot),
            _ => Step.Refuse(DriverErrors.InvalidState(machineId, m.State, "reboot")),
        },
        (m, now) =>
        {
            m.Kernel(now, "reboot: Restarting system");
            m.Restarted(now);
            m.BootLines(now);
        },
        (m, now) =>
        {
            m.ReadyLines(now, _options.DefaultOperatingSystem);
            return null;
        }, ct);

    public Task<Result<DriverMachine>> ResizeAsync(string machineId, int vcpus, long memoryMiB, CancellationToken ct)
    {
        if (vcpus < 1 || memoryMiB < 1)
        {
            return Task.FromResult<Result<DriverMachine>>(Error.Validation(vcpus < 1 ? "vcpus" : "memoryMiB", "Must be at least 1."));
        }
        // QEMU cannot change the vCPUs of a running guest, so neither does the simulation (no ResizeWhileRunning).
        return TransitionAsync(machineId, "resize", m => m.State switch
        {
            DriverMachineState.Stopped or DriverMachineState.Error => Step.Proceed(_options.Timing.Resize),
            _ => Step.Refuse(DriverErrors.InvalidState(machineId, m.State, "be resized until it is stopped")),
        },
        null,
        (m, now) =>
        {
            if (_hosts.Resize(m, memoryMiB) is { } full)
            {
                return full;
            }
            m.Vcpus = vcpus;
            m.MemoryMiB = memoryMiB;
            return null;
        }, ct);
    }

    /// <summary>
    /// Moves the machine to another host as the QEMU driver does: a stopped machine cold, a running
    /// or paused one live (it keeps its state, address and endpoints); the target must have room.
    /// </summary>
    public Task<Result<DriverMachine>> MigrateAsync(string machineId, string targetHost, IProgress<int>? progress, CancellationToken ct)
    {
        HostSlot? target;
        lock (_gate)
        {
            target = _hosts.Find(targetHost);
            if (target is null)
            {
                return Task.FromResult<Result<DriverMachine>>(DriverErrors.UnknownHost(targetHost));
            }
        }
        return TransitionAsync(machineId, "migrate", m =>
        {
            if (m.Host == target)
            {
                return Step.Done;
            }
            if (target.Failed)
            {
                return Step.Refuse(DriverErrors.HostUnavailable(targetHost));
            }
            if (_hosts.Room(target, m.MemoryMiB) is { } full)
            {
                return Step.Refuse(full);
            }
            return m.State is DriverMachineState.Creating
                ? Step.Refuse(DriverErrors.InvalidState(machineId, m.State, "migrate"))
                : Step.Proceed(_options.Timing.Migrate);
        },
        (m, now) =>
        {
            progress?.Report(0);
            if (m.IsActive)
            {
                m.Write($"welkin: live migration to {targetHost} started");
            }
        },
        (m, now) =>
        {
            if (target.Failed)
            {
                return DriverErrors.HostUnavailable(targetHost);
            }
            SimulatedHosts.Move(m, target);
            if (m.IsActive)
            {
                m.Write($"welkin: live migration to {targetHost} completed");
            }
            progress?.Report(100);
            return null;
        }, ct);
    }

    public Task<Result<bool>> DestroyAsync(string machineId, CancellationToken ct) =>
        _machines.DestroyAsync(machineId, async machine =>
        {
            lock (_gate)
            {
                // A failed host cannot be asked; its disks are written off and the bookkeeping dropped at once.
                if (machine.Host.Failed)
                {
                    Remove(machine);
                    return true;
                }
            }
            await DelayAsync(_options.Timing.Destroy, ct);
            lock (_gate)
            {
                if (_machines.IsCurrent(machine))
                {
                    Remove(machine);
                }
            }
            return true;
        }, ct);

    public Task<DriverMachine?> InspectAsync(string machineId, CancellationToken ct) => Task.FromResult(_machines.Describe(machineId));

    public Task<Result<string>> ConsoleLogAsync(string machineId, int maxBytes, CancellationToken ct)
    {
        lock (_gate)
        {
            var machine = _machines.Find(machineId);
            return Task.FromResult<Result<string>>(machine is null ? DriverErrors.MachineNotFound(machineId) : machine.ConsoleTail(maxBytes));
        }
    }

    public Task<Result<MachineMetrics>> MetricsAsync(string machineId, CancellationToken ct)
    {
        lock (_gate)
        {
            var machine = _machines.Find(machineId);
            return Task.FromResult<Result<MachineMetrics>>(machine is null ? DriverErrors.MachineNotFound(machineId) : machine.Metrics(Now));
        }
    }

    public Task<Result<bool>> AttachVolumeAsync(string machineId, VolumeAttachment volume, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(volume);
        return Configure(TransitionAsync(machineId, "attach a volume", m =>
            m.Volumes.Contains(volume) ? Step.Done : Configurable(m, _options.Timing.Attach),
            null,
            (m, now) =>
            {
                m.Volumes.RemoveAll(v => v.VolumeId == volume.VolumeId);
                m.Volumes.Add(volume);
                if (m.IsActive)
                {
                    m.Kernel(now, $"virtio_blk: [{volume.Device}] {volume.SizeGiB} GiB attached ({volume.VolumeId})");
                }
                return null;
            }, ct));
    }

    public Task<Result<bool>> DetachVolumeAsync(string machineId, string volumeId, CancellationToken ct) =>
        Configure(TransitionAsync(machineId, "detach a volume", m =>
            m.Volumes.TrueForAll(v => v.VolumeId != volumeId) ? Step.Done : Configurable(m, _options.Timing.Detach),
            null,
            (m, now) =>
            {
                m.Volumes.RemoveAll(v => v.VolumeId == volumeId);
                return null;
            }, ct));

    /// <summary>The simulation stores no volume contents: this only checks that no machine still has the volume.</summary>
    public Task<Result<bool>> DeleteVolumeAsync(string volumeId, CancellationToken ct)
    {
        lock (_gate)
        {
            var holder = _machines.Machines.FirstOrDefault(m => m.Volumes.Exists(v => v.VolumeId == volumeId));
            return Task.FromResult<Result<bool>>(holder is null
                ? true
                : DriverErrors.InvalidState(holder.Spec.MachineId, holder.State, $"let volume '{volumeId}' be deleted while it is attached"));
        }
    }

    public Task<Result<bool>> ConnectNetworkAsync(string machineId, NetworkAttachment nic, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(nic);
        return Configure(TransitionAsync(machineId, "connect a network", m =>
            m.Networks.Contains(nic) ? Step.Done : Configurable(m, _options.Timing.Attach),
            null,
            (m, now) =>
            {
                m.Networks.RemoveAll(n => n.NetworkId == nic.NetworkId);
                m.Networks.Add(nic);
                if (m.IsActive)
                {
                    m.Kernel(now, $"virtio_net: link up {nic.Mac} {nic.Address} ({nic.NetworkId})");
                }
                return null;
            }, ct));
    }

    public Task<Result<bool>> DisconnectNetworkAsync(string machineId, string networkId, CancellationToken ct) =>
        Configure(TransitionAsync(machineId, "disconnect a network", m =>
            m.Networks.TrueForAll(n => n.NetworkId != networkId) ? Step.Done : Configurable(m, _options.Timing.Detach),
            null,
            (m, now) =>
            {
                m.Networks.RemoveAll(n => n.NetworkId == networkId);
                return null;
            }, ct));

    /// <summary>Replaces the machine's properties; a running guest applies them at once, a stopped one at its next boot.</summary>
    public Task<Result<bool>> SetPropertiesAsync(string machineId, IReadOnlyDictionary<string, string> properties, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(properties);
        var copy = new Dictionary<string, string>(properties, StringComparer.Ordinal);
        return Configure(TransitionAsync(machineId, "apply properties", m =>
            SameProperties(m.Properties, copy) ? Step.Done : Configurable(m, _options.Timing.Attach),
            null,
            (m, now) =>
            {
                m.Properties = copy;
                if (m.IsActive)
                {
                    m.Write($"welkin-guest: applied {copy.Count} properties");
                }
                return null;
            }, ct));
    }

    /// <summary>
    /// Sets the load of a machine (by machine id), or the total demand of an instance (by instance
    /// id, <see cref="MachineSpec.InstanceId"/>). An instance's demand is spread evenly over its
    /// running machines and follows them: a machine created, started, stopped or crashed later
    /// changes every other machine's share, so stopping one of three raises the other two's
    /// utilisation by half. CPU is in percent of one machine (150 is one and a half machines busy;
    /// a share is at most 100), the rates are divided likewise, and the memory fraction applies to
    /// each machine as given. A machine whose own load was set keeps it and takes no share until
    /// the instance's load is set again. Returns how many machines it changed.
    /// </summary>
    public int SetLoad(string id, LoadProfile load)
    {
        ArgumentNullException.ThrowIfNull(load);
        lock (_gate)
        {
            return _loads.Set(id, load, Now);
        }
    }

    bool ILoadSimulation.SetMachineLoad(string machineId, LoadSettings load)
    {
        ArgumentNullException.ThrowIfNull(load);
        lock (_gate)
        {
            return _machines.Find(machineId) is not null && SetLoad(machineId, SimulatedLoads.ToProfile(load)) == 1;
        }
    }

    int ILoadSimulation.SetInstanceLoad(string instanceId, LoadSettings load)
    {
        ArgumentNullException.ThrowIfNull(load);
        lock (_gate)
        {
            // An instance id never names a machine, so this always sets the instance's demand.
            return _machines.Find(instanceId) is not null ? 0 : SetLoad(instanceId, SimulatedLoads.ToProfile(load));
        }
    }

    /// <summary>What the fabric records about a machine (volumes, networks, properties, load), or null.</summary>
    public SimulatedMachineDetails? Describe(string machineId)
    {
        lock (_gate)
        {
            return _machines.Find(machineId)?.Details();
        }
    }

    /// <summary>The machines on a host, or all machines when <paramref name="host"/> is null.</summary>
    public IReadOnlyList<SimulatedMachineDetails> Machines(string? host = null)
    {
        lock (_gate)
        {
            return _machines.Machines.Where(m => host is null || m.Host.Host.Name == host).OrderBy(m => m.Spec.MachineId, StringComparer.Ordinal).Select(m => m.Details()).ToList();
        }
    }

    public bool IsHostFailed(string host)
    {
        lock (_gate)
        {
            return _hosts.Find(host)?.Failed == true;
        }
    }

    /// <summary>Ends recoveries under way and completes <see cref="Events"/>. Safe to call more than once (the container disposes the driver once per interface).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposeCount, 1) == 0)
        {
            _disposed.Cancel();
            _disposed.Dispose();
            _events.Writer.TryComplete();
        }
    }

    private readonly record struct Step(bool IsDone, TimeSpan Delay, Error? Refused)
    {
        public static Step Done => new(true, TimeSpan.Zero, null);

        public static Step Proceed(TimeSpan delay) => new(false, delay, null);

        public static Step Refuse(Error error) => new(false, TimeSpan.Zero, error);
    }

    /// <summary>
    /// One operation on one machine, holding it: decide (no-op, refuse, or go on with a delay) and
    /// begin under the lock, wait the operation's time, then complete under the lock, unless the
    /// machine was destroyed, crashed or lost its host meanwhile.
    /// </summary>
    private Task<Result<DriverMachine>> TransitionAsync(
        string machineId,
        string action,
        Func<SimulatedMachine, Step> decide,
        Action<SimulatedMachine, DateTimeOffset>? begin,
        Func<SimulatedMachine, DateTimeOffset, Error?> complete,
        CancellationToken ct) =>
        _machines.OperateAsync<DriverMachine>(machineId, async machine =>
        {
            Step step;
            int crashes;
            lock (_gate)
            {
                // Again under this lock: the host may have failed since the table looked, and the decision must see it.
                if (machine.Host.Failed)
                {
                    return DriverErrors.HostUnavailable(machine.Host.Host.Name);
                }
                step = decide(machine);
                if (step.Refused is { } refused)
                {
                    return refused;
                }
                if (step.IsDone)
                {
                    return machine.ToDriver();
                }
                crashes = machine.Crashes;
                begin?.Invoke(machine, Now);
            }
            await DelayAsync(step.Delay, ct);
            lock (_gate)
            {
                if (!_machines.IsCurrent(machine))
                {
                    return DriverErrors.MachineNotFound(machineId);
                }
                if (machine.Host.Failed)
                {
                    return DriverErrors.HostUnavailable(machine.Host.Host.Name);
                }
                if (machine.Crashes != crashes)
                {
                    return DriverErrors.InvalidState(machineId, machine.State, action);
                }
                return complete(machine, Now) is { } error ? error : machine.ToDriver();
            }
        }, ct);

    private static async Task<Result<bool>> Configure(Task<Result<DriverMachine>> operation) => (await operation).Map(_ => true);

    private static Step Configurable(SimulatedMachine machine, TimeSpan delay) =>
        machine.State == DriverMachineState.Creating ? Step.Refuse(DriverErrors.InvalidState(machine.Spec.MachineId, machine.State, "be reconfigured yet")) : Step.Proceed(delay);

    private async Task<Result<DriverMachine>> BootNewAsync(SimulatedMachine machine, IProgress<int>? progress, CancellationToken ct)
    {
        try
        {
            progress?.Report(0);
            // Most of a create is copying the image; the rest is the boot.
            await DelayAsync(_options.Timing.Create * 0.6, ct);
            lock (_gate)
            {
                if (Interrupted(machine) is { } error)
                {
                    return error;
                }
                machine.PowerOn(Now);
                machine.BootLines(Now);
            }
            progress?.Report(60);
            await DelayAsync(_options.Timing.Create * 0.4, ct);
            lock (_gate)
            {
                if (Interrupted(machine) is { } error)
                {
                    return error;
                }
                machine.ReadyLines(Now, _options.DefaultOperatingSystem);
                machine.Enter(DriverMachineState.Running, Now);
            }
            progress?.Report(100);
            lock (_gate)
            {
                return machine.ToDriver();
            }
        }
        catch (OperationCanceledException)
        {
            // A cancelled create leaves nothing behind, so a retry starts afresh.
            lock (_gate)
            {
                if (_machines.IsCurrent(machine) && machine.State == DriverMachineState.Creating)
                {
                    Remove(machine);
                }
            }
            throw;
        }
    }

    private Error? Interrupted(SimulatedMachine machine)
    {
        if (!_machines.IsCurrent(machine))
        {
            return DriverErrors.MachineNotFound(machine.Spec.MachineId);
        }
        if (machine.Host.Failed)
        {
            return DriverErrors.HostUnavailable(machine.Host.Host.Name);
        }
        return machine.State == DriverMachineState.Creating ? null : DriverErrors.InvalidState(machine.Spec.MachineId, machine.State, "finish booting");
    }

    /// <summary>Checks and reserves what a new machine takes on its host, for the table to add; called under the lock.</summary>
    private Result<SimulatedMachine> Admit(MachineSpec spec, bool recovering = false)
    {
        var admitted = _hosts.Admit(spec, recovering);
        if (admitted.IsSuccess)
        {
            var machine = admitted.Value;
            machine.StateChanged = (m, now) => _loads.Rebalance(m.Spec.InstanceId, now);
            machine.Load = _loads.Share(spec.InstanceId) ?? machine.Load;
        }
        return admitted;
    }

    private void Remove(SimulatedMachine machine)
    {
        machine.Count(Now);
        _machines.Remove(machine);
        _loads.Rebalance(machine.Spec.InstanceId, Now);
        _hosts.Release(machine);
    }

    private Task DelayAsync(TimeSpan delay, CancellationToken ct)
    {
        // Zero delays take no timer: benchmarks create hundreds of machines a second.
        if (delay <= TimeSpan.Zero)
        {
            ct.ThrowIfCancellationRequested();
            return Task.CompletedTask;
        }
        var jitter = _options.Timing.Jitter;
        if (jitter > 0)
        {
            delay *= 1 + (Math.Min(jitter, 1) * ((2 * Random.Shared.NextDouble()) - 1));
        }
        return Task.Delay(delay, _clock, ct);
    }

    private static bool SameProperties(IReadOnlyDictionary<string, string> a, IReadOnlyDictionary<string, string> b) =>
        a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var v) && v == kv.Value);
}

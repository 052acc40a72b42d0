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
public sealed class SimulatedDriver : IComputeDriver, ILoadSimulation, IDisposable
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, SimulatedMachine> _machines = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HostSlot> _hosts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<int>> _usedPorts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, LoadProfile> _instanceLoads = new(StringComparer.Ordinal);
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
        if (Hosts.Count > 1 << 16)
        {
            throw new ArgumentException("The simulated fabric has room for at most 65,536 hosts.", nameof(options));
        }
        // Each host gets an equal block of 10.0.0.0/8: at least 256 blocks, each at least a /24.
        var hostBits = Math.Max(8, (int)Math.Ceiling(Math.Log2(Math.Max(1, Hosts.Count))));
        for (var i = 0; i < Hosts.Count; i++)
        {
            if (!_hosts.TryAdd(Hosts[i].Name, new HostSlot(Hosts[i], i, 24 - hostBits)))
            {
                throw new ArgumentException($"Host '{Hosts[i].Name}' appears twice.", nameof(options));
            }
        }
    }

    public string Kind => "simulated";

    public IReadOnlyList<FabricHost> Hosts { get; }

    public DriverCapabilities Capabilities =>
        DriverCapabilities.Pause | DriverCapabilities.HotPlugVolumes | DriverCapabilities.HotPlugNetworks
        | DriverCapabilities.LiveProperties | DriverCapabilities.LiveMigration | DriverCapabilities.FailureInjection;

    public ChannelReader<DriverEvent> Events => _events.Reader;

    private DateTimeOffset Now => _clock.GetUtcNow();

    public async Task<Result<DriverMachine>> CreateAsync(MachineSpec spec, IProgress<int>? progress, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(spec);
        while (true)
        {
            SimulatedMachine? existing;
            Result<SimulatedMachine> admitted = default;
            lock (_gate)
            {
                if (!_machines.TryGetValue(spec.MachineId, out existing))
                {
                    admitted = Admit(spec);
                    if (admitted.IsSuccess)
                    {
                        admitted.Value.Ops.Wait(0, CancellationToken.None);
                    }
                }
                else if (!existing.Spec.DescribesSameMachine(spec))
                {
                    return DriverErrors.InvalidState(spec.MachineId, existing.State, "be created again with a different specification");
                }
            }
            if (existing is null)
            {
                return admitted.IsSuccess ? await BootNewAsync(admitted.Value, progress, ct) : admitted.Error!;
            }
            // The same create again (a retry after a crash): wait for the first one to finish and answer with the machine as it is.
            await existing.Ops.WaitAsync(ct);
            try
            {
                lock (_gate)
                {
                    if (IsCurrent(existing))
                    {
                        progress?.Report(100);
                        return existing.ToDriver();
                    }
                }
            }
            finally
            {
                existing.Ops.Release();
            }
            // The first create was cancelled (which leaves nothing behind) or the machine was destroyed meanwhile: create it anew.
        }
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
            KernelLines(m, now);
        },
        (m, now) =>
        {
            ReadyLines(m, now);
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
            KernelLines(m, now);
        },
        (m, now) =>
        {
            ReadyLines(m, now);
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
            var reserved = m.Host.ReservedMiB - m.MemoryMiB + memoryMiB;
            if (memoryMiB > m.MemoryMiB && reserved > m.Host.Host.MemoryMiB * _options.MemoryOvercommit)
            {
                return OutOfMemory(m.Host, memoryMiB);
            }
            m.Host.ReservedMiB = reserved;
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
            if (!_hosts.TryGetValue(targetHost, out target))
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
            if (target.ReservedMiB + m.MemoryMiB > target.Host.MemoryMiB * _options.MemoryOvercommit)
            {
                return Step.Refuse(OutOfMemory(target, m.MemoryMiB));
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
            m.Host.ReservedMiB -= m.MemoryMiB;
            m.Host.Machines--;
            target.ReservedMiB += m.MemoryMiB;
            target.Machines++;
            m.Host = target;
            if (m.IsActive)
            {
                m.Write($"welkin: live migration to {targetHost} completed");
            }
            progress?.Report(100);
            return null;
        }, ct);
    }

    public async Task<Result<bool>> DestroyAsync(string machineId, CancellationToken ct)
    {
        var machine = Find(machineId);
        if (machine is null)
        {
            return true;
        }
        await machine.Ops.WaitAsync(ct);
        try
        {
            lock (_gate)
            {
                if (!IsCurrent(machine))
                {
                    return true;
                }
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
                if (IsCurrent(machine))
                {
                    Remove(machine);
                }
            }
            return true;
        }
        finally
        {
            machine.Ops.Release();
        }
    }

    public Task<DriverMachine?> InspectAsync(string machineId, CancellationToken ct)
    {
        lock (_gate)
        {
            return Task.FromResult(_machines.GetValueOrDefault(machineId)?.ToDriver());
        }
    }

    public Task<Result<string>> ConsoleLogAsync(string machineId, int maxBytes, CancellationToken ct)
    {
        lock (_gate)
        {
            var machine = _machines.GetValueOrDefault(machineId);
            return Task.FromResult<Result<string>>(machine is null ? DriverErrors.MachineNotFound(machineId) : machine.ConsoleTail(maxBytes));
        }
    }

    public Task<Result<MachineMetrics>> MetricsAsync(string machineId, CancellationToken ct)
    {
        lock (_gate)
        {
            var machine = _machines.GetValueOrDefault(machineId);
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
            var holder = _machines.Values.FirstOrDefault(m => m.Volumes.Exists(v => v.VolumeId == volumeId));
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
        var creating = new List<SimulatedMachine>();
        lock (_gate)
        {
            var now = Now;
            foreach (var k in known.OrderBy(k => k.Spec.MachineId, StringComparer.Ordinal))
            {
                if (_machines.TryGetValue(k.Spec.MachineId, out var present))
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
                if (machine.Host.Failed)
                {
                    machine.Enter(DriverMachineState.Error, now, "The host failed.");
                    continue;
                }
                switch (k.LastKnown)
                {
                    case DriverMachineState.Creating:
                        machine.Ops.Wait(0, CancellationToken.None);
                        creating.Add(machine);
                        break;
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
        foreach (var machine in creating)
        {
            _ = FinishRecoveredCreateAsync(machine);
        }
        await Task.CompletedTask;
        lock (_gate)
        {
            return recovered.Where(IsCurrent).Select(m => m.ToDriver()).ToList();
        }
    }

    public Task<Result<bool>> SetHostFailedAsync(string host, bool failed, CancellationToken ct)
    {
        lock (_gate)
        {
            if (!_hosts.TryGetValue(host, out var slot))
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
            foreach (var machine in _machines.Values.Where(m => m.Host == slot && m.State != DriverMachineState.Error).OrderBy(m => m.Spec.MachineId, StringComparer.Ordinal))
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
            var machine = _machines.GetValueOrDefault(machineId);
            if (machine is null || machine.State is DriverMachineState.Stopped or DriverMachineState.Error)
            {
                return false;
            }
            Crash(machine, Now, reason);
            return true;
        }
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
            var now = Now;
            if (_machines.TryGetValue(id, out var machine))
            {
                machine.Count(now);
                machine.Load = load;
                machine.Pinned = true;
                Rebalance(machine.Spec.InstanceId, now);
                return 1;
            }
            _instanceLoads[id] = load;
            var changed = 0;
            foreach (var m in _machines.Values.Where(m => m.Spec.InstanceId == id))
            {
                m.Pinned = false;
                changed++;
            }
            Rebalance(id, now);
            return changed;
        }
    }

    bool ILoadSimulation.SetMachineLoad(string machineId, LoadSettings load)
    {
        ArgumentNullException.ThrowIfNull(load);
        lock (_gate)
        {
            return _machines.ContainsKey(machineId) && SetLoad(machineId, ToProfile(load)) == 1;
        }
    }

    int ILoadSimulation.SetInstanceLoad(string instanceId, LoadSettings load)
    {
        ArgumentNullException.ThrowIfNull(load);
        lock (_gate)
        {
            // An instance id never names a machine, so this always sets the instance's demand.
            return _machines.ContainsKey(instanceId) ? 0 : SetLoad(instanceId, ToProfile(load));
        }
    }

    private static LoadProfile ToProfile(LoadSettings l) =>
        new(l.CpuUtilizationPercent, l.MemoryUsedFraction, l.PageFaultsPerSecond, l.DiskReadBytesPerSecond, l.DiskWriteBytesPerSecond,
            l.NetworkRxBytesPerSecond, l.NetworkTxBytesPerSecond);

    /// <summary>Gives every unpinned machine of the instance its share of the instance's demand; called under the lock.</summary>
    private void Rebalance(string? instanceId, DateTimeOffset now)
    {
        if (instanceId is null || !_instanceLoads.TryGetValue(instanceId, out var total))
        {
            return;
        }
        var members = _machines.Values.Where(m => m.Spec.InstanceId == instanceId && !m.Pinned).ToList();
        var running = Math.Max(1, members.Count(m => m.State == DriverMachineState.Running));
        var share = new LoadProfile(Math.Min(100, total.CpuUtilizationPercent / running), total.MemoryUsedFraction, total.PageFaultsPerSecond / running,
            total.DiskReadBytesPerSecond / running, total.DiskWriteBytesPerSecond / running, total.NetworkRxBytesPerSecond / running, total.NetworkTxBytesPerSecond / running);
        foreach (var m in members)
        {
            // Count what each machine did at its old share up to now before it takes the new one.
            m.Count(now);
            m.Load = share;
        }
    }

    /// <summary>What the fabric records about a machine (volumes, networks, properties, load), or null.</summary>
    public SimulatedMachineDetails? Describe(string machineId)
    {
        lock (_gate)
        {
            return _machines.GetValueOrDefault(machineId)?.Details();
        }
    }

    /// <summary>The machines on a host, or all machines when <paramref name="host"/> is null.</summary>
    public IReadOnlyList<SimulatedMachineDetails> Machines(string? host = null)
    {
        lock (_gate)
        {
            return _machines.Values.Where(m => host is null || m.Host.Host.Name == host).OrderBy(m => m.Spec.MachineId, StringComparer.Ordinal).Select(m => m.Details()).ToList();
        }
    }

    public bool IsHostFailed(string host)
    {
        lock (_gate)
        {
            return _hosts.TryGetValue(host, out var slot) && slot.Failed;
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
    /// One operation on one machine: decide (no-op, refuse, or go on with a delay) and begin under
    /// the lock, wait the operation's time, then complete under the lock, unless the machine was
    /// destroyed, crashed or lost its host meanwhile.
    /// </summary>
    private async Task<Result<DriverMachine>> TransitionAsync(
        string machineId,
        string action,
        Func<SimulatedMachine, Step> decide,
        Action<SimulatedMachine, DateTimeOffset>? begin,
        Func<SimulatedMachine, DateTimeOffset, Error?> complete,
        CancellationToken ct)
    {
        var machine = Find(machineId);
        if (machine is null)
        {
            return DriverErrors.MachineNotFound(machineId);
        }
        await machine.Ops.WaitAsync(ct);
        try
        {
            Step step;
            int crashes;
            lock (_gate)
            {
                if (!IsCurrent(machine))
                {
                    return DriverErrors.MachineNotFound(machineId);
                }
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
                if (!IsCurrent(machine))
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
        }
        finally
        {
            machine.Ops.Release();
        }
    }

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
                KernelLines(machine, Now);
            }
            progress?.Report(60);
            await DelayAsync(_options.Timing.Create * 0.4, ct);
            lock (_gate)
            {
                if (Interrupted(machine) is { } error)
                {
                    return error;
                }
                ReadyLines(machine, Now);
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
                if (IsCurrent(machine) && machine.State == DriverMachineState.Creating)
                {
                    Remove(machine);
                }
            }
            throw;
        }
        finally
        {
            machine.Ops.Release();
        }
    }

    private Error? Interrupted(SimulatedMachine machine)
    {
        if (!IsCurrent(machine))
        {
            return DriverErrors.MachineNotFound(machine.Spec.MachineId);
        }
        if (machine.Host.Failed)
        {
            return DriverErrors.HostUnavailable(machine.Host.Host.Name);
        }
        return machine.State == DriverMachineState.Creating ? null : DriverErrors.InvalidState(machine.Spec.MachineId, machine.State, "finish booting");
    }

    private async Task FinishRecoveredCreateAsync(SimulatedMachine machine)
    {
        try
        {
            await DelayAsync(_options.Timing.Create, _disposed.Token);
            lock (_gate)
            {
                if (IsCurrent(machine) && machine.State == DriverMachineState.Creating)
                {
                    machine.PowerOn(Now);
                    KernelLines(machine, Now);
                    ReadyLines(machine, Now);
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
            machine.Ops.Release();
        }
    }

    /// <summary>Checks and reserves what a new machine takes on its host; called under the lock.</summary>
    private Result<SimulatedMachine> Admit(MachineSpec spec, bool recovering = false)
    {
        if (!_hosts.TryGetValue(spec.Host, out var slot))
        {
            return DriverErrors.UnknownHost(spec.Host);
        }
        if (!recovering)
        {
            if (slot.Failed)
            {
                return DriverErrors.HostUnavailable(spec.Host);
            }
            if (spec.Vcpus < 1 || spec.MemoryMiB < 1)
            {
                return Error.Validation(spec.Vcpus < 1 ? "vcpus" : "memoryMiB", "Must be at least 1.");
            }
            if (slot.ReservedMiB + spec.MemoryMiB > slot.Host.MemoryMiB * _options.MemoryOvercommit)
            {
                return OutOfMemory(slot, spec.MemoryMiB);
            }
        }
        if (slot.AllocateAddress(spec.MachineId) is not { } offset)
        {
            return DriverErrors.HostUnavailable(spec.Host) with { Detail = $"Host '{spec.Host}' has no private address left." };
        }
        var management = _options.ManagementAddresses.GetValueOrDefault(spec.Host) ?? _options.ManagementAddress;
        if (AllocatePort(management, spec.MachineId) is not { } port)
        {
            slot.ReleaseAddress(offset);
            return DriverErrors.HostUnavailable(spec.Host) with { Detail = $"No SSH port is left on {management}." };
        }
        var machine = new SimulatedMachine(spec, slot, offset, management, port, _options.ConsoleBytes)
        {
            StateChanged = (m, now) => Rebalance(m.Spec.InstanceId, now),
        };
        _machines.Add(spec.MachineId, machine);
        Rebalance(spec.InstanceId, Now);
        slot.ReservedMiB += spec.MemoryMiB;
        slot.Machines++;
        return machine;
    }

    private static Error OutOfMemory(HostSlot slot, long memoryMiB) =>
        DriverErrors.HostUnavailable(slot.Host.Name) with
        {
            Detail = $"Host '{slot.Host.Name}' cannot hold another {memoryMiB} MiB: {slot.ReservedMiB} MiB of its {slot.Host.MemoryMiB} MiB are reserved.",
        };

    private int? AllocatePort(string management, string machineId)
    {
        if (!_usedPorts.TryGetValue(management, out var used))
        {
            used = [];
            _usedPorts[management] = used;
        }
        var size = _options.SshPortLast - _options.SshPortFirst + 1;
        var start = (int)(HostSlot.Hash(machineId) % (uint)size);
        for (var i = 0; i < size; i++)
        {
            var port = _options.SshPortFirst + ((start + i) % size);
            if (used.Add(port))
            {
                return port;
            }
        }
        return null;
    }

    private void Remove(SimulatedMachine machine)
    {
        machine.Count(Now);
        _machines.Remove(machine.Spec.MachineId);
        Rebalance(machine.Spec.InstanceId, Now);
        machine.AddressSlot.ReleaseAddress(machine.AddressOffset);
        machine.Host.ReservedMiB -= machine.MemoryMiB;
        machine.Host.Machines--;
        _usedPorts[machine.ManagementAddress].Remove(machine.SshPort);
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

    private SimulatedMachine? Find(string machineId)
    {
        lock (_gate)
        {
            return _machines.GetValueOrDefault(machineId);
        }
    }

    private bool IsCurrent(SimulatedMachine machine) =>
        _machines.TryGetValue(machine.Spec.MachineId, out var current) && ReferenceEquals(current, machine);

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

    private void KernelLines(SimulatedMachine machine, DateTimeOffset now)
    {
        machine.Kernel(now, "Linux version 6.6.0-welkin (simulated) #1 SMP PREEMPT_DYNAMIC");
        machine.Kernel(now, "Command line: console=ttyS0 root=/dev/vda1 ro");
        machine.Kernel(now, $"smpboot: Allowing {machine.Vcpus} CPUs, 0 hotplug CPUs");
        machine.Kernel(now, $"Memory: {machine.MemoryMiB * 1024}K available");
        machine.Kernel(now, $"virtio_blk virtio1: [vda] {machine.Spec.DiskGiB} GiB");
        foreach (var volume in machine.Volumes)
        {
            machine.Kernel(now, $"virtio_blk: [{volume.Device}] {volume.SizeGiB} GiB ({volume.VolumeId})");
        }
        machine.Kernel(now, $"virtio_net virtio0 eth0: {machine.PrivateAddress}");
    }

    private void ReadyLines(SimulatedMachine machine, DateTimeOffset now)
    {
        machine.Kernel(now, "Run /sbin/init as init process");
        machine.Write($"Welcome to {machine.Spec.OperatingSystem ?? _options.DefaultOperatingSystem}!");
        machine.Write($"sshd: listening on 0.0.0.0 port 22 (forwarded from {machine.ManagementAddress}:{machine.SshPort})");
        machine.Write($"welkin-guest ready {machine.Spec.MachineId} {machine.PrivateAddress}");
    }

    private static bool SameProperties(IReadOnlyDictionary<string, string> a, IReadOnlyDictionary<string, string> b) =>
        a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var v) && v == kv.Value);
}

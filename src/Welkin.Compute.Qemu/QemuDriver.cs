using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Welkin.Core.Common;
using Welkin.Core.Compute;

namespace Welkin.Compute.Qemu;

/// <summary>
/// Real virtual machines: each machine is a <c>qemu-system-x86_64</c> process controlled through
/// QMP, its disk a qcow2 overlay on a content-addressed base image, its access endpoints user-mode
/// networking port forwards on the management address, and each tenant network an isolated L2
/// segment (a UDP multicast group of its own). Everything the driver knows about a machine is in
/// its directory under <see cref="QemuFabricOptions.Root"/>, so a restarted Welkin re-attaches to
/// the machines still running (<see cref="RecoverAsync"/>).
/// </summary>
/// <remarks>
/// Operations on one machine run one at a time; <see cref="InspectAsync"/> and the console never
/// wait. A machine whose image names a ready marker is running once its guest printed it on the
/// serial console; otherwise once QEMU runs its virtual CPUs. A QEMU process that ends without Welkin asking is a
/// crash (the machine goes to error and a <see cref="DriverEvent.MachineCrashed"/> event is raised),
/// unless the guest powered itself off (stopped, <see cref="DriverEvent.MachineStopped"/>).
/// This class is the driver's face: the work is done by its parts (<see cref="QemuGuests"/>:
/// launching and watching; <see cref="QemuHotplug"/>: volumes and NICs; <see cref="QemuMigration"/>;
/// <see cref="QemuRecovery"/>: restarts and host failures; <see cref="QemuAllocator"/>: subnets,
/// ports, displays and segments), and it turns what escapes them into <see cref="DriverErrors"/>.
/// </remarks>
public sealed class QemuDriver : IComputeDriver, IMachineDiskExport, IMachineDisplay, ILiveMigrationSource, ILiveMigrationTarget, IDisposable, IAsyncDisposable
{
    private readonly CancellationTokenSource _disposed = new();
    private readonly QemuFabric _fabric;
    private readonly QemuAllocator _allocator;
    private readonly QemuGuests _guests;
    private readonly QemuHotplug _hotplug;
    private readonly QemuMigration _migration;
    private readonly QemuOutgoingMigration _outgoing;
    private readonly QemuIncomingMigration _incoming;
    private readonly QemuRecovery _recovery;
    private readonly ILogger _logger;
    private int _disposeCount;

    public QemuDriver(QemuFabricOptions options, TimeProvider clock, IImageResolver? images = null, ILogger<QemuDriver>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(clock);
        if (string.IsNullOrWhiteSpace(options.Root))
        {
            throw new ArgumentException("Fabric:Root must name the directory of the QEMU fabric.", nameof(options));
        }
        if (options.PortFirst < 1 || options.PortLast > 65_535 || options.PortFirst > options.PortLast)
        {
            throw new ArgumentException("Fabric:PortFirst..PortLast must be a range of TCP ports.", nameof(options));
        }
        _logger = logger ?? NullLogger<QemuDriver>.Instance;
        _fabric = new QemuFabric(options, images, clock, _logger, _disposed.Token);
        _allocator = new QemuAllocator(options.PortFirst, options.PortLast, options.VncDisplayFirst, options.VncDisplayLast, IsFree);
        _guests = new QemuGuests(_fabric);
        _hotplug = new QemuHotplug(_fabric, _guests);
        _migration = new QemuMigration(_fabric, _guests);
        _outgoing = new QemuOutgoingMigration(_fabric, _guests);
        _incoming = new QemuIncomingMigration(_fabric, _guests, Admit);
        _recovery = new QemuRecovery(_fabric, _guests);
    }

    public string Kind => "qemu";

    public string Root => _fabric.Root;

    public IReadOnlyList<FabricHost> Hosts => _fabric.Hosts.All;

    public DriverCapabilities Capabilities =>
        DriverCapabilities.Pause | DriverCapabilities.HotPlugVolumes | DriverCapabilities.HotPlugNetworks
        | DriverCapabilities.LiveMigration | DriverCapabilities.FailureInjection | DriverCapabilities.Devices
        | DriverCapabilities.Volumes | DriverCapabilities.DataDisks;

    public ChannelReader<DriverEvent> Events => _fabric.Events.Reader;

    private QemuFabricOptions Options => _fabric.Options;

    public async Task<Result<DriverMachine>> CreateAsync(MachineSpec spec, IProgress<int>? progress, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var created = await _fabric.Machines.CreateAsync(spec, () => Admit(spec), m => _guests.BuildAsync(m, progress, ct), progress, ct);
        return Logged(spec.MachineId, "create", created);
    }

    /// <summary>Checks the host and its capacity and gives the machine its subnet, ports, display and segments; called under the lock.</summary>
    private Result<QemuMachine> Admit(MachineSpec spec)
    {
        if (_fabric.Hosts.Find(spec.Host) is not { } host)
        {
            return DriverErrors.UnknownHost(spec.Host);
        }
        if (_fabric.Hosts.IsFailed(spec.Host))
        {
            return DriverErrors.HostUnavailable(spec.Host);
        }
        if (spec.Vcpus < 1 || spec.MemoryMiB < 1)
        {
            return Error.Validation(spec.Vcpus < 1 ? "vcpus" : "memoryMiB", "Must be at least 1.");
        }
        if (DataDisks.Check(spec.DataDisks) is { } badDisks)
        {
            return badDisks;
        }
        var machines = _fabric.Machines.Machines.ToList();
        if (_fabric.Hosts.CapacityError(host, spec.Vcpus, spec.MemoryMiB, machines, except: null) is { } full)
        {
            return full;
        }
        var inUse = machines.Select(m => m.Record).ToList();
        var record = new QemuMachineRecord
        {
            Spec = spec,
            Host = spec.Host,
            Vcpus = spec.Vcpus,
            MemoryMiB = spec.MemoryMiB,
            Properties = new Dictionary<string, string>(spec.Properties, StringComparer.Ordinal),
        };
        if (_allocator.Subnet(spec.MachineId, inUse) is not { } subnet)
        {
            return DriverErrors.HostUnavailable(spec.Host) with { Detail = "The fabric has no private subnet left." };
        }
        record.Subnet = subnet;
        foreach (var (protocol, _) in Options.Forwards)
        {
            if (_allocator.Port(spec.MachineId + "/" + protocol, inUse, record.Ports.Values) is not { } port)
            {
                return DriverErrors.HostUnavailable(spec.Host) with { Detail = $"No port is left on {Options.ManagementAddress} for {protocol}." };
            }
            record.Ports[protocol] = port;
        }
        if (spec.Properties.TryGetValue("display", out var display) && display == "vnc")
        {
            record.VncDisplay = _allocator.Display(inUse);
        }
        record.Volumes = [.. spec.Volumes.Select(v => new QemuVolume(v, _fabric.Disks.VolumePath(v.VolumeId), null))];
        foreach (var nic in spec.Networks)
        {
            var (group, port) = QemuAllocator.Segment(nic.NetworkId, inUse);
            record.Nics.Add(new QemuNic(nic, group, port, null));
        }
        return new QemuMachine(record, Path.Combine(_fabric.MachinesDirectory, spec.MachineId));
    }

    public Task<Result<DriverMachine>> StartAsync(string machineId, CancellationToken ct) =>
        OperateAsync(machineId, "start", async m => m.State switch
        {
            DriverMachineState.Running => _fabric.Describe(m),
            DriverMachineState.Stopped or DriverMachineState.Error => await _guests.LaunchAsync(m, ct),
            _ => DriverErrors.InvalidState(machineId, m.State, "start"),
        }, ct);

    public Task<Result<DriverMachine>> StopAsync(string machineId, bool force, CancellationToken ct) =>
        OperateAsync(machineId, "stop", async m =>
        {
            switch (m.State)
            {
                case DriverMachineState.Stopped:
                    return _fabric.Describe(m);
                case DriverMachineState.Running or DriverMachineState.Paused or DriverMachineState.Error:
                    // A paused guest cannot answer the power button, and a crashed one has no process: both are switched off.
                    await _guests.EndProcessAsync(m, force || m.State != DriverMachineState.Running, ct);
                    return _fabric.Enter(m, DriverMachineState.Stopped);
                default:
                    return DriverErrors.InvalidState(machineId, m.State, "stop");
            }
        }, ct);

    public Task<Result<DriverMachine>> PauseAsync(string machineId, CancellationToken ct) =>
        OperateAsync(machineId, "pause", async m => m.State switch
        {
            DriverMachineState.Paused => _fabric.Describe(m),
            DriverMachineState.Running => await _guests.ChangeStateAsync(m, "stop", DriverMachineState.Paused, ct),
            _ => DriverErrors.InvalidState(machineId, m.State, "pause"),
        }, ct);

    public Task<Result<DriverMachine>> ResumeAsync(string machineId, CancellationToken ct) =>
        OperateAsync(machineId, "resume", async m => m.State switch
        {
            DriverMachineState.Running => _fabric.Describe(m),
            DriverMachineState.Paused => await _guests.ChangeStateAsync(m, "cont", DriverMachineState.Running, ct),
            _ => DriverErrors.InvalidState(machineId, m.State, "resume"),
        }, ct);

    public Task<Result<DriverMachine>> RebootAsync(string machineId, CancellationToken ct) =>
        OperateAsync(machineId, "reboot", async m => m.State switch
        {
            DriverMachineState.Running => await _guests.ChangeStateAsync(m, "system_reset", DriverMachineState.Running, ct),
            _ => DriverErrors.InvalidState(machineId, m.State, "reboot"),
        }, ct);

    public Task<Result<DriverMachine>> ResizeAsync(string machineId, int vcpus, long memoryMiB, CancellationToken ct)
    {
        if (vcpus < 1 || memoryMiB < 1)
        {
            return Task.FromResult<Result<DriverMachine>>(Error.Validation(vcpus < 1 ? "vcpus" : "memoryMiB", "Must be at least 1."));
        }
        // QEMU cannot change the vCPUs of a running guest: the machine takes its new size at its next start.
        return OperateAsync(machineId, "resize", m =>
        {
            if (m.State is not (DriverMachineState.Stopped or DriverMachineState.Error))
            {
                return Task.FromResult<Result<DriverMachine>>(DriverErrors.InvalidState(machineId, m.State, "be resized until it is stopped"));
            }
            lock (_fabric.Gate)
            {
                if (_fabric.Hosts.CapacityError(_fabric.Hosts.Find(m.Record.Host)!, vcpus, memoryMiB, _fabric.Machines.Machines, except: m) is { } full)
                {
                    return Task.FromResult<Result<DriverMachine>>(full);
                }
                m.Record.Vcpus = vcpus;
                m.Record.MemoryMiB = memoryMiB;
                m.Save();
                return Task.FromResult<Result<DriverMachine>>(m.ToDriver(Options.ManagementAddress));
            }
        }, ct);
    }

    /// <summary>
    /// Moves a machine to another host of this fabric: cold when it is stopped, live when it runs
    /// or is paused (<see cref="QemuMigration"/>). Returns the machine on the target.
    /// </summary>
    public Task<Result<DriverMachine>> MigrateAsync(string machineId, string targetHost, IProgress<int>? progress, CancellationToken ct) =>
        OperateAsync(machineId, "migrate", m => _migration.MigrateAsync(m, targetHost, progress, ct), ct);

    public Task<Result<OutgoingMachine>> DescribeOutgoingAsync(string machineId, CancellationToken ct) =>
        HoldingAsync(machineId, "describe a live move", m => _outgoing.DescribeAsync(m, ct), ct);

    /// <summary>Moves a running machine with its disks to another fabric (<see cref="QemuOutgoingMigration"/>); it is gone from this one when that succeeds.</summary>
    public Task<Result<LiveMigrationReport>> MigrateOutAsync(
        string machineId, IncomingMachine target, MigrationTls tls, Func<CancellationToken, Task<Result<DriverMachine>>> resumeAtTarget,
        IProgress<int>? progress, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(tls);
        ArgumentNullException.ThrowIfNull(resumeAtTarget);
        return HoldingAsync(machineId, "move live to another fabric", m => _outgoing.MigrateAsync(m, target, tls, resumeAtTarget, progress, ct), ct);
    }

    /// <summary>Prepares a machine coming by a live move from another fabric (<see cref="QemuIncomingMigration"/>).</summary>
    public async Task<Result<IncomingMachine>> PrepareIncomingAsync(OutgoingMachine machine, string host, MigrationTls tls, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(machine);
        ArgumentNullException.ThrowIfNull(tls);
        return Logged(machine.Spec.MachineId, "prepare an incoming move", await _incoming.PrepareAsync(machine, host, tls, ct));
    }

    public Task<Result<DriverMachine>> ResumeIncomingAsync(string machineId, CancellationToken ct) =>
        OperateAsync(machineId, "resume an incoming move", m => _incoming.ResumeAsync(m, ct), ct);

    public async Task<Result<bool>> AbortIncomingAsync(string machineId, CancellationToken ct)
    {
        var aborted = await _fabric.Machines.OperateAsync(machineId, _incoming.AbortAsync, ct);
        return aborted.Error?.Code == "machine-not-found" ? true : aborted;
    }

    /// <summary>The QMP connection of a running machine, for tests that look inside the guest's QEMU.</summary>
    internal QmpClient? QmpOf(string machineId) => _fabric.Machines.Find(machineId)?.Process?.Qmp;

    public Task<Result<bool>> DestroyAsync(string machineId, CancellationToken ct) =>
        _fabric.Machines.DestroyAsync(machineId, async m =>
        {
            await _guests.EndProcessAsync(m, force: true, ct);
            await _guests.DiscardAsync(m);
            return true;
        }, ct);

    public Task<DriverMachine?> InspectAsync(string machineId, CancellationToken ct) => Task.FromResult(_fabric.Machines.Describe(machineId));

    /// <summary>The console of earlier boots and hosts followed by the current one, cut to the last <paramref name="maxBytes"/> bytes on a character boundary.</summary>
    public Task<Result<string>> ConsoleLogAsync(string machineId, int maxBytes, CancellationToken ct) =>
        Task.FromResult<Result<string>>(_fabric.Machines.Find(machineId) is { } machine
            ? _guests.ConsoleLog(machine, maxBytes)
            : DriverErrors.MachineNotFound(machineId));

    /// <summary>Connects to the machine's VNC display on loopback (display n: port 5900 + n), where QEMU serves it while it runs.</summary>
    public async Task<Result<Stream>> OpenDisplayAsync(string machineId, CancellationToken ct)
    {
        if (_fabric.Machines.Find(machineId) is not { } machine)
        {
            return DriverErrors.MachineNotFound(machineId);
        }
        if (machine.Record.VncDisplay is not { } display)
        {
            return DriverErrors.NoDisplay(machineId);
        }
        if (machine.State is not (DriverMachineState.Running or DriverMachineState.Paused))
        {
            return DriverErrors.InvalidState(machineId, machine.State, "show its display");
        }
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, QemuAllocator.VncBasePort + display), ct);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            return DriverErrors.HypervisorFailed(machineId, HypervisorFailure.Operation, "VNC display: " + e.Message);
        }
    }

    public async Task<Result<MachineMetrics>> MetricsAsync(string machineId, CancellationToken ct) =>
        _fabric.Machines.Find(machineId) is { } machine ? await _guests.MetricsAsync(machine, ct) : DriverErrors.MachineNotFound(machineId);

    public Task<Result<bool>> AttachVolumeAsync(string machineId, VolumeAttachment volume, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(volume);
        return ConfigureAsync(machineId, "attach a volume", m => _hotplug.AttachVolumeAsync(m, volume, ct), ct);
    }

    public Task<Result<bool>> DetachVolumeAsync(string machineId, string volumeId, CancellationToken ct) =>
        ConfigureAsync(machineId, "detach a volume", m => _hotplug.DetachVolumeAsync(m, volumeId, ct), ct);

    /// <summary>Deletes the volume's qcow2 file once no machine has the volume.</summary>
    public Task<Result<bool>> DeleteVolumeAsync(string volumeId, CancellationToken ct) => Task.FromResult(_hotplug.DeleteVolume(volumeId));

    public Task<Result<bool>> ConnectNetworkAsync(string machineId, NetworkAttachment nic, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(nic);
        return ConfigureAsync(machineId, "connect a network", m => _hotplug.ConnectAsync(m, nic, ct), ct);
    }

    public Task<Result<bool>> DisconnectNetworkAsync(string machineId, string networkId, CancellationToken ct) =>
        ConfigureAsync(machineId, "disconnect a network", m => _hotplug.DisconnectAsync(m, networkId, ct), ct);

    /// <summary>Keeps the properties; the guest reads them at its next boot (QEMU firmware configuration file <c>opt/welkin/properties</c>).</summary>
    public Task<Result<bool>> SetPropertiesAsync(string machineId, IReadOnlyDictionary<string, string> properties, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(properties);
        return ConfigureAsync(machineId, "apply properties", m =>
        {
            lock (_fabric.Gate)
            {
                m.Record.Properties = new Dictionary<string, string>(properties, StringComparer.Ordinal);
            }
            return Task.FromResult<Error?>(null);
        }, ct);
    }

    public Task<Result<bool>> ExportDiskAsync(string machineId, string destinationPath, CancellationToken ct) =>
        ExportAsync(machineId, null, destinationPath, ct);

    public Task<Result<bool>> ExportDataDiskAsync(string machineId, string device, string destinationPath, CancellationToken ct) =>
        ExportAsync(machineId, device, destinationPath, ct);

    /// <summary>Flattens the system disk (<paramref name="device"/> null) or a data disk of a stopped machine into one qcow2.</summary>
    private async Task<Result<bool>> ExportAsync(string machineId, string? device, string destinationPath, CancellationToken ct)
    {
        var result = await OperateAsync(machineId, "export its disk", async m =>
        {
            if (m.State != DriverMachineState.Stopped)
            {
                return DriverErrors.InvalidState(machineId, m.State, "export its disk until it is stopped");
            }
            string path;
            if (device is null)
            {
                path = m.DiskPath;
            }
            else if (m.Record.Spec.DataDisks.FirstOrDefault(d => d.Device == device) is { } disk)
            {
                path = m.DataDiskPath(disk);
            }
            else
            {
                return Error.NotFound("Data disk", device);
            }
            try
            {
                await _fabric.Disks.FlattenAsync(path, destinationPath, ct);
            }
            catch (IOException exception)
            {
                return DriverErrors.HypervisorFailed(machineId, HypervisorFailure.DiskCopy, exception.Message);
            }
            return _fabric.Describe(m);
        }, ct);
        return result.Map(_ => true);
    }

    public Task<IReadOnlyList<DriverMachine>> RecoverAsync(IReadOnlyList<KnownMachine> known, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(known);
        return _recovery.RecoverAsync(known, ct);
    }

    public Task<Result<bool>> SetHostFailedAsync(string host, bool failed, CancellationToken ct) => _recovery.SetHostFailedAsync(host, failed, ct);

    /// <summary>
    /// One operation on one machine, holding it (the table refuses it on a failed host). An I/O
    /// failure the parts did not expect becomes <c>hypervisor-error</c>; the cause of any hypervisor
    /// error is logged here, since callers show tenants only its fixed detail.
    /// </summary>
    private Task<Result<DriverMachine>> OperateAsync(string machineId, string action, Func<QemuMachine, Task<Result<DriverMachine>>> operation, CancellationToken ct) =>
        HoldingAsync(machineId, action, operation, ct);

    private Task<Result<T>> HoldingAsync<T>(string machineId, string action, Func<QemuMachine, Task<Result<T>>> operation, CancellationToken ct) =>
        _fabric.Machines.OperateAsync<T>(machineId, async m =>
        {
            try
            {
                return Logged(machineId, action, await operation(m));
            }
            catch (Exception exception) when (exception is IOException or InvalidDataException)
            {
                _logger.LogWarning(exception, "Machine {Machine}: {Action} failed", machineId, action);
                return DriverErrors.HypervisorFailed(machineId, HypervisorFailure.Operation, $"{action} failed: {exception.Message}");
            }
        }, ct);

    /// <summary>A change of the machine's devices or properties: refused while it is being created; the record is saved when it succeeds.</summary>
    private async Task<Result<bool>> ConfigureAsync(string machineId, string action, Func<QemuMachine, Task<Error?>> change, CancellationToken ct)
    {
        var result = await OperateAsync(machineId, action, async m =>
        {
            if (m.State == DriverMachineState.Creating)
            {
                return DriverErrors.InvalidState(machineId, m.State, "be reconfigured yet");
            }
            if (await change(m) is { } error)
            {
                return error;
            }
            lock (_fabric.Gate)
            {
                _fabric.TrySave(m);
                return m.ToDriver(Options.ManagementAddress);
            }
        }, ct);
        return result.Map(_ => true);
    }

    private Result<T> Logged<T>(string machineId, string action, Result<T> result)
    {
        if (result.Error is { Cause: { } cause } error)
        {
            _logger.LogWarning("Machine {Machine}: {Action} failed with {Code}: {Cause}", machineId, action, error.Code, cause);
        }
        return result;
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>
    /// Closes every QMP connection and lets the machines run on (a restarted Welkin re-attaches),
    /// or stops them when <see cref="QemuFabricOptions.StopMachinesOnShutdown"/>. Safe to call more than once.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposeCount, 1) != 0)
        {
            return;
        }
        await _disposed.CancelAsync();
        foreach (var machine in _fabric.Machines.Snapshot())
        {
            if (machine.Process is not { } process)
            {
                continue;
            }
            machine.ExitExpected = true;
            if (Options.StopMachinesOnShutdown)
            {
                await process.StopAsync(TimeSpan.Zero, CancellationToken.None);
                await process.Qmp.DisposeAsync();
            }
            else
            {
                await process.ReleaseAsync();
            }
        }
        _fabric.Events.Writer.TryComplete();
        _fabric.Disks.Dispose();
        _guests.Dispose();
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}

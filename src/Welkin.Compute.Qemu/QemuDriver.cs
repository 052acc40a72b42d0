using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
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
/// </remarks>
public sealed class QemuDriver : IComputeDriver, IMachineDiskExport, IDisposable, IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, QemuMachine> _machines = new(StringComparer.Ordinal);
    private readonly Dictionary<string, FabricHost> _hosts = new(StringComparer.Ordinal);
    private readonly HashSet<string> _failedHosts = new(StringComparer.Ordinal);
    private readonly Channel<DriverEvent> _events = Channel.CreateUnbounded<DriverEvent>();
    private readonly CancellationTokenSource _disposed = new();
    private readonly SemaphoreSlim _probe = new(1, 1);
    private readonly QemuFabricOptions _options;
    private readonly IImageResolver? _images;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly QemuImages _disks;
    private readonly string _socketDirectory;
    private string? _accelerator;
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
        _options = options;
        _clock = clock;
        _images = images;
        _logger = logger ?? NullLogger<QemuDriver>.Instance;
        Root = Path.GetFullPath(options.Root);
        _disks = new QemuImages(Root, options.ImageTool);
        Hosts = options.Hosts.Count > 0 ? [.. options.Hosts] : [DefaultHost()];
        foreach (var host in Hosts)
        {
            if (!_hosts.TryAdd(host.Name, host))
            {
                throw new ArgumentException($"Host '{host.Name}' appears twice.", nameof(options));
            }
            if (File.Exists(FailedMarker(host.Name)))
            {
                _failedHosts.Add(host.Name);
            }
        }
        // Unix socket paths hold at most 107 bytes, so QMP sockets live in a short directory of their own.
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Root)))[..12];
        _socketDirectory = Path.Combine(Path.GetTempPath(), "welkin-qmp-" + hash);
        Directory.CreateDirectory(MachinesDirectory);
        Directory.CreateDirectory(_socketDirectory);
    }

    public string Kind => "qemu";

    public string Root { get; }

    public IReadOnlyList<FabricHost> Hosts { get; }

    public DriverCapabilities Capabilities =>
        DriverCapabilities.Pause | DriverCapabilities.HotPlugVolumes | DriverCapabilities.HotPlugNetworks
        | DriverCapabilities.LiveMigration | DriverCapabilities.FailureInjection;

    public ChannelReader<DriverEvent> Events => _events.Reader;

    private string MachinesDirectory => Path.Combine(Root, "machines");

    private string FailedMarker(string host) => Path.Combine(Root, "hosts", host + ".failed");

    private DateTimeOffset Now => _clock.GetUtcNow();

    private static FabricHost DefaultHost()
    {
        var memory = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024 * 1024);
        return new FabricHost("qemu-local", "local", "local", Environment.ProcessorCount, memory * 3 / 4, 1_000);
    }

    // ---- create ------------------------------------------------------------------------------

    public async Task<Result<DriverMachine>> CreateAsync(MachineSpec spec, IProgress<int>? progress, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(spec);
        while (true)
        {
            QemuMachine? existing;
            Result<QemuMachine> admitted = default;
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
                else if (!existing.Record.Spec.DescribesSameMachine(spec))
                {
                    return DriverErrors.InvalidState(spec.MachineId, existing.State, "be created again with a different specification");
                }
            }
            if (existing is null)
            {
                return admitted.IsSuccess ? await BuildAsync(admitted.Value, progress, ct) : admitted.Error!;
            }
            // The same create again (a retry after a crash): wait for the first to finish and answer with the machine as it is.
            await existing.Ops.WaitAsync(ct);
            try
            {
                lock (_gate)
                {
                    if (IsCurrent(existing) && existing.State != DriverMachineState.Creating)
                    {
                        progress?.Report(100);
                        return existing.ToDriver(_options.ManagementAddress);
                    }
                }
            }
            finally
            {
                existing.Ops.Release();
            }
        }
    }

    /// <summary>Checks the host and its capacity and gives the machine its subnet, ports and display; called under the lock.</summary>
    private Result<QemuMachine> Admit(MachineSpec spec)
    {
        if (!_hosts.TryGetValue(spec.Host, out var host))
        {
            return DriverErrors.UnknownHost(spec.Host);
        }
        if (_failedHosts.Contains(spec.Host))
        {
            return DriverErrors.HostUnavailable(spec.Host);
        }
        if (spec.Vcpus < 1 || spec.MemoryMiB < 1)
        {
            return Error.Validation(spec.Vcpus < 1 ? "vcpus" : "memoryMiB", "Must be at least 1.");
        }
        if (CapacityError(host, spec.Vcpus, spec.MemoryMiB, except: null) is { } full)
        {
            return full;
        }
        var record = new QemuMachineRecord
        {
            Spec = spec,
            Host = spec.Host,
            Vcpus = spec.Vcpus,
            MemoryMiB = spec.MemoryMiB,
            Properties = new Dictionary<string, string>(spec.Properties, StringComparer.Ordinal),
        };
        if (AllocateSubnet(spec.MachineId) is not { } subnet)
        {
            return DriverErrors.HostUnavailable(spec.Host) with { Detail = "The fabric has no private subnet left." };
        }
        record.Subnet = subnet;
        foreach (var (protocol, _) in _options.Forwards)
        {
            if (AllocatePort(spec.MachineId + "/" + protocol, record.Ports.Values) is not { } port)
            {
                return DriverErrors.HostUnavailable(spec.Host) with { Detail = $"No port is left on {_options.ManagementAddress} for {protocol}." };
            }
            record.Ports[protocol] = port;
        }
        if (spec.Properties.TryGetValue("display", out var display) && display == "vnc")
        {
            record.VncDisplay = AllocateDisplay();
        }
        record.Volumes = [.. spec.Volumes.Select(v => new QemuVolume(v, _disks.VolumePath(v.VolumeId), null))];
        foreach (var nic in spec.Networks)
        {
            var (group, port) = Segment(nic.NetworkId);
            record.Nics.Add(new QemuNic(nic, group, port, null));
        }
        var machine = new QemuMachine(record, Path.Combine(MachinesDirectory, spec.MachineId));
        _machines.Add(spec.MachineId, machine);
        return machine;
    }

    private Error? CapacityError(FabricHost host, int vcpus, long memoryMiB, QemuMachine? except)
    {
        var on = _machines.Values.Where(m => m.Record.Host == host.Name && m != except).ToList();
        var usedCpus = on.Sum(m => m.Record.Vcpus);
        var usedMemory = on.Sum(m => m.Record.MemoryMiB);
        if (usedCpus + vcpus > host.Cores * _options.CpuOvercommit)
        {
            return DriverErrors.HostUnavailable(host.Name) with
            {
                Detail = $"Host '{host.Name}' cannot hold another {vcpus} vCPUs: {usedCpus} of its {host.Cores * _options.CpuOvercommit} are taken.",
            };
        }
        if (usedMemory + memoryMiB > host.MemoryMiB * _options.MemoryOvercommit)
        {
            return DriverErrors.HostUnavailable(host.Name) with
            {
                Detail = $"Host '{host.Name}' cannot hold another {memoryMiB} MiB: {usedMemory} MiB of its {host.MemoryMiB * _options.MemoryOvercommit} MiB are taken.",
            };
        }
        return null;
    }

    /// <summary>Makes the disk and boots the machine; a failure or cancellation leaves nothing behind.</summary>
    private async Task<Result<DriverMachine>> BuildAsync(QemuMachine machine, IProgress<int>? progress, CancellationToken ct)
    {
        var keep = false;
        try
        {
            progress?.Report(0);
            Directory.CreateDirectory(machine.Directory);
            machine.Save();
            var prepared = await PrepareDiskAsync(machine, ct);
            if (!prepared.IsSuccess)
            {
                return prepared.Error!;
            }
            progress?.Report(50);
            foreach (var volume in machine.Record.Volumes)
            {
                await _disks.VolumeAsync(volume.Volume.VolumeId, volume.Volume.SizeGiB, ct);
            }
            machine.Record.Created = true;
            machine.Save();
            var launched = await LaunchAsync(machine, ct);
            if (!launched.IsSuccess)
            {
                return launched.Error!;
            }
            keep = true;
            progress?.Report(100);
            return launched;
        }
        catch (Exception exception) when (exception is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            return DriverErrors.HypervisorFailed(machine.Id, exception.Message);
        }
        finally
        {
            if (!keep)
            {
                await DiscardAsync(machine);
            }
            machine.Ops.Release();
        }
    }

    /// <summary>Resolves the image and makes the machine's overlay on its base (or an empty disk when it has no image).</summary>
    private async Task<Result<bool>> PrepareDiskAsync(QemuMachine machine, CancellationToken ct)
    {
        var spec = machine.Record.Spec;
        BootImage? image = null;
        if (spec.ImageId is { } imageId)
        {
            if (_images is null)
            {
                return ImageErrors.Unavailable(imageId, "this fabric has no image catalog.");
            }
            var resolved = await _images.ResolveAsync(imageId, ct);
            if (!resolved.IsSuccess)
            {
                return resolved.Error!;
            }
            image = resolved.Value;
        }
        var kernel = image?.KernelPath is { } k ? await _disks.KeepAsync(k, image.KernelSha256!, "kernel", ct) : _options.DefaultKernel;
        var initrd = image?.RamdiskPath is { } r ? await _disks.KeepAsync(r, image.RamdiskSha256!, "initrd", ct) : _options.DefaultInitrd;
        if (kernel is null || initrd is null || !File.Exists(kernel) || !File.Exists(initrd))
        {
            return ImageErrors.Unavailable(spec.ImageId ?? "(none)",
                "it names no kernel and ramdisk to boot, and the fabric has no default (Fabric:DefaultKernel, Fabric:DefaultInitrd) that exists.");
        }
        machine.Record.Kernel = kernel;
        machine.Record.Initrd = initrd;
        machine.Record.CommandLine = image?.CommandLine;
        machine.Record.ReadyMarker = image?.ReadyMarker ?? (image?.KernelPath is null ? _options.ReadyMarker : null);
        var temp = machine.DiskPath + ".tmp";
        File.Delete(temp);
        if (image is null)
        {
            await _disks.CreateEmptyAsync(temp, Math.Max(1, spec.DiskGiB), ct);
        }
        else
        {
            var (basePath, baseFormat) = await _disks.BaseAsync(image.DiskPath, image.DiskSha256, image.DiskFormat, ct);
            await _disks.CreateOverlayAsync(temp, basePath, baseFormat, spec.DiskGiB, ct);
        }
        File.Move(temp, machine.DiskPath, overwrite: true);
        return true;
    }

    /// <summary>Removes a machine that never came to be (or is destroyed): its process, files and bookkeeping.</summary>
    private async Task DiscardAsync(QemuMachine machine)
    {
        machine.ExitExpected = true;
        if (machine.Process is { } process)
        {
            await process.DisposeAsync();
            machine.Process = null;
        }
        lock (_gate)
        {
            if (IsCurrent(machine))
            {
                _machines.Remove(machine.Id);
            }
        }
        DeleteDirectory(machine.Directory);
        foreach (var slot in new[] { "a", "b" })
        {
            File.Delete(QmpSocket(machine, slot));
        }
    }

    // ---- launching ---------------------------------------------------------------------------

    private string QmpSocket(QemuMachine machine, string slot) => Path.Combine(_socketDirectory, $"{machine.Id}-{slot}.qmp");

    private QemuLaunchOptions LaunchOptions(QemuMachine machine, string slot, string accelerator, string? incoming = null)
    {
        var record = machine.Record;
        var hotplug = Math.Max(_options.HotplugPorts, record.Volumes.Count + record.Nics.Count + 1);
        var used = new HashSet<string>(record.Volumes.Select(v => v.Bus).Concat(record.Nics.Select(n => n.Bus)).OfType<string>(), StringComparer.Ordinal);
        var free = new Queue<string>(Enumerable.Range(0, hotplug).Select(i => $"hp{i}").Where(b => !used.Contains(b)));
        // Devices present at boot take a hot-plug port too, so that they can be unplugged while the machine runs.
        for (var i = 0; i < record.Volumes.Count; i++)
        {
            record.Volumes[i] = record.Volumes[i] with { Bus = record.Volumes[i].Bus ?? free.Dequeue() };
        }
        for (var i = 0; i < record.Nics.Count; i++)
        {
            record.Nics[i] = record.Nics[i] with { Bus = record.Nics[i].Bus ?? free.Dequeue() };
        }
        var arguments = new StringBuilder($"welkin.ip={record.Address}/24,{record.Gateway}");
        foreach (var nic in record.Nics)
        {
            arguments.Append($" welkin.nic={nic.Nic.Mac},{nic.Nic.Address}/{PrefixOf(nic.Nic.Cidr)}");
        }
        if (!string.IsNullOrWhiteSpace(record.CommandLine))
        {
            arguments.Append(' ').Append(record.CommandLine);
        }
        if (record.Properties.TryGetValue("kernel.args", out var extra) && !string.IsNullOrWhiteSpace(extra))
        {
            arguments.Append(' ').Append(extra);
        }
        List<QemuDisk> disks = [new QemuDisk("root", machine.DiskPath)];
        disks.AddRange(record.Volumes.Select(v => new QemuDisk(v.Volume.VolumeId, v.Path, "qcow2", v.Bus)));
        return new QemuLaunchOptions(
            Name: machine.Id,
            RunDirectory: machine.RunDirectory(slot),
            Kernel: record.Kernel,
            Initrd: record.Initrd,
            MemoryMiB: (int)Math.Min(int.MaxValue, record.MemoryMiB),
            Vcpus: record.Vcpus,
            HostForwards: [.. record.Ports.Select(p => new HostForward(p.Value, _options.Forwards.GetValueOrDefault(p.Key, 22)))],
            Accelerator: accelerator,
            Executable: _options.Executable,
            QmpSocket: QmpSocket(machine, slot),
            Disks: disks,
            Segments: [.. record.Nics.Select(n => new QemuSegmentNic(n.Nic.NetworkId, n.Nic.Mac, n.Group, n.Port, n.Bus))],
            ExtraKernelArguments: arguments.ToString(),
            HotplugPorts: hotplug,
            VncDisplay: record.VncDisplay,
            Incoming: incoming,
            FirmwareConfigFile: machine.PropertiesPath,
            UserNetwork: $"10.{record.Subnet / 256}.{record.Subnet % 256}.0/24");
    }

    /// <summary>The properties the guest reads at boot (firmware configuration file <c>opt/welkin/properties</c>).</summary>
    private static void WriteProperties(QemuMachine machine) =>
        File.WriteAllText(machine.PropertiesPath, JsonSerializer.Serialize(machine.Record.Properties));

    private static int PrefixOf(string cidr) =>
        cidr.IndexOf('/', StringComparison.Ordinal) is var slash and > 0 && int.TryParse(cidr.AsSpan(slash + 1), out var prefix) ? prefix : 24;

    /// <summary>Starts QEMU for the machine (called holding the machine's operation lock) and returns it running.</summary>
    private async Task<Result<DriverMachine>> LaunchAsync(QemuMachine machine, CancellationToken ct)
    {
        var accelerator = await AcceleratorAsync(ct);
        KeepConsoleHistory(machine, machine.Record.Slot);
        WriteProperties(machine);
        QemuProcess process;
        try
        {
            process = await QemuProcess.StartAsync(LaunchOptions(machine, machine.Record.Slot, accelerator), ct);
        }
        catch (QemuLaunchException exception)
        {
            return DriverErrors.HypervisorFailed(machine.Id, exception.Message);
        }
        machine.Save();
        if (machine.Record.ReadyMarker is { } marker && await WaitUntilUpAsync(process, marker, ct) is { } notUp)
        {
            machine.ExitExpected = true;
            await process.DisposeAsync();
            lock (_gate)
            {
                machine.State = DriverMachineState.Error;
                machine.Record.Error = notUp;
                TrySave(machine);
            }
            return DriverErrors.HypervisorFailed(machine.Id, notUp);
        }
        Adopt(machine, process, DriverMachineState.Running);
        lock (_gate)
        {
            return machine.ToDriver(_options.ManagementAddress);
        }
    }

    /// <summary>Waits for the guest's ready marker on this boot's console; the reason when it does not come.</summary>
    private async Task<string?> WaitUntilUpAsync(QemuProcess process, string marker, CancellationToken ct)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(_options.BootTimeout);
        try
        {
            await process.WaitForConsoleAsync(marker, limit.Token);
            return null;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return $"the guest did not print '{marker}' on its console within {_options.BootTimeout.TotalSeconds:0} s.";
        }
        catch (InvalidOperationException)
        {
            return "QEMU ended while the guest was booting.";
        }
        catch (OperationCanceledException)
        {
            await process.DisposeAsync();
            throw;
        }
    }

    /// <summary>Makes <paramref name="process"/> the machine's and watches it for an exit Welkin did not ask for.</summary>
    private void Adopt(QemuMachine machine, QemuProcess process, DriverMachineState state)
    {
        lock (_gate)
        {
            machine.Process = process;
            machine.Sampler = new QemuMetrics(process, TimeProvider.System);
            machine.ExitExpected = false;
            machine.State = state;
            machine.Record.Error = null;
        }
        _ = WatchAsync(machine, process);
    }

    private async Task WatchAsync(QemuMachine machine, QemuProcess process)
    {
        await process.Qmp.Closed.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (_disposed.IsCancellationRequested)
        {
            return;
        }
        // QMP closes a moment before the process is gone; give it that moment.
        try
        {
            await process.WaitForExitAsync(TimeSpan.FromSeconds(5), CancellationToken.None);
        }
        catch (OperationCanceledException)
        {
        }
        var poweredOff = process.Qmp.Events.Any(e => e.Name == "SHUTDOWN"
            && e.Data.ValueKind == JsonValueKind.Object && e.Data.TryGetProperty("guest", out var guest) && guest.GetBoolean());
        DriverEvent? raised = null;
        lock (_gate)
        {
            if (!IsCurrent(machine) || !ReferenceEquals(machine.Process, process) || machine.ExitExpected)
            {
                return;
            }
            machine.Process = null;
            machine.Sampler = null;
            if (poweredOff)
            {
                machine.State = DriverMachineState.Stopped;
                raised = new DriverEvent(DriverEvent.MachineStopped, machine.Record.Host, machine.Id, "The guest powered itself off.", Now);
            }
            else
            {
                machine.State = DriverMachineState.Error;
                machine.Record.Error = "The QEMU process ended unexpectedly.";
                raised = new DriverEvent(DriverEvent.MachineCrashed, machine.Record.Host, machine.Id, machine.Record.Error, Now);
            }
            TrySave(machine);
        }
        _logger.LogWarning("Machine {Machine}: {Detail}", machine.Id, raised.Detail);
        _events.Writer.TryWrite(raised);
        await process.Qmp.DisposeAsync();
    }

    /// <summary>Ends the machine's QEMU (called holding the operation lock): the power button first unless forced.</summary>
    private async Task EndProcessAsync(QemuMachine machine, bool force, CancellationToken ct)
    {
        if (machine.Process is not { } process)
        {
            return;
        }
        lock (_gate)
        {
            machine.ExitExpected = true;
        }
        await process.StopAsync(force ? TimeSpan.Zero : _options.PowerdownTimeout, ct);
        await process.Qmp.DisposeAsync();
        File.Delete(process.QmpSocketPath);
        lock (_gate)
        {
            machine.Process = null;
            machine.Sampler = null;
        }
    }

    private async Task<string> AcceleratorAsync(CancellationToken ct)
    {
        if (_accelerator is { } known)
        {
            return known;
        }
        await _probe.WaitAsync(ct);
        try
        {
            _accelerator ??= _options.Accelerator switch
            {
                "kvm" => "kvm",
                "auto" => await ProbeKvmAsync(ct) ? "kvm" : "tcg,tb-size=32",
                _ => "tcg,tb-size=32",
            };
            return _accelerator;
        }
        finally
        {
            _probe.Release();
        }
    }

    /// <summary>Boots the default guest under KVM once: KVM is used only if it reaches its ready marker within the probe's time.</summary>
    private async Task<bool> ProbeKvmAsync(CancellationToken ct)
    {
        if (!File.Exists("/dev/kvm") || _options.DefaultKernel is null || _options.DefaultInitrd is null)
        {
            _logger.LogInformation("KVM probe: no /dev/kvm or no default guest; using TCG");
            return false;
        }
        var run = Path.Combine(Root, "kvm-probe");
        var options = new QemuLaunchOptions("kvm-probe", run, _options.DefaultKernel, _options.DefaultInitrd, Accelerator: "kvm",
            Executable: _options.Executable, QmpSocket: Path.Combine(_socketDirectory, "kvm-probe.qmp"));
        try
        {
            await using var process = await QemuProcess.StartAsync(options, ct);
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
            limit.CancelAfter(_options.KvmProbeTimeout);
            await process.WaitForConsoleAsync(_options.ReadyMarker, limit.Token);
            _logger.LogInformation("KVM probe: the guest booted within {Timeout}; using KVM", _options.KvmProbeTimeout);
            return true;
        }
        catch (Exception exception) when (exception is QemuLaunchException or InvalidOperationException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            _logger.LogInformation("KVM probe: {Reason}; using TCG", exception is OperationCanceledException ? "too slow" : exception.Message);
            return false;
        }
        finally
        {
            DeleteDirectory(run);
        }
    }

    // ---- power -------------------------------------------------------------------------------

    public Task<Result<DriverMachine>> StartAsync(string machineId, CancellationToken ct) =>
        OperateAsync(machineId, "start", async m => m.State switch
        {
            DriverMachineState.Running => m.ToDriver(_options.ManagementAddress),
            DriverMachineState.Stopped or DriverMachineState.Error => await LaunchAsync(m, ct),
            _ => DriverErrors.InvalidState(machineId, m.State, "start"),
        }, ct);

    public Task<Result<DriverMachine>> StopAsync(string machineId, bool force, CancellationToken ct) =>
        OperateAsync(machineId, "stop", async m =>
        {
            switch (m.State)
            {
                case DriverMachineState.Stopped:
                    return m.ToDriver(_options.ManagementAddress);
                case DriverMachineState.Running or DriverMachineState.Paused or DriverMachineState.Error:
                    // A paused guest cannot answer the power button, and a crashed one has no process: both are switched off.
                    await EndProcessAsync(m, force || m.State != DriverMachineState.Running, ct);
                    return Enter(m, DriverMachineState.Stopped);
                default:
                    return DriverErrors.InvalidState(machineId, m.State, "stop");
            }
        }, ct);

    public Task<Result<DriverMachine>> PauseAsync(string machineId, CancellationToken ct) =>
        OperateAsync(machineId, "pause", async m => m.State switch
        {
            DriverMachineState.Paused => m.ToDriver(_options.ManagementAddress),
            DriverMachineState.Running => await QmpStateAsync(m, "stop", DriverMachineState.Paused, ct),
            _ => DriverErrors.InvalidState(machineId, m.State, "pause"),
        }, ct);

    public Task<Result<DriverMachine>> ResumeAsync(string machineId, CancellationToken ct) =>
        OperateAsync(machineId, "resume", async m => m.State switch
        {
            DriverMachineState.Running => m.ToDriver(_options.ManagementAddress),
            DriverMachineState.Paused => await QmpStateAsync(m, "cont", DriverMachineState.Running, ct),
            _ => DriverErrors.InvalidState(machineId, m.State, "resume"),
        }, ct);

    public Task<Result<DriverMachine>> RebootAsync(string machineId, CancellationToken ct) =>
        OperateAsync(machineId, "reboot", async m => m.State switch
        {
            DriverMachineState.Running => await QmpStateAsync(m, "system_reset", DriverMachineState.Running, ct),
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
            lock (_gate)
            {
                if (CapacityError(_hosts[m.Record.Host], vcpus, memoryMiB, except: m) is { } full)
                {
                    return Task.FromResult<Result<DriverMachine>>(full);
                }
                m.Record.Vcpus = vcpus;
                m.Record.MemoryMiB = memoryMiB;
                m.Save();
                return Task.FromResult<Result<DriverMachine>>(m.ToDriver(_options.ManagementAddress));
            }
        }, ct);
    }

    private async Task<Result<DriverMachine>> QmpStateAsync(QemuMachine machine, string command, DriverMachineState state, CancellationToken ct)
    {
        var failed = await ExecuteAsync(machine, command, null, ct);
        return failed is not null ? failed : Enter(machine, state);
    }

    private DriverMachine Enter(QemuMachine machine, DriverMachineState state)
    {
        lock (_gate)
        {
            machine.State = state;
            if (state != DriverMachineState.Error)
            {
                machine.Record.Error = null;
            }
            TrySave(machine);
            return machine.ToDriver(_options.ManagementAddress);
        }
    }

    /// <summary>Runs a QMP command on the machine's QEMU; an error when QEMU refuses it or is gone.</summary>
    private async Task<Error?> ExecuteAsync(QemuMachine machine, string command, JsonObject? arguments, CancellationToken ct)
    {
        if (machine.Process is not { } process)
        {
            return DriverErrors.InvalidState(machine.Id, machine.State, command);
        }
        try
        {
            var result = await process.Qmp.ExecuteAsync(command, arguments, ct);
            return result.Succeeded ? null : DriverErrors.HypervisorFailed(machine.Id, $"QMP {command}: {result.Error!.Description}");
        }
        catch (IOException)
        {
            return DriverErrors.InvalidState(machine.Id, DriverMachineState.Error, command + " (its QEMU process ended)");
        }
    }

    // ---- destroy, inspect, console, metrics ----------------------------------------------------

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
            if (!IsCurrent(machine))
            {
                return true;
            }
            await EndProcessAsync(machine, force: true, ct);
            await DiscardAsync(machine);
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
            return Task.FromResult(_machines.GetValueOrDefault(machineId)?.ToDriver(_options.ManagementAddress));
        }
    }

    /// <summary>The console of earlier boots and hosts followed by the current one, cut to the last <paramref name="maxBytes"/> bytes on a character boundary.</summary>
    public Task<Result<string>> ConsoleLogAsync(string machineId, int maxBytes, CancellationToken ct)
    {
        var machine = Find(machineId);
        if (machine is null)
        {
            return Task.FromResult<Result<string>>(DriverErrors.MachineNotFound(machineId));
        }
        string slot;
        lock (_gate)
        {
            slot = machine.Record.Slot;
        }
        maxBytes = Math.Max(0, maxBytes);
        var current = QemuProcess.ReadConsoleTail(Path.Combine(machine.RunDirectory(slot), "serial.log"), maxBytes);
        var history = QemuProcess.ReadConsoleTail(machine.HistoryPath, maxBytes - current.Length);
        return Task.FromResult<Result<string>>(Tail([.. history, .. current], maxBytes));
    }

    private static string Tail(string text, int maxBytes) => Tail(Encoding.UTF8.GetBytes(text), maxBytes);

    private static string Tail(byte[] bytes, int maxBytes)
    {
        if (bytes.Length <= maxBytes && (bytes.Length == 0 || (bytes[0] & 0xC0) != 0x80))
        {
            return Encoding.UTF8.GetString(bytes);
        }
        var start = Math.Max(0, bytes.Length - maxBytes);
        // Skip continuation bytes so the tail starts on a whole character (a tail read from a file may begin mid-character).
        while (start < bytes.Length && (bytes[start] & 0xC0) == 0x80)
        {
            start++;
        }
        return Encoding.UTF8.GetString(bytes, start, bytes.Length - start);
    }

    public async Task<Result<MachineMetrics>> MetricsAsync(string machineId, CancellationToken ct)
    {
        var machine = Find(machineId);
        if (machine is null)
        {
            return DriverErrors.MachineNotFound(machineId);
        }
        QemuMetrics? sampler;
        lock (_gate)
        {
            sampler = machine.Sampler;
        }
        if (sampler is not null)
        {
            try
            {
                var sample = await sampler.SampleAsync(ct);
                lock (_gate)
                {
                    machine.LastMetrics = sample.Metrics;
                }
                return sample.Metrics;
            }
            catch (InvalidOperationException)
            {
                // The process ended between the check and the sample: answer as for a stopped machine.
            }
        }
        lock (_gate)
        {
            var last = machine.LastMetrics;
            return last is null
                ? new MachineMetrics(Now, 0, 0, 0, 0, 0, 0, 0, 0)
                : last with { At = Now, CpuUtilizationPercent = 0 };
        }
    }

    // ---- volumes, networks, properties ---------------------------------------------------------

    public Task<Result<bool>> AttachVolumeAsync(string machineId, VolumeAttachment volume, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(volume);
        return ConfigureAsync(machineId, "attach a volume", async m =>
        {
            if (m.Record.Volumes.Any(v => v.Volume == volume))
            {
                return null;
            }
            if (m.Record.Volumes.Any(v => v.Volume.VolumeId == volume.VolumeId))
            {
                return DriverErrors.InvalidState(machineId, m.State, $"attach volume '{volume.VolumeId}' again with another size or device");
            }
            var path = await _disks.VolumeAsync(volume.VolumeId, volume.SizeGiB, ct);
            string? bus = null;
            if (m.Process is not null)
            {
                bus = FreeBus(m);
                var disk = new QemuDisk(volume.VolumeId, path, "qcow2", bus);
                if (await ExecuteAsync(m, "blockdev-add", BlockdevNode(disk), ct) is { } failed)
                {
                    return failed;
                }
                if (await ExecuteAsync(m, "device_add", new JsonObject
                    {
                        ["driver"] = "virtio-blk-pci", ["id"] = "dev-" + disk.Id, ["drive"] = "disk-" + disk.Id, ["bus"] = bus,
                    }, ct) is { } plugFailed)
                {
                    await ExecuteAsync(m, "blockdev-del", new JsonObject { ["node-name"] = "disk-" + disk.Id }, ct);
                    return plugFailed;
                }
            }
            m.Record.Volumes.Add(new QemuVolume(volume, path, bus));
            return null;
        }, ct);
    }

    public Task<Result<bool>> DetachVolumeAsync(string machineId, string volumeId, CancellationToken ct) =>
        ConfigureAsync(machineId, "detach a volume", async m =>
        {
            var attached = m.Record.Volumes.FirstOrDefault(v => v.Volume.VolumeId == volumeId);
            if (attached is null)
            {
                return null;
            }
            if (m.Process is not null)
            {
                if (await UnplugAsync(m, "dev-" + volumeId, ct) is { } failed)
                {
                    return failed;
                }
                if (await ExecuteAsync(m, "blockdev-del", new JsonObject { ["node-name"] = "disk-" + volumeId }, ct) is { } delFailed)
                {
                    return delFailed;
                }
            }
            m.Record.Volumes.Remove(attached);
            return null;
        }, ct);

    /// <summary>Deletes the volume's qcow2 file once no machine has the volume.</summary>
    public Task<Result<bool>> DeleteVolumeAsync(string volumeId, CancellationToken ct)
    {
        lock (_gate)
        {
            var holder = _machines.Values.FirstOrDefault(m => m.Record.Volumes.Exists(v => v.Volume.VolumeId == volumeId));
            if (holder is not null)
            {
                return Task.FromResult<Result<bool>>(DriverErrors.InvalidState(holder.Id, holder.State, $"let volume '{volumeId}' be deleted while it is attached"));
            }
            File.Delete(_disks.VolumePath(volumeId));
            return Task.FromResult<Result<bool>>(true);
        }
    }

    public Task<Result<bool>> ConnectNetworkAsync(string machineId, NetworkAttachment nic, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(nic);
        return ConfigureAsync(machineId, "connect a network", async m =>
        {
            if (m.Record.Nics.Any(n => n.Nic == nic))
            {
                return null;
            }
            if (m.Record.Nics.Any(n => n.Nic.NetworkId == nic.NetworkId))
            {
                return DriverErrors.InvalidState(machineId, m.State, $"connect to network '{nic.NetworkId}' twice");
            }
            var (group, port) = Segment(nic.NetworkId);
            string? bus = null;
            if (m.Process is not null)
            {
                bus = FreeBus(m);
                var id = nic.NetworkId;
                if (await ExecuteAsync(m, "netdev_add", new JsonObject
                    {
                        ["type"] = "socket", ["id"] = "net-" + id, ["mcast"] = $"{group}:{port}", ["localaddr"] = "127.0.0.1",
                    }, ct) is { } failed)
                {
                    return failed;
                }
                if (await ExecuteAsync(m, "device_add", new JsonObject
                    {
                        ["driver"] = "virtio-net-pci", ["id"] = "nic-" + id, ["netdev"] = "net-" + id, ["mac"] = nic.Mac, ["romfile"] = "", ["bus"] = bus,
                    }, ct) is { } plugFailed)
                {
                    await ExecuteAsync(m, "netdev_del", new JsonObject { ["id"] = "net-" + id }, ct);
                    return plugFailed;
                }
            }
            m.Record.Nics.Add(new QemuNic(nic, group, port, bus));
            return null;
        }, ct);
    }

    public Task<Result<bool>> DisconnectNetworkAsync(string machineId, string networkId, CancellationToken ct) =>
        ConfigureAsync(machineId, "disconnect a network", async m =>
        {
            var attached = m.Record.Nics.FirstOrDefault(n => n.Nic.NetworkId == networkId);
            if (attached is null)
            {
                return null;
            }
            if (m.Process is not null)
            {
                if (await UnplugAsync(m, "nic-" + networkId, ct) is { } failed)
                {
                    return failed;
                }
                if (await ExecuteAsync(m, "netdev_del", new JsonObject { ["id"] = "net-" + networkId }, ct) is { } delFailed)
                {
                    return delFailed;
                }
            }
            m.Record.Nics.Remove(attached);
            return null;
        }, ct);

    /// <summary>Keeps the properties; the guest reads them at its next boot (QEMU firmware configuration file <c>opt/welkin/properties</c>).</summary>
    public Task<Result<bool>> SetPropertiesAsync(string machineId, IReadOnlyDictionary<string, string> properties, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(properties);
        return ConfigureAsync(machineId, "apply properties", m =>
        {
            m.Record.Properties = new Dictionary<string, string>(properties, StringComparer.Ordinal);
            return Task.FromResult<Error?>(null);
        }, ct);
    }

    private static JsonObject BlockdevNode(QemuDisk disk) => new()
    {
        ["driver"] = disk.Format,
        ["node-name"] = "disk-" + disk.Id,
        ["file"] = new JsonObject { ["driver"] = "file", ["filename"] = disk.Path },
    };

    private string FreeBus(QemuMachine machine)
    {
        var used = machine.Record.Volumes.Select(v => v.Bus).Concat(machine.Record.Nics.Select(n => n.Bus)).OfType<string>().ToHashSet(StringComparer.Ordinal);
        var ports = machine.Process!.Options.HotplugPorts;
        return Enumerable.Range(0, ports).Select(i => $"hp{i}").FirstOrDefault(b => !used.Contains(b))
            ?? throw new IOException($"All {ports} hot-plug ports of the machine are taken; the device is added at its next start.");
    }

    /// <summary>Asks the guest to release a device and waits for QEMU to report it gone.</summary>
    private async Task<Error?> UnplugAsync(QemuMachine machine, string deviceId, CancellationToken ct)
    {
        var qmp = machine.Process!.Qmp;
        var before = qmp.Events.Count(e => IsDeleted(e, deviceId));
        if (await ExecuteAsync(machine, "device_del", new JsonObject { ["id"] = deviceId }, ct) is { } failed)
        {
            return failed;
        }
        var deadline = _clock.GetUtcNow() + _options.UnplugTimeout;
        while (qmp.Events.Count(e => IsDeleted(e, deviceId)) == before)
        {
            if (_clock.GetUtcNow() > deadline)
            {
                return DriverErrors.HypervisorFailed(machine.Id, $"the guest did not release device {deviceId} within {_options.UnplugTimeout.TotalSeconds:0} s; stop the machine and try again.");
            }
            await Task.Delay(TimeSpan.FromMilliseconds(50), ct);
        }
        return null;
    }

    private static bool IsDeleted(QmpEvent e, string deviceId) =>
        e.Name == "DEVICE_DELETED" && e.Data.ValueKind == JsonValueKind.Object
        && e.Data.TryGetProperty("device", out var device) && device.GetString() == deviceId;

    /// <summary>A change of the machine's devices: refused while it is being created; the record is saved when it succeeds.</summary>
    private async Task<Result<bool>> ConfigureAsync(string machineId, string action, Func<QemuMachine, Task<Error?>> change, CancellationToken ct)
    {
        var result = await OperateAsync(machineId, action, async m =>
        {
            if (m.State == DriverMachineState.Creating)
            {
                return DriverErrors.InvalidState(machineId, m.State, "be reconfigured yet");
            }
            Error? error;
            try
            {
                error = await change(m);
            }
            catch (IOException exception)
            {
                error = DriverErrors.HypervisorFailed(machineId, exception.Message);
            }
            if (error is not null)
            {
                return error;
            }
            lock (_gate)
            {
                TrySave(m);
                return m.ToDriver(_options.ManagementAddress);
            }
        }, ct);
        return result.Map(_ => true);
    }

    // ---- disks out, moves ----------------------------------------------------------------------

    public async Task<Result<bool>> ExportDiskAsync(string machineId, string destinationPath, CancellationToken ct)
    {
        var result = await OperateAsync(machineId, "export its disk", async m =>
        {
            if (m.State != DriverMachineState.Stopped)
            {
                return DriverErrors.InvalidState(machineId, m.State, "export its disk until it is stopped");
            }
            try
            {
                await _disks.FlattenAsync(m.DiskPath, destinationPath, ct);
            }
            catch (IOException exception)
            {
                return DriverErrors.HypervisorFailed(machineId, exception.Message);
            }
            return m.ToDriver(_options.ManagementAddress);
        }, ct);
        return result.Map(_ => true);
    }

    /// <summary>
    /// Moves a machine to another host of this fabric. A stopped machine moves cold: it takes its
    /// place on the target and starts there next time. A running machine moves live: a QEMU waiting
    /// for the migration starts on the target, the source sends the guest's memory and state (QMP
    /// <c>migrate</c>) and stops once the target runs, so the guest keeps running throughout. The
    /// hosts share the fabric's storage, so the disk stays where it is. Returns the machine on the target.
    /// </summary>
    public Task<Result<DriverMachine>> MigrateAsync(string machineId, string targetHost, IProgress<int>? progress, CancellationToken ct) =>
        OperateAsync(machineId, "migrate", async m =>
        {
            FabricHost target;
            lock (_gate)
            {
                if (!_hosts.TryGetValue(targetHost, out target!))
                {
                    return DriverErrors.UnknownHost(targetHost);
                }
                if (_failedHosts.Contains(targetHost))
                {
                    return DriverErrors.HostUnavailable(targetHost);
                }
                if (m.Record.Host == targetHost)
                {
                    return m.ToDriver(_options.ManagementAddress);
                }
                if (CapacityError(target, m.Record.Vcpus, m.Record.MemoryMiB, except: m) is { } full)
                {
                    return full;
                }
            }
            switch (m.State)
            {
                case DriverMachineState.Stopped or DriverMachineState.Error:
                    lock (_gate)
                    {
                        m.Record.Host = targetHost;
                        TrySave(m);
                        return m.ToDriver(_options.ManagementAddress);
                    }
                case DriverMachineState.Running or DriverMachineState.Paused:
                    return await LiveMigrateAsync(m, targetHost, progress, ct);
                default:
                    return DriverErrors.InvalidState(machineId, m.State, "migrate");
            }
        }, ct);

    private async Task<Result<DriverMachine>> LiveMigrateAsync(QemuMachine machine, string targetHost, IProgress<int>? progress, CancellationToken ct)
    {
        var source = machine.Process!;
        var slot = machine.Record.Slot == "a" ? "b" : "a";
        var port = FreeLoopbackPort();
        var accelerator = await AcceleratorAsync(ct);
        WriteProperties(machine);
        var options = LaunchOptions(machine, slot, accelerator, incoming: $"tcp:127.0.0.1:{port}");
        // The destination has the source's port forwards, which the source holds until it stops: it gets none until then.
        options = options with { HostForwards = [] };
        QemuProcess destination;
        try
        {
            destination = await QemuProcess.StartAsync(options, ct);
        }
        catch (QemuLaunchException exception)
        {
            return DriverErrors.HypervisorFailed(machine.Id, "the migration target did not start: " + exception.Message);
        }
        progress?.Report(10);
        try
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
                    break;
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
        catch (Exception exception) when (exception is IOException or OperationCanceledException)
        {
            // The source keeps the machine; the half-made destination goes.
            await destination.DisposeAsync();
            DeleteDirectory(machine.RunDirectory(slot));
            if (exception is OperationCanceledException)
            {
                throw;
            }
            return DriverErrors.HypervisorFailed(machine.Id, exception.Message);
        }
        // The destination now holds the guest (paused after an incoming migration); the source is ended and the target takes over.
        await EndProcessAsync(machine, force: true, ct);
        var paused = machine.State == DriverMachineState.Paused;
        if (!paused)
        {
            await destination.Qmp.ExecuteAsync("cont", null, ct);
        }
        await AddForwardsAsync(destination, machine.Record, ct);
        var previousSlot = machine.Record.Slot;
        lock (_gate)
        {
            machine.Record.Host = targetHost;
            machine.Record.Slot = slot;
        }
        KeepConsoleHistory(machine, previousSlot);
        machine.Save();
        Adopt(machine, destination, paused ? DriverMachineState.Paused : DriverMachineState.Running);
        progress?.Report(100);
        lock (_gate)
        {
            return machine.ToDriver(_options.ManagementAddress);
        }
    }

    /// <summary>Gives a migrated machine its access endpoints back (QEMU's <c>hostfwd_add</c>, through the human monitor).</summary>
    private async Task AddForwardsAsync(QemuProcess process, QemuMachineRecord record, CancellationToken ct)
    {
        foreach (var (protocol, port) in record.Ports)
        {
            var guest = _options.Forwards.GetValueOrDefault(protocol, 22);
            var answer = await process.Qmp.ExecuteAsync("human-monitor-command",
                new JsonObject { ["command-line"] = $"hostfwd_add n0 tcp:127.0.0.1:{port}-:{guest}" }, ct);
            if (!answer.Succeeded || (answer.Return.GetString() ?? "").Length > 0)
            {
                _logger.LogWarning("Machine {Machine}: forwarding port {Port} after migration failed: {Answer}", record.Spec.MachineId, port,
                    answer.Error?.Description ?? answer.Return.GetString());
            }
        }
    }

    // ---- recovery and failures ---------------------------------------------------------------

    /// <summary>
    /// Re-attaches to the machines Welkin knows: a machine whose QEMU still runs is found through
    /// its pid file and QMP socket and comes back running or paused; one whose process is gone
    /// comes back stopped when it was stopped, and in error when it should have been running (it
    /// died while Welkin was away); one without a directory is lost (missing from the answer). A
    /// machine directory Welkin does not know is an orphan: its process is ended and its files removed.
    /// </summary>
    public async Task<IReadOnlyList<DriverMachine>> RecoverAsync(IReadOnlyList<KnownMachine> known, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(known);
        var wanted = known.ToDictionary(k => k.Spec.MachineId, StringComparer.Ordinal);
        var answer = new List<DriverMachine>();
        foreach (var k in known.OrderBy(k => k.Spec.MachineId, StringComparer.Ordinal))
        {
            QemuMachine? present;
            lock (_gate)
            {
                present = _machines.GetValueOrDefault(k.Spec.MachineId);
            }
            if (present is not null)
            {
                lock (_gate)
                {
                    answer.Add(present.ToDriver(_options.ManagementAddress));
                }
                continue;
            }
            var directory = Path.Combine(MachinesDirectory, k.Spec.MachineId);
            var record = QemuMachineRecord.Load(Path.Combine(directory, "machine.json"));
            if (record is null || !record.Created || !_hosts.ContainsKey(record.Host))
            {
                continue;
            }
            var machine = new QemuMachine(record, directory);
            lock (_gate)
            {
                _machines[machine.Id] = machine;
            }
            var process = await QemuProcess.AttachAsync(LaunchOptions(machine, record.Slot, _accelerator ?? "tcg"), ct);
            if (process is not null)
            {
                var status = await process.Qmp.ExecuteAsync("query-status", null, ct);
                var running = status.Succeeded && status.Return.TryGetProperty("running", out var r) && r.GetBoolean();
                Adopt(machine, process, running ? DriverMachineState.Running : DriverMachineState.Paused);
                _logger.LogInformation("Machine {Machine}: re-attached to QEMU pid {Pid}", machine.Id, process.ProcessId);
            }
            else if (_failedHosts.Contains(record.Host))
            {
                machine.State = DriverMachineState.Error;
                record.Error = "The host failed.";
            }
            else if (k.LastKnown is DriverMachineState.Running or DriverMachineState.Paused)
            {
                machine.State = DriverMachineState.Error;
                record.Error = "The machine's QEMU process ended while Welkin was not running.";
                TrySave(machine);
            }
            else
            {
                machine.State = k.LastKnown == DriverMachineState.Error ? DriverMachineState.Error : DriverMachineState.Stopped;
                record.Error ??= machine.State == DriverMachineState.Error ? "The machine was in error when Welkin stopped." : null;
            }
            lock (_gate)
            {
                answer.Add(machine.ToDriver(_options.ManagementAddress));
            }
        }
        await SweepOrphansAsync(wanted);
        return answer;
    }

    private async Task SweepOrphansAsync(Dictionary<string, KnownMachine> wanted)
    {
        foreach (var directory in Directory.EnumerateDirectories(MachinesDirectory))
        {
            var id = Path.GetFileName(directory);
            bool tracked;
            lock (_gate)
            {
                tracked = wanted.ContainsKey(id) || _machines.ContainsKey(id);
            }
            if (tracked)
            {
                continue;
            }
            foreach (var slot in new[] { "a", "b" })
            {
                var socket = Path.Combine(_socketDirectory, $"{id}-{slot}.qmp");
                if (QemuProcess.ReadPid(Path.Combine(directory, "run-" + slot, "qemu.pid")) is { } pid && QemuProcess.CommandLineMentions(pid, socket))
                {
                    _logger.LogWarning("Machine {Machine} is unknown to Welkin: ending its QEMU (pid {Pid})", id, pid);
                    await QemuProcess.KillAsync(pid);
                }
                File.Delete(socket);
            }
            DeleteDirectory(directory);
        }
    }

    /// <summary>Fails a host (its QEMU processes are killed, as a power loss would) or brings it back.</summary>
    public async Task<Result<bool>> SetHostFailedAsync(string host, bool failed, CancellationToken ct)
    {
        List<QemuMachine> victims;
        lock (_gate)
        {
            if (!_hosts.ContainsKey(host))
            {
                return DriverErrors.UnknownHost(host);
            }
            if (_failedHosts.Contains(host) == failed)
            {
                return true;
            }
            Directory.CreateDirectory(Path.GetDirectoryName(FailedMarker(host))!);
            if (failed)
            {
                _failedHosts.Add(host);
                File.WriteAllText(FailedMarker(host), Now.ToString("O"));
                _events.Writer.TryWrite(new DriverEvent(DriverEvent.HostFailed, host, null, "The host failed.", Now));
            }
            else
            {
                _failedHosts.Remove(host);
                File.Delete(FailedMarker(host));
                _events.Writer.TryWrite(new DriverEvent(DriverEvent.HostRecovered, host, null, "The host is back; its machines stay in error until started or re-created.", Now));
                return true;
            }
            victims = [.. _machines.Values.Where(m => m.Record.Host == host && m.State != DriverMachineState.Error).OrderBy(m => m.Id, StringComparer.Ordinal)];
            foreach (var m in victims)
            {
                m.ExitExpected = true;
                m.State = DriverMachineState.Error;
                m.Record.Error = "The host failed.";
                _events.Writer.TryWrite(new DriverEvent(DriverEvent.MachineCrashed, host, m.Id, m.Record.Error, Now));
            }
        }
        foreach (var m in victims)
        {
            QemuProcess? process;
            lock (_gate)
            {
                process = m.Process;
                m.Process = null;
                m.Sampler = null;
                TrySave(m);
            }
            if (process is not null)
            {
                await process.DisposeAsync();
            }
        }
        await Task.CompletedTask.WaitAsync(ct);
        return true;
    }

    // ---- helpers -----------------------------------------------------------------------------

    /// <summary>One operation on one machine, holding its operation lock; refused on a failed host.</summary>
    private async Task<Result<DriverMachine>> OperateAsync(string machineId, string action, Func<QemuMachine, Task<Result<DriverMachine>>> operation, CancellationToken ct)
    {
        var machine = Find(machineId);
        if (machine is null)
        {
            return DriverErrors.MachineNotFound(machineId);
        }
        using var waiting = CancellationTokenSource.CreateLinkedTokenSource(ct, _disposed.Token);
        await machine.Ops.WaitAsync(waiting.Token);
        try
        {
            lock (_gate)
            {
                if (!IsCurrent(machine))
                {
                    return DriverErrors.MachineNotFound(machineId);
                }
                if (_failedHosts.Contains(machine.Record.Host))
                {
                    return DriverErrors.HostUnavailable(machine.Record.Host);
                }
            }
            try
            {
                return await operation(machine);
            }
            catch (Exception exception) when (exception is IOException or InvalidDataException)
            {
                _logger.LogWarning(exception, "Machine {Machine}: {Action} failed", machineId, action);
                return DriverErrors.HypervisorFailed(machineId, $"{action} failed: {exception.Message}");
            }
        }
        finally
        {
            machine.Ops.Release();
        }
    }

    private QemuMachine? Find(string machineId)
    {
        lock (_gate)
        {
            return _machines.GetValueOrDefault(machineId);
        }
    }

    private bool IsCurrent(QemuMachine machine)
    {
        lock (_gate)
        {
            return _machines.TryGetValue(machine.Id, out var current) && ReferenceEquals(current, machine);
        }
    }

    private void TrySave(QemuMachine machine)
    {
        try
        {
            if (Directory.Exists(machine.Directory))
            {
                machine.Save();
            }
        }
        catch (IOException exception)
        {
            _logger.LogError(exception, "Machine {Machine}: its record could not be written", machine.Id);
        }
    }

    /// <summary>Appends the console of a boot that is over to the machine's history (kept to its last bytes).</summary>
    private void KeepConsoleHistory(QemuMachine machine, string slot)
    {
        var log = Path.Combine(machine.RunDirectory(slot), "serial.log");
        var text = QemuProcess.ReadConsole(log);
        if (text.Length == 0)
        {
            return;
        }
        var history = Tail(ReadText(machine.HistoryPath) + text, _options.ConsoleHistoryBytes);
        File.WriteAllText(machine.HistoryPath + ".tmp", history);
        File.Move(machine.HistoryPath + ".tmp", machine.HistoryPath, overwrite: true);
        File.Delete(log);
    }

    private static string ReadText(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadAllText(path) : "";
        }
        catch (IOException)
        {
            return "";
        }
    }

    private static void DeleteDirectory(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (IOException)
        {
            // A file still open by a process that is going away; a later sweep removes it.
        }
    }

    private int? AllocateSubnet(string machineId)
    {
        var used = _machines.Values.Select(m => m.Record.Subnet).ToHashSet();
        const int Size = 65_535;
        var start = (int)(Hash(machineId) % Size);
        for (var i = 0; i < Size; i++)
        {
            var candidate = 1 + ((start + i) % Size);
            // 10.0.2.0/24 is QEMU's default user network: leave it to machines Welkin did not make.
            if (candidate != 2 && used.Add(candidate))
            {
                return candidate;
            }
        }
        return null;
    }

    private int? AllocatePort(string key, IEnumerable<int> alsoTaken)
    {
        var used = _machines.Values.SelectMany(m => m.Record.Ports.Values).Concat(alsoTaken).ToHashSet();
        var size = _options.PortLast - _options.PortFirst + 1;
        var start = (int)(Hash(key) % (uint)size);
        for (var i = 0; i < size; i++)
        {
            var port = _options.PortFirst + ((start + i) % size);
            if (!used.Contains(port) && IsFree(port))
            {
                return port;
            }
        }
        return null;
    }

    private int? AllocateDisplay()
    {
        var used = _machines.Values.Select(m => m.Record.VncDisplay).OfType<int>().ToHashSet();
        for (var display = _options.VncDisplayFirst; display <= _options.VncDisplayLast; display++)
        {
            if (!used.Contains(display) && IsFree(5900 + display))
            {
                return display;
            }
        }
        return null;
    }

    /// <summary>
    /// The L2 segment of a tenant network: a multicast group in 239.192.0.0/14 (organisation-local
    /// scope) and a port, both from the network's id. Networks are told apart by group and port
    /// together; a network that would collide with another in use takes the next free pair.
    /// </summary>
    private (string Group, int Port) Segment(string networkId)
    {
        var inUse = _machines.Values.SelectMany(m => m.Record.Nics).Where(n => n.Nic.NetworkId != networkId)
            .Select(n => (n.Group, n.Port)).ToHashSet();
        var existing = _machines.Values.SelectMany(m => m.Record.Nics).FirstOrDefault(n => n.Nic.NetworkId == networkId);
        if (existing is not null)
        {
            return (existing.Group, existing.Port);
        }
        var hash = Hash(networkId);
        for (uint i = 0; ; i++)
        {
            var h = hash + i;
            var group = $"239.{192 + ((h >> 16) & 3)}.{(h >> 8) & 255}.{h & 255}";
            var port = 40_000 + (int)((h >> 18) % 20_000);
            if (!inUse.Contains((group, port)))
            {
                return (group, port);
            }
        }
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

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static uint Hash(string text)
    {
        // FNV-1a: stable across runs, so a machine tends to get the same ports and subnet back.
        var hash = 2166136261u;
        foreach (var c in text)
        {
            hash = (hash ^ c) * 16777619u;
        }
        return hash;
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
        List<QemuMachine> machines;
        lock (_gate)
        {
            machines = [.. _machines.Values];
        }
        foreach (var machine in machines)
        {
            if (machine.Process is not { } process)
            {
                continue;
            }
            machine.ExitExpected = true;
            if (_options.StopMachinesOnShutdown)
            {
                await process.StopAsync(TimeSpan.Zero, CancellationToken.None);
                await process.Qmp.DisposeAsync();
            }
            else
            {
                await process.ReleaseAsync();
            }
        }
        _events.Writer.TryComplete();
        _disks.Dispose();
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}

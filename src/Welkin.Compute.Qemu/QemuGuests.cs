using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Welkin.Core.Common;
using Welkin.Core.Compute;

namespace Welkin.Compute.Qemu;

/// <summary>
/// Launching and watching machines: a machine's first build (its disk, volumes and boot), the
/// QEMU launch options of a machine, the wait for the guest's ready marker, the watch that turns
/// a QEMU ending without Welkin asking into a crash (or a guest power-off), ending a QEMU, the KVM
/// probe, QMP commands, and the console and counters of a machine.
/// </summary>
internal sealed class QemuGuests(QemuFabric fabric) : IDisposable
{
    private readonly SemaphoreSlim _probe = new(1, 1);
    private string? _accelerator;

    private QemuFabricOptions Options => fabric.Options;

    /// <summary>The accelerator launches use, once a launch chose it; TCG until then (re-attaching does not need to know).</summary>
    public string KnownAccelerator => _accelerator ?? "tcg";

    /// <summary>Makes the disk and boots the machine (called holding it); a failure or cancellation leaves nothing behind.</summary>
    public async Task<Result<DriverMachine>> BuildAsync(QemuMachine machine, IProgress<int>? progress, CancellationToken ct)
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
            progress?.Report(40);
            var dataDisks = await PrepareDataDisksAsync(machine, ct);
            if (!dataDisks.IsSuccess)
            {
                return dataDisks.Error!;
            }
            progress?.Report(50);
            foreach (var volume in machine.Record.Volumes)
            {
                await fabric.Disks.VolumeAsync(volume.Volume.VolumeId, volume.Volume.SizeGiB, ct);
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
            return DriverErrors.HypervisorFailed(machine.Id, HypervisorFailure.Disk, exception.Message);
        }
        finally
        {
            if (!keep)
            {
                await DiscardAsync(machine);
            }
        }
    }

    /// <summary>Resolves the image and makes the machine's overlay on its base (or an empty disk when it has no image).</summary>
    private async Task<Result<bool>> PrepareDiskAsync(QemuMachine machine, CancellationToken ct)
    {
        var boot = await ResolveBootAsync(machine, ct);
        if (!boot.IsSuccess)
        {
            return boot.Error!;
        }
        var image = boot.Value;
        var temp = machine.DiskPath + ".tmp";
        File.Delete(temp);
        if (image is null)
        {
            await fabric.Disks.CreateEmptyAsync(temp, Math.Max(1, machine.Record.Spec.DiskGiB), ct);
        }
        else
        {
            var (basePath, baseFormat) = await fabric.Disks.BaseAsync(image.DiskPath, image.DiskSha256, image.DiskFormat, ct);
            await fabric.Disks.CreateOverlayAsync(temp, basePath, baseFormat, machine.Record.Spec.DiskGiB, ct);
        }
        File.Move(temp, machine.DiskPath, overwrite: true);
        return true;
    }

    /// <summary>
    /// Makes each data disk beside the system disk: a qcow2 overlay on its image's base grown to its size (never smaller
    /// than the image), as the system disk is made, or an empty qcow2 when it has no image.
    /// </summary>
    private async Task<Result<bool>> PrepareDataDisksAsync(QemuMachine machine, CancellationToken ct)
    {
        foreach (var disk in machine.Record.Spec.DataDisks)
        {
            var path = machine.DataDiskPath(disk);
            var temp = path + ".tmp";
            File.Delete(temp);
            if (disk.ImageId is { } imageId)
            {
                if (fabric.Images is null)
                {
                    return ImageErrors.Unavailable(imageId, "this fabric has no image catalog.");
                }
                var resolved = await fabric.Images.ResolveAsync(imageId, ct);
                if (!resolved.IsSuccess)
                {
                    return resolved.Error!;
                }
                var (basePath, baseFormat) = await fabric.Disks.BaseAsync(resolved.Value.DiskPath, resolved.Value.DiskSha256, resolved.Value.DiskFormat, ct);
                await fabric.Disks.CreateOverlayAsync(temp, basePath, baseFormat, disk.SizeGiB, ct);
            }
            else
            {
                await fabric.Disks.CreateEmptyAsync(temp, disk.SizeGiB, ct);
            }
            File.Move(temp, path, overwrite: true);
        }
        return true;
    }

    /// <summary>Resolves the machine's image and keeps the kernel and ramdisk it boots (or the fabric's default guest) in its record.</summary>
    public async Task<Result<BootImage?>> ResolveBootAsync(QemuMachine machine, CancellationToken ct)
    {
        var spec = machine.Record.Spec;
        BootImage? image = null;
        if (spec.ImageId is { } imageId)
        {
            if (fabric.Images is null)
            {
                return ImageErrors.Unavailable(imageId, "this fabric has no image catalog.");
            }
            var resolved = await fabric.Images.ResolveAsync(imageId, ct);
            if (!resolved.IsSuccess)
            {
                return resolved.Error!;
            }
            image = resolved.Value;
        }
        var kernel = image?.KernelPath is { } k ? await fabric.Disks.KeepAsync(k, image.KernelSha256!, "kernel", ct) : Options.DefaultKernel;
        var initrd = image?.RamdiskPath is { } r ? await fabric.Disks.KeepAsync(r, image.RamdiskSha256!, "initrd", ct) : Options.DefaultInitrd;
        if (kernel is null || initrd is null || !File.Exists(kernel) || !File.Exists(initrd))
        {
            return ImageErrors.Unavailable(spec.ImageId ?? "(none)",
                "it names no kernel and ramdisk to boot, and the fabric has no default (Fabric:DefaultKernel, Fabric:DefaultInitrd) that exists.");
        }
        machine.Record.Kernel = kernel;
        machine.Record.Initrd = initrd;
        machine.Record.CommandLine = image?.CommandLine;
        machine.Record.ReadyMarker = image?.ReadyMarker ?? (image?.KernelPath is null ? Options.ReadyMarker : null);
        return image;
    }

    /// <summary>Removes a machine that never came to be (or is destroyed): its process, files and place in the table.</summary>
    public async Task DiscardAsync(QemuMachine machine)
    {
        machine.ExitExpected = true;
        if (machine.Process is { } process)
        {
            await process.DisposeAsync();
            machine.Process = null;
        }
        fabric.Machines.Remove(machine);
        QemuFabric.DeleteDirectory(machine.Directory);
        foreach (var slot in new[] { "a", "b" })
        {
            File.Delete(fabric.QmpSocket(machine.Id, slot));
        }
    }

    public QemuLaunchOptions LaunchOptions(QemuMachine machine, string slot, string accelerator, string? incoming = null)
    {
        var record = machine.Record;
        var hotplug = Math.Max(record.HotplugPorts ?? Options.HotplugPorts, record.Volumes.Count + record.Nics.Count + 1);
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
        // The data disks sit on the root bus after the system disk, so the guest finds them as vdb, vdc, … before any volume.
        List<QemuDisk> disks = [new QemuDisk("root", machine.DiskPath)];
        disks.AddRange(record.Spec.DataDisks.Select(d => new QemuDisk(QemuMachine.DataDiskId(d), machine.DataDiskPath(d))));
        disks.AddRange(record.Volumes.Select(v => new QemuDisk(v.Volume.VolumeId, v.Path, "qcow2", v.Bus)));
        return new QemuLaunchOptions(
            Name: machine.Id,
            RunDirectory: machine.RunDirectory(slot),
            Kernel: record.Kernel,
            Initrd: record.Initrd,
            MemoryMiB: (int)Math.Min(int.MaxValue, record.MemoryMiB),
            Vcpus: record.Vcpus,
            HostForwards: [.. record.Ports.Select(p => new HostForward(p.Value, Options.Forwards.GetValueOrDefault(p.Key, 22)))],
            Accelerator: accelerator,
            Executable: Options.Executable,
            QmpSocket: fabric.QmpSocket(machine.Id, slot),
            Disks: disks,
            Segments: [.. record.Nics.Select(n => new QemuSegmentNic(n.Nic.NetworkId, n.Nic.Mac, n.Group, n.Port, n.Bus))],
            ExtraKernelArguments: KernelArguments(record),
            HotplugPorts: hotplug,
            VncDisplay: record.VncDisplay,
            Incoming: incoming,
            FirmwareConfigFile: machine.PropertiesPath,
            UserNetwork: $"10.{record.Subnet / 256}.{record.Subnet % 256}.0/24");
    }

    private static string KernelArguments(QemuMachineRecord record)
    {
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
        return arguments.ToString();
    }

    /// <summary>The properties the guest reads at boot (firmware configuration file <c>opt/welkin/properties</c>).</summary>
    public static void WriteProperties(QemuMachine machine) =>
        File.WriteAllText(machine.PropertiesPath, JsonSerializer.Serialize(machine.Record.Properties));

    private static int PrefixOf(string cidr) =>
        cidr.IndexOf('/', StringComparison.Ordinal) is var slash and > 0 && int.TryParse(cidr.AsSpan(slash + 1), out var prefix) ? prefix : 24;

    /// <summary>Starts QEMU for the machine (called holding it) and returns it running.</summary>
    public async Task<Result<DriverMachine>> LaunchAsync(QemuMachine machine, CancellationToken ct)
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
            return DriverErrors.HypervisorFailed(machine.Id, HypervisorFailure.Launch, exception.Message);
        }
        machine.Save();
        if (machine.Record.ReadyMarker is { } marker && await WaitUntilUpAsync(machine, process, marker, ct) is { } notUp)
        {
            machine.ExitExpected = true;
            await process.DisposeAsync();
            lock (fabric.Gate)
            {
                machine.State = DriverMachineState.Error;
                machine.Record.Error = notUp.MachineError;
                fabric.TrySave(machine);
            }
            return notUp.Error;
        }
        Adopt(machine, process, DriverMachineState.Running);
        return fabric.Describe(machine);
    }

    /// <summary>Waits for the guest's ready marker on this boot's console; when it does not come, the machine's error and the driver's.</summary>
    private async Task<(string MachineError, Error Error)?> WaitUntilUpAsync(QemuMachine machine, QemuProcess process, string marker, CancellationToken ct)
    {
        var timeout = Options.BootTimeout;
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(timeout);
        try
        {
            await process.WaitForConsoleAsync(marker, limit.Token);
            return null;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return ($"The guest did not report ready within {timeout.TotalSeconds:0} s.",
                DriverErrors.HypervisorFailed(machine.Id, HypervisorFailure.NotReady, $"the guest did not print '{marker}' on its console within {timeout.TotalSeconds:0} s.", timeout));
        }
        catch (InvalidOperationException)
        {
            return ("The machine's QEMU process ended while the guest was booting.",
                DriverErrors.HypervisorFailed(machine.Id, HypervisorFailure.Launch, "QEMU ended while the guest was booting."));
        }
        catch (OperationCanceledException)
        {
            await process.DisposeAsync();
            throw;
        }
    }

    /// <summary>Makes <paramref name="process"/> the machine's and watches it for an exit Welkin did not ask for.</summary>
    public void Adopt(QemuMachine machine, QemuProcess process, DriverMachineState state)
    {
        lock (fabric.Gate)
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
        if (fabric.Stopping.IsCancellationRequested)
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
        lock (fabric.Gate)
        {
            if (!fabric.Machines.IsCurrent(machine) || !ReferenceEquals(machine.Process, process) || machine.ExitExpected)
            {
                return;
            }
            machine.Process = null;
            machine.Sampler = null;
            if (poweredOff)
            {
                machine.State = DriverMachineState.Stopped;
                raised = new DriverEvent(DriverEvent.MachineStopped, machine.Record.Host, machine.Id, "The guest powered itself off.", fabric.Now);
            }
            else
            {
                machine.State = DriverMachineState.Error;
                machine.Record.Error = "The QEMU process ended unexpectedly.";
                raised = new DriverEvent(DriverEvent.MachineCrashed, machine.Record.Host, machine.Id, machine.Record.Error, fabric.Now);
            }
            fabric.TrySave(machine);
        }
        fabric.Logger.LogWarning("Machine {Machine}: {Detail}", machine.Id, raised.Detail);
        fabric.Events.Writer.TryWrite(raised);
        await process.Qmp.DisposeAsync();
    }

    /// <summary>Ends the machine's QEMU (called holding the machine): the power button first unless forced.</summary>
    public async Task EndProcessAsync(QemuMachine machine, bool force, CancellationToken ct)
    {
        if (machine.Process is not { } process)
        {
            return;
        }
        lock (fabric.Gate)
        {
            machine.ExitExpected = true;
        }
        await process.StopAsync(force ? TimeSpan.Zero : Options.PowerdownTimeout, ct);
        await process.Qmp.DisposeAsync();
        File.Delete(process.QmpSocketPath);
        lock (fabric.Gate)
        {
            machine.Process = null;
            machine.Sampler = null;
        }
    }

    public async Task<string> AcceleratorAsync(CancellationToken ct)
    {
        if (_accelerator is { } known)
        {
            return known;
        }
        await _probe.WaitAsync(ct);
        try
        {
            _accelerator ??= Options.Accelerator switch
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
        if (!File.Exists("/dev/kvm") || Options.DefaultKernel is null || Options.DefaultInitrd is null)
        {
            fabric.Logger.LogInformation("KVM probe: no /dev/kvm or no default guest; using TCG");
            return false;
        }
        var run = Path.Combine(fabric.Root, "kvm-probe");
        var options = new QemuLaunchOptions("kvm-probe", run, Options.DefaultKernel, Options.DefaultInitrd, Accelerator: "kvm",
            Executable: Options.Executable, QmpSocket: Path.Combine(fabric.SocketDirectory, "kvm-probe.qmp"));
        try
        {
            await using var process = await QemuProcess.StartAsync(options, ct);
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
            limit.CancelAfter(Options.KvmProbeTimeout);
            await process.WaitForConsoleAsync(Options.ReadyMarker, limit.Token);
            fabric.Logger.LogInformation("KVM probe: the guest booted within {Timeout}; using KVM", Options.KvmProbeTimeout);
            return true;
        }
        catch (Exception exception) when (exception is QemuLaunchException or InvalidOperationException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            fabric.Logger.LogInformation("KVM probe: {Reason}; using TCG", exception is OperationCanceledException ? "too slow" : exception.Message);
            return false;
        }
        finally
        {
            QemuFabric.DeleteDirectory(run);
        }
    }

    /// <summary>Runs a QMP command on the machine's QEMU; an error when QEMU refuses it or is gone.</summary>
    public async Task<Error?> ExecuteAsync(QemuMachine machine, string command, JsonObject? arguments, CancellationToken ct)
    {
        if (machine.Process is not { } process)
        {
            return DriverErrors.InvalidState(machine.Id, machine.State, command);
        }
        try
        {
            var result = await process.Qmp.ExecuteAsync(command, arguments, ct);
            return result.Succeeded ? null : DriverErrors.HypervisorFailed(machine.Id, HypervisorFailure.Command, $"QMP {command}: {result.Error!.Description}");
        }
        catch (IOException)
        {
            return DriverErrors.InvalidState(machine.Id, DriverMachineState.Error, command + " (its QEMU process ended)");
        }
    }

    /// <summary>A QMP command that changes the run state (stop, cont, system_reset), then the state it leads to.</summary>
    public async Task<Result<DriverMachine>> ChangeStateAsync(QemuMachine machine, string command, DriverMachineState state, CancellationToken ct)
    {
        var failed = await ExecuteAsync(machine, command, null, ct);
        return failed is not null ? failed : fabric.Enter(machine, state);
    }

    /// <summary>The console of earlier boots and hosts followed by the current one, cut to the last <paramref name="maxBytes"/> bytes on a character boundary.</summary>
    public string ConsoleLog(QemuMachine machine, int maxBytes)
    {
        string slot;
        lock (fabric.Gate)
        {
            slot = machine.Record.Slot;
        }
        maxBytes = Math.Max(0, maxBytes);
        var current = QemuProcess.ReadConsoleTail(Path.Combine(machine.RunDirectory(slot), "serial.log"), maxBytes);
        var history = QemuProcess.ReadConsoleTail(machine.HistoryPath, maxBytes - current.Length);
        return Tail([.. history, .. current], maxBytes);
    }

    /// <summary>Appends the console of a boot that is over to the machine's history (kept to its last bytes).</summary>
    public void KeepConsoleHistory(QemuMachine machine, string slot)
    {
        var log = Path.Combine(machine.RunDirectory(slot), "serial.log");
        var text = QemuProcess.ReadConsole(log);
        if (text.Length == 0)
        {
            return;
        }
        var history = Tail(Encoding.UTF8.GetBytes(ReadText(machine.HistoryPath) + text), Options.ConsoleHistoryBytes);
        File.WriteAllText(machine.HistoryPath + ".tmp", history);
        File.Move(machine.HistoryPath + ".tmp", machine.HistoryPath, overwrite: true);
        File.Delete(log);
    }

    /// <summary>A sample of the machine's counters; a machine without a process keeps its last counters, with no CPU in use.</summary>
    public async Task<MachineMetrics> MetricsAsync(QemuMachine machine, CancellationToken ct)
    {
        QemuMetrics? sampler;
        lock (fabric.Gate)
        {
            sampler = machine.Sampler;
        }
        if (sampler is not null)
        {
            try
            {
                var sample = await sampler.SampleAsync(ct);
                lock (fabric.Gate)
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
        lock (fabric.Gate)
        {
            var last = machine.LastMetrics;
            return last is null
                ? new MachineMetrics(fabric.Now, 0, 0, 0, 0, 0, 0, 0, 0)
                : last with { At = fabric.Now, CpuUtilizationPercent = 0 };
        }
    }

    public void Dispose() => _probe.Dispose();

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
}

using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace Welkin.Compute.Qemu;

/// <summary>A TCP port on the host's loopback forwarded to a port of the guest (user-mode networking).</summary>
public sealed record HostForward(int HostPort, int GuestPort);

/// <summary>A disk of the machine: a qcow2 (or raw) file attached as a virtio disk under <paramref name="Id"/>.</summary>
/// <param name="Bus">The PCIe root port it sits on (hot-pluggable and unpluggable), or null for the root bus.</param>
public sealed record QemuDisk(string Id, string Path, string Format = "qcow2", string? Bus = null);

/// <summary>
/// A NIC on a tenant L2 segment: a QEMU socket netdev on a UDP multicast group, so every machine
/// with the same group and port shares one Ethernet segment and no other machine hears it.
/// </summary>
public sealed record QemuSegmentNic(string Id, string Mac, string MulticastGroup, int Port, string? Bus = null);

/// <summary>How to launch one <c>qemu-system-x86_64</c> with a direct kernel boot.</summary>
/// <param name="Name">The machine's name; the guest sees it as <c>vmname=</c> on its kernel command line.</param>
/// <param name="RunDirectory">Where the serial log and pid file live (one directory per machine).</param>
/// <param name="StartPaused">Start with the CPUs stopped (<c>-S</c>) until a <c>cont</c> command.</param>
/// <param name="Accelerator">TCG by default: KVM is only worth it where a probe shows it boots fast.</param>
/// <param name="QmpSocket">The QMP socket; by default <c>qmp.sock</c> in the run directory. Unix socket paths are limited to 107 bytes.</param>
/// <param name="ExtraKernelArguments">Appended to the kernel command line (the guest reads its settings from there).</param>
/// <param name="HotplugPorts">Free PCIe root ports <c>hp0</c>.. for disks and NICs added while the machine runs.</param>
/// <param name="VncDisplay">A VNC display on loopback (display n listens on port 5900 + n), or null for none.</param>
/// <param name="Incoming">Wait for an incoming migration on this URI (<c>tcp:127.0.0.1:PORT</c>) instead of booting.</param>
/// <param name="FirmwareConfigFile">A file the guest reads as firmware configuration item <c>opt/welkin/properties</c>.</param>
/// <param name="UserNetwork">The user-mode network's subnet (<c>10.1.2.0/24</c>); the guest is .15, the gateway .2. QEMU's default is 10.0.2.0/24.</param>
public sealed record QemuLaunchOptions(
    string Name,
    string RunDirectory,
    string Kernel,
    string Initrd,
    int MemoryMiB = 128,
    int Vcpus = 1,
    IReadOnlyList<HostForward>? HostForwards = null,
    bool StartPaused = false,
    string Accelerator = "tcg,tb-size=32",
    string Executable = "qemu-system-x86_64",
    string? QmpSocket = null,
    IReadOnlyList<QemuDisk>? Disks = null,
    IReadOnlyList<QemuSegmentNic>? Segments = null,
    string? ExtraKernelArguments = null,
    int HotplugPorts = 0,
    int? VncDisplay = null,
    string? Incoming = null,
    string? FirmwareConfigFile = null,
    string? UserNetwork = null)
{
    public string QmpSocketPath => QmpSocket ?? Path.Combine(RunDirectory, "qmp.sock");

    public string SerialLogPath => Path.Combine(RunDirectory, "serial.log");

    public string PidFilePath => Path.Combine(RunDirectory, "qemu.pid");
}

/// <summary>How <see cref="QemuProcess.StopAsync"/> ended the machine.</summary>
public enum QemuStopOutcome
{
    /// <summary>The process had already exited.</summary>
    AlreadyExited,
    /// <summary>The guest powered off after the ACPI power button.</summary>
    PoweredDown,
    /// <summary>The guest ignored the power button; QEMU quit on the <c>quit</c> command.</summary>
    Quit,
    /// <summary>QEMU did not answer; the process was killed.</summary>
    Killed,
}

/// <summary>QEMU refused to start (bad arguments, a port already taken, a missing file): its own message.</summary>
public sealed class QemuLaunchException(string message) : Exception(message);

/// <summary>
/// One running <c>qemu-system-x86_64</c> process. QEMU daemonizes (<c>-daemonize</c>): the
/// launching process exits once the machine is set up, reporting start-up errors on its standard
/// error, and the machine runs on in its own session, so it outlives a restart of Welkin. Its
/// serial console goes to a file, its pid to a pid file and its control to a QMP unix socket, from
/// which a restarted Welkin finds it again (<see cref="AttachAsync"/>). Disposing kills a process
/// still running; <see cref="ReleaseAsync"/> lets it run on.
/// </summary>
public sealed class QemuProcess : IAsyncDisposable
{
    private static readonly TimeSpan QuitTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan ExitPoll = TimeSpan.FromMilliseconds(25);

    private QemuProcess(int pid, QemuLaunchOptions options, QmpClient qmp)
    {
        ProcessId = pid;
        Options = options;
        Qmp = qmp;
    }

    public QemuLaunchOptions Options { get; }

    public QmpClient Qmp { get; }

    public int ProcessId { get; }

    /// <summary>True once the process is gone (a zombie counts as gone).</summary>
    public bool HasExited => !IsAlive(ProcessId);

    public string SerialLogPath => Options.SerialLogPath;

    public string PidFilePath => Options.PidFilePath;

    public string QmpSocketPath => Options.QmpSocketPath;

    /// <summary>The command line for <paramref name="options"/> (public so a benchmark can launch the same machine bare).</summary>
    public static IReadOnlyList<string> BuildArguments(QemuLaunchOptions options)
    {
        var netdev = new StringBuilder("user,id=n0");
        if (options.UserNetwork is { } subnet)
        {
            netdev.Append(",net=").Append(subnet);
        }
        foreach (var forward in options.HostForwards ?? [])
        {
            netdev.Append(CultureInfo.InvariantCulture, $",hostfwd=tcp:127.0.0.1:{forward.HostPort}-:{forward.GuestPort}");
        }
        var append = $"console=ttyS0 quiet vmname={options.Name}";
        if (!string.IsNullOrWhiteSpace(options.ExtraKernelArguments))
        {
            append += " " + options.ExtraKernelArguments;
        }

        List<string> arguments =
        [
            "-machine", "q35",
            "-accel", options.Accelerator,
            "-m", options.MemoryMiB.ToString(CultureInfo.InvariantCulture),
            "-smp", options.Vcpus.ToString(CultureInfo.InvariantCulture),
            "-nodefaults",
            "-kernel", options.Kernel,
            "-initrd", options.Initrd,
            "-append", append,
            "-netdev", netdev.ToString(),
            // romfile= : no iPXE option ROM, the guest boots its kernel directly.
            "-device", "virtio-net-pci,netdev=n0,romfile=",
            "-device", "virtio-balloon-pci",
            "-serial", $"file:{options.SerialLogPath}",
            "-pidfile", options.PidFilePath,
            "-qmp", $"unix:{options.QmpSocketPath},server=on,wait=off",
            "-daemonize",
        ];
        arguments.AddRange(options.VncDisplay is { } display
            ? ["-vga", "std", "-vnc", $"127.0.0.1:{display}"]
            : ["-display", "none"]);
        for (var i = 0; i < options.HotplugPorts; i++)
        {
            arguments.Add("-device");
            arguments.Add($"pcie-root-port,id=hp{i},chassis={i + 1},bus=pcie.0");
        }
        foreach (var disk in options.Disks ?? [])
        {
            arguments.Add("-blockdev");
            arguments.Add(BlockdevArgument(disk));
            arguments.Add("-device");
            arguments.Add($"virtio-blk-pci,id=dev-{disk.Id},drive=disk-{disk.Id}" + (disk.Bus is null ? "" : $",bus={disk.Bus}"));
        }
        foreach (var nic in options.Segments ?? [])
        {
            arguments.Add("-netdev");
            arguments.Add($"socket,id=net-{nic.Id},mcast={nic.MulticastGroup}:{nic.Port},localaddr=127.0.0.1");
            arguments.Add("-device");
            arguments.Add($"virtio-net-pci,id=nic-{nic.Id},netdev=net-{nic.Id},mac={nic.Mac},romfile=" + (nic.Bus is null ? "" : $",bus={nic.Bus}"));
        }
        if (options.FirmwareConfigFile is { } fwcfg)
        {
            arguments.Add("-fw_cfg");
            arguments.Add($"name=opt/welkin/properties,file={fwcfg}");
        }
        if (options.Incoming is { } incoming)
        {
            arguments.Add("-incoming");
            arguments.Add(incoming);
        }
        if (options.StartPaused)
        {
            arguments.Add("-S");
        }
        return arguments;
    }

    /// <summary>The <c>-blockdev</c> value of a disk: a file node under a format node named <c>disk-ID</c>.</summary>
    public static string BlockdevArgument(QemuDisk disk) =>
        $"driver={disk.Format},node-name=disk-{disk.Id},file.driver=file,file.filename={disk.Path}";

    /// <summary>
    /// Launches QEMU, waits until it has daemonized and connects to its QMP socket. A QEMU that
    /// refuses to start raises <see cref="QemuLaunchException"/> with its message; nothing is left running.
    /// </summary>
    public static async Task<QemuProcess> StartAsync(QemuLaunchOptions options, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(options.RunDirectory);
        File.Delete(options.QmpSocketPath);
        File.Delete(options.PidFilePath);
        if (options.Incoming is null)
        {
            File.Delete(options.SerialLogPath);
        }

        var startInfo = new ProcessStartInfo(options.Executable)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = options.RunDirectory,
        };
        foreach (var argument in BuildArguments(options))
        {
            startInfo.ArgumentList.Add(argument);
        }

        using var launcher = Launch(startInfo, options.Executable);
        var stderr = launcher.StandardError.ReadToEndAsync(CancellationToken.None);
        var stdout = launcher.StandardOutput.ReadToEndAsync(CancellationToken.None);
        try
        {
            await launcher.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Cancelled while QEMU set up: end whatever it started.
            KillQuietly(launcher);
            await KillFromPidFileAsync(options);
            throw;
        }
        var message = ((await stderr) + (await stdout)).Trim();
        if (launcher.ExitCode != 0)
        {
            await KillFromPidFileAsync(options);
            throw new QemuLaunchException($"QEMU refused to start (exit code {launcher.ExitCode}): {message}");
        }
        var pid = ReadPid(options.PidFilePath)
            ?? throw new QemuLaunchException($"QEMU started but wrote no pid file: {message}");
        try
        {
            var qmp = await ConnectQmpAsync(options.QmpSocketPath, pid, cancellationToken);
            return new QemuProcess(pid, options, qmp);
        }
        catch
        {
            await KillAsync(pid);
            throw;
        }
    }

    private static Process Launch(ProcessStartInfo startInfo, string executable)
    {
        try
        {
            return Process.Start(startInfo) ?? throw new QemuLaunchException($"{executable} did not start.");
        }
        catch (System.ComponentModel.Win32Exception exception)
        {
            // No such program, or not executable.
            throw new QemuLaunchException($"{executable} could not be run: {exception.Message}");
        }
    }

    /// <summary>
    /// Finds the machine a previous Welkin launched with <paramref name="options"/>: its pid file
    /// names a live process whose command line holds the machine's QMP socket, and the socket
    /// answers. Null when the machine is not running (no pid file, the process is gone, or the pid
    /// now belongs to another program).
    /// </summary>
    public static async Task<QemuProcess?> AttachAsync(QemuLaunchOptions options, CancellationToken cancellationToken)
    {
        if (ReadPid(options.PidFilePath) is not { } pid || !IsAlive(pid) || !CommandLineMentions(pid, options.QmpSocketPath))
        {
            return null;
        }
        try
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(TimeSpan.FromSeconds(10));
            var qmp = await ConnectQmpAsync(options.QmpSocketPath, pid, limit.Token);
            return new QemuProcess(pid, options, qmp);
        }
        catch (Exception exception) when (exception is QemuLaunchException or IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>Waits until the serial console shows <paramref name="marker"/>; fails if QEMU exits first.</summary>
    public async Task WaitForConsoleAsync(string marker, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (ReadConsole().Contains(marker, StringComparison.Ordinal))
            {
                return;
            }
            if (HasExited)
            {
                throw new InvalidOperationException($"QEMU exited before the console showed '{marker}'.");
            }
            await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken);
        }
    }

    /// <summary>The serial console so far.</summary>
    public string ReadConsole() => ReadConsole(SerialLogPath);

    public static string ReadConsole(string path)
    {
        if (!File.Exists(path))
        {
            return "";
        }
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    /// <summary>The last <paramref name="maxBytes"/> bytes of a console file (read from its end: a machine's log grows as long as it runs).</summary>
    public static byte[] ReadConsoleTail(string path, int maxBytes)
    {
        if (!File.Exists(path) || maxBytes <= 0)
        {
            return [];
        }
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var start = Math.Max(0, stream.Length - maxBytes);
        stream.Seek(start, SeekOrigin.Begin);
        var buffer = new byte[stream.Length - start];
        var read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        return buffer[..read];
    }

    /// <summary>Ids of live processes (this one excepted) whose command line contains <paramref name="text"/>, such as a machine's directory.</summary>
    public static IReadOnlyList<int> ProcessesMentioning(string text)
    {
        var found = new List<int>();
        foreach (var entry in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(entry), out var pid) && pid != Environment.ProcessId && IsAlive(pid) && CommandLineMentions(pid, text))
            {
                found.Add(pid);
            }
        }
        return found;
    }

    /// <summary>
    /// Stops the machine: the ACPI power button, and if the guest has not powered off within
    /// <paramref name="powerdownTimeout"/>, the <c>quit</c> command, and if QEMU does not exit
    /// then, a kill. Returns once the process has exited.
    /// </summary>
    public async Task<QemuStopOutcome> StopAsync(TimeSpan powerdownTimeout, CancellationToken cancellationToken)
    {
        if (HasExited)
        {
            return QemuStopOutcome.AlreadyExited;
        }

        if (powerdownTimeout > TimeSpan.Zero
            && await TryCommandAsync("system_powerdown", cancellationToken)
            && await WaitForExitAsync(powerdownTimeout, cancellationToken))
        {
            return QemuStopOutcome.PoweredDown;
        }

        if (await TryCommandAsync("quit", cancellationToken) && await WaitForExitAsync(QuitTimeout, cancellationToken))
        {
            return QemuStopOutcome.Quit;
        }

        await KillAsync(ProcessId);
        return QemuStopOutcome.Killed;
    }

    /// <summary>Ends the process at once (SIGKILL) and waits until it is gone.</summary>
    public Task KillAsync() => KillAsync(ProcessId);

    /// <summary>Waits up to <paramref name="timeout"/> for the process to end; true when it has.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (!HasExited)
        {
            if (Stopwatch.GetTimestamp() >= deadline)
            {
                return false;
            }
            await Task.Delay(ExitPoll, cancellationToken);
        }
        return true;
    }

    private async Task<bool> TryCommandAsync(string command, CancellationToken cancellationToken)
    {
        try
        {
            return (await Qmp.ExecuteAsync(command, null, cancellationToken)).Succeeded;
        }
        catch (IOException)
        {
            // QEMU closed the socket: it is exiting (quit answers and then closes).
            return true;
        }
    }

    private static async Task<QmpClient> ConnectQmpAsync(string socketPath, int pid, CancellationToken cancellationToken)
    {
        // With -daemonize the socket listens before the launcher exits; retry briefly all the same.
        for (var attempt = 0; ; attempt++)
        {
            if (!IsAlive(pid))
            {
                throw new QemuLaunchException($"QEMU (pid {pid}) exited while starting.");
            }
            try
            {
                return await QmpClient.ConnectAsync(socketPath, cancellationToken);
            }
            catch (Exception exception) when (exception is IOException or System.Net.Sockets.SocketException && attempt < 200)
            {
                // Not listening yet.
            }
            await Task.Delay(TimeSpan.FromMilliseconds(20), cancellationToken);
        }
    }

    /// <summary>The pid a pid file names, or null when there is none.</summary>
    public static int? ReadPid(string pidFile)
    {
        try
        {
            return int.TryParse(File.ReadAllText(pidFile).Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid) && pid > 0 ? pid : null;
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Whether <paramref name="pid"/> is a live process (not a zombie waiting to be reaped).</summary>
    public static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var close = stat.LastIndexOf(')');
            return close > 0 && close + 2 < stat.Length && stat[close + 2] is not ('Z' or 'X');
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Whether the command line of <paramref name="pid"/> contains <paramref name="text"/>.</summary>
    public static bool CommandLineMentions(int pid, string text)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Contains(text, StringComparison.Ordinal);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Kills the process a launch left in the pid file, if it is still there.</summary>
    private static async Task KillFromPidFileAsync(QemuLaunchOptions options)
    {
        if (ReadPid(options.PidFilePath) is { } pid && CommandLineMentions(pid, options.QmpSocketPath))
        {
            await KillAsync(pid);
        }
    }

    private static void KillQuietly(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Exited in the meantime.
        }
    }

    /// <summary>SIGKILL, then wait until the process is gone.</summary>
    public static async Task KillAsync(int pid)
    {
        if (!IsAlive(pid))
        {
            return;
        }
        _ = Kill(pid, 9);
        var deadline = Stopwatch.GetTimestamp() + (10 * Stopwatch.Frequency);
        while (IsAlive(pid) && Stopwatch.GetTimestamp() < deadline)
        {
            await Task.Delay(ExitPoll);
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    /// <summary>Closes QMP and lets the machine run on (Welkin finds it again with <see cref="AttachAsync"/>).</summary>
    public async ValueTask ReleaseAsync() => await Qmp.DisposeAsync();

    /// <summary>Kills the process if it is still running (never leaves an orphan) and closes QMP.</summary>
    public async ValueTask DisposeAsync()
    {
        await KillAsync(ProcessId);
        await Qmp.DisposeAsync();
        File.Delete(QmpSocketPath);
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Welkin.Compute.Qemu;

/// <summary>A TCP port on the host's loopback forwarded to a port of the guest (user-mode networking).</summary>
public sealed record HostForward(int HostPort, int GuestPort);

/// <summary>How to launch one <c>qemu-system-x86_64</c> with a direct kernel boot.</summary>
/// <param name="Name">The machine's name; the guest sees it as <c>vmname=</c> on its kernel command line.</param>
/// <param name="RunDirectory">Where the serial log, pid file and QMP socket live (one directory per machine).</param>
/// <param name="StartPaused">Start with the CPUs stopped (<c>-S</c>) until a <c>cont</c> command.</param>
/// <param name="Accelerator">TCG by default: KVM is only worth it where a probe shows it boots fast.</param>
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
    string Executable = "qemu-system-x86_64");

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

/// <summary>
/// One running <c>qemu-system-x86_64</c> process: its serial console goes to a file, its pid to a
/// pid file and its control to a QMP unix socket, all in <see cref="QemuLaunchOptions.RunDirectory"/>,
/// so that a restarted Welkin can find it again. Disposing kills a process still running.
/// </summary>
public sealed class QemuProcess : IAsyncDisposable
{
    private static readonly TimeSpan QuitTimeout = TimeSpan.FromSeconds(5);
    private readonly Process _process;
    private readonly StringBuilder _stderr = new();
    private readonly Lock _stderrLock = new();

    private QemuProcess(Process process, QemuLaunchOptions options)
    {
        _process = process;
        Options = options;
    }

    public QemuLaunchOptions Options { get; }

    public QmpClient Qmp { get; private set; } = null!;

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    public string SerialLogPath => SerialPath(Options);

    public string PidFilePath => Path.Combine(Options.RunDirectory, "qemu.pid");

    public string QmpSocketPath => Path.Combine(Options.RunDirectory, "qmp.sock");

    /// <summary>What QEMU wrote to standard error (its own warnings and errors, not the guest's).</summary>
    public string StandardError
    {
        get
        {
            lock (_stderrLock)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>The command line for <paramref name="options"/> (public so a benchmark can launch the same machine bare).</summary>
    public static IReadOnlyList<string> BuildArguments(QemuLaunchOptions options)
    {
        var netdev = new StringBuilder("user,id=n0");
        foreach (var forward in options.HostForwards ?? [])
        {
            netdev.Append(CultureInfo.InvariantCulture, $",hostfwd=tcp:127.0.0.1:{forward.HostPort}-:{forward.GuestPort}");
        }

        List<string> arguments =
        [
            "-machine", "q35",
            "-accel", options.Accelerator,
            "-m", options.MemoryMiB.ToString(CultureInfo.InvariantCulture),
            "-smp", options.Vcpus.ToString(CultureInfo.InvariantCulture),
            "-display", "none",
            // The guest's reboot ends the process: Welkin decides whether to start it again.
            "-no-reboot",
            "-kernel", options.Kernel,
            "-initrd", options.Initrd,
            "-append", $"console=ttyS0 quiet vmname={options.Name}",
            "-netdev", netdev.ToString(),
            // romfile= : no iPXE option ROM, the guest boots its kernel directly.
            "-device", "virtio-net-pci,netdev=n0,romfile=",
            "-device", "virtio-balloon-pci",
            "-serial", $"file:{SerialPath(options)}",
            "-pidfile", Path.Combine(options.RunDirectory, "qemu.pid"),
            "-qmp", $"unix:{Path.Combine(options.RunDirectory, "qmp.sock")},server=on,wait=off",
        ];
        if (options.StartPaused)
        {
            arguments.Add("-S");
        }
        return arguments;
    }

    /// <summary>Launches QEMU and connects to its QMP socket; kills the process if that fails.</summary>
    public static async Task<QemuProcess> StartAsync(QemuLaunchOptions options, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(options.RunDirectory);
        var socketPath = Path.Combine(options.RunDirectory, "qmp.sock");
        File.Delete(socketPath);
        File.Delete(SerialPath(options));

        var startInfo = new ProcessStartInfo(options.Executable)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in BuildArguments(options))
        {
            startInfo.ArgumentList.Add(argument);
        }

        var process = Process.Start(startInfo)
            ?? throw new InvalidOperationException($"{options.Executable} did not start.");
        var started = new QemuProcess(process, options);
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (started._stderrLock)
                {
                    started._stderr.AppendLine(e.Data);
                }
            }
        };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();

        try
        {
            started.Qmp = await started.ConnectQmpAsync(socketPath, cancellationToken);
            return started;
        }
        catch
        {
            await KillAsync(process);
            process.Dispose();
            throw;
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
            if (_process.HasExited)
            {
                throw new InvalidOperationException(
                    $"QEMU exited with code {_process.ExitCode} before the console showed '{marker}': {StandardError}");
            }
            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }
    }

    /// <summary>The serial console so far.</summary>
    public string ReadConsole()
    {
        if (!File.Exists(SerialLogPath))
        {
            return "";
        }
        using var stream = new FileStream(SerialLogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    /// <summary>
    /// Stops the machine: the ACPI power button, and if the guest has not powered off within
    /// <paramref name="powerdownTimeout"/>, the <c>quit</c> command, and if QEMU does not exit
    /// then, a kill. Returns once the process has exited.
    /// </summary>
    public async Task<QemuStopOutcome> StopAsync(TimeSpan powerdownTimeout, CancellationToken cancellationToken)
    {
        if (_process.HasExited)
        {
            return QemuStopOutcome.AlreadyExited;
        }

        if (await TryCommandAsync("system_powerdown", cancellationToken) && await WaitForExitAsync(powerdownTimeout, cancellationToken))
        {
            return QemuStopOutcome.PoweredDown;
        }
        if (_process.HasExited)
        {
            return QemuStopOutcome.PoweredDown;
        }

        if (await TryCommandAsync("quit", cancellationToken) && await WaitForExitAsync(QuitTimeout, cancellationToken))
        {
            return QemuStopOutcome.Quit;
        }
        if (_process.HasExited)
        {
            return QemuStopOutcome.Quit;
        }

        await KillAsync(_process);
        return QemuStopOutcome.Killed;
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

    private async Task<bool> WaitForExitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            await _process.WaitForExitAsync(limit.Token);
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private async Task<QmpClient> ConnectQmpAsync(string socketPath, CancellationToken cancellationToken)
    {
        // QEMU creates the socket while it starts; retry until it listens or the process gives up.
        while (true)
        {
            if (_process.HasExited)
            {
                await _process.WaitForExitAsync(cancellationToken);
                throw new InvalidOperationException($"QEMU exited with code {_process.ExitCode} while starting: {StandardError}");
            }
            if (File.Exists(socketPath))
            {
                try
                {
                    return await QmpClient.ConnectAsync(socketPath, cancellationToken);
                }
                catch (Exception exception) when (exception is IOException or System.Net.Sockets.SocketException)
                {
                    // Not listening yet.
                }
            }
            await Task.Delay(TimeSpan.FromMilliseconds(20), cancellationToken);
        }
    }

    private static async Task KillAsync(Process process)
    {
        if (process.HasExited)
        {
            return;
        }
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Exited in the meantime.
        }
        await process.WaitForExitAsync();
    }

    private static string SerialPath(QemuLaunchOptions options) => Path.Combine(options.RunDirectory, "serial.log");

    /// <summary>Kills the process if it is still running (never leaves an orphan) and closes QMP.</summary>
    public async ValueTask DisposeAsync()
    {
        await KillAsync(_process);
        if (Qmp is not null)
        {
            await Qmp.DisposeAsync();
        }
        _process.Dispose();
        File.Delete(QmpSocketPath);
    }
}

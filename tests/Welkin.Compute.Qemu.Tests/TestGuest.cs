using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

[assembly: AssemblyFixture(typeof(Welkin.Compute.Qemu.Tests.TestGuest))]

namespace Welkin.Compute.Qemu.Tests;

/// <summary>
/// The test guest (Debian kernel + busybox initramfs), built once per run by
/// scripts/build-test-guest.sh into a cache directory the script reuses when complete;
/// one instance is shared by the whole assembly.
/// </summary>
public sealed class TestGuest : IAsyncLifetime
{
    public string Kernel => Path.Combine(Directory, "vmlinuz");

    public string Initrd => Path.Combine(Directory, "initrd.gz");

    public string Directory { get; } = Path.Combine(Path.GetTempPath(), "welkin-test-guest");

    public async ValueTask InitializeAsync()
    {
        var script = Path.Combine(RepositoryRoot(), "scripts", "build-test-guest.sh");
        var startInfo = new ProcessStartInfo(script)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        startInfo.ArgumentList.Add(Directory);
        using var process = Process.Start(startInfo)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"build-test-guest.sh failed ({process.ExitCode}): {await output}{await error}");
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    public QemuLaunchOptions Options(string name, string runDirectory, params HostForward[] forwards) =>
        new(name, runDirectory, Kernel, Initrd, HostForwards: forwards);

    public static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Ids of live processes whose command line mentions <paramref name="text"/> (a machine's run directory).</summary>
    public static IReadOnlyList<int> ProcessesMentioning(string text) => QemuProcess.ProcessesMentioning(text);

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Welkin.slnx")))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException("Welkin.slnx not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>A private directory for one machine's serial log, pid file and QMP socket.</summary>
public sealed class RunDirectory : IDisposable
{
    // Unix socket paths are limited to 108 bytes: keep the directory short.
    public string Path { get; } = System.IO.Directory.CreateTempSubdirectory("wq-").FullName;

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

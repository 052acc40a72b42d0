using System.Diagnostics;
using System.Text;
using Welkin.Testing;

namespace Welkin.Cli.Tests.Infrastructure;

/// <summary>
/// A real Welkin server process (the welkin-server.dll built beside the tests) on a free loopback
/// port with its own temporary data directory and the settings of every test server
/// (<see cref="TestServers.Settings"/>). Disposing kills it and deletes the directory.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private const string ListeningPrefix = "Welkin is listening on ";
    private readonly Process _process;
    private readonly StringBuilder _log;

    private ServerProcess(Process process, StringBuilder log, string dataDir, Uri endpoint)
    {
        _process = process;
        _log = log;
        DataDir = dataDir;
        Endpoint = endpoint;
    }

    /// <summary>What the server printed so far, for diagnosing a failed test.</summary>
    public string Log => Snapshot(_log);

    public string DataDir { get; }

    public Uri Endpoint { get; }

    public string AdminTokenFile => TestServers.AdminTokenFile(DataDir);

    public string AdminToken => TestServers.AdminToken(DataDir);

    /// <param name="dataDir">An existing data directory to start on (a restart), or null for a new one.</param>
    /// <param name="settings">Configuration ("Section__Key" → value) passed as environment variables, after the common ones.</param>
    public static async Task<ServerProcess> StartAsync(CancellationToken ct, string? dataDir = null, IReadOnlyDictionary<string, string>? settings = null)
    {
        dataDir ??= TestServers.NewDataDirectory();
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "welkin-server.dll"), "--port", "0", "--data-dir", dataDir })
        {
            start.ArgumentList.Add(arg);
        }
        start.Environment["ASPNETCORE_ENVIRONMENT"] = TestServers.Environment;
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (key, value) in TestServers.Settings)
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        var log = new StringBuilder();
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                listening.TrySetException(new InvalidOperationException("The server exited before listening:\n" + Snapshot(log)));
                return;
            }
            lock (log)
            {
                log.AppendLine(e.Data);
            }
            if (e.Data.StartsWith(ListeningPrefix, StringComparison.Ordinal))
            {
                listening.TrySetResult(new Uri(e.Data[ListeningPrefix.Length..].Trim()));
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (log)
                {
                    log.AppendLine(e.Data);
                }
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            // A guard against a hung start, not a performance assertion.
            var endpoint = await listening.Task.WaitAsync(TimeSpan.FromMinutes(2), ct);
            return new ServerProcess(process, log, dataDir, endpoint);
        }
        catch
        {
            Kill(process);
            process.Dispose();
            throw;
        }
    }

    /// <summary>SIGKILL: the process dies at once, without any shutdown; the data directory stays for a restart.</summary>
    public async Task KillAsync()
    {
        Kill(_process);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        Kill(_process);
        await _process.WaitForExitAsync();
        _process.Dispose();
        TempDirectories.TryDelete(DataDir);
    }

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
        }
    }

    private static string Snapshot(StringBuilder log)
    {
        lock (log)
        {
            return log.ToString();
        }
    }
}

/// <summary>Two independent Welkin clouds, shared by the tests of a class; each test makes its own tenants.</summary>
public sealed class TwoClouds : IAsyncLifetime
{
    public ServerProcess A { get; private set; } = null!;

    public ServerProcess B { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Task<ServerProcess>[] starts = [ServerProcess.StartAsync(TestContext.Current.CancellationToken), ServerProcess.StartAsync(TestContext.Current.CancellationToken)];
        try
        {
            await Task.WhenAll(starts);
        }
        catch
        {
            foreach (var start in starts.Where(s => s.IsCompletedSuccessfully))
            {
                await (await start).DisposeAsync();
            }
            throw;
        }
        A = await starts[0];
        B = await starts[1];
    }

    public async ValueTask DisposeAsync()
    {
        if (A is not null)
        {
            await A.DisposeAsync();
        }
        if (B is not null)
        {
            await B.DisposeAsync();
        }
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Text;
namespace Welkin.Testing;

/// <summary>
/// welkin-server as a process of its own (the welkin-server.dll built beside the tests), started
/// in a working directory of the test's choosing, for what only a real process shows: how it
/// treats its arguments, its exit code, its console and log. Settings go on the command line;
/// the environment and password iterations of every test server are set. Disposing kills it.
/// </summary>
public sealed class ServerCommand : IAsyncDisposable
{
    private const string ListeningPrefix = "Welkin is listening on ";
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly StringBuilder _error = new();
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ServerCommand(Process process)
    {
        _process = process;
    }

    /// <summary>Standard output and standard error together, in the order they were read.</summary>
    public string Output => Snapshot(_output);

    public string StandardError => Snapshot(_error);

    public int ProcessId => _process.Id;

    public static ServerCommand Start(string workingDirectory, params string[] args) => Start(workingDirectory, args, environment: null);

    /// <param name="environment">Further environment variables ("Section__Key" → value), after those of every test server.</param>
    public static ServerCommand Start(string workingDirectory, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "welkin-server.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        start.Environment["ASPNETCORE_ENVIRONMENT"] = TestServers.Environment;
        foreach (var (key, value) in TestServers.Settings)
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }
        var command = new ServerCommand(new Process { StartInfo = start, EnableRaisingEvents = true });
        command._process.OutputDataReceived += (_, e) => command.Read(e.Data, error: false);
        command._process.ErrorDataReceived += (_, e) => command.Read(e.Data, error: true);
        command._process.Start();
        command._process.BeginOutputReadLine();
        command._process.BeginErrorReadLine();
        return command;
    }

    /// <summary>A server on a free port with its own data directory (<paramref name="dataDir"/>) and <paramref name="args"/> after those.</summary>
    public static ServerCommand StartServer(string workingDirectory, string dataDir, params string[] args) =>
        Start(workingDirectory, ["--port", "0", "--data-dir", dataDir, .. args]);

    /// <summary>Where the server listens, once it says so; fails with its output if it exits first.</summary>
    public async Task<Uri> ListeningAsync(CancellationToken ct) =>
        // A guard against a hung start, not a performance assertion.
        await _listening.Task.WaitAsync(TimeSpan.FromMinutes(2), ct);

    public async Task<int> ExitCodeAsync(CancellationToken ct)
    {
        await _process.WaitForExitAsync(ct).WaitAsync(TimeSpan.FromMinutes(2), ct);
        // WaitForExitAsync returns once the output is read to its end too.
        return _process.ExitCode;
    }

    /// <summary>SIGTERM, as a service manager stops the server, and the exit code it ends with.</summary>
    public async Task<int> StopAsync(CancellationToken ct)
    {
        await ExternalTools.RunAsync("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]);
        return await ExitCodeAsync(ct);
    }

    /// <summary>SIGKILL: the process dies at once, without any shutdown.</summary>
    public async Task KillAsync()
    {
        Kill();
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        await _process.WaitForExitAsync();
        _process.Dispose();
    }

    private void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
        }
    }

    private void Read(string? line, bool error)
    {
        if (line is null)
        {
            if (!error)
            {
                _listening.TrySetException(new InvalidOperationException("The server exited before listening:\n" + Output));
            }
            return;
        }
        lock (_output)
        {
            _output.AppendLine(line);
            if (error)
            {
                _error.AppendLine(line);
            }
        }
        if (!error && line.StartsWith(ListeningPrefix, StringComparison.Ordinal))
        {
            _listening.TrySetResult(new Uri(line[ListeningPrefix.Length..].Trim()));
        }
    }

    private string Snapshot(StringBuilder text)
    {
        lock (_output)
        {
            return text.ToString();
        }
    }
}

using Welkin.Testing;

namespace Welkin.Cli.Tests.Infrastructure;

/// <summary>
/// A real Welkin server process (<see cref="ServerCommand"/>) on a free loopback port with its own
/// temporary data directory and the settings of every test server (<see cref="TestServers.Settings"/>).
/// Disposing kills it and deletes the directory.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly ServerCommand _command;

    private ServerProcess(ServerCommand command, string dataDir, Uri endpoint)
    {
        _command = command;
        DataDir = dataDir;
        Endpoint = endpoint;
    }

    /// <summary>What the server printed so far, for diagnosing a failed test.</summary>
    public string Log => _command.Output;

    public string DataDir { get; }

    public Uri Endpoint { get; }

    public string AdminTokenFile => TestServers.AdminTokenFile(DataDir);

    public string AdminToken => TestServers.AdminToken(DataDir);

    /// <param name="dataDir">An existing data directory to start on (a restart), or null for a new one.</param>
    /// <param name="settings">Configuration ("Section__Key" → value) passed as environment variables, after the common ones.</param>
    public static async Task<ServerProcess> StartAsync(CancellationToken ct, string? dataDir = null, IReadOnlyDictionary<string, string>? settings = null)
    {
        dataDir ??= TestServers.NewDataDirectory();
        var environment = new Dictionary<string, string> { ["Logging__LogLevel__Default"] = "Warning" };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            environment[key] = value;
        }
        var command = ServerCommand.Start(AppContext.BaseDirectory, ["--port", "0", "--data-dir", dataDir], environment);
        try
        {
            return new ServerProcess(command, dataDir, await command.ListeningAsync(ct));
        }
        catch
        {
            await command.DisposeAsync();
            throw;
        }
    }

    /// <summary>SIGKILL: the process dies at once, without any shutdown; the data directory stays for a restart.</summary>
    public Task KillAsync() => _command.KillAsync();

    public async ValueTask DisposeAsync()
    {
        await _command.DisposeAsync();
        TempDirectories.TryDelete(DataDir);
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

using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Welkin.Contracts;

namespace Welkin.Bench;

/// <summary>welkin-server started from the build output, configured through an appsettings.json in its working directory (named as its content root).</summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly SocketsHttpHandler _handler = new() { MaxConnectionsPerServer = 1024, PooledConnectionLifetime = Timeout.InfiniteTimeSpan };

    private ServerProcess(Process process, Uri address, string adminToken)
    {
        _process = process;
        Address = address;
        AdminToken = adminToken;
    }

    public Uri Address { get; }

    public string AdminToken { get; }

    /// <summary>The server's process id (the shell execs it), for reading its memory from /proc.</summary>
    public int ProcessId => _process.Id;

    /// <summary>CPU time the server process has used so far (all threads, user and system).</summary>
    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    public HttpClient Client(string? token)
    {
        var client = new HttpClient(_handler, disposeHandler: false) { BaseAddress = Address, Timeout = TimeSpan.FromMinutes(2) };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        return client;
    }

    public static async Task<ServerProcess> StartAsync(string dir, Func<int, string, object> settings)
    {
        var port = FreePort();
        var dataDir = Path.Combine(dir, "data");
        await File.WriteAllTextAsync(Path.Combine(dir, "appsettings.json"), JsonSerializer.Serialize(settings(port, dataDir)));
        var start = new ProcessStartInfo("/bin/sh")
        {
            WorkingDirectory = dir,
            UseShellExecute = false,
        };
        // The server logs one line per request, as in production; to a file, so the console costs nothing.
        start.ArgumentList.Add("-c");
        // --contentRoot: the settings written above are read from this folder, not from the binary's.
        start.ArgumentList.Add($"exec dotnet \"{ServerDll()}\" --contentRoot \"{dir}\" > server.log 2>&1");
        var process = Process.Start(start) ?? throw new InvalidOperationException("welkin-server did not start");
        var address = new Uri($"http://127.0.0.1:{port}");
        using var probe = new HttpClient { BaseAddress = address };
        var waited = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException("welkin-server exited: " + await File.ReadAllTextAsync(Path.Combine(dir, "server.log")));
            }
            try
            {
                if ((await probe.GetAsync("/health/ready")).IsSuccessStatusCode && File.Exists(Path.Combine(dataDir, "admin.token")))
                {
                    break;
                }
            }
            catch (HttpRequestException) when (waited.Elapsed < TimeSpan.FromMinutes(1))
            {
            }
            await Task.Delay(100);
        }
        return new ServerProcess(process, address, (await File.ReadAllTextAsync(Path.Combine(dataDir, "admin.token"))).Trim());
    }

    private static string ServerDll()
    {
        if (Environment.GetEnvironmentVariable("WELKIN_SERVER_DLL") is { Length: > 0 } configured)
        {
            return configured;
        }
        var dll = Path.Combine(RepositoryRoot(), "src", "Welkin.Server", "bin", "Release", "net10.0", "welkin-server.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException("Build the server first: dotnet build Welkin.slnx -c Release", dll);
    }

    /// <summary>The repository the benchmark was built in (the directory holding Welkin.slnx).</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Welkin.slnx")))
            {
                return dir.FullName;
            }
        }
        throw new FileNotFoundException("Welkin.slnx not found above the benchmark; set WELKIN_SERVER_DLL to run it elsewhere.");
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Reads a successful response as JSON; any other status throws with the body.</summary>
    public static async Task<T> ReadAsync<T>(HttpResponseMessage response)
    {
        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"{(int)response.StatusCode} {response.RequestMessage?.RequestUri}: {await response.Content.ReadAsStringAsync()}");
            }
            return (await response.Content.ReadFromJsonAsync<T>(WelkinJson.Client))!;
        }
    }

    /// <summary>Stops the server as an operator would (SIGTERM), so it shuts down its fabric; kills it after 30 s.</summary>
    public async Task StopAsync()
    {
        if (_process.HasExited)
        {
            return;
        }
        using (var term = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await term.WaitForExitAsync();
        }
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await _process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
        _handler.Dispose();
    }
}

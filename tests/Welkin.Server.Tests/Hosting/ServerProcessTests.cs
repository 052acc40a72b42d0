using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using Welkin.Contracts;
using Welkin.Persistence;
using Welkin.Server.Infrastructure;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Testing;

namespace Welkin.Server.Tests.Hosting;

/// <summary>The server as operators run it: a process of its own, started from a folder that is not the binary's.</summary>
public sealed class ServerProcessTests : IDisposable
{
    private readonly string _workingDirectory = Directory.CreateDirectory(TempDirectories.NewPath("welkin-cwd-")).FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => TempDirectories.TryDelete(_workingDirectory);

    [Fact]
    public async Task Help_PrintsTheOptionsAndExitsZero_WithoutStartingAnything()
    {
        await using var server = ServerCommand.Start(_workingDirectory, "--help");

        (await server.ExitCodeAsync(Ct)).ShouldBe(0);
        server.Output.ShouldBe(ServerCommandLine.Help());
        server.Output.ShouldContain("--port N");
        server.Output.ShouldContain("WELKIN_DATA_DIR");
        server.Output.ShouldContain("audit verify");
        Directory.EnumerateFileSystemEntries(_workingDirectory).ShouldBeEmpty();
    }

    [Fact]
    public async Task UnknownOption_ExitsTwoNamingIt_WithoutStartingAnything()
    {
        await using var server = ServerCommand.Start(_workingDirectory, "--prot", "9090");

        (await server.ExitCodeAsync(Ct)).ShouldBe(ServerExitCodes.Usage);
        server.StandardError.ShouldBe("welkin-server: unknown option '--prot' (did you mean --port?); see welkin-server --help\n");
        server.Output.ShouldNotContain("listening");
        Directory.EnumerateFileSystemEntries(_workingDirectory).ShouldBeEmpty();
    }

    [Fact]
    public async Task PortInUse_SaysSoInOneLine_BeforeTouchingTheDataDirectory()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var dataDir = Path.Combine(_workingDirectory, "data");

        await using var server = ServerCommand.Start(_workingDirectory, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--data-dir", dataDir);

        (await server.ExitCodeAsync(Ct)).ShouldBe(ServerExitCodes.CannotListen);
        server.StandardError.ShouldBe($"welkin-server: port {port} on 127.0.0.1 is in use; choose another with --port\n");
        server.Output.ShouldNotContain(" at ");
        Directory.Exists(dataDir).ShouldBeFalse();
    }

    [Fact]
    public async Task DataDirectoryThatCannotBeCreated_SaysSoInOneLine()
    {
        var file = Path.Combine(_workingDirectory, "a-file");
        await File.WriteAllTextAsync(file, "not a directory", Ct);
        var dataDir = Path.Combine(file, "data");

        await using var server = ServerCommand.StartServer(_workingDirectory, dataDir);

        (await server.ExitCodeAsync(Ct)).ShouldBe(ServerExitCodes.DataDirectory);
        server.StandardError.ShouldStartWith($"welkin-server: the data directory {dataDir} cannot be created");
        server.StandardError.Trim().ShouldNotContain("\n");
        server.Output.ShouldNotContain(" at ");
    }

    [Fact]
    public async Task UnreachablePostgres_SaysSoInOneLine_WithoutThePassword()
    {
        var password = "pw-" + Guid.NewGuid().ToString("n");
        var connectionString = $"Host=127.0.0.1;Port={Loopback.FreePort()};Database=welkin;Username=welkin;Password={password};Timeout=5";

        await using var server = ServerCommand.StartServer(_workingDirectory, Path.Combine(_workingDirectory, "data"),
            "--database", "postgresql", "--connection-string", connectionString);

        (await server.ExitCodeAsync(Ct)).ShouldBe(ServerExitCodes.DatabaseUnreachable);
        server.StandardError.ShouldStartWith("welkin-server: cannot reach the PostgreSQL database welkin on 127.0.0.1:");
        server.StandardError.Trim().ShouldNotContain("\n");
        server.Output.ShouldNotContain(password);
        server.Output.ShouldNotContain(" at ");
    }

    [Fact]
    public async Task AppSettingsBesideTheBinary_AppliesWhenStartedFromAnotherFolder()
    {
        await using var server = ServerCommand.StartServer(_workingDirectory, Path.Combine(_workingDirectory, "data"));
        await server.ListeningAsync(Ct);

        // appsettings.json asks for single-line entries with a UTC timestamp; the defaults would give "info: Welkin[0]" and the message on the next line.
        await Polling.UntilAsync(() => Task.FromResult(server.Output.Contains("Welkin started", StringComparison.Ordinal)), "the started line", TimeSpan.FromMinutes(1), Polling.DefaultInterval);
        server.Output.ShouldMatch(@"(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info: Welkin\[0\] Welkin started$");
    }

    [Fact]
    public async Task Log_AtTraceLevel_NeverCarriesAQueryValueTokenOrPassword()
    {
        var querySecret = "q" + Guid.NewGuid().ToString("n");
        var password = "pw " + Guid.NewGuid().ToString("n");
        string[] trace = ["Default", "Microsoft", "Microsoft.AspNetCore", "Microsoft.Hosting.Lifetime", "Microsoft.AspNetCore.DataProtection", "Microsoft.AspNetCore.Hosting.Diagnostics", "System.Net.Http"];
        await using var server = ServerCommand.StartServer(_workingDirectory, Path.Combine(_workingDirectory, "data"),
            [.. trace.Select(c => $"--Logging:LogLevel:{c}=Trace"), "--Logging:Console:FormatterOptions:IncludeScopes=true"]);
        using var http = new HttpClient { BaseAddress = await server.ListeningAsync(Ct) };

        var signUp = await (await http.PostAsJsonAsync("/api/v1/catalog/sign-up",
            new SignUpRequest("logs-" + Guid.NewGuid().ToString("n")[..10], "Logs", new SignUpAdmin("admin", Password: password)), WelkinJson.Client, Ct)).ReadAsync<SignUpResponse>(HttpStatusCode.Created);
        var login = await (await http.PostAsJsonAsync("/api/v1/auth/login",
            new LoginRequest("admin", password, signUp.Account.Name), WelkinJson.Client, Ct)).ReadAsync<LoginResponse>();
        (await http.PostAsJsonAsync("/api/v1/auth/login", new LoginRequest("admin", password + "-wrong", signUp.Account.Name), WelkinJson.Client, Ct)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", login.Token.Secret);
        (await http.GetAsync($"/api/v1/me?access_token={querySecret}", Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await http.GetAsync($"/api/v1/contracts?limit={querySecret}", Ct)).StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await http.GetAsync($"/api/v1/no-such-route?access_token={querySecret}", Ct)).StatusCode.ShouldBe(HttpStatusCode.NotFound);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", signUp.Token.Secret + "x");
        (await http.GetAsync("/api/v1/me", Ct)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await server.StopAsync(Ct)).ShouldBe(0);

        var log = server.Output;
        log.ShouldContain("trce: ");
        log.ShouldContain("GET /api/v1/me -> 200");
        foreach (var secret in new[] { querySecret, password, login.Token.Secret, signUp.Token.Secret, signUp.Token.Secret["wkn_".Length..] })
        {
            log.ShouldNotContain(secret);
        }
    }

    [Fact]
    public async Task SecondServerOnTheSameDataDirectory_Refuses_UntilTheFirstHasStopped()
    {
        var dataDir = Path.Combine(_workingDirectory, "data");
        await using var first = ServerCommand.StartServer(_workingDirectory, dataDir);
        await first.ListeningAsync(Ct);

        await using var second = ServerCommand.StartServer(_workingDirectory, dataDir);
        (await second.ExitCodeAsync(Ct)).ShouldBe(ServerExitCodes.LeaseHeld);
        second.StandardError.ShouldBe(
            $"welkin-server: the data directory {dataDir} is in use by another Welkin server (welkin-server pid {first.ProcessId} on {Environment.MachineName} " +
            $"holds {Path.Combine(dataDir, DatabaseLease.LockFileName)}); one server per database until replicas are supported\n");

        (await first.StopAsync(Ct)).ShouldBe(0);
        File.Exists(Path.Combine(dataDir, DatabaseLease.HolderFileName)).ShouldBeFalse();
        await using var third = ServerCommand.StartServer(_workingDirectory, dataDir);
        await third.ListeningAsync(Ct);
    }
}

using System.Diagnostics;
using System.Globalization;
using Welkin.Intercloud.Xmpp;
using Welkin.Testing;
using static Welkin.Testing.Xmpp.ServerProcesses;

namespace Welkin.Testing.Xmpp;

/// <summary>
/// A private Prosody for one test: its own directory, self-signed certificate and loopback port,
/// started in the foreground as the prosody user and stopped on disposal.
/// </summary>
public sealed class ProsodyServer : IAsyncDisposable
{
    public const string Domain = "xmpp.test";
    private readonly string _directory;
    private Process? _process;

    private ProsodyServer(string directory, int port)
    {
        _directory = directory;
        Port = port;
    }

    public int Port { get; }

    public string CertificateFile => Path.Combine(_directory, "cert.pem");

    public string ConfigFile => Path.Combine(_directory, "prosody.cfg.lua");

    /// <param name="passwordHash">"SHA-256", or null for Prosody's default (SHA-1).</param>
    public static async Task<ProsodyServer> StartAsync(string? passwordHash, IReadOnlyDictionary<string, string> accounts)
    {
        var directory = Directory.CreateTempSubdirectory("welkin-prosody-").FullName;
        var server = new ProsodyServer(directory, Loopback.FreePort());
        try
        {
            await server.LaunchAsync(passwordHash, accounts);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>A self-signed certificate for the same name that the server does not use.</summary>
    public async Task<string> MakeStrangerCertificateAsync()
    {
        var file = Path.Combine(_directory, "stranger.pem");
        await RunAsync("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=" + Domain,
            "-addext", "subjectAltName=DNS:" + Domain, "-keyout", Path.Combine(_directory, "stranger-key.pem"), "-out", file);
        return file;
    }

    /// <summary>Registers one more account while the server runs.</summary>
    public Task RegisterAsync(string user, string password) =>
        RunAsync("runuser", "-u", "prosody", "--", "prosodyctl", "--config", ConfigFile, "register", user, Domain, password);

    public XmppClientOptions Options(string username, string password, string resource) => new()
    {
        Domain = Domain,
        Host = "127.0.0.1",
        Port = Port,
        Username = username,
        Password = password,
        Resource = resource,
        TrustAnchors = XmppClientOptions.LoadTrustAnchors(CertificateFile),
    };

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process?.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>Stops the server and starts it again on the same port and data: accounts and rosters stay, sessions do not.</summary>
    public async Task RestartAsync()
    {
        await StopAsync();
        _process?.Dispose();
        StartProcess();
        await WaitForPortAsync();
    }

    private async Task StopAsync()
    {
        if (_process is { HasExited: false })
        {
            var pidFile = Path.Combine(_directory, "prosody.pid");
            if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), CultureInfo.InvariantCulture, out var pid))
            {
                await RunAsync("kill", "-TERM", pid.ToString(CultureInfo.InvariantCulture));
            }

            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await _process.WaitForExitAsync(grace.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
    }

    private async Task LaunchAsync(string? passwordHash, IReadOnlyDictionary<string, string> accounts)
    {
        await RunAsync("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=" + Domain,
            "-addext", "subjectAltName=DNS:" + Domain, "-keyout", Path.Combine(_directory, "key.pem"), "-out", CertificateFile);
        Directory.CreateDirectory(Path.Combine(_directory, "data"));
        File.WriteAllText(ConfigFile, $$"""
            pidfile = "{{_directory}}/prosody.pid"
            data_path = "{{_directory}}/data"
            certificates = "{{_directory}}"
            log = { info = "{{_directory}}/prosody.log" }
            interfaces = { "127.0.0.1" }
            c2s_ports = { {{Port}} }
            c2s_direct_tls_ports = { }
            s2s_ports = { }
            network_settings = { nagle = false }
            authentication = "internal_hashed"
            {{(passwordHash is null ? "" : $"password_hash = \"{passwordHash}\"")}}
            modules_enabled = { "roster", "saslauth", "tls", "disco", "ping", "posix", "smacks" }
            modules_disabled = { "s2s", "s2s_auth_certs", "offline" }
            ssl = { certificate = "{{CertificateFile}}", key = "{{_directory}}/key.pem" }
            VirtualHost "{{Domain}}"
            """);
        await RunAsync("chown", "-R", "prosody", _directory);
        foreach (var (user, password) in accounts)
        {
            await RegisterAsync(user, password);
        }

        StartProcess();
        await WaitForPortAsync();
    }

    private void StartProcess()
    {
        _process = Process.Start(StartInfo("runuser", "-u", "prosody", "--", "prosody", "--config", ConfigFile, "-F"))!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    private Task WaitForPortAsync() =>
        ServerProcesses.WaitForPortAsync(_process!, Port, "Prosody", () => File.ReadAllText(Path.Combine(_directory, "prosody.log")), attempts: 300);

}

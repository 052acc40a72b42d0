using System.Diagnostics;
using System.Globalization;
using Welkin.Intercloud.Xmpp;
using Welkin.Testing;
using static Welkin.Testing.Xmpp.ServerProcesses;

namespace Welkin.Testing.Xmpp;

/// <summary>
/// A private ejabberd for one test: its own config, spool and log directories, self-signed certificate,
/// loopback c2s port and Erlang node (fixed distribution port, no epmd), stopped on disposal.
/// Accounts are stored as SCRAM-SHA-256 and STARTTLS is required.
/// </summary>
public sealed class EjabberdServer : IAsyncDisposable
{
    public const string Domain = "xmpp.test";
    private readonly string _directory;
    private Process? _process;

    private EjabberdServer(string directory)
    {
        _directory = directory;
        Port = Loopback.FreePort();
        DistributionPort = Loopback.FreePort();
    }

    public int Port { get; }

    private int DistributionPort { get; }

    private string ConfigDirectory => Path.Combine(_directory, "conf");

    public string CertificateFile => Path.Combine(_directory, "cert.pem");

    public static async Task<EjabberdServer> StartAsync(IReadOnlyDictionary<string, string> accounts)
    {
        var directory = Directory.CreateTempSubdirectory("welkin-ejabberd-").FullName;
        var server = new EjabberdServer(directory);
        try
        {
            await server.LaunchAsync(accounts);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

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
        if (_process is { HasExited: false })
        {
            try
            {
                await RunAsync(Ctl("stop"));
            }
            catch (InvalidOperationException)
            {
                // The node does not answer: it is killed below.
            }

            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(20));
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

        _process?.Dispose();
        KillLeftoverBeams();
        Directory.Delete(_directory, recursive: true);
    }

    private async Task LaunchAsync(IReadOnlyDictionary<string, string> accounts)
    {
        var key = Path.Combine(_directory, "key.pem");
        await RunAsync(StartInfo("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=" + Domain,
            "-addext", "subjectAltName=DNS:" + Domain, "-keyout", key, "-out", CertificateFile));
        foreach (var sub in new[] { "conf", "spool", "logs" })
        {
            Directory.CreateDirectory(Path.Combine(_directory, sub));
        }

        // ejabberd wants the certificate and its key in one file.
        File.WriteAllText(Path.Combine(ConfigDirectory, "server.pem"), File.ReadAllText(CertificateFile) + File.ReadAllText(key));
        File.Copy("/etc/ejabberd/inetrc", Path.Combine(ConfigDirectory, "inetrc"));
        var node = "welkin" + Port.ToString(CultureInfo.InvariantCulture);
        File.WriteAllText(Path.Combine(ConfigDirectory, "ejabberdctl.cfg"), $"""
            ERLANG_NODE={node}@localhost
            ERL_DIST_PORT={DistributionPort}
            INET_DIST_INTERFACE=127.0.0.1
            ERL_OPTIONS="-setcookie {Guid.NewGuid():N}"
            EJABBERD_PID_PATH={_directory}/ejabberd.pid
            EJABBERD_BYPASS_WARNINGS=true
            CONTRIB_MODULES_CONF_DIR={ConfigDirectory}/modules.d
            """);
        File.WriteAllText(Path.Combine(ConfigDirectory, "ejabberd.yml"), $"""
            hosts:
              - {Domain}
            loglevel: info
            certfiles:
              - {ConfigDirectory}/server.pem
            auth_method: internal
            auth_password_format: scram
            auth_scram_hash: sha256
            listen:
              -
                port: {Port}
                ip: "127.0.0.1"
                module: ejabberd_c2s
                starttls_required: true
            modules:
              mod_disco: {"{}"}
              mod_ping: {"{}"}
              mod_roster: {"{}"}
              mod_stream_mgmt: {"{}"}
            """);
        await RunAsync(StartInfo("chown", "-R", "ejabberd:ejabberd", _directory));

        _process = Process.Start(Ctl("foreground"))!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await WaitForPortAsync();
        foreach (var (user, password) in accounts)
        {
            await RunAsync(Ctl("register", user, Domain, password));
        }
    }

    private ProcessStartInfo Ctl(params string[] command) =>
        StartInfo("ejabberdctl", ["--config-dir", ConfigDirectory, "--spool", Path.Combine(_directory, "spool"),
            "--logs", Path.Combine(_directory, "logs"), .. command]);

    private Task WaitForPortAsync() => ServerProcesses.WaitForPortAsync(_process!, Port, "ejabberd", ReadLog, attempts: 600);

    private string ReadLog()
    {
        var log = Path.Combine(_directory, "logs", "ejabberd.log");
        return File.Exists(log) ? File.ReadAllText(log) : "(no log)";
    }

    /// <summary>An Erlang VM that outlived its ejabberdctl parent would hold the ports: end any that runs from this directory.</summary>
    private void KillLeftoverBeams()
    {
        foreach (var entry in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                var commandLine = File.ReadAllText(Path.Combine(entry, "cmdline"));
                if (commandLine.Contains("beam", StringComparison.Ordinal) && commandLine.Contains(_directory, StringComparison.Ordinal))
                {
                    using var beam = Process.GetProcessById(pid);
                    beam.Kill();
                    beam.WaitForExit(TimeSpan.FromSeconds(10));
                }
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException)
            {
                // The process ended meanwhile.
            }
        }
    }
}

using System.Globalization;
using Npgsql;

namespace Welkin.Testing;

/// <summary>
/// A private PostgreSQL cluster for one test class: initdb into a temporary directory, the
/// server on a free loopback port with its socket in that directory, one fresh database
/// (<see cref="ConnectionString"/>) and more on demand (<see cref="CreateDatabaseAsync"/>).
/// Disposing stops the server and deletes everything. It never skips: without the server
/// binaries it fails and says how to install them, so CI cannot pass without PostgreSQL.
/// </summary>
public sealed class PostgresCluster : IAsyncLifetime
{
    private const string Superuser = "postgres";
    private const string PackageRoot = "/usr/lib/postgresql";
    private static readonly bool AsRoot = Environment.IsPrivilegedProcess;

    private string? _dir;
    private string? _bin;
    private bool _running;

    public int Port { get; private set; }

    /// <summary>The database created for this fixture.</summary>
    public string ConnectionString { get; private set; } = "";

    public async ValueTask InitializeAsync()
    {
        _bin = FindBinaries();
        _dir = Path.Combine(Path.GetTempPath(), "welkin-pg-" + Guid.NewGuid().ToString("n")[..12]);
        try
        {
            if (AsRoot)
            {
                // initdb refuses to run as root, so the cluster belongs to the package's postgres user.
                await ExternalTools.RunAsync("install", ["-d", "-m", "700", "-o", Superuser, "-g", Superuser, _dir], "/");
            }
            else
            {
                Directory.CreateDirectory(_dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            var data = Path.Combine(_dir, "data");
            await RunPostgresAsync("initdb", ["-D", data, "-U", Superuser, "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"]);
            await StartAsync(data);
            ConnectionString = await CreateDatabaseAsync(TestContext.Current.CancellationToken);
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    /// <summary>Creates an empty database and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(CancellationToken ct)
    {
        var name = "welkin_" + Guid.NewGuid().ToString("n")[..16];
        await using (var connection = new NpgsqlConnection(Connection("postgres", pooling: false)))
        {
            await connection.OpenAsync(ct);
            await using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await command.ExecuteNonQueryAsync(ct);
        }
        return Connection(name, pooling: true);
    }

    /// <summary>A backup of the database <paramref name="connectionString"/> names as it is now: a plain SQL dump (pg_dump) in the cluster's directory; returns the file.</summary>
    public async Task<string> DumpAsync(string connectionString, CancellationToken ct)
    {
        var database = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        var file = Path.Combine(_dir!, database + "-" + Guid.NewGuid().ToString("n")[..8] + ".sql");
        ct.ThrowIfCancellationRequested();
        await RunPostgresAsync("pg_dump", [.. ClientArgs(), "--no-owner", "-f", file, database]);
        return file;
    }

    /// <summary>Restores a <see cref="DumpAsync"/> file into a new, empty database (psql) and returns its connection string.</summary>
    public async Task<string> RestoreAsync(string dump, CancellationToken ct)
    {
        var connectionString = await CreateDatabaseAsync(ct);
        var database = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        await RunPostgresAsync("psql", [.. ClientArgs(), "-q", "-v", "ON_ERROR_STOP=1", "-f", dump, database]);
        return connectionString;
    }

    private string[] ClientArgs() => ["-h", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture), "-U", Superuser];

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (_running && _dir is not null)
        {
            _running = false;
            await RunPostgresAsync("pg_ctl", ["-D", Path.Combine(_dir, "data"), "-m", "immediate", "-w", "stop"]);
        }
        if (_dir is not null && Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
        _dir = null;
    }

    private string Connection(string database, bool pooling) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = Superuser,
        Database = database,
        Pooling = pooling,
        IncludeErrorDetail = true,
    }.ToString();

    private async Task StartAsync(string data)
    {
        // The port is free when picked but may be taken before the server binds it; try a few.
        for (var attempt = 1; ; attempt++)
        {
            Port = Loopback.FreePort();
            var options = $"-p {Port.ToString(CultureInfo.InvariantCulture)} -k {_dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200";
            try
            {
                await RunPostgresAsync("pg_ctl", ["-D", data, "-l", Path.Combine(_dir!, "server.log"), "-w", "-t", "60", "-o", options, "start"]);
                _running = true;
                return;
            }
            catch (InvalidOperationException) when (attempt < 5)
            {
            }
        }
    }

    /// <summary>The bin directory of the newest PostgreSQL version installed from Debian packages.</summary>
    private static string FindBinaries()
    {
        var newest = Directory.Exists(PackageRoot)
            ? Directory.GetDirectories(PackageRoot)
                .Select(d => (Dir: d, Version: int.TryParse(Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : -1))
                .Where(d => d.Version >= 0 && File.Exists(Path.Combine(d.Dir, "bin", "pg_ctl")) && File.Exists(Path.Combine(d.Dir, "bin", "initdb")))
                .OrderByDescending(d => d.Version)
                .Select(d => Path.Combine(d.Dir, "bin"))
                .FirstOrDefault()
            : null;
        if (newest is null)
        {
            var where = Environment.GetEnvironmentVariable("CI") == "true" ? "CI must provide PostgreSQL: " : "";
            throw new InvalidOperationException(
                $"{where}PostgreSQL server binaries (initdb, pg_ctl) were not found under {PackageRoot}/<version>/bin. " +
                "Run scripts/install-deps.sh as root (it installs the Debian postgresql package), then run the tests again.");
        }
        return newest;
    }

    private Task RunPostgresAsync(string tool, IReadOnlyList<string> args)
    {
        var exe = Path.Combine(_bin!, tool);
        // "/" as the working directory: the postgres user may not be able to enter the test's own.
        return AsRoot ? ExternalTools.RunAsync("runuser", ["-u", Superuser, "--", exe, .. args], "/") : ExternalTools.RunAsync(exe, args, "/");
    }
}

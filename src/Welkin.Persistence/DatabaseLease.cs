using System.Net.Sockets;
using Npgsql;

namespace Welkin.Persistence;

/// <summary>
/// One server process per database, held for the process's lifetime. Placement capacity, the
/// job runner (which requeues running jobs at start), the login throttle and the token cache live
/// in one process, so a second server on the same database would overcommit hosts and run jobs
/// twice. Until replicas are built, a server takes an exclusive lock on a file in its data
/// directory (flock through <see cref="FileShare.None"/>) and, on PostgreSQL, a session-level
/// advisory lock on a connection of its own; disposing releases both.
/// </summary>
public sealed class DatabaseLease(string dataDirectory, string? postgresConnectionString) : IAsyncDisposable, IDisposable
{
    public const string LockFileName = "welkin.lock";

    /// <summary>Who holds the lock file; a second server cannot read the locked file itself (it would need the lock).</summary>
    public const string HolderFileName = "welkin.lock.holder";

    // "WelkinL": distinct from the Migrator's transaction-scoped key, which this session must not block.
    internal const long PostgresLeaseKey = 0x57656C6B696E4C;

    private static readonly string Holder = $"welkin-server pid {Environment.ProcessId} on {Environment.MachineName}";

    private FileStream? _file;
    private NpgsqlConnection? _connection;

    public bool Held => _file is not null && (postgresConnectionString is null || _connection is not null);

    /// <summary>Takes the lease, or throws <see cref="DatabaseLeaseException"/> saying why it cannot.</summary>
    public async Task AcquireAsync(CancellationToken ct)
    {
        _file ??= LockDataDirectory();
        if (postgresConnectionString is not null && _connection is null)
        {
            _connection = await LockPostgresAsync(postgresConnectionString, ct);
        }
    }

    private FileStream LockDataDirectory()
    {
        var path = Path.Combine(dataDirectory, LockFileName);
        var holderPath = Path.Combine(dataDirectory, HolderFileName);
        FileStream file;
        try
        {
            file = new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.OpenOrCreate,
                Access = FileAccess.ReadWrite,
                Share = FileShare.None,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
        }
        catch (IOException e) when (e.HResult is SharingViolation or LinuxWouldBlock)
        {
            var holder = File.Exists(holderPath) ? File.ReadAllText(holderPath).Trim() : "another process";
            throw new DatabaseLeaseException(DatabaseLeaseFailure.Held,
                $"the data directory {dataDirectory} is in use by another Welkin server ({holder} holds {path})", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DatabaseLeaseException(DatabaseLeaseFailure.NotWritable, $"the data directory {dataDirectory} is not writable: {e.Message}", e);
        }
        try
        {
            File.WriteAllText(holderPath, Holder + "\n");
            return file;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            file.Dispose();
            throw new DatabaseLeaseException(DatabaseLeaseFailure.NotWritable, $"the data directory {dataDirectory} is not writable: {e.Message}", e);
        }
    }

    private static async Task<NpgsqlConnection> LockPostgresAsync(string connectionString, CancellationToken ct)
    {
        // A connection outside the pool, so that closing it ends the session and with it the lock.
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, ApplicationName = Holder, KeepAlive = 30 };
        var where = $"{builder.Database ?? builder.Username} on {builder.Host}:{builder.Port}";
        var connection = new NpgsqlConnection(builder.ConnectionString);
        try
        {
            await connection.OpenAsync(ct);
            await using var command = new NpgsqlCommand("SELECT pg_try_advisory_lock(@key)", connection);
            command.Parameters.AddWithValue("key", PostgresLeaseKey);
            if ((bool)(await command.ExecuteScalarAsync(ct))!)
            {
                return connection;
            }
            var holder = await HolderAsync(connection, ct);
            throw new DatabaseLeaseException(DatabaseLeaseFailure.Held,
                $"the PostgreSQL database {where} is in use by another Welkin server ({holder})");
        }
        catch (Exception e) when (e is NpgsqlException or SocketException or TimeoutException)
        {
            await connection.DisposeAsync();
            var reason = e.InnerException is SocketException or TimeoutException ? e.InnerException.Message : e.Message;
            throw new DatabaseLeaseException(DatabaseLeaseFailure.Unreachable, $"cannot reach the PostgreSQL database {where}: {reason}", e);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>The session holding the lease, as far as this role may see it (pg_stat_activity hides other roles' details).</summary>
    private static async Task<string> HolderAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        const string sql = """
            SELECT a.application_name, a.client_addr::text, l.pid
            FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
              AND l.classid::bigint = @hi AND l.objid::bigint = @lo
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            """;
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("hi", PostgresLeaseKey >> 32);
        command.Parameters.AddWithValue("lo", PostgresLeaseKey & 0xFFFFFFFF);
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
        {
            return "a session that has just ended";
        }
        var name = reader.IsDBNull(0) || reader.GetString(0).Length == 0 ? "a session" : reader.GetString(0);
        var from = reader.IsDBNull(1) ? "" : $" from {reader.GetString(1)}";
        return $"{name}, backend pid {reader.GetInt32(2)}{from}";
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
            _connection = null;
        }
        ReleaseFile();
    }

    public void Dispose()
    {
        _connection?.Dispose();
        _connection = null;
        ReleaseFile();
    }

    private void ReleaseFile()
    {
        if (_file is null)
        {
            return;
        }
        try
        {
            File.Delete(Path.Combine(dataDirectory, HolderFileName));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The holder file only explains a refusal; the lock itself goes with the handle.
        }
        _file.Dispose();
        _file = null;
    }

    // A locked file: .NET reports flock's EWOULDBLOCK as the errno (11 on Linux), Windows as ERROR_SHARING_VIOLATION.
    private const int LinuxWouldBlock = 11;
    private const int SharingViolation = unchecked((int)0x80070020);
}

public enum DatabaseLeaseFailure
{
    /// <summary>Another server holds the data directory or the database.</summary>
    Held,

    /// <summary>The data directory cannot be written.</summary>
    NotWritable,

    /// <summary>The database does not answer (or refuses the connection).</summary>
    Unreachable,
}

/// <summary>Why a server cannot take its <see cref="DatabaseLease"/>; the message is one line for an operator and holds no password.</summary>
public sealed class DatabaseLeaseException(DatabaseLeaseFailure failure, string message, Exception? inner = null) : Exception(message, inner)
{
    public DatabaseLeaseFailure Failure { get; } = failure;
}

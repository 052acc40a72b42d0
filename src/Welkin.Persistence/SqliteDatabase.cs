using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;
using Welkin.Core.Common;
using Welkin.Core.Data;

namespace Welkin.Persistence;

/// <summary>
/// The embedded default: one SQLite file in WAL mode with <c>synchronous=FULL</c>, so a commit
/// that returned is on disk even after power loss. Write transactions start with
/// <c>BEGIN IMMEDIATE</c>, taking the write lock up front instead of failing on upgrade.
/// </summary>
public sealed class SqliteDatabase : IDatabase, IMigrationDialect
{
    private readonly string _connectionString;

    public SqliteDatabase(string path)
    {
        Path = path;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
    }

    public string Path { get; }

    public string Provider => "sqlite";

    public string Json => "TEXT";

    public string Money => "TEXT";

    public async Task<DbConnection> OpenAsync(CancellationToken ct)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(ct);
        await using var command = connection.CreateCommand();
        // busy_timeout first: switching a new file to WAL needs a lock another connection may hold.
        command.CommandText = "PRAGMA busy_timeout = 30000; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;";
        await command.ExecuteNonQueryAsync(ct);
        return connection;
    }

    public async Task<Result<T>> WriteAsync<T>(Func<Tx, Task<Result<T>>> work, CancellationToken ct)
    {
        await using var connection = (SqliteConnection)await OpenAsync(ct);
        await using var transaction = connection.BeginTransaction(deferred: false);
        return await Transactions.CommitIfSuccessAsync(connection, transaction, work, ct);
    }

    public async Task<T> ReadAsync<T>(Func<Tx, Task<T>> work, CancellationToken ct)
    {
        // A deferred transaction in WAL mode reads one snapshot (fixed at its first read) and takes no write lock.
        await using var connection = (SqliteConnection)await OpenAsync(ct);
        await using var transaction = connection.BeginTransaction(deferred: true);
        var result = await work(new Tx(connection, transaction));
        await transaction.RollbackAsync(ct);
        return result;
    }

    public async Task<bool> PingAsync(CancellationToken ct)
    {
        await using var connection = await OpenAsync(ct);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM schema_migrations", cancellationToken: ct)) > 0;
    }
}

using System.Data;
using System.Data.Common;
using Dapper;
using Npgsql;
using Welkin.Core.Common;
using Welkin.Core.Data;

namespace Welkin.Persistence;

/// <summary>PostgreSQL, for a database on a machine of its own; one server process per database for now (<see cref="DatabaseLease"/>).</summary>
public sealed class PostgresDatabase : IDatabase, IMigrationDialect, IAsyncDisposable
{
    private readonly NpgsqlDataSource _source;

    public PostgresDatabase(string connectionString)
    {
        _source = NpgsqlDataSource.Create(connectionString);
    }

    public string Provider => "postgresql";

    public string Json => "TEXT";

    public string Money => "NUMERIC(38, 10)";

    public async Task<DbConnection> OpenAsync(CancellationToken ct) => await _source.OpenConnectionAsync(ct);

    public async Task<Result<T>> WriteAsync<T>(Func<Tx, Task<Result<T>>> work, CancellationToken ct)
    {
        await using var connection = await _source.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, ct);
        return await Transactions.CommitIfSuccessAsync(connection, transaction, work, ct);
    }

    public async Task<T> ReadAsync<T>(Func<Tx, Task<T>> work, CancellationToken ct)
    {
        await using var connection = await _source.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, ct);
        await connection.ExecuteAsync(new CommandDefinition("SET TRANSACTION READ ONLY", transaction: transaction, cancellationToken: ct));
        var result = await work(new Tx(connection, transaction));
        await transaction.RollbackAsync(ct);
        return result;
    }

    public async Task<bool> PingAsync(CancellationToken ct)
    {
        await using var connection = await _source.OpenConnectionAsync(ct);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM schema_migrations", cancellationToken: ct)) > 0;
    }

    public ValueTask DisposeAsync() => _source.DisposeAsync();
}

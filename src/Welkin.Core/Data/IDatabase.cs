using System.Data.Common;
using Dapper;
using Welkin.Core.Common;

namespace Welkin.Core.Data;

/// <summary>
/// The one door to the database. Core writes portable SQL (named parameters, ANSI types,
/// <c>ON CONFLICT</c>, <c>RETURNING</c>) that runs on SQLite and PostgreSQL alike; anything
/// provider-specific lives in Welkin.Persistence.
/// To add a provider: implement this interface and <see cref="IMigrationDialect"/> there.
/// </summary>
public interface IDatabase
{
    /// <summary>"sqlite" or "postgresql".</summary>
    string Provider { get; }

    Task<DbConnection> OpenAsync(CancellationToken ct);

    /// <summary>
    /// Runs <paramref name="work"/> in a write transaction and commits it when the result is a
    /// success; an error result or an exception rolls everything back.
    /// </summary>
    Task<Result<T>> WriteAsync<T>(Func<Tx, Task<Result<T>>> work, CancellationToken ct);

    /// <summary>
    /// Runs <paramref name="work"/> in a read-only transaction that sees one consistent snapshot
    /// for all its statements, without blocking writers. For reads that must agree with each
    /// other (a chain and its head), which separate statements under PostgreSQL's default
    /// READ COMMITTED would not.
    /// </summary>
    Task<T> ReadAsync<T>(Func<Tx, Task<T>> work, CancellationToken ct);

    /// <summary>A cheap round trip used by the readiness probe.</summary>
    Task<bool> PingAsync(CancellationToken ct);
}

/// <summary>A connection with its open transaction, so that every statement of a change joins it.</summary>
public sealed record Tx(DbConnection Connection, DbTransaction Transaction)
{
    public Task<int> ExecuteAsync(string sql, object? param = null) =>
        Connection.ExecuteAsync(new CommandDefinition(sql, param, Transaction));

    public Task<IEnumerable<T>> QueryAsync<T>(string sql, object? param = null) =>
        Connection.QueryAsync<T>(new CommandDefinition(sql, param, Transaction));

    public Task<T?> QuerySingleOrDefaultAsync<T>(string sql, object? param = null) =>
        Connection.QuerySingleOrDefaultAsync<T>(new CommandDefinition(sql, param, Transaction));

    public Task<T> ExecuteScalarAsync<T>(string sql, object? param = null) =>
        Connection.ExecuteScalarAsync<T>(new CommandDefinition(sql, param, Transaction))!;
}

public static class DatabaseExtensions
{
    public static async Task<IReadOnlyList<T>> QueryAsync<T>(this IDatabase db, string sql, object? param, CancellationToken ct)
    {
        await using var connection = await db.OpenAsync(ct);
        var rows = await connection.QueryAsync<T>(new CommandDefinition(sql, param, cancellationToken: ct));
        return rows.AsList();
    }

    public static async Task<T?> QuerySingleOrDefaultAsync<T>(this IDatabase db, string sql, object? param, CancellationToken ct)
    {
        await using var connection = await db.OpenAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<T>(new CommandDefinition(sql, param, cancellationToken: ct));
    }

    public static async Task<T> ExecuteScalarAsync<T>(this IDatabase db, string sql, object? param, CancellationToken ct)
    {
        await using var connection = await db.OpenAsync(ct);
        return (await connection.ExecuteScalarAsync<T>(new CommandDefinition(sql, param, cancellationToken: ct)))!;
    }
}

/// <summary>A schema change. Migrations are found by reflection and applied in version order.</summary>
public interface IMigration
{
    long Version { get; }

    string Name { get; }

    /// <summary>Statements in portable SQL; the dialect may rewrite the few type names that differ.</summary>
    IReadOnlyList<string> Statements(IMigrationDialect dialect);
}

/// <summary>The few spellings a migration cannot write portably.</summary>
public interface IMigrationDialect
{
    string Provider { get; }

    /// <summary>Type of a column holding UTF-8 JSON text.</summary>
    string Json { get; }

    /// <summary>Type of a column holding exact decimal money.</summary>
    string Money { get; }
}

/// <summary>Times are stored as Unix milliseconds (BIGINT) so both providers compare and index them the same way.</summary>
public static class DbTime
{
    public static long ToDb(DateTimeOffset t) => t.ToUnixTimeMilliseconds();

    public static long? ToDb(DateTimeOffset? t) => t?.ToUnixTimeMilliseconds();

    public static DateTimeOffset FromDb(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    public static DateTimeOffset? FromDb(long? ms) => ms is null ? null : DateTimeOffset.FromUnixTimeMilliseconds(ms.Value);
}

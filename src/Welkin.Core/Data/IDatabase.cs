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
    /// success; an error result or an exception rolls back everything the work did. A success
    /// returns only once the change is durable.
    /// <para>
    /// The transaction may be shared: SQLite runs concurrent works one after another, each in
    /// its own savepoint of one transaction, and commits them together (group commit). So a
    /// work must (1) make all its changes through the <see cref="Tx"/> it is given and never
    /// call <c>WriteAsync</c> itself (that throws), and (2) keep to the database: awaiting other
    /// I/O (a driver, the network) inside the work delays every write queued behind it. Do such
    /// calls before or after the transaction, and record their outcome in a transaction of its own.
    /// </para>
    /// Cancelling <paramref name="ct"/> before the work has started removes it; once started,
    /// the caller receives its real outcome.
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
    private List<Action>? _committed;

    /// <summary>
    /// Runs <paramref name="action"/> once the change has committed, and never when it is rolled
    /// back: for in-memory state that must follow the database (dropping cached credentials).
    /// The action runs on the committing thread, so it must be quick and must not throw.
    /// </summary>
    public void OnCommitted(Action action) => (_committed ??= []).Add(action);

    /// <summary>Called by the provider right after the commit.</summary>
    public void RunCommitted()
    {
        if (_committed is null)
        {
            return;
        }
        foreach (var action in _committed)
        {
            action();
        }
    }

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

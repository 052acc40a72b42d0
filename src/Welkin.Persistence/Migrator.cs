using System.Reflection;
using Microsoft.Extensions.Logging;
using Welkin.Core.Data;

namespace Welkin.Persistence;

/// <summary>
/// Applies the versioned migrations of this assembly in order, each in its own transaction
/// together with its row in <c>schema_migrations</c>. On PostgreSQL a transaction-scoped
/// advisory lock keeps replicas that start together from migrating twice.
/// </summary>
public sealed class Migrator(IDatabase db, IMigrationDialect dialect, TimeProvider clock, ILogger<Migrator> logger)
{
    internal const long PostgresLockKey = 0x57656C6B696E; // "Welkin"

    public static IReadOnlyList<IMigration> All { get; } = typeof(Migrator).Assembly.GetTypes()
        .Where(t => typeof(IMigration).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
        .Select(t => (IMigration)Activator.CreateInstance(t)!)
        .OrderBy(m => m.Version)
        .ToList();

    public async Task<int> ApplyAsync(CancellationToken ct)
    {
        var duplicate = All.GroupBy(m => m.Version).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new InvalidOperationException($"Two migrations share version {duplicate.Key}.");
        }
        // Under the lock too: concurrent CREATE TABLE IF NOT EXISTS can fail on PostgreSQL.
        await db.WriteAsync<bool>(async tx =>
        {
            await LockAsync(tx);
            await tx.ExecuteAsync("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)");
            return true;
        }, ct);
        var applied = 0;
        foreach (var migration in All)
        {
            var done = await db.WriteAsync<bool>(async tx =>
            {
                await LockAsync(tx);
                var exists = await tx.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM schema_migrations WHERE version = @Version", new { migration.Version });
                if (exists > 0)
                {
                    return false;
                }
                foreach (var statement in migration.Statements(dialect))
                {
                    await tx.ExecuteAsync(statement);
                }
                await tx.ExecuteAsync("INSERT INTO schema_migrations (version, name, applied_at) VALUES (@Version, @Name, @At)",
                    new { migration.Version, migration.Name, At = clock.GetUtcNow().ToUnixTimeMilliseconds() });
                return true;
            }, ct);
            if (done.Value)
            {
                applied++;
                logger.LogInformation("Applied migration {Version} {Name}", migration.Version, migration.Name);
            }
        }
        return applied;
    }

    /// <summary>
    /// Serialises migrators until the transaction ends. SQLite needs nothing: its write
    /// transactions (BEGIN IMMEDIATE) already exclude each other.
    /// </summary>
    private async Task LockAsync(Tx tx)
    {
        if (dialect.Provider == "postgresql")
        {
            await tx.ExecuteAsync("SELECT pg_advisory_xact_lock(@Key)", new { Key = PostgresLockKey });
        }
    }
}

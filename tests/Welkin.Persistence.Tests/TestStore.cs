using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Welkin.Core.Accounts;
using Welkin.Core.Audit;
using Welkin.Core.Data;
using Welkin.Core.Security;
using Welkin.Testing;

namespace Welkin.Persistence.Tests;

/// <summary>
/// A fresh, empty database of one provider with the Core services built on it directly, as
/// the server would wire them. Each test makes its own, so no test sees another's rows.
/// </summary>
public sealed class TestStore : IAsyncDisposable
{
    public const string Sqlite = "sqlite";
    public const string Postgres = "postgresql";

    private readonly Func<IDatabase> _open;
    private readonly List<IDatabase> _opened = [];
    private readonly string? _sqliteDir;

    private TestStore(string provider, Func<IDatabase> open, string? sqliteDir)
    {
        Provider = provider;
        _open = open;
        _sqliteDir = sqliteDir;
        Db = Open();
        Audit = new AuditLog(Clock);
        Throttle = new LoginThrottle(Clock, new LoginThrottleOptions());
        Refusals = new RefusalAudit(Db, Audit, Clock, new RefusalAuditOptions());
        Security = new SecurityManager(Db, Audit, Refusals, Clock, Throttle, new SecurityOptions { PasswordIterations = TestServers.PasswordIterations });
        Accounts = new AccountService(Db, Audit, Security, Clock, new AccountOptions());
        Bootstrap = new Bootstrap(Db, Security, Audit);
    }

    public string Provider { get; }

    /// <summary>The PostgreSQL database's connection string (null on SQLite).</summary>
    public string? ConnectionString { get; private init; }

    public TimeProvider Clock { get; } = TimeProvider.System;

    public IDatabase Db { get; }

    public AuditLog Audit { get; }

    public LoginThrottle Throttle { get; }

    public RefusalAudit Refusals { get; }

    public SecurityManager Security { get; }

    public AccountService Accounts { get; }

    public Bootstrap Bootstrap { get; }

    public static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>An empty database; migrated unless <paramref name="migrate"/> is false.</summary>
    public static async Task<TestStore> CreateAsync(string provider, PostgresCluster pg, bool migrate = true)
    {
        TestStore store;
        if (provider == Sqlite)
        {
            var dir = Directory.CreateTempSubdirectory("welkin-sqlite-").FullName;
            var path = Path.Combine(dir, PersistenceServiceCollectionExtensions.SqliteFileName);
            store = new TestStore(provider, () => new SqliteDatabase(path), dir);
        }
        else
        {
            var connectionString = await pg.CreateDatabaseAsync(Ct);
            store = new TestStore(provider, () => new PostgresDatabase(connectionString), null) { ConnectionString = connectionString };
        }
        if (migrate)
        {
            await store.Migrator().ApplyAsync(Ct);
        }
        return store;
    }

    /// <summary>Another handle on the same database, as a second server replica would hold.</summary>
    public IDatabase Open()
    {
        var db = _open();
        _opened.Add(db);
        return db;
    }

    public Migrator Migrator(IDatabase? db = null)
    {
        db ??= Db;
        return new Migrator(db, (IMigrationDialect)db, Clock, NullLogger<Migrator>.Instance);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var db in _opened)
        {
            if (db is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync();
            }
        }
        if (_sqliteDir is not null)
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(_sqliteDir, recursive: true);
        }
    }

    public override string ToString() => Provider;
}

using Dapper;
using Welkin.Core.Data;
using Welkin.Testing;

namespace Welkin.Persistence.Tests;

public sealed class MigratorTests(PostgresCluster pg) : IClassFixture<PostgresCluster>
{
    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task Apply_OnEmptyDatabase_AppliesEveryMigrationOnceThenNothing(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider, pg, migrate: false);

        var first = await store.Migrator().ApplyAsync(TestStore.Ct);
        var second = await store.Migrator().ApplyAsync(TestStore.Ct);

        first.ShouldBe(Migrator.All.Count);
        second.ShouldBe(0);
        var versions = await store.Db.QueryAsync<long>("SELECT version FROM schema_migrations ORDER BY version", null, TestStore.Ct);
        versions.ShouldBe(Migrator.All.Select(m => m.Version));
        (await store.Db.PingAsync(TestStore.Ct)).ShouldBeTrue();
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task Apply_OnEmptyDatabase_CreatesTheSchemaCoreUses(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider, pg);

        foreach (var table in new[] { "accounts", "principals", "tokens", "audit_log", "audit_head", "images" })
        {
            (await store.Db.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM {table}", null, TestStore.Ct)).ShouldBeGreaterThanOrEqualTo(0);
        }
        var head = await store.Db.QuerySingleOrDefaultAsync<(long Seq, string Hash)>("SELECT seq, hash FROM audit_head WHERE id = 1", null, TestStore.Ct);
        head.Seq.ShouldBe(0);
        head.Hash.ShouldBe(Welkin.Core.Audit.AuditLog.GenesisHash);
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task Apply_WhenReplicasStartTogether_AppliesEachMigrationExactlyOnce(string provider)
    {
        // A few fresh databases, so that the replicas' first statements really collide.
        for (var round = 0; round < 4; round++)
        {
            await using var store = await TestStore.CreateAsync(provider, pg, migrate: false);
            // Each replica has its own database handle (its own pool), as separate processes would.
            var replicas = Enumerable.Range(0, 6).Select(_ => store.Migrator(store.Open())).ToList();

            var applied = await Task.WhenAll(replicas.Select(m => Task.Run(() => m.ApplyAsync(TestStore.Ct), TestStore.Ct)));

            applied.Sum().ShouldBe(Migrator.All.Count);
            var rows = await store.Db.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM schema_migrations", null, TestStore.Ct);
            rows.ShouldBe(Migrator.All.Count);
            var heads = await store.Db.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM audit_head", null, TestStore.Ct);
            heads.ShouldBe(1);
        }
    }

    [Fact]
    public async Task Apply_OnPostgres_TakesAnAdvisoryLockPerMigration()
    {
        await using var store = await TestStore.CreateAsync(TestStore.Postgres, pg, migrate: false);
        await using var blocker = await store.Open().OpenAsync(TestStore.Ct);
        await using var blocking = await blocker.BeginTransactionAsync(TestStore.Ct);
        await blocker.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_xact_lock(@Key)", new { Key = Migrator.PostgresLockKey }, blocking));

        // While another session holds the lock the migrator must wait, not apply.
        var migrating = Task.Run(() => store.Migrator().ApplyAsync(TestStore.Ct), TestStore.Ct);
        await WaitUntilBlockedOnLockAsync(store.Db);
        migrating.IsCompleted.ShouldBeFalse();
        (await blocker.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'accounts'", transaction: blocking))).ShouldBe(0);

        await blocking.CommitAsync(TestStore.Ct);
        (await migrating).ShouldBe(Migrator.All.Count);
    }

    private static async Task WaitUntilBlockedOnLockAsync(IDatabase db)
    {
        // pg_locks shows the migrator's session waiting for the advisory lock.
        while (await db.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted", null, TestStore.Ct) == 0)
        {
            await Task.Delay(20, TestStore.Ct);
        }
    }
}

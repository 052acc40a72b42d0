using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Events;
using Welkin.Core.Security;
using Welkin.Testing;

namespace Welkin.Persistence.Tests;

/// <summary>
/// SQLite group commit: concurrent works share one transaction, each in its own savepoint.
/// A batch is formed deterministically by holding the writer loop with a work that waits on a
/// gate: everything queued meanwhile runs in the next transaction together.
/// </summary>
public sealed class GroupCommitTests(PostgresCluster pg) : IClassFixture<PostgresCluster>, IDisposable
{
    private static readonly Error Refused = new("refused", ErrorKind.Conflict, "refused on purpose");
    private static readonly Caller Tester = Caller.System("group-commit-test");
    private readonly string _dir = Directory.CreateTempSubdirectory("welkin-group-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Write_ManyConcurrentWriters_AllCommit()
    {
        var db = await TableAsync();

        var results = await Task.WhenAll(Enumerable.Range(1, 500).Select(i =>
            Task.Run(() => db.WriteAsync<int>(async tx => await tx.ExecuteAsync("INSERT INTO t (x) VALUES (@X)", new { X = i }), Ct), Ct)));

        results.ShouldAllBe(r => r.IsSuccess && r.Value == 1);
        (await RowsAsync(db)).ShouldBe(Enumerable.Range(1, 500).Select(i => (long)i));
    }

    [Fact]
    public async Task Write_TheWritersConnection_IsFullSynchronousWithForeignKeys()
    {
        var db = await TableAsync();

        var pragmas = await db.WriteAsync<(long, long, string)>(async tx => (
            await tx.ExecuteScalarAsync<long>("PRAGMA synchronous"),
            await tx.ExecuteScalarAsync<long>("PRAGMA foreign_keys"),
            await tx.ExecuteScalarAsync<string>("PRAGMA journal_mode")), Ct);

        pragmas.Value.ShouldBe((2L, 1L, "wal"), "2 is FULL: a returned commit survives power loss");
    }

    [Fact]
    public async Task Write_WhenOneWorkOfABatchReturnsAnError_OnlyItsRowsAreAbsent()
    {
        var db = await TableAsync();
        var transactions = new List<DbTransaction>();

        List<Task<Result<int>>> works;
        await using (await HoldWriterAsync(db))
        {
            works = [.. new[] { 1, 2, 3, 4 }.Select(x => db.WriteAsync<int>(async tx =>
            {
                transactions.Add(tx.Transaction);
                await tx.ExecuteAsync("INSERT INTO t (x) VALUES (@X)", new { X = x });
                await tx.ExecuteAsync("INSERT INTO t (x) VALUES (@X)", new { X = x * 10 });
                return x == 2 ? Refused : (Result<int>)x;
            }, Ct))];
        }
        var results = await Task.WhenAll(works);

        transactions.Distinct().Count().ShouldBe(1, "the four works shared one transaction");
        results.Select(r => r.IsSuccess).ShouldBe([true, false, true, true]);
        results[1].Error.ShouldBe(Refused);
        (await RowsAsync(db)).ShouldBe([0L, 1L, 3L, 4L, 10L, 30L, 40L]);
    }

    [Fact]
    public async Task Write_WhenOneWorkOfABatchThrows_OnlyItsCallerSeesTheException()
    {
        var db = await TableAsync();
        var transactions = new List<DbTransaction>();

        Task<Result<int>>[] works;
        await using (await HoldWriterAsync(db))
        {
            works = [.. new[] { 1, 2, 3 }.Select(x => db.WriteAsync<int>(async tx =>
            {
                transactions.Add(tx.Transaction);
                await tx.ExecuteAsync("INSERT INTO t (x) VALUES (@X)", new { X = x });
                if (x == 2)
                {
                    throw new InvalidOperationException("work 2 failed");
                }
                return x;
            }, Ct))];
        }

        (await Should.ThrowAsync<InvalidOperationException>(works[1])).Message.ShouldBe("work 2 failed");
        (await works[0]).Value.ShouldBe(1);
        (await works[2]).Value.ShouldBe(3);
        transactions.Distinct().Count().ShouldBe(1);
        (await RowsAsync(db)).ShouldBe([0L, 1L, 3L]);
    }

    [Fact]
    public async Task Write_WhenAStatementFailsInsideABatch_OnlyThatWorkIsRolledBack()
    {
        var db = await TableAsync();
        await using (var connection = await db.OpenAsync(Ct))
        {
            await connection.ExecuteAsync("CREATE TABLE u (x BIGINT PRIMARY KEY)");
        }

        Task<Result<int>>[] works;
        await using (await HoldWriterAsync(db))
        {
            works = [.. new[] { 1, 1, 2 }.Select((x, i) => db.WriteAsync<int>(async tx =>
            {
                await tx.ExecuteAsync("INSERT INTO t (x) VALUES (@X)", new { X = 100 + i });
                return await tx.ExecuteAsync("INSERT INTO u (x) VALUES (@X)", new { X = x });
            }, Ct))];
        }

        (await works[0]).IsSuccess.ShouldBeTrue();
        await Should.ThrowAsync<SqliteException>(works[1]);
        (await works[2]).IsSuccess.ShouldBeTrue();
        (await RowsAsync(db)).ShouldBe([0L, 100L, 102L]);
    }

    [Fact]
    public async Task Write_CancelledBeforeItStarts_IsRemovedAndNeverRuns()
    {
        var db = await TableAsync();
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var ran = false;

        Task<Result<int>> cancelled;
        Task<Result<int>> other;
        await using (await HoldWriterAsync(db))
        {
            cancelled = db.WriteAsync<int>(async tx =>
            {
                ran = true;
                return await tx.ExecuteAsync("INSERT INTO t (x) VALUES (1)");
            }, cancel.Token);
            other = db.WriteAsync<int>(async tx => await tx.ExecuteAsync("INSERT INTO t (x) VALUES (2)"), Ct);
            await cancel.CancelAsync();
            await Should.ThrowAsync<OperationCanceledException>(cancelled);
        }

        (await other).IsSuccess.ShouldBeTrue();
        ran.ShouldBeFalse();
        (await RowsAsync(db)).ShouldBe([0L, 2L]);
    }

    [Fact]
    public async Task Write_CancelledAfterItStarted_ReturnsItsRealOutcome()
    {
        var db = await TableAsync();
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var write = db.WriteAsync<int>(async tx =>
        {
            started.SetResult();
            await release.Task;
            return await tx.ExecuteAsync("INSERT INTO t (x) VALUES (7)");
        }, cancel.Token);
        await started.Task;
        await cancel.CancelAsync();
        release.SetResult();

        (await write).Value.ShouldBe(1);
        (await RowsAsync(db)).ShouldBe([7L]);
    }

    [Fact]
    public async Task Write_CalledFromInsideAWork_ThrowsInsteadOfWaitingForever()
    {
        var db = await TableAsync();

        var outer = db.WriteAsync<int>(async tx =>
        {
            await tx.ExecuteAsync("INSERT INTO t (x) VALUES (1)");
            var inner = await db.WriteAsync<int>(async inner => await inner.ExecuteAsync("INSERT INTO t (x) VALUES (2)"), Ct);
            return inner.Value;
        }, Ct);

        (await Should.ThrowAsync<InvalidOperationException>(outer)).Message.ShouldContain("WriteAsync");
        (await db.WriteAsync<int>(async tx => await tx.ExecuteAsync("INSERT INTO t (x) VALUES (3)"), Ct)).IsSuccess.ShouldBeTrue();
        (await RowsAsync(db)).ShouldBe([3L]);
    }

    [Fact]
    public async Task Write_FromWorkOfAnotherDatabase_IsAllowed()
    {
        var db = await TableAsync();
        var other = new SqliteDatabase(Path.Combine(_dir, "other.db"));
        await using (var connection = await other.OpenAsync(Ct))
        {
            await connection.ExecuteAsync("CREATE TABLE t (x BIGINT NOT NULL)");
        }

        var outer = await db.WriteAsync<int>(async tx =>
        {
            var inner = await other.WriteAsync<int>(async o => await o.ExecuteAsync("INSERT INTO t (x) VALUES (5)"), Ct);
            return await tx.ExecuteAsync("INSERT INTO t (x) VALUES (@X)", new { X = inner.Value });
        }, Ct);

        outer.IsSuccess.ShouldBeTrue();
        (await RowsAsync(db)).ShouldBe([1L]);
        (await RowsAsync(other)).ShouldBe([5L]);
    }

    [Fact]
    public async Task Read_WhileAWriteBatchIsOpen_SeesTheLastCommitWithoutWaiting()
    {
        var db = await TableAsync();

        await using (await HoldWriterAsync(db))
        {
            var uncommitted = db.WriteAsync<int>(async tx => await tx.ExecuteAsync("INSERT INTO t (x) VALUES (9)"), Ct);
            (await db.ReadAsync(async tx => (await tx.QueryAsync<long>("SELECT x FROM t ORDER BY x")).ToList(), Ct)).ShouldBeEmpty();
            uncommitted.IsCompleted.ShouldBeFalse();
        }
    }

    [Fact]
    public async Task Write_AfterConcurrentCommits_RowsSurviveReopeningTheFile()
    {
        var path = Path.Combine(_dir, "durable.db");
        var db = new SqliteDatabase(path);
        await using (var connection = await db.OpenAsync(Ct))
        {
            await connection.ExecuteAsync("CREATE TABLE t (x BIGINT NOT NULL)");
        }

        var results = await Task.WhenAll(Enumerable.Range(1, 200).Select(i =>
            db.WriteAsync<int>(async tx => await tx.ExecuteAsync("INSERT INTO t (x) VALUES (@X)", new { X = i }), Ct)));
        SqliteConnection.ClearAllPools();
        var reopened = new SqliteDatabase(path);

        results.ShouldAllBe(r => r.IsSuccess);
        (await RowsAsync(reopened)).Count.ShouldBe(200);
        await using var check = await reopened.OpenAsync(Ct);
        (await check.ExecuteScalarAsync<string>("PRAGMA integrity_check")).ShouldBe("ok");
    }

    [Fact]
    public async Task Write_ThousandConcurrentAuditedChanges_ChainVerifiesAndEventsHaveNoGaps()
    {
        await using var store = await TestStore.CreateAsync(TestStore.Sqlite, pg);
        var events = new EventLog(store.Clock);
        var before = (await store.Audit.VerifyAsync(store.Db, Ct)).Entries;

        // Every tenth change is refused after appending, so rolled-back savepoints sit between committed ones.
        var results = await Task.WhenAll(Enumerable.Range(0, 1000).Select(i => Task.Run(() => store.Db.WriteAsync<long>(async tx =>
        {
            await store.Audit.AppendAsync(tx, Tester, new AuditEvent("test.change", $"target-{i}", AuditEvent.Success, null));
            var seq = await events.AppendAsync(tx, Tester, new LifecycleEvent("test.changed", $"target-{i}", null));
            return i % 10 == 0 ? Refused : (Result<long>)seq;
        }, Ct), Ct)));

        var verification = await store.Audit.VerifyAsync(store.Db, Ct);
        verification.Valid.ShouldBeTrue(verification.Problem);
        verification.Entries.ShouldBe(before + 900);
        results.Count(r => r.IsSuccess).ShouldBe(900);
        var seqs = await store.Db.QueryAsync<long>("SELECT seq FROM events ORDER BY seq", null, Ct);
        seqs.ShouldBe(Enumerable.Range(1, 900).Select(i => (long)i));
        results.Where(r => r.IsSuccess).Select(r => r.Value).Order().ShouldBe(seqs);
    }

    /// <summary>Starts a work that holds the writer loop until the returned handle is disposed.</summary>
    private static async Task<IAsyncDisposable> HoldWriterAsync(SqliteDatabase db)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var holder = db.WriteAsync<int>(async tx =>
        {
            var n = await tx.ExecuteAsync("INSERT INTO t (x) VALUES (0)");
            started.SetResult();
            await release.Task;
            return n;
        }, Ct);
        await started.Task;
        return new Gate(release, holder);
    }

    private sealed class Gate(TaskCompletionSource release, Task<Result<int>> holder) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            release.SetResult();
            (await holder).IsSuccess.ShouldBeTrue();
        }
    }

    private async Task<SqliteDatabase> TableAsync()
    {
        var db = new SqliteDatabase(Path.Combine(_dir, "welkin.db"));
        await using var connection = await db.OpenAsync(Ct);
        await connection.ExecuteAsync("CREATE TABLE t (x BIGINT NOT NULL)");
        return db;
    }

    private static async Task<List<long>> RowsAsync(IDatabase db) =>
        [.. await db.QueryAsync<long>("SELECT x FROM t ORDER BY x", null, Ct)];

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }
}

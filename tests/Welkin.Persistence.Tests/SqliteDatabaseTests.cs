using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Welkin.Persistence.Tests;

public sealed class SqliteDatabaseTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("welkin-sqlite-").FullName;

    [Fact]
    public async Task Open_EveryConnection_IsInWalModeWithFullSynchronous()
    {
        var db = new SqliteDatabase(Path.Combine(_dir, "welkin.db"));
        // Two connections at once, so the second does not come back from the pool as the first.
        await using var first = await db.OpenAsync(TestContext.Current.CancellationToken);
        await using var second = await db.OpenAsync(TestContext.Current.CancellationToken);

        foreach (var connection in new[] { first, second })
        {
            (await Pragma<string>(connection, "journal_mode")).ShouldBe("wal");
            (await Pragma<long>(connection, "synchronous")).ShouldBe(2, "2 is FULL: a returned commit survives power loss");
            (await Pragma<long>(connection, "foreign_keys")).ShouldBe(1);
        }
        File.Exists(Path.Combine(_dir, "welkin.db-wal")).ShouldBeTrue();
    }

    [Fact]
    public async Task Write_WhenWorkReturnsAnError_RollsBack()
    {
        var db = new SqliteDatabase(Path.Combine(_dir, "welkin.db"));
        await using (var connection = await db.OpenAsync(TestContext.Current.CancellationToken))
        {
            await connection.ExecuteAsync("CREATE TABLE t (x BIGINT NOT NULL)");
        }

        var failed = await db.WriteAsync<int>(async tx =>
        {
            await tx.ExecuteAsync("INSERT INTO t (x) VALUES (1)");
            return new Welkin.Core.Common.Error("nope", Welkin.Core.Common.ErrorKind.Conflict, "refused");
        }, TestContext.Current.CancellationToken);
        var committed = await db.WriteAsync<int>(async tx => await tx.ExecuteAsync("INSERT INTO t (x) VALUES (2)"), TestContext.Current.CancellationToken);

        failed.IsSuccess.ShouldBeFalse();
        committed.IsSuccess.ShouldBeTrue();
        await using var check = await db.OpenAsync(TestContext.Current.CancellationToken);
        (await check.QueryAsync<long>("SELECT x FROM t")).ShouldBe([2L]);
    }

    private static Task<T> Pragma<T>(DbConnection connection, string name) =>
        connection.ExecuteScalarAsync<T>($"PRAGMA {name}")!;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }
}

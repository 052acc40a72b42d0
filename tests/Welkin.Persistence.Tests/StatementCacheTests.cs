using Dapper;
using Microsoft.Data.Sqlite;

namespace Welkin.Persistence.Tests;

/// <summary>
/// The writer's connection keeps one prepared command per SQL text: results must be exactly
/// those of fresh commands, whatever Dapper does to a command (lists, failures, nesting).
/// </summary>
public sealed class StatementCacheTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("welkin-stmt-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task SameText_ManyCalls_KeepsOneCommandAndBindsEachCallsParameters()
    {
        await using var cn = await OpenAsync();

        for (var i = 1; i <= 100; i++)
        {
            await cn.ExecuteAsync("INSERT INTO t (x, y) VALUES (@X, @Y)", new { X = i, Y = $"v{i}" });
        }
        var ys = new List<string>();
        for (var i = 1; i <= 100; i += 33)
        {
            ys.Add(await cn.QuerySingleAsync<string>("SELECT y FROM t WHERE x = @X", new { X = i }));
        }

        ys.ShouldBe(["v1", "v34", "v67", "v100"]);
        cn.KeptStatements.ShouldBe(3, "the CREATE, the INSERT and the SELECT");
    }

    [Fact]
    public async Task ListParameters_OfDifferentLengths_ExpandEachTimeWithTheirValues()
    {
        await using var cn = await OpenAsync();
        await cn.ExecuteAsync("INSERT INTO t (x, y) VALUES (@X, 'a')", Enumerable.Range(1, 10).Select(x => new { X = x }));

        var two = await cn.QueryAsync<long>("SELECT x FROM t WHERE x IN @Xs ORDER BY x", new { Xs = new[] { 3, 7 } });
        var three = await cn.QueryAsync<long>("SELECT x FROM t WHERE x IN @Xs ORDER BY x", new { Xs = new[] { 1, 2, 9 } });
        var twoAgain = await cn.QueryAsync<long>("SELECT x FROM t WHERE x IN @Xs ORDER BY x", new { Xs = new[] { 4, 5 } });

        two.ShouldBe([3L, 7L]);
        three.ShouldBe([1L, 2L, 9L]);
        twoAgain.ShouldBe([4L, 5L]);
    }

    [Fact]
    public async Task AListBetweenOtherParameters_BindsEveryParameter_OnEveryCall()
    {
        // Dapper keeps the command's parameter collection while it rewrites the text for the list,
        // and adds the parameters after the list to that same collection.
        await using var cn = await OpenAsync();
        string[] ys = ["a", "b"];
        var found = new List<int>();
        for (var i = 1; i <= 3; i++)
        {
            await using var tx = cn.Inner.BeginTransaction();
            found.Add((await cn.QueryAsync<long>("SELECT x FROM t WHERE x > @Min AND y IN @Ys ORDER BY x LIMIT @Take", new { Min = 0, Ys = ys, Take = 5 }, tx)).Count());
            await cn.ExecuteAsync("INSERT INTO t (x, y) VALUES (@X, 'a')", new { X = i }, tx);
            tx.Commit();
        }

        found.ShouldBe([0, 1, 2]);
    }

    [Fact]
    public async Task AFailedStatement_LeavesItsCommandUsableForTheNextCall()
    {
        await using var cn = await OpenAsync();
        await cn.ExecuteAsync("INSERT INTO t (x, y) VALUES (@X, @Y)", new { X = 1, Y = "a" });

        var duplicate = await Should.ThrowAsync<SqliteException>(() => cn.ExecuteAsync("INSERT INTO t (x, y) VALUES (@X, @Y)", new { X = 1, Y = "b" }));
        var missing = await Should.ThrowAsync<InvalidOperationException>(() => cn.ExecuteAsync("INSERT INTO t (x, y) VALUES (@X, @Y)", new { X = 5 }));
        await cn.ExecuteAsync("INSERT INTO t (x, y) VALUES (@X, @Y)", new { X = 2, Y = "c" });

        duplicate.SqliteErrorCode.ShouldBe(19, "a constraint violation");
        missing.Message.ShouldContain("@Y");
        (await cn.QueryAsync<string>("SELECT y FROM t ORDER BY x")).ShouldBe(["a", "c"]);
    }

    [Fact]
    public async Task SameText_WhileItsReaderIsOpen_RunsOnACommandOfItsOwn()
    {
        await using var cn = await OpenAsync();
        await cn.ExecuteAsync("INSERT INTO t (x, y) VALUES (@X, 'a')", Enumerable.Range(1, 3).Select(x => new { X = x }));

        var pairs = new List<(long Outer, long Inner)>();
        await using (var outer = cn.CreateCommand())
        {
            outer.CommandText = "SELECT x FROM t WHERE x >= @Min ORDER BY x";
            var p = outer.CreateParameter();
            p.ParameterName = "@Min";
            p.Value = 2;
            outer.Parameters.Add(p);
            await using var reader = await outer.ExecuteReaderAsync(Ct);
            while (await reader.ReadAsync(Ct))
            {
                var inner = await cn.QueryAsync<long>("SELECT x FROM t WHERE x >= @Min ORDER BY x", new { Min = 3 });
                pairs.Add((reader.GetInt64(0), inner.Single()));
            }
        }

        pairs.ShouldBe([(2L, 3L), (3L, 3L)]);
    }

    [Fact]
    public async Task Transactions_CommitAndRollBack_ThroughKeptCommands()
    {
        await using var cn = await OpenAsync();

        await using (var tx = cn.Inner.BeginTransaction())
        {
            await cn.ExecuteAsync("INSERT INTO t (x, y) VALUES (@X, 'a')", new { X = 1 }, tx);
            tx.Rollback();
        }
        await using (var tx = cn.Inner.BeginTransaction())
        {
            await cn.ExecuteAsync("INSERT INTO t (x, y) VALUES (@X, 'a')", new { X = 2 }, tx);
            tx.Commit();
        }
        await cn.ExecuteAsync("INSERT INTO t (x, y) VALUES (@X, 'a')", new { X = 3 });

        (await cn.QueryAsync<long>("SELECT x FROM t ORDER BY x")).ShouldBe([2L, 3L], "a kept command must not keep a finished transaction");
    }

    private async Task<StatementCachingConnection> OpenAsync()
    {
        var inner = new SqliteConnection($"Data Source={Path.Combine(_dir, "t.db")};Pooling=False");
        await inner.OpenAsync(Ct);
        var cn = new StatementCachingConnection(inner);
        await cn.ExecuteAsync("CREATE TABLE t (x BIGINT PRIMARY KEY, y TEXT NOT NULL)");
        return cn;
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}

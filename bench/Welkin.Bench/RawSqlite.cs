using System.Diagnostics;
using Microsoft.Data.Sqlite;

namespace Welkin.Bench;

/// <summary>The yardstick: one-row durable commits (WAL, synchronous=FULL) on a file in a given directory.</summary>
internal static class RawSqlite
{
    public static async Task<double> CommitsPerSecondAsync(string path, int writers, TimeSpan duration)
    {
        var cs = new SqliteConnectionStringBuilder { DataSource = path, Pooling = true, DefaultTimeout = 30 }.ToString();
        await using (var setup = new SqliteConnection(cs))
        {
            await setup.OpenAsync();
            await using var cmd = setup.CreateCommand();
            cmd.CommandText = "PRAGMA journal_mode=WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)";
            await cmd.ExecuteNonQueryAsync();
        }
        long done = 0;
        var stopwatch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, writers).Select(_ => Task.Run(async () =>
        {
            while (stopwatch.Elapsed < duration)
            {
                await using var connection = new SqliteConnection(cs);
                await connection.OpenAsync();
                await using (var pragma = connection.CreateCommand())
                {
                    pragma.CommandText = "PRAGMA synchronous=FULL; PRAGMA busy_timeout=30000";
                    await pragma.ExecuteNonQueryAsync();
                }
                await using var tx = connection.BeginTransaction(deferred: false);
                await using var insert = connection.CreateCommand();
                insert.Transaction = tx;
                insert.CommandText = "INSERT INTO t (v) VALUES ('x')";
                await insert.ExecuteNonQueryAsync();
                await tx.CommitAsync();
                Interlocked.Increment(ref done);
            }
        })));
        return done / stopwatch.Elapsed.TotalSeconds;
    }
}

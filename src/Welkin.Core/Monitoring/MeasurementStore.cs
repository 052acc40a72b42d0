using Dapper;
using System.Collections.Concurrent;
using System.Data;
using System.Data.Common;
using Welkin.Core.Data;

namespace Welkin.Core.Monitoring;

/// <summary>The three tiers of stored measurements, finest first.</summary>
public enum MeasurementTier
{
    Raw,
    Minute,
    Hour,
}

/// <summary>One point of a series: the aggregate of the samples of every machine asked for in one bucket.</summary>
public readonly record struct SeriesPoint(long T, double Value, long Samples);

/// <summary>A series and the aggregate over its whole range. <see cref="Exact"/> is false for a percentile computed from rollups.</summary>
public sealed record MeasurementSeries(MeasurementTier Tier, IReadOnlyList<SeriesPoint> Points, double? Value, long Samples, bool Exact);

/// <summary>
/// Stores machine samples in three tiers and answers queries over them. Ingest writes a batch of
/// raw samples and folds the same samples into their 1-minute and 1-hour rollups (count, sum,
/// min, max per metric) in one transaction, so the tiers always agree and a crash never leaves a
/// sample counted in one tier but not another; a sample already stored (same machine and
/// instant) is skipped in every tier, so ingesting twice counts once. Means, minima and maxima are
/// exact at every tier (rollups combine exactly); percentiles are exact while the raw tier still
/// holds the range and otherwise approximated from the rollups (each bucket's mean, weighted by
/// its count).
/// </summary>
public sealed class MeasurementStore(IDatabase db, MonitoringOptions options, TimeProvider clock) : IMeasurementQuery
{
    private static readonly ConcurrentDictionary<(string Table, int Rows), string> Sql = new();

    // Rows per statement. PostgreSQL: multi-row statements, so a batch is a few round trips.
    // SQLite runs in-process, where a prepared one-row statement executed again and again is
    // fastest: Microsoft.Data.Sqlite binds parameters by name, at a cost that grows with the
    // square of a statement's parameter count.
    private readonly int _rawRows = db.Provider == "sqlite" ? 1 : 100;
    private readonly int _rollupRows = db.Provider == "sqlite" ? 1 : 50;

    public MonitoringOptions Options => options;

    public static string TableOf(MeasurementTier tier) => tier switch
    {
        MeasurementTier.Raw => "measurements_raw",
        MeasurementTier.Minute => "measurements_1m",
        _ => "measurements_1h",
    };

    /// <summary>The width of a tier's buckets in ms; 0 for raw samples.</summary>
    public static long BucketMs(MeasurementTier tier) => tier switch
    {
        MeasurementTier.Raw => 0,
        MeasurementTier.Minute => 60_000,
        _ => 3_600_000,
    };

    public TimeSpan Retention(MeasurementTier tier) => tier switch
    {
        MeasurementTier.Raw => options.RawRetention,
        MeasurementTier.Minute => options.MinuteRetention,
        _ => options.HourRetention,
    };

    /// <summary>Whether the tier still holds samples as old as <paramref name="from"/>.</summary>
    public bool Covers(MeasurementTier tier, DateTimeOffset from) => from >= clock.GetUtcNow() - Retention(tier);

    /// <summary>The finest tier that still holds <paramref name="from"/> (the hour tier when none does).</summary>
    public MeasurementTier FinestCovering(DateTimeOffset from) =>
        Covers(MeasurementTier.Raw, from) ? MeasurementTier.Raw : Covers(MeasurementTier.Minute, from) ? MeasurementTier.Minute : MeasurementTier.Hour;

    // ---- Ingest -----------------------------------------------------------------------------

    /// <summary>Stores the samples in batches of <see cref="MonitoringOptions.BatchSize"/>, one transaction each; returns how many were new.</summary>
    public async Task<int> IngestAsync(IReadOnlyList<MachineSample> samples, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(samples);
        var stored = 0;
        for (var offset = 0; offset < samples.Count; offset += options.BatchSize)
        {
            var start = offset;
            var count = Math.Min(options.BatchSize, samples.Count - offset);
            var written = await db.WriteAsync<int>(async tx => await WriteBatchAsync(tx, samples, start, count, _rawRows, _rollupRows), ct);
            stored += written.Value;
        }
        return stored;
    }

    private static async Task<int> WriteBatchAsync(Tx tx, IReadOnlyList<MachineSample> samples, int start, int count, int rawRows, int rollupRows)
    {
        // SQLite runs in-process: its async methods complete synchronously and only add overhead.
        var sync = rawRows == 1;
        // 1. Raw samples; RETURNING names the ones that were new.
        HashSet<(string, long)>? inserted = null;
        var allNew = true;
        var rawColumns = 2 + MeasurementColumns.Count;
        DbCommand? full = null;
        try
        {
            for (var i = 0; i < count; i += rawRows)
            {
                var rows = Math.Min(rawRows, count - i);
                var command = rows == rawRows ? full ??= Command(tx, RawSql(rows), rows, rawColumns) : Command(tx, RawSql(rows), rows, rawColumns);
                try
                {
                    var p = 0;
                    for (var r = 0; r < rows; r++)
                    {
                        var s = samples[start + i + r];
                        command.Parameters[p++].Value = s.MachineId;
                        command.Parameters[p++].Value = s.At;
                        foreach (var v in s.Values)
                        {
                            command.Parameters[p++].Value = v is { } d ? d : DBNull.Value;
                        }
                    }
                    var keys = new List<(string, long)>(rows);
                    await using (var reader = sync ? command.ExecuteReader() : await command.ExecuteReaderAsync())
                    {
                        while (sync ? reader.Read() : await reader.ReadAsync())
                        {
                            keys.Add((reader.GetString(0), reader.GetInt64(1)));
                        }
                    }
                    if (keys.Count != rows || !allNew)
                    {
                        if (allNew)
                        {
                            // Until now every sample was new: remember those of the earlier statements too.
                            inserted = new HashSet<(string, long)>();
                            for (var k = 0; k < i; k++)
                            {
                                inserted.Add((samples[start + k].MachineId, samples[start + k].At));
                            }
                            allNew = false;
                        }
                        inserted!.UnionWith(keys);
                    }
                }
                finally
                {
                    if (!ReferenceEquals(command, full))
                    {
                        await command.DisposeAsync();
                    }
                }
            }
        }
        finally
        {
            if (full is not null)
            {
                await full.DisposeAsync();
            }
        }

        // 2. Rollups of the new samples, folded in memory first so each bucket is one row per statement.
        var minutes = new Dictionary<(string, long), Rollup>();
        var hours = new Dictionary<(string, long), Rollup>();
        var stored = 0;
        for (var i = 0; i < count; i++)
        {
            var s = samples[start + i];
            if (!allNew && !inserted!.Remove((s.MachineId, s.At)))
            {
                continue;
            }
            stored++;
            Fold(minutes, s, s.At - Mod(s.At, 60_000));
            Fold(hours, s, s.At - Mod(s.At, 3_600_000));
        }
        await UpsertAsync(tx, TableOf(MeasurementTier.Minute), minutes, rollupRows);
        await UpsertAsync(tx, TableOf(MeasurementTier.Hour), hours, rollupRows);
        return stored;
    }

    private static long Mod(long t, long width) => ((t % width) + width) % width;

    private static void Fold(Dictionary<(string, long), Rollup> buckets, MachineSample s, long bucket)
    {
        if (!buckets.TryGetValue((s.MachineId, bucket), out var rollup))
        {
            rollup = new Rollup();
            buckets.Add((s.MachineId, bucket), rollup);
        }
        rollup.Add(s.Values);
    }

    private static async Task UpsertAsync(Tx tx, string table, Dictionary<(string, long), Rollup> buckets, int rollupRows)
    {
        var sync = rollupRows == 1;
        if (buckets.Count == 0)
        {
            return;
        }
        var columns = 2 + (4 * MeasurementColumns.Count);
        var entries = buckets.ToList();
        DbCommand? full = null;
        try
        {
            for (var i = 0; i < entries.Count; i += rollupRows)
            {
                var rows = Math.Min(rollupRows, entries.Count - i);
                var command = rows == rollupRows ? full ??= Command(tx, UpsertSql(table, rows), rows, columns) : Command(tx, UpsertSql(table, rows), rows, columns);
                try
                {
                    var p = 0;
                    for (var r = 0; r < rows; r++)
                    {
                        var ((machine, t), rollup) = entries[i + r];
                        command.Parameters[p++].Value = machine;
                        command.Parameters[p++].Value = t;
                        for (var m = 0; m < MeasurementColumns.Count; m++)
                        {
                            command.Parameters[p++].Value = rollup.N[m];
                            command.Parameters[p++].Value = rollup.Sum[m];
                            command.Parameters[p++].Value = rollup.N[m] > 0 ? rollup.Min[m] : DBNull.Value;
                            command.Parameters[p++].Value = rollup.N[m] > 0 ? rollup.Max[m] : DBNull.Value;
                        }
                    }
                    _ = sync ? command.ExecuteNonQuery() : await command.ExecuteNonQueryAsync();
                }
                finally
                {
                    if (!ReferenceEquals(command, full))
                    {
                        await command.DisposeAsync();
                    }
                }
            }
        }
        finally
        {
            if (full is not null)
            {
                await full.DisposeAsync();
            }
        }
    }

    private static DbCommand Command(Tx tx, string sql, int rows, int columns)
    {
        var command = tx.Connection.CreateCommand();
        command.Transaction = tx.Transaction;
        command.CommandText = sql;
        var rollup = columns != 2 + MeasurementColumns.Count;
        for (var i = 0; i < rows * columns; i++)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = "@p" + i;
            var c = i % columns;
            // Typed even when null, so PostgreSQL never has to guess a parameter's type.
            parameter.DbType = c == 0 ? DbType.String : c == 1 ? DbType.Int64 : rollup && (c - 2) % 4 == 0 ? DbType.Int64 : DbType.Double;
            command.Parameters.Add(parameter);
        }
        return command;
    }

    private static string Values(int rows, int columns)
    {
        var b = new System.Text.StringBuilder();
        for (var r = 0; r < rows; r++)
        {
            b.Append(r == 0 ? "(" : ",(");
            for (var c = 0; c < columns; c++)
            {
                b.Append(c == 0 ? "@p" : ",@p").Append((r * columns) + c);
            }
            b.Append(')');
        }
        return b.ToString();
    }

    private static string RawSql(int rows) => Sql.GetOrAdd(("raw", rows), k =>
        $"INSERT INTO measurements_raw (machine_id, t, {string.Join(", ", MeasurementColumns.All)}) VALUES {Values(k.Rows, 2 + MeasurementColumns.Count)} "
        + "ON CONFLICT (machine_id, t) DO NOTHING RETURNING machine_id, t");

    private static string UpsertSql(string table, int rows) => Sql.GetOrAdd((table, rows), k =>
    {
        var names = MeasurementColumns.All.SelectMany(c => new[] { c + "_n", c + "_sum", c + "_min", c + "_max" });
        var sets = MeasurementColumns.All.SelectMany(c => new[]
        {
            $"{c}_n = r.{c}_n + excluded.{c}_n",
            $"{c}_sum = r.{c}_sum + excluded.{c}_sum",
            $"{c}_min = CASE WHEN excluded.{c}_min IS NULL THEN r.{c}_min WHEN r.{c}_min IS NULL OR excluded.{c}_min < r.{c}_min THEN excluded.{c}_min ELSE r.{c}_min END",
            $"{c}_max = CASE WHEN excluded.{c}_max IS NULL THEN r.{c}_max WHEN r.{c}_max IS NULL OR excluded.{c}_max > r.{c}_max THEN excluded.{c}_max ELSE r.{c}_max END",
        });
        return $"INSERT INTO {k.Table} AS r (machine_id, t, {string.Join(", ", names)}) VALUES {Values(k.Rows, 2 + (4 * MeasurementColumns.Count))} "
            + $"ON CONFLICT (machine_id, t) DO UPDATE SET {string.Join(", ", sets)}";
    });

    private sealed class Rollup
    {
        public long[] N { get; } = new long[MeasurementColumns.Count];

        public double[] Sum { get; } = new double[MeasurementColumns.Count];

        public double[] Min { get; } = new double[MeasurementColumns.Count];

        public double[] Max { get; } = new double[MeasurementColumns.Count];

        public void Add(double?[] values)
        {
            for (var m = 0; m < values.Length; m++)
            {
                if (values[m] is not { } v)
                {
                    continue;
                }
                Min[m] = N[m] == 0 ? v : Math.Min(Min[m], v);
                Max[m] = N[m] == 0 ? v : Math.Max(Max[m], v);
                Sum[m] += v;
                N[m]++;
            }
        }
    }

    // ---- Retention --------------------------------------------------------------------------

    /// <summary>Deletes what each tier keeps no longer; returns the rows deleted per tier.</summary>
    public async Task<(long Raw, long Minute, long Hour)> PruneAsync(DateTimeOffset now, CancellationToken ct)
    {
        var result = await db.WriteAsync<(long, long, long)>(async tx =>
        {
            var raw = await tx.ExecuteAsync("DELETE FROM measurements_raw WHERE t < @Cut", new { Cut = DbTime.ToDb(now - options.RawRetention) });
            var minute = await tx.ExecuteAsync("DELETE FROM measurements_1m WHERE t < @Cut", new { Cut = DbTime.ToDb(now - options.MinuteRetention) });
            var hour = await tx.ExecuteAsync("DELETE FROM measurements_1h WHERE t < @Cut", new { Cut = DbTime.ToDb(now - options.HourRetention) });
            return (raw, minute, hour);
        }, ct);
        return result.Value;
    }

    // ---- Queries ----------------------------------------------------------------------------

    public async Task<double?> AggregateAsync(
        IReadOnlyList<string> machineIds, string metric, DateTimeOffset from, DateTimeOffset to,
        Aggregation aggregation, double? percentile, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(machineIds);
        var index = MeasurementColumns.IndexOf(metric);
        if (index < 0)
        {
            throw new ArgumentException($"'{metric}' is not a metric.", nameof(metric));
        }
        var series = await SeriesAsync(machineIds, index, from, to, FinestCovering(from), aggregation, percentile, points: false, ct);
        return series.Value;
    }

    /// <summary>
    /// The series of a metric over <paramref name="machineIds"/> in [<paramref name="from"/>,
    /// <paramref name="to"/>) at <paramref name="tier"/> (a rollup bucket belongs to the range when
    /// its start does), one point per instant or bucket, and the aggregate over the whole range.
    /// </summary>
    public async Task<MeasurementSeries> SeriesAsync(
        IReadOnlyList<string> machineIds, int metric, DateTimeOffset from, DateTimeOffset to, MeasurementTier tier,
        Aggregation aggregation, double? percentile, bool points, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(machineIds);
        if (machineIds.Count == 0 || to <= from)
        {
            return new MeasurementSeries(tier, [], null, 0, true);
        }
        var column = MeasurementColumns.All[metric];
        var args = new DynamicParameters(new { From = DbTime.ToDb(from), To = DbTime.ToDb(to) });
        var ids = SqlLists.In(args, "Id", machineIds);
        if (aggregation != Aggregation.Percentile)
        {
            var sql = tier == MeasurementTier.Raw
                ? $"SELECT t AS T, COUNT({column}) AS N, SUM({column}) AS S, MIN({column}) AS Lo, MAX({column}) AS Hi FROM measurements_raw "
                  + $"WHERE machine_id {ids} AND t >= @From AND t < @To AND {column} IS NOT NULL GROUP BY t ORDER BY t"
                : $"SELECT t AS T, CAST(SUM({column}_n) AS BIGINT) AS N, SUM({column}_sum) AS S, MIN({column}_min) AS Lo, MAX({column}_max) AS Hi FROM {TableOf(tier)} "
                  + $"WHERE machine_id {ids} AND t >= @From AND t < @To AND {column}_n > 0 GROUP BY t ORDER BY t";
            var rows = await db.QueryAsync<BucketRow>(sql, args, ct);
            var list = new List<SeriesPoint>(points ? rows.Count : 0);
            long n = 0;
            double sum = 0, lo = double.MaxValue, hi = double.MinValue;
            foreach (var row in rows)
            {
                n += row.N;
                sum += row.S;
                lo = Math.Min(lo, row.Lo);
                hi = Math.Max(hi, row.Hi);
                if (points)
                {
                    list.Add(new SeriesPoint(row.T, Pick(aggregation, row.S / row.N, row.Lo, row.Hi), row.N));
                }
            }
            return new MeasurementSeries(tier, list, n == 0 ? null : Pick(aggregation, sum / n, lo, hi), n, true);
        }

        var p = Math.Clamp(percentile ?? 50, 0, 100);
        // Percentiles need the samples themselves: the finest tier that still holds the range.
        var source = tier;
        foreach (var finer in new[] { MeasurementTier.Raw, MeasurementTier.Minute })
        {
            if (finer < tier && Covers(finer, from))
            {
                source = finer;
                break;
            }
        }
        var atomSql = source == MeasurementTier.Raw
            ? $"SELECT t AS T, CAST(1 AS BIGINT) AS N, {column} AS S FROM measurements_raw WHERE machine_id {ids} AND t >= @From AND t < @To AND {column} IS NOT NULL"
            : $"SELECT t AS T, {column}_n AS N, {column}_sum AS S FROM {TableOf(source)} WHERE machine_id {ids} AND t >= @From AND t < @To AND {column}_n > 0";
        var atoms = await db.QueryAsync<AtomRow>(atomSql, args, ct);
        var all = new List<(double Value, long Weight)>(atoms.Count);
        var width = BucketMs(tier);
        var buckets = new SortedDictionary<long, List<(double Value, long Weight)>>();
        foreach (var atom in atoms)
        {
            var value = (atom.S / atom.N, atom.N);
            all.Add(value);
            if (points)
            {
                var bucket = width == 0 ? atom.T : atom.T - Mod(atom.T, width);
                if (!buckets.TryGetValue(bucket, out var members))
                {
                    members = [];
                    buckets.Add(bucket, members);
                }
                members.Add(value);
            }
        }
        var series = buckets.Select(b => new SeriesPoint(b.Key, Percentile(b.Value, p)!.Value, b.Value.Sum(v => v.Weight))).ToList();
        return new MeasurementSeries(tier, series, Percentile(all, p), all.Sum(a => a.Weight), source == MeasurementTier.Raw);
    }

    private static double Pick(Aggregation aggregation, double mean, double lo, double hi) => aggregation switch
    {
        Aggregation.Max => hi,
        Aggregation.Min => lo,
        _ => mean,
    };

    /// <summary>
    /// Nearest-rank percentile (a value that was observed) over values with weights: the smallest
    /// value whose cumulative weight reaches ceil(p / 100 × total weight), at least the first.
    /// </summary>
    public static double? Percentile(List<(double Value, long Weight)> values, double p)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0)
        {
            return null;
        }
        values.Sort((a, b) => a.Value.CompareTo(b.Value));
        var total = values.Sum(v => v.Weight);
        var rank = Math.Max(1, (long)Math.Ceiling((p * total / 100) - 1e-9));
        long cumulative = 0;
        foreach (var (value, weight) in values)
        {
            cumulative += weight;
            if (cumulative >= rank)
            {
                return value;
            }
        }
        return values[^1].Value;
    }

    private sealed class BucketRow
    {
        public long T { get; init; }

        public long N { get; init; }

        public double S { get; init; }

        public double Lo { get; init; }

        public double Hi { get; init; }
    }

    private sealed class AtomRow
    {
        public long T { get; init; }

        public long N { get; init; }

        public double S { get; init; }
    }
}

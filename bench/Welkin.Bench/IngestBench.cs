using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Welkin.Core.Compute;
using Welkin.Core.Data;
using Welkin.Core.Monitoring;
using Welkin.Persistence;

namespace Welkin.Bench;

/// <summary>
/// Measurement ingest on the embedded SQLite store: N machines' cumulative counters per tick go
/// through the collector's rate conversion and <see cref="MeasurementStore.IngestAsync"/> (raw
/// rows, 1-minute and 1-hour rollups in the same transactions, durable commits), tick after tick.
/// A sample is one metric value of one machine at one instant; a reading is one machine's seven.
/// </summary>
internal static class IngestBench
{
    public static async Task RunAsync(string[] args)
    {
        var machines = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10_000;
        var ticks = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 30;
        var interval = TimeSpan.FromSeconds(args.Length > 2 ? double.Parse(args[2], CultureInfo.InvariantCulture) : 10);
        var root = args.Length > 3 ? args[3] : Path.Combine(Path.GetTempPath(), "welkin-bench-ingest-" + Guid.NewGuid().ToString("n"));
        Directory.CreateDirectory(root);
        Console.WriteLine($"ingest: {Environment.ProcessorCount} cores, {machines} machines, {ticks} ticks {interval.TotalSeconds} s apart, directory {root}");
        try
        {
            var db = new SqliteDatabase(Path.Combine(root, "welkin.db"));
            var start = new DateTimeOffset(2026, 11, 2, 0, 0, 0, TimeSpan.Zero);
            var clock = new FixedClock(start);
            await new Migrator(db, db, clock, NullLogger<Migrator>.Instance).ApplyAsync(CancellationToken.None);
            var options = new MonitoringOptions { Interval = interval };
            var store = new MeasurementStore(db, options, clock);
            var rates = new CounterRates();
            var ids = Enumerable.Range(0, machines).Select(i => $"mch_{i:D26}").ToArray();
            var random = new Random(42);
            var cpuMs = new long[machines];
            var faults = new long[machines];
            var bytes = new long[machines];
            long readings = 0;
            double convertSeconds = 0;
            var total = Stopwatch.StartNew();
            for (var tick = 0; tick < ticks; tick++)
            {
                var at = start + (interval * tick);
                var convert = Stopwatch.StartNew();
                var samples = new List<MachineSample>(machines);
                for (var m = 0; m < machines; m++)
                {
                    cpuMs[m] += (long)(interval.TotalMilliseconds * 2 * random.NextDouble());
                    faults[m] += random.Next(0, 2_000);
                    bytes[m] += random.Next(0, 1 << 20);
                    var metrics = new MachineMetrics(at, 50, cpuMs[m], 1L << 30, faults[m], bytes[m], bytes[m] / 2, bytes[m] / 4, bytes[m] / 8);
                    samples.Add(rates.Convert(ids[m], 2, metrics, at.ToUnixTimeMilliseconds()));
                }
                convertSeconds += convert.Elapsed.TotalSeconds;
                readings += await store.IngestAsync(samples, CancellationToken.None);
            }
            total.Stop();
            var perSecond = readings / total.Elapsed.TotalSeconds;
            var rows = await db.ExecuteScalarAsync<long>("SELECT (SELECT COUNT(*) FROM measurements_raw) * 1000000 + (SELECT COUNT(*) FROM measurements_1m)", null, CancellationToken.None);
            var hours = await db.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM measurements_1h", null, CancellationToken.None);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"ingest: {readings} readings ({readings * MeasurementColumns.Count} samples) in {total.Elapsed.TotalSeconds:0.00} s: "
                + $"{perSecond * MeasurementColumns.Count:0} samples/s ({perSecond:0} readings/s), downsampling on, batches of {options.BatchSize}; "
                + $"rate conversion {convertSeconds:0.00} s"));
            Console.WriteLine($"  rows: raw {rows / 1_000_000}, 1m {rows % 1_000_000}, 1h {hours}");

            // The same query path the API uses, once the data is in.
            var query = Stopwatch.StartNew();
            var series = await store.SeriesAsync(ids.Take(100).ToList(), MeasurementColumns.Cpu, start, start + (interval * ticks), MeasurementTier.Raw,
                Aggregation.Percentile, 95, points: true, CancellationToken.None);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  query: p95 CPU of 100 machines over the run, raw: {series.Points.Count} points from {series.Samples} samples in {query.Elapsed.TotalMilliseconds:0} ms"));
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(root, recursive: true);
        }
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}

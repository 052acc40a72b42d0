using Microsoft.Extensions.Logging;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Data;

namespace Welkin.Core.Monitoring;

/// <summary>
/// Measures every running machine once per <see cref="MonitoringOptions.Interval"/>: reads its
/// counters from the driver, turns them into rates since the previous tick and stores the samples
/// (with their rollups). Samples are stamped with the tick, so the machines of an instance or a
/// contract line up on the same instants.
/// </summary>
public sealed class MeasurementCollector(IDatabase db, ComputeFabric fabric, MeasurementStore store, MonitoringOptions options, ILogger<MeasurementCollector> logger)
    : IPeriodicWork, IDisposable
{
    private readonly CounterRates _rates = new();
    private readonly SemaphoreSlim _one = new(1, 1);

    public string Name => "monitoring.collect";

    public TimeSpan Interval => options.Interval;

    public async Task RunAsync(DateTimeOffset now, CancellationToken ct)
    {
        // One tick at a time: the counters of the previous tick are the base of this one's rates.
        await _one.WaitAsync(ct);
        try
        {
            var machines = await Instances.MachineStore.RunningAsync(db, ct);
            var readings = new MachineMetrics?[machines.Count];
            await Parallel.ForAsync(0, machines.Count, new ParallelOptions { MaxDegreeOfParallelism = options.Parallelism, CancellationToken = ct }, async (i, token) =>
            {
                // Each machine is measured by the driver of its pool.
                var metrics = fabric.Find(machines[i].Pool) is { } pool ? await pool.Driver.MetricsAsync(machines[i].Id, token) : default;
                readings[i] = metrics.IsSuccess ? metrics.Value : null;
            });
            var at = DbTime.ToDb(now);
            var samples = new List<MachineSample>(machines.Count);
            var measured = new HashSet<string>(StringComparer.Ordinal);
            for (var i = 0; i < machines.Count; i++)
            {
                if (readings[i] is { } metrics)
                {
                    samples.Add(_rates.Convert(machines[i].Id, (int)machines[i].Vcpus, metrics, at));
                    measured.Add(machines[i].Id);
                }
            }
            _rates.Retain(measured);
            var stored = await store.IngestAsync(samples, ct);
            if (samples.Count < machines.Count)
            {
                logger.LogInformation("Measured {Measured} of {Running} running machines at {Tick}; the driver had no metrics for the others", samples.Count, machines.Count, now);
            }
            logger.LogDebug("Stored {Stored} samples at {Tick}", stored, now);
        }
        finally
        {
            _one.Release();
        }
    }

    public void Dispose() => _one.Dispose();
}

/// <summary>Deletes samples older than their tier's retention, once per <see cref="MonitoringOptions.PruneInterval"/>.</summary>
public sealed class MeasurementPruner(MeasurementStore store, MonitoringOptions options, ILogger<MeasurementPruner> logger) : IPeriodicWork
{
    public string Name => "monitoring.prune";

    public TimeSpan Interval => options.PruneInterval;

    public async Task RunAsync(DateTimeOffset now, CancellationToken ct)
    {
        var (raw, minute, hour) = await store.PruneAsync(now, ct);
        if (raw + minute + hour > 0)
        {
            logger.LogInformation("Pruned measurements: {Raw} raw, {Minute} minute and {Hour} hour rows", raw, minute, hour);
        }
    }
}

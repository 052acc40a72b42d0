using Welkin.Core.Compute;

namespace Welkin.Core.Monitoring;

/// <summary>
/// One machine's measured values at one instant, in the order of <see cref="MetricNames.All"/>;
/// a null value was not measured (a rate needs two samples).
/// </summary>
public readonly record struct MachineSample(string MachineId, long At, double?[] Values);

/// <summary>
/// Turns the driver's cumulative counters (since the machine started) into rates between two
/// samples of the same machine. Not thread-safe: one collector owns one instance.
/// </summary>
public sealed class CounterRates
{
    private readonly Dictionary<string, MachineMetrics> _last = new(StringComparer.Ordinal);

    public int Machines => _last.Count;

    /// <summary>
    /// The sample of <paramref name="metrics"/> stamped <paramref name="at"/> (Unix ms). CPU
    /// utilisation is the CPU time used since the previous sample over the time elapsed and the
    /// vCPUs; the other rates are counter deltas per second. Without a usable previous sample
    /// (the first one, or counters that went back because the machine was restarted) CPU
    /// utilisation is the driver's instantaneous figure and the rates are left unmeasured.
    /// </summary>
    public MachineSample Convert(string machineId, int vcpus, MachineMetrics metrics, long at)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        var values = new double?[MeasurementColumns.Count];
        values[MeasurementColumns.Memory] = metrics.MemoryUsedBytes;
        values[MeasurementColumns.Cpu] = Math.Clamp(metrics.CpuUtilizationPercent, 0, 100);
        if (_last.TryGetValue(machineId, out var last) && metrics.At > last.At
            && metrics.CpuTimeMs >= last.CpuTimeMs && metrics.PageFaults >= last.PageFaults
            && metrics.DiskReadBytes >= last.DiskReadBytes && metrics.DiskWriteBytes >= last.DiskWriteBytes
            && metrics.NetworkRxBytes >= last.NetworkRxBytes && metrics.NetworkTxBytes >= last.NetworkTxBytes)
        {
            var ms = (metrics.At - last.At).TotalMilliseconds;
            var seconds = ms / 1000;
            values[MeasurementColumns.Cpu] = Math.Clamp((metrics.CpuTimeMs - last.CpuTimeMs) * 100.0 / (ms * Math.Max(1, vcpus)), 0, 100);
            values[MeasurementColumns.PageFaults] = (metrics.PageFaults - last.PageFaults) / seconds;
            values[MeasurementColumns.DiskRead] = (metrics.DiskReadBytes - last.DiskReadBytes) / seconds;
            values[MeasurementColumns.DiskWrite] = (metrics.DiskWriteBytes - last.DiskWriteBytes) / seconds;
            values[MeasurementColumns.NetworkRx] = (metrics.NetworkRxBytes - last.NetworkRxBytes) / seconds;
            values[MeasurementColumns.NetworkTx] = (metrics.NetworkTxBytes - last.NetworkTxBytes) / seconds;
        }
        _last[machineId] = metrics;
        return new MachineSample(machineId, at, values);
    }

    /// <summary>Forgets machines that are no longer measured, so a machine that runs again starts afresh.</summary>
    public void Retain(IReadOnlySet<string> machineIds)
    {
        foreach (var id in _last.Keys.Where(id => !machineIds.Contains(id)).ToList())
        {
            _last.Remove(id);
        }
    }
}

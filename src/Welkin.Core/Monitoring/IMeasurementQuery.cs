namespace Welkin.Core.Monitoring;

/// <summary>The measured quantities of a machine, as the Service Monitor stores and queries them.</summary>
public static class MetricNames
{
    public const string CpuUtilization = "cpu-utilization-percent";
    public const string MemoryUsed = "memory-used-bytes";
    public const string PageFaults = "page-faults-per-second";
    public const string DiskRead = "disk-read-bytes-per-second";
    public const string DiskWrite = "disk-write-bytes-per-second";
    public const string NetworkRx = "network-rx-bytes-per-second";
    public const string NetworkTx = "network-tx-bytes-per-second";

    public static IReadOnlyList<string> All { get; } = [CpuUtilization, MemoryUsed, PageFaults, DiskRead, DiskWrite, NetworkRx, NetworkTx];
}

public enum Aggregation
{
    Mean,
    Max,
    Min,
    Percentile,
}

/// <summary>
/// What the SLA evaluation and scaling policies ask the Service Monitor: one number for a metric
/// over some machines and a time range.
/// </summary>
public interface IMeasurementQuery
{
    /// <summary>
    /// The aggregate of <paramref name="metric"/> (one of <see cref="MetricNames"/>) over every
    /// sample of <paramref name="machineIds"/> in [<paramref name="from"/>, <paramref name="to"/>);
    /// null when there is no sample. <paramref name="percentile"/> (0–100) is used with
    /// <see cref="Aggregation.Percentile"/>.
    /// </summary>
    Task<double?> AggregateAsync(
        IReadOnlyList<string> machineIds, string metric, DateTimeOffset from, DateTimeOffset to,
        Aggregation aggregation, double? percentile, CancellationToken ct);
}

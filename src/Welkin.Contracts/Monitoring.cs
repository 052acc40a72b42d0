namespace Welkin.Contracts;

// ---- Service Monitor ------------------------------------------------------------------------

/// <summary>
/// A measured series of one metric over a machine, an instance's or a contract's machines: one
/// point per instant (raw) or bucket (1m, 1h), each the aggregation of every sample in it, and
/// <see cref="Value"/>, the aggregation over the whole range. <see cref="Exact"/> is false when a
/// percentile had to be approximated from rollups because the raw samples are no longer kept.
/// </summary>
public sealed record MeasurementSeriesView(
    string Target,
    string TargetKind,
    string Metric,
    string Unit,
    DateTimeOffset From,
    DateTimeOffset To,
    string Resolution,
    string Aggregation,
    double? Value,
    long Samples,
    bool Exact,
    IReadOnlyList<string> Machines,
    IReadOnlyList<MeasurementPointView> Points);

/// <param name="T">The instant of a raw sample, or the start of a rollup bucket.</param>
/// <param name="Samples">How many samples the point aggregates.</param>
public sealed record MeasurementPointView(DateTimeOffset T, double Value, long Samples);

/// <summary>
/// What a simulated guest does (or, for an instance, the instance's total demand): CPU utilisation
/// in percent of one machine's vCPUs, resident memory as a fraction of its memory, and rates per second.
/// </summary>
public sealed record LoadSettings(
    double CpuUtilizationPercent,
    double MemoryUsedFraction,
    double PageFaultsPerSecond,
    long DiskReadBytesPerSecond,
    long DiskWriteBytesPerSecond,
    long NetworkRxBytesPerSecond,
    long NetworkTxBytesPerSecond)
{
    /// <summary>A lightly used server: what a guest does until it is told otherwise.</summary>
    public static LoadSettings Default { get; } = new(5, 0.3, 20, 64 * 1024, 32 * 1024, 16 * 1024, 8 * 1024);
}

/// <summary>A new load; members left out take the values of <see cref="LoadSettings.Default"/>.</summary>
public sealed record LoadRequest(
    double? CpuUtilizationPercent = null,
    double? MemoryUsedFraction = null,
    double? PageFaultsPerSecond = null,
    long? DiskReadBytesPerSecond = null,
    long? DiskWriteBytesPerSecond = null,
    long? NetworkRxBytesPerSecond = null,
    long? NetworkTxBytesPerSecond = null);

/// <param name="Target">The machine or instance.</param>
/// <param name="Machines">How many machines on the fabric the load applies to now.</param>
public sealed record LoadView(string Target, string TargetKind, LoadSettings Load, int Machines);

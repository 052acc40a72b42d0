namespace Welkin.Core.Monitoring;

/// <summary>The <c>Monitoring</c> section: how often machines are measured and how long each tier is kept.</summary>
public sealed class MonitoringOptions
{
    /// <summary>How often every running machine is measured (a tick of the server's clock).</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(60);

    public TimeSpan RawRetention { get; set; } = TimeSpan.FromDays(2);

    public TimeSpan MinuteRetention { get; set; } = TimeSpan.FromDays(30);

    public TimeSpan HourRetention { get; set; } = TimeSpan.FromDays(400);

    /// <summary>How often samples older than their tier's retention are deleted.</summary>
    public TimeSpan PruneInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Samples per write transaction: bigger batches ingest faster, smaller ones hold the writer for less time.</summary>
    public int BatchSize { get; set; } = 2_000;

    /// <summary>How many machines' metrics are read from the driver at once.</summary>
    public int Parallelism { get; set; } = 16;

    public void Validate()
    {
        if (Interval < TimeSpan.FromSeconds(1) || Interval > TimeSpan.FromHours(1))
        {
            throw new ArgumentException("Monitoring:Interval must be between 1 second and 1 hour.");
        }
        if (RawRetention <= TimeSpan.Zero || MinuteRetention <= TimeSpan.Zero || HourRetention <= TimeSpan.Zero || PruneInterval <= TimeSpan.Zero)
        {
            throw new ArgumentException("Monitoring retentions and PruneInterval must be positive.");
        }
        if (BatchSize is < 1 or > 100_000 || Parallelism is < 1 or > 1_024)
        {
            throw new ArgumentException("Monitoring:BatchSize must be 1-100000 and Parallelism 1-1024.");
        }
    }
}

/// <summary>Where each metric of <see cref="MetricNames"/> lives in the measurement tables.</summary>
public static class MeasurementColumns
{
    /// <summary>Column names in the order of <see cref="MetricNames.All"/>.</summary>
    public static IReadOnlyList<string> All { get; } = ["cpu", "mem", "pf", "dr", "dw", "rx", "tx"];

    public const int Cpu = 0;
    public const int Memory = 1;
    public const int PageFaults = 2;
    public const int DiskRead = 3;
    public const int DiskWrite = 4;
    public const int NetworkRx = 5;
    public const int NetworkTx = 6;

    public static int Count => All.Count;

    /// <summary>The index of <paramref name="metric"/>, or -1 for a name that is not a metric.</summary>
    public static int IndexOf(string? metric)
    {
        for (var i = 0; i < MetricNames.All.Count; i++)
        {
            if (string.Equals(MetricNames.All[i], metric, StringComparison.Ordinal))
            {
                return i;
            }
        }
        return -1;
    }

    public static string Unit(int index) => index switch
    {
        Cpu => "percent",
        Memory => "bytes",
        PageFaults => "per-second",
        _ => "bytes-per-second",
    };
}

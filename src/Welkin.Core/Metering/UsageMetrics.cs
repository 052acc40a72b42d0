using Welkin.Contracts;

namespace Welkin.Core.Metering;

/// <summary>The metrics of <c>usage_records</c>: exact integers in millisecond units, and their readable forms.</summary>
public static class UsageMetrics
{
    public const string VcpuMs = "vcpu-ms";
    public const string MemoryMibMs = "memory-mib-ms";
    public const string StorageGibMs = "storage-gib-ms";
    public const string UnitProvisionedMs = "unit-provisioned-ms";
    public const string UnitOrderedMs = "unit-ordered-ms";

    public const long HourMs = 3_600_000;
    public const long DayMs = 86_400_000;

    public static readonly IReadOnlyList<string> All = [VcpuMs, MemoryMibMs, StorageGibMs, UnitProvisionedMs, UnitOrderedMs];

    /// <summary>The readable unit of a metric.</summary>
    public static string ReadableUnit(string metric) => metric switch
    {
        VcpuMs => "vCPU-hours",
        MemoryMibMs => "GiB-hours",
        StorageGibMs => "TB-days",
        _ => "unit-months",
    };

    /// <summary>
    /// What one readable unit is in raw units, for a quantity that lies in the month starting at
    /// <paramref name="monthStart"/>: unit-months depend on the month's length (billing periods
    /// are calendar months); 1 TB = 1,024 GiB.
    /// </summary>
    public static decimal Divisor(string metric, DateTimeOffset monthStart) => metric switch
    {
        VcpuMs => HourMs,
        MemoryMibMs => 1024m * HourMs,
        StorageGibMs => 1024m * DayMs,
        _ => (decimal)(monthStart.AddMonths(1) - monthStart).TotalMilliseconds,
    };

    public static UsageQuantity Quantity(string metric, long quantity, decimal readable) =>
        new(metric, quantity, metric, Math.Round(readable, 6, MidpointRounding.ToEven), ReadableUnit(metric));

    /// <summary>The first instant of the UTC month holding <paramref name="t"/>.</summary>
    public static DateTimeOffset MonthStart(DateTimeOffset t) => new(t.Year, t.Month, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Splits [from, to) at UTC month boundaries.</summary>
    public static IEnumerable<(DateTimeOffset From, DateTimeOffset To, DateTimeOffset Month)> Months(DateTimeOffset from, DateTimeOffset to)
    {
        var t = from;
        while (t < to)
        {
            var month = MonthStart(t);
            var next = month.AddMonths(1);
            var end = next < to ? next : to;
            yield return (t, end, month);
            t = end;
        }
    }
}

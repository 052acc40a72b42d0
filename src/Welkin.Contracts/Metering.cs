using System.Globalization;

namespace Welkin.Contracts;

// Data artifacts of metering and contract reporting (Table 1, "Contract Reporting"): usage derived
// from the lifecycle events, its reconciliation against them, and the contract report.

/// <summary>One metric's total: the exact raw quantity and a readable figure.</summary>
/// <param name="Metric">vcpu-ms, memory-mib-ms, storage-gib-ms, unit-provisioned-ms or unit-ordered-ms.</param>
/// <param name="Quantity">The exact integer in the metric's millisecond unit.</param>
/// <param name="Unit">The raw unit (the metric's name).</param>
/// <param name="Readable">The quantity in <paramref name="ReadableUnit"/> (vCPU-hours, GiB-hours, TB-days, unit-months), to 6 decimals.</param>
public sealed record UsageQuantity(string Metric, long Quantity, string Unit, decimal Readable, string ReadableUnit);

/// <summary>The totals of one group (a contract, a resource, an hour; the metric itself for groupBy=metric).</summary>
public sealed record UsageGroup(string Key, IReadOnlyList<UsageQuantity> Totals);

/// <summary>Usage of an account or a contract over [From, To).</summary>
/// <param name="MeteredTo">Usage is materialised up to this instant; later usage appears as the meter catches up.</param>
public sealed record UsageReport(
    string AccountId,
    string? ContractId,
    DateTimeOffset From,
    DateTimeOffset To,
    DateTimeOffset? MeteredTo,
    string? GroupBy,
    IReadOnlyList<UsageQuantity> Totals,
    IReadOnlyList<UsageGroup> Groups);

/// <summary>A stretch of time where the usage records disagree with the event log.</summary>
/// <param name="Kind">gap (expected, not covered), overlap (covered more than once), unexpected (covered, nothing expected), quantity-mismatch (covered at the wrong rate).</param>
/// <param name="ExpectedRate">What the events say per millisecond (vCPUs, MiB, GiB, units), when anything.</param>
/// <param name="RecordedRate">What the records say per millisecond, when one record covers the stretch.</param>
public sealed record UsageDiscrepancy(
    string ResourceId,
    string Metric,
    int Item,
    string Kind,
    DateTimeOffset From,
    DateTimeOffset To,
    long? ExpectedRate,
    long? RecordedRate,
    string Detail);

/// <summary>The reconciliation of an account's usage records against its event log over [From, CheckedTo).</summary>
/// <param name="CheckedTo">The end of the range checked: To, or now when To lies in the future.</param>
/// <param name="ExpectedMs">Milliseconds of resource time the events call for, summed over resources and metrics.</param>
/// <param name="CoveredMs">Milliseconds of that time covered by exactly one record at the right rate.</param>
public sealed record ReconciliationReport(
    string AccountId,
    DateTimeOffset From,
    DateTimeOffset To,
    DateTimeOffset CheckedTo,
    bool Ok,
    int Resources,
    int Records,
    long ExpectedMs,
    long CoveredMs,
    IReadOnlyList<UsageDiscrepancy> Discrepancies,
    bool Truncated);

/// <summary>One entry of a contract's timeline.</summary>
/// <param name="Kind">deployed, activated, deactivated, reactivated, resized, failed, released; for the contract itself contract-activated, contract-amended, contract-terminated.</param>
/// <param name="ResourceKind">machine, volume or contract.</param>
public sealed record ContractTimelineEntry(DateTimeOffset At, string Kind, string ResourceKind, string ResourceId, string Detail);

/// <summary>
/// The one precision of the contract report's numbers: they are rounded half-even to two decimals
/// where they are computed, and every rendering (summary, CLI tables, SVG labels) writes them the
/// same way, without trailing zeros ("2.53", "1.5", "3").
/// </summary>
public static class ReportNumbers
{
    public const int Decimals = 2;

    public static decimal Round(decimal value) => decimal.Round(value, Decimals, MidpointRounding.ToEven);

    public static string Format(decimal value) => Round(value).ToString("0.##", CultureInfo.InvariantCulture);
}

/// <summary>Mean number of active servers in one hour of the day (UTC) over the report's range.</summary>
public sealed record HourOfDayUsage(int Hour, decimal MeanActiveServers);

/// <summary>One UTC day of the report's range.</summary>
/// <param name="ActiveServerHours">Server-hours of active machines that day.</param>
/// <param name="MeanActiveServers">Active servers on average over the part of the day in the range.</param>
/// <param name="PeakActiveServers">The most machines active at once that day.</param>
public sealed record DailyUsage(DateOnly Date, decimal ActiveServerHours, decimal MeanActiveServers, int PeakActiveServers);

/// <summary>
/// Contract Reporting (Table 1): what happened to a contract's resources over [From, To) and how
/// many servers were active when, derived from the event log.
/// </summary>
/// <param name="To">The end of the range; now when the asked end lies in the future.</param>
/// <param name="Summary">The hour-of-day profile in words, from the same numbers as <paramref name="HourOfDay"/>, e.g. "3 servers 06:00-22:00, 2.53 servers on average 22:00-06:00 (UTC)".</param>
public sealed record ContractReport(
    string ContractId,
    string AccountId,
    string? Name,
    DateTimeOffset From,
    DateTimeOffset To,
    IReadOnlyList<ContractTimelineEntry> Timeline,
    bool TimelineTruncated,
    IReadOnlyList<HourOfDayUsage> HourOfDay,
    IReadOnlyList<DailyUsage> Days,
    decimal ActiveServerHours,
    string Summary);

using System.Globalization;
using Welkin.Contracts;
using Welkin.Core.Data;
using Welkin.Core.Events;

namespace Welkin.Core.Metering;

/// <summary>
/// Builds the contract report (Table 1, "Contract Reporting") from a contract's events: the
/// timeline, and the active servers by hour of day and by day. Pure, so it is tested without a server.
/// </summary>
internal static class ContractReports
{
    public const int MaxTimeline = 2000;

    /// <param name="events">The contract's, its machines' and its volumes' events, in seq order, from the beginning.</param>
    public static ContractReport Build(string contractId, string accountId, string? name, IReadOnlyList<UsageEventRow> events, long from, long to)
    {
        var timeline = new List<ContractTimelineEntry>();
        var truncated = false;
        var active = new Dictionary<string, long>(StringComparer.Ordinal);
        var activatedBefore = new HashSet<string>(StringComparer.Ordinal);
        var intervals = new List<(long Start, long End)>();
        void Stop(string machine, long at)
        {
            if (active.Remove(machine, out var start))
            {
                Add(start, at);
            }
        }
        void Add(long start, long end)
        {
            start = Math.Max(start, from);
            end = Math.Min(end, to);
            if (end > start)
            {
                intervals.Add((start, end));
            }
        }
        foreach (var e in events.Where(e => e.At < to))
        {
            string? kind = null;
            var resourceKind = e.Type.StartsWith("volume.", StringComparison.Ordinal) ? "volume" : e.Type.StartsWith("contract.", StringComparison.Ordinal) ? "contract" : "machine";
            var detail = "";
            switch (e.Type)
            {
                case EventLog.Types.MachineProvisioned:
                    kind = "deployed";
                    detail = Size(e);
                    break;
                case EventLog.Types.MachineActivated:
                    kind = activatedBefore.Add(e.Target) ? "activated" : "reactivated";
                    detail = Size(e);
                    if (!active.ContainsKey(e.Target))
                    {
                        active[e.Target] = e.At;
                    }
                    break;
                case EventLog.Types.MachineDeactivated:
                    kind = "deactivated";
                    Stop(e.Target, e.At);
                    break;
                case EventLog.Types.MachineResized:
                    kind = "resized";
                    detail = FormattableString.Invariant($"{e.Text("oldVcpus")} -> {e.Text("vcpus")} vCPUs, {e.Text("oldMemoryMiB")} -> {e.Text("memoryMiB")} MiB");
                    break;
                case EventLog.Types.MachineFailed:
                    kind = "failed";
                    detail = e.Text("error") ?? "";
                    break;
                case EventLog.Types.MachineReleased:
                    kind = "released";
                    Stop(e.Target, e.At);
                    break;
                case EventLog.Types.VolumeProvisioned:
                    kind = "deployed";
                    detail = $"{e.Text("sizeGiB")} GiB";
                    break;
                case EventLog.Types.VolumeReleased:
                    kind = "released";
                    detail = $"{e.Text("sizeGiB")} GiB";
                    break;
                case EventLog.Types.VaultProvisioned:
                    kind = "deployed";
                    detail = $"vault of {e.Text("units")} units";
                    break;
                case EventLog.Types.VaultReleased:
                    kind = "released";
                    detail = $"vault of {e.Text("units")} units";
                    break;
                case UsageEvents.ContractActivated:
                case UsageEvents.ContractAmended:
                    kind = e.Type == UsageEvents.ContractActivated ? "contract-activated" : "contract-amended";
                    detail = string.Join(", ", UsageEvents.ContractLines(e).Select(l => FormattableString.Invariant($"line {l.Item} x{l.Quantity}")));
                    break;
                case UsageEvents.ContractTerminated:
                    kind = "contract-terminated";
                    break;
            }
            if (kind is null || e.At < from)
            {
                continue;
            }
            if (timeline.Count >= MaxTimeline)
            {
                truncated = true;
                continue;
            }
            timeline.Add(new ContractTimelineEntry(DbTime.FromDb(e.At), kind, resourceKind, e.Target, detail));
        }
        foreach (var (_, start) in active)
        {
            Add(start, to);
        }

        var (hours, hourSpan) = HourProfile(intervals, from, to);
        var days = Days(intervals, from, to);
        var total = ReportNumbers.Round(intervals.Sum(i => (decimal)(i.End - i.Start)) / UsageMetrics.HourMs);
        return new ContractReport(contractId, accountId, name, DbTime.FromDb(from), DbTime.FromDb(to), timeline, truncated, hours, days, total, Summary(hours, hourSpan));
    }

    /// <summary>Mean active servers per UTC hour of day over [from, to), and how much of the range each hour of day covers.</summary>
    private static (List<HourOfDayUsage> Hours, long[] Span) HourProfile(List<(long Start, long End)> intervals, long from, long to)
    {
        var hourActive = new long[24];
        var hourSpan = new long[24];
        foreach (var (start, end) in Meter.Slices(from, to))
        {
            hourSpan[HourOfDay(start)] += end - start;
        }
        foreach (var (start, end) in intervals)
        {
            foreach (var (s, e) in Meter.Slices(start, end))
            {
                hourActive[HourOfDay(s)] += e - s;
            }
        }
        var hours = Enumerable.Range(0, 24)
            .Select(h => new HourOfDayUsage(h, hourSpan[h] == 0 ? 0 : ReportNumbers.Round((decimal)hourActive[h] / hourSpan[h])))
            .ToList();
        return (hours, hourSpan);
    }

    private static int HourOfDay(long ms) => (int)(ms / UsageMetrics.HourMs % 24);

    private static string Size(UsageEventRow e) => e.Values.ContainsKey("vcpus") ? $"{e.Text("vcpus")} vCPUs, {e.Text("memoryMiB")} MiB" : "";

    private static List<DailyUsage> Days(List<(long Start, long End)> intervals, long from, long to)
    {
        var changes = intervals.SelectMany(i => new[] { (At: i.Start, Delta: 1), (At: i.End, Delta: -1) })
            .OrderBy(c => c.At).ThenBy(c => c.Delta).ToList();
        var result = new List<DailyUsage>();
        var next = 0;
        var count = 0;
        for (var dayStart = from / UsageMetrics.DayMs * UsageMetrics.DayMs; dayStart < to; dayStart += UsageMetrics.DayMs)
        {
            var start = Math.Max(dayStart, from);
            var end = Math.Min(dayStart + UsageMetrics.DayMs, to);
            while (next < changes.Count && changes[next].At <= start)
            {
                count += changes[next++].Delta;
            }
            var peak = count;
            while (next < changes.Count && changes[next].At < end)
            {
                count += changes[next++].Delta;
                peak = Math.Max(peak, count);
            }
            long activeMs = 0;
            foreach (var (s, e) in intervals)
            {
                var overlap = Math.Min(e, end) - Math.Max(s, start);
                if (overlap > 0)
                {
                    activeMs += overlap;
                }
            }
            result.Add(new DailyUsage(DateOnly.FromDateTime(DbTime.FromDb(dayStart).UtcDateTime),
                ReportNumbers.Round((decimal)activeMs / UsageMetrics.HourMs), ReportNumbers.Round((decimal)activeMs / (end - start)), peak));
        }
        return result;
    }

    /// <summary>Beyond this many stretches the summary names the lowest and highest hours instead of every stretch.</summary>
    private const int MaxRuns = 6;

    /// <summary>
    /// The profile in words, from the very numbers the chart draws: consecutive covered hours with
    /// the same mean make one stretch, e.g. "3 servers 06:00-22:00, 2.53 servers on average
    /// 22:00-06:00 (UTC)"; a profile of many stretches is told by its lowest and highest hours.
    /// </summary>
    internal static string Summary(IReadOnlyList<HourOfDayUsage> hours, long[] hourSpan)
    {
        var covered = Enumerable.Range(0, 24).Where(h => hourSpan[h] > 0).ToList();
        if (covered.Count == 0)
        {
            return "no time in range";
        }
        var means = hours.Select(h => h.MeanActiveServers).ToArray();
        if (covered.All(h => means[h] == 0))
        {
            return "no active servers";
        }
        if (covered.Count == 24 && means.Distinct().Count() == 1)
        {
            return $"{Servers(means[0])} around the clock (UTC)";
        }
        var runs = new List<(int Start, int End, decimal Mean)>();
        foreach (var h in covered)
        {
            if (runs.Count > 0 && runs[^1].Mean == means[h] && runs[^1].End == h)
            {
                runs[^1] = (runs[^1].Start, h + 1, means[h]);
            }
            else
            {
                runs.Add((h, h + 1, means[h]));
            }
        }
        if (runs.Count > 1 && runs[0].Mean == runs[^1].Mean && runs[0].Start == 0 && runs[^1].End == 24)
        {
            runs[0] = (runs[^1].Start, runs[0].End, runs[0].Mean);
            runs.RemoveAt(runs.Count - 1);
        }
        if (runs.Count > MaxRuns)
        {
            var low = covered.MinBy(h => means[h]);
            var high = covered.MaxBy(h => means[h]);
            return $"varies by hour: fewest {ReportNumbers.Format(means[low])} ({Hour(low)}-{Hour(low + 1)}), most {ReportNumbers.Format(means[high])} ({Hour(high)}-{Hour(high + 1)}) servers on average (UTC)";
        }
        var ordered = runs.OrderByDescending(r => r.Mean).ThenBy(r => r.Start);
        return string.Join(", ", ordered.Select(r => $"{Servers(r.Mean)} {Hour(r.Start)}-{Hour(r.End)}")) + " (UTC)";
    }

    private static string Hour(int hour) => string.Create(CultureInfo.InvariantCulture, $"{hour % 24:00}:00");

    private static string Servers(decimal mean) => mean == decimal.Truncate(mean)
        ? (mean == 1 ? "1 server" : $"{ReportNumbers.Format(mean)} servers")
        : $"{ReportNumbers.Format(mean)} servers on average";
}

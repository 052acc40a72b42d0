using Welkin.Contracts;
using Welkin.Core.Data;
using Welkin.Core.Events;

namespace Welkin.Core.Metering;

/// <summary>Time a resource should be metered for, at a rate per millisecond, as the event log says.</summary>
internal sealed record ExpectedInterval(string ResourceId, string Metric, long Item, long Start, long End, long Rate);

/// <summary>A usage record as the reconciliation reads it.</summary>
internal sealed record RecordedSlice(string ResourceId, string Metric, long Item, long StartAt, long EndAt, long Quantity);

/// <summary>
/// The reconciliation of usage records against the event log. It derives, from the events alone
/// and from scratch (not through the meter's open intervals), the time each machine was active and
/// each volume provisioned, and sweeps it against the records: every millisecond must be covered
/// by exactly one record whose quantity is the size times its duration.
/// </summary>
internal static class Reconciliation
{
    /// <summary>
    /// The intervals the events call for, in seq order; those still open end at
    /// <paramref name="until"/>. <paramref name="volumeUnits"/> answers for volume events written
    /// before they carried their units.
    /// </summary>
    public static List<ExpectedInterval> Expected(IEnumerable<UsageEventRow> events, long until, IReadOnlyDictionary<string, long> volumeUnits)
    {
        var result = new List<ExpectedInterval>();
        var open = new Dictionary<(string Resource, string Metric, long Item), (long Start, long Rate)>();
        void Begin(string resource, string metric, long item, long rate, long at)
        {
            End(resource, metric, item, at);
            open[(resource, metric, item)] = (at, rate);
        }
        void End(string resource, string metric, long item, long at)
        {
            if (open.Remove((resource, metric, item), out var o) && at > o.Start && o.Rate != 0)
            {
                result.Add(new ExpectedInterval(resource, metric, item, o.Start, at, o.Rate));
            }
        }
        foreach (var e in events)
        {
            if (e.At >= until)
            {
                continue;
            }
            var item = e.Long("item");
            switch (e.Type)
            {
                case EventLog.Types.MachineProvisioned:
                    Begin(e.Target, UsageMetrics.UnitProvisionedMs, item, 1, e.At);
                    break;
                case EventLog.Types.MachineActivated:
                    Begin(e.Target, UsageMetrics.VcpuMs, item, e.Long("vcpus"), e.At);
                    Begin(e.Target, UsageMetrics.MemoryMibMs, item, e.Long("memoryMiB"), e.At);
                    break;
                case EventLog.Types.MachineResized when open.ContainsKey((e.Target, UsageMetrics.VcpuMs, item)):
                    Begin(e.Target, UsageMetrics.VcpuMs, item, e.Long("vcpus"), e.At);
                    Begin(e.Target, UsageMetrics.MemoryMibMs, item, e.Long("memoryMiB"), e.At);
                    break;
                case EventLog.Types.MachineDeactivated:
                    End(e.Target, UsageMetrics.VcpuMs, item, e.At);
                    End(e.Target, UsageMetrics.MemoryMibMs, item, e.At);
                    break;
                case EventLog.Types.MachineReleased:
                    End(e.Target, UsageMetrics.VcpuMs, item, e.At);
                    End(e.Target, UsageMetrics.MemoryMibMs, item, e.At);
                    End(e.Target, UsageMetrics.UnitProvisionedMs, item, e.At);
                    break;
                case EventLog.Types.VolumeProvisioned:
                    Begin(e.Target, UsageMetrics.StorageGibMs, item, e.Long("sizeGiB"), e.At);
                    Begin(e.Target, UsageMetrics.UnitProvisionedMs, item, e.Long("units", volumeUnits.GetValueOrDefault(e.Target)), e.At);
                    break;
                case EventLog.Types.VolumeReleased:
                case EventLog.Types.VaultReleased:
                    End(e.Target, UsageMetrics.StorageGibMs, item, e.At);
                    End(e.Target, UsageMetrics.UnitProvisionedMs, item, e.At);
                    break;
                case EventLog.Types.VaultProvisioned:
                    Begin(e.Target, UsageMetrics.UnitProvisionedMs, item, e.Long("units"), e.At);
                    Begin(e.Target, UsageMetrics.StorageGibMs, item, e.Long("sizeGiB"), e.At);
                    break;
                case EventLog.Types.VaultStored:
                    Begin(e.Target, UsageMetrics.StorageGibMs, item, e.Long("sizeGiB"), e.At);
                    break;
                case UsageEvents.ContractActivated:
                case UsageEvents.ContractAmended:
                    foreach (var (line, quantity) in UsageEvents.ContractLines(e))
                    {
                        if (!open.TryGetValue((e.Target, UsageMetrics.UnitOrderedMs, line), out var o) || o.Rate != quantity)
                        {
                            Begin(e.Target, UsageMetrics.UnitOrderedMs, line, quantity, e.At);
                        }
                    }
                    break;
                case UsageEvents.ContractTerminated:
                    foreach (var key in open.Keys.Where(k => k.Resource == e.Target && k.Metric == UsageMetrics.UnitOrderedMs).ToList())
                    {
                        End(key.Resource, key.Metric, key.Item, e.At);
                    }
                    break;
            }
        }
        foreach (var (key, o) in open)
        {
            if (until > o.Start && o.Rate != 0)
            {
                result.Add(new ExpectedInterval(key.Resource, key.Metric, key.Item, o.Start, until, o.Rate));
            }
        }
        return result;
    }

    public sealed record Outcome(List<UsageDiscrepancy> Discrepancies, bool Truncated, int Resources, long ExpectedMs, long CoveredMs);

    /// <summary>Sweeps expected time against records over [from, to) per (resource, metric, line).</summary>
    public static Outcome Compare(IReadOnlyList<ExpectedInterval> expected, IReadOnlyList<RecordedSlice> records, long from, long to, int maxDiscrepancies = 1000)
    {
        var discrepancies = new List<UsageDiscrepancy>();
        var truncated = false;
        long expectedMs = 0, coveredMs = 0;
        var byKey = Buckets(expected, records, from, to);
        void Report(UsageDiscrepancy d)
        {
            if (discrepancies.Count >= maxDiscrepancies)
            {
                truncated = true;
                return;
            }
            discrepancies.Add(d);
        }
        foreach (var ((resource, metric, item), (exp, recs)) in byKey.OrderBy(k => k.Key.Item1, StringComparer.Ordinal).ThenBy(k => k.Key.Item2, StringComparer.Ordinal).ThenBy(k => k.Key.Item3))
        {
            var changes = Boundaries(resource, metric, item, exp, recs, Report);
            long expRate = 0, recRate = 0;
            int expCount = 0, recCount = 0;
            UsageDiscrepancy? pending = null;
            for (var i = 0; i < changes.Count; i++)
            {
                var c = changes[i];
                expRate += c.ExpRate;
                expCount += c.ExpCount;
                recRate += c.RecRate;
                recCount += c.RecCount;
                if (i + 1 < changes.Count && changes[i + 1].At == c.At)
                {
                    continue;
                }
                var start = Math.Max(c.At, from);
                var end = Math.Min(i + 1 < changes.Count ? changes[i + 1].At : c.At, to);
                if (end <= start)
                {
                    continue;
                }
                var length = end - start;
                if (expCount > 0)
                {
                    expectedMs += length;
                }
                var kind = (expCount, recCount) switch
                {
                    (0, 0) => null,
                    (_, > 1) => "overlap",
                    ( > 0, 0) => "gap",
                    (0, _) => "unexpected",
                    _ when recRate != expRate => "quantity-mismatch",
                    _ => null,
                };
                if (kind is null)
                {
                    if (expCount > 0)
                    {
                        coveredMs += length;
                    }
                    Flush();
                    continue;
                }
                long? expectedRate = expCount > 0 ? expRate : null;
                long? recordedRate = recCount == 1 ? recRate : null;
                if (pending is not null && pending.Kind == kind && pending.To == DbTime.FromDb(start)
                    && pending.ExpectedRate == expectedRate && pending.RecordedRate == recordedRate)
                {
                    pending = pending with { To = DbTime.FromDb(end) };
                    continue;
                }
                Flush();
                pending = new UsageDiscrepancy(resource, metric, (int)item, kind, DbTime.FromDb(start), DbTime.FromDb(end), expectedRate, recordedRate, "");
            }
            Flush();

            void Flush()
            {
                if (pending is null)
                {
                    return;
                }
                var ms = (long)(pending.To - pending.From).TotalMilliseconds;
                Report(pending with { Detail = Describe(pending, ms) });
                pending = null;
            }
        }
        return new Outcome(discrepancies, truncated, byKey.Keys.Select(k => k.Item1).Distinct(StringComparer.Ordinal).Count(), expectedMs, coveredMs);
    }

    /// <summary>Expected intervals and records overlapping [from, to), per (resource, metric, line).</summary>
    private static Dictionary<(string, string, long), (List<ExpectedInterval> Expected, List<RecordedSlice> Records)> Buckets(
        IReadOnlyList<ExpectedInterval> expected, IReadOnlyList<RecordedSlice> records, long from, long to)
    {
        var byKey = new Dictionary<(string, string, long), (List<ExpectedInterval> Expected, List<RecordedSlice> Records)>();
        foreach (var e in expected.Where(e => e.End > from && e.Start < to))
        {
            Bucket((e.ResourceId, e.Metric, e.Item)).Expected.Add(e);
        }
        foreach (var r in records.Where(r => r.EndAt > from && r.StartAt < to))
        {
            Bucket((r.ResourceId, r.Metric, r.Item)).Records.Add(r);
        }
        return byKey;

        (List<ExpectedInterval> Expected, List<RecordedSlice> Records) Bucket((string, string, long) key)
        {
            if (!byKey.TryGetValue(key, out var b))
            {
                b = ([], []);
                byKey[key] = b;
            }
            return b;
        }
    }

    /// <summary>
    /// One key's boundary changes in time order: expected rate and count, records' rate sum and
    /// count. A record whose quantity is not a whole rate over its duration is reported instead.
    /// </summary>
    private static List<(long At, long ExpRate, int ExpCount, long RecRate, int RecCount)> Boundaries(
        string resource, string metric, long item, List<ExpectedInterval> exp, List<RecordedSlice> recs, Action<UsageDiscrepancy> report)
    {
        var changes = new List<(long At, long ExpRate, int ExpCount, long RecRate, int RecCount)>();
        foreach (var e in exp)
        {
            changes.Add((e.Start, e.Rate, 1, 0, 0));
            changes.Add((e.End, -e.Rate, -1, 0, 0));
        }
        foreach (var r in recs)
        {
            var duration = r.EndAt - r.StartAt;
            if (duration <= 0 || r.Quantity % duration != 0)
            {
                report(new UsageDiscrepancy(resource, metric, (int)item, "quantity-mismatch", DbTime.FromDb(r.StartAt), DbTime.FromDb(r.EndAt), null, null,
                    $"record quantity {r.Quantity} is not a whole rate over {duration} ms"));
                continue;
            }
            var rate = r.Quantity / duration;
            changes.Add((r.StartAt, 0, 0, rate, 1));
            changes.Add((r.EndAt, 0, 0, -rate, -1));
        }
        changes.Sort((a, b) => a.At.CompareTo(b.At));
        return changes;
    }

    private static string Describe(UsageDiscrepancy d, long ms) => d.Kind switch
    {
        "gap" => FormattableString.Invariant($"{ms} ms at rate {d.ExpectedRate} are in the event log but in no usage record"),
        "overlap" => FormattableString.Invariant($"{ms} ms are covered by more than one usage record"),
        "unexpected" => FormattableString.Invariant($"{ms} ms are in a usage record (rate {d.RecordedRate}) but the event log has nothing to meter"),
        _ => FormattableString.Invariant($"{ms} ms recorded at rate {d.RecordedRate}, the event log says {d.ExpectedRate}"),
    };
}

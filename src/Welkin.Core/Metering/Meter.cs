using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Events;

namespace Welkin.Core.Metering;

public sealed class MeterOptions
{
    /// <summary>How often the meter catches up with the event log.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The periodic catch-up stops this long before its tick, so a change whose transaction took
    /// its time before committing is still read before the meter cuts the intervals past it.
    /// </summary>
    public TimeSpan Settle { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Events applied per transaction.</summary>
    public int BatchEvents { get; set; } = 2000;
}

/// <summary>How far the meter is after a catch-up.</summary>
public sealed record MeterProgress(long CursorSeq, DateTimeOffset? MeteredTo, int EventsApplied, int RecordsWritten);

/// <summary>
/// Derives <c>usage_records</c> from the event log, exactly to the millisecond. The meter keeps a
/// cursor (the last event applied) and the intervals it has opened (a machine active, a volume
/// provisioned, units ordered) in the database, and changes them in the transaction that writes the
/// records they produce: a crash or restart resumes from the last commit, and a record's id is
/// derived from (resource, metric, line, start), so writing a slice again changes nothing.
/// Records never cross a UTC hour boundary.
/// </summary>
public sealed class Meter(IDatabase db, TimeProvider clock, MeterOptions options, ILogger<Meter> logger) : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    public void Dispose() => _gate.Dispose();

    /// <summary>
    /// Applies every event up to <paramref name="upTo"/> (never past now) and writes every slice that
    /// ends at or before it: intervals still open are cut there and carried on.
    /// </summary>
    public async Task<MeterProgress> CatchUpAsync(DateTimeOffset upTo, CancellationToken ct)
    {
        var limit = Math.Min(upTo.ToUnixTimeMilliseconds(), clock.GetUtcNow().ToUnixTimeMilliseconds());
        await _gate.WaitAsync(ct);
        try
        {
            var applied = 0;
            var written = 0;
            while (true)
            {
                var batch = await db.WriteAsync<Batch>(tx => RunBatchAsync(tx, limit), ct);
                var b = batch.Value;
                applied += b.Applied;
                written += b.Written;
                if (b.Done)
                {
                    return new MeterProgress(b.Cursor, DbTime.FromDb(b.MeteredTo), applied, written);
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The meter's position: last event applied and how far usage is written.</summary>
    public async Task<(long CursorSeq, DateTimeOffset? MeteredTo)> PositionAsync(CancellationToken ct)
    {
        var state = await db.QuerySingleOrDefaultAsync<StateRow>("SELECT cursor_seq AS CursorSeq, metered_to AS MeteredTo, version AS Version FROM meter_state WHERE id = 1", null, ct);
        return (state?.CursorSeq ?? 0, DbTime.FromDb(state?.MeteredTo));
    }

    private async Task<Result<Batch>> RunBatchAsync(Tx tx, long limit)
    {
        // Takes the state row's lock first (a no-op update), so two catch-ups on PostgreSQL
        // replicas apply each event once.
        await tx.ExecuteAsync("UPDATE meter_state SET version = version + 1 WHERE id = 1");
        var state = await tx.QuerySingleOrDefaultAsync<StateRow>("SELECT cursor_seq AS CursorSeq, metered_to AS MeteredTo, version AS Version FROM meter_state WHERE id = 1")
            ?? throw new InvalidOperationException("meter_state has no row; the migrations did not run.");
        var events = await EventLog.AfterAsync<UsageEventRow>(tx, state.CursorSeq, UsageEvents.Types, options.BatchEvents);
        var open = (await tx.QueryAsync<IntervalRow>(
            "SELECT resource_id AS ResourceId, metric AS Metric, item AS Item, account_id AS AccountId, contract_id AS ContractId, rate AS Rate, start_at AS StartAt, source_seq AS SourceSeq FROM meter_intervals"))
            .ToDictionary(i => new Key(i.ResourceId, i.Metric, i.Item));
        var work = new Work(open, clock.GetUtcNow().ToUnixTimeMilliseconds());
        var cursor = state.CursorSeq;
        var done = events.Count < options.BatchEvents;
        foreach (var e in events)
        {
            if (e.At > limit)
            {
                done = true;
                break;
            }
            await ApplyAsync(tx, work, e);
            cursor = e.Seq;
        }
        var meteredTo = state.MeteredTo;
        if (done && limit > (meteredTo ?? long.MinValue))
        {
            foreach (var key in work.Open.Keys.ToList())
            {
                work.Cut(key, limit);
            }
            meteredTo = limit;
        }
        if (work.Late > 0)
        {
            logger.LogWarning("{Count} usage events were committed after the meter had passed their time; they count from the point already metered", work.Late);
        }
        await UsageRecords.InsertAsync(tx, work.Records);
        await tx.ExecuteAsync("DELETE FROM meter_intervals WHERE resource_id = @ResourceId AND metric = @Metric AND item = @Item",
            work.Closed.Where(k => !work.Open.ContainsKey(k)).Select(k => new { k.ResourceId, k.Metric, k.Item }).ToList());
        await tx.ExecuteAsync(
            """
            INSERT INTO meter_intervals (resource_id, metric, item, account_id, contract_id, rate, start_at, source_seq)
            VALUES (@ResourceId, @Metric, @Item, @AccountId, @ContractId, @Rate, @StartAt, @SourceSeq)
            ON CONFLICT (resource_id, metric, item) DO UPDATE SET account_id = excluded.account_id, contract_id = excluded.contract_id,
                rate = excluded.rate, start_at = excluded.start_at, source_seq = excluded.source_seq
            """, work.Dirty.Where(work.Open.ContainsKey).Select(k => work.Open[k]).ToList());
        await tx.ExecuteAsync("UPDATE meter_state SET cursor_seq = @Cursor, metered_to = @MeteredTo, updated_at = @Now WHERE id = 1",
            new { Cursor = cursor, MeteredTo = meteredTo, Now = work.Now });
        return new Batch(done, cursor, meteredTo, events.Count(e => e.Seq <= cursor), work.Records.Count);
    }

    private static async Task ApplyAsync(Tx tx, Work work, UsageEventRow e)
    {
        var account = e.AccountId ?? "";
        var contract = e.Text("contractId") ?? "";
        var item = e.Long("item");
        switch (e.Type)
        {
            case EventLog.Types.MachineProvisioned:
                work.Begin(new Key(e.Target, UsageMetrics.UnitProvisionedMs, item), account, contract, 1, e);
                break;
            case EventLog.Types.MachineActivated:
                work.Begin(new Key(e.Target, UsageMetrics.VcpuMs, item), account, contract, e.Long("vcpus"), e);
                work.Begin(new Key(e.Target, UsageMetrics.MemoryMibMs, item), account, contract, e.Long("memoryMiB"), e);
                break;
            case EventLog.Types.MachineDeactivated:
                work.Close(new Key(e.Target, UsageMetrics.VcpuMs, item), e.At);
                work.Close(new Key(e.Target, UsageMetrics.MemoryMibMs, item), e.At);
                break;
            case EventLog.Types.MachineResized:
                // Only a machine that is active while resized changes rate; a stopped one takes its
                // new size at its next activation, which carries it.
                if (work.Open.ContainsKey(new Key(e.Target, UsageMetrics.VcpuMs, item)))
                {
                    work.Begin(new Key(e.Target, UsageMetrics.VcpuMs, item), account, contract, e.Long("vcpus"), e);
                    work.Begin(new Key(e.Target, UsageMetrics.MemoryMibMs, item), account, contract, e.Long("memoryMiB"), e);
                }
                break;
            case EventLog.Types.MachineReleased:
                work.Close(new Key(e.Target, UsageMetrics.VcpuMs, item), e.At);
                work.Close(new Key(e.Target, UsageMetrics.MemoryMibMs, item), e.At);
                work.Close(new Key(e.Target, UsageMetrics.UnitProvisionedMs, item), e.At);
                break;
            case EventLog.Types.VolumeProvisioned:
                var units = e.Long("units", -1);
                if (units < 0)
                {
                    units = await Configuration.VolumeStore.UnitsAsync(tx, e.Target);
                }
                work.Begin(new Key(e.Target, UsageMetrics.StorageGibMs, item), account, contract, e.Long("sizeGiB"), e);
                work.Begin(new Key(e.Target, UsageMetrics.UnitProvisionedMs, item), account, contract, units, e);
                break;
            case EventLog.Types.VolumeReleased:
            case EventLog.Types.VaultReleased:
                work.Close(new Key(e.Target, UsageMetrics.StorageGibMs, item), e.At);
                work.Close(new Key(e.Target, UsageMetrics.UnitProvisionedMs, item), e.At);
                break;
            // A vault holds its units like a volume; its storage is what it stores (whole GiB, rounded up), which vault.stored changes.
            case EventLog.Types.VaultProvisioned:
                work.Begin(new Key(e.Target, UsageMetrics.UnitProvisionedMs, item), account, contract, e.Long("units"), e);
                work.Begin(new Key(e.Target, UsageMetrics.StorageGibMs, item), account, contract, e.Long("sizeGiB"), e);
                break;
            case EventLog.Types.VaultStored:
                work.Begin(new Key(e.Target, UsageMetrics.StorageGibMs, item), account, contract, e.Long("sizeGiB"), e);
                break;
            case UsageEvents.ContractActivated:
            case UsageEvents.ContractAmended:
                foreach (var (line, quantity) in UsageEvents.ContractLines(e))
                {
                    var key = new Key(e.Target, UsageMetrics.UnitOrderedMs, line);
                    if (!work.Open.TryGetValue(key, out var current) || current.Rate != quantity)
                    {
                        work.Begin(key, account, e.Target, quantity, e);
                    }
                }
                break;
            case UsageEvents.ContractTerminated:
                foreach (var key in work.Open.Keys.Where(k => k.ResourceId == e.Target && k.Metric == UsageMetrics.UnitOrderedMs).ToList())
                {
                    work.Close(key, e.At);
                }
                break;
        }
    }

    /// <summary>The record id: the same slice always gets the same id, whichever run writes it.</summary>
    internal static string RecordId(string resourceId, string metric, long item, long start)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(FormattableString.Invariant($"{resourceId}|{metric}|{item}|{start}")));
        return "use_" + Convert.ToHexStringLower(hash, 0, 16);
    }

    /// <summary>Slices [start, end) at UTC hour boundaries.</summary>
    internal static IEnumerable<(long Start, long End)> Slices(long start, long end)
    {
        for (var t = start; t < end;)
        {
            var next = Math.Min((t / UsageMetrics.HourMs + 1) * UsageMetrics.HourMs, end);
            yield return (t, next);
            t = next;
        }
    }

    internal readonly record struct Key(string ResourceId, string Metric, long Item);

    internal sealed record IntervalRow(string ResourceId, string Metric, long Item, string AccountId, string ContractId, long Rate, long StartAt, long SourceSeq);

    internal sealed record RecordRow(
        string Id, string AccountId, string ContractId, long Item, string ResourceId, string Metric, long Quantity, long StartAt, long EndAt, long SourceSeq, long CreatedAt);

    private sealed record StateRow(long CursorSeq, long? MeteredTo, long Version);

    private sealed record Batch(bool Done, long Cursor, long? MeteredTo, int Applied, int Written);

    /// <summary>One transaction's view of the open intervals and the records it writes.</summary>
    private sealed class Work(Dictionary<Key, IntervalRow> open, long now)
    {
        public Dictionary<Key, IntervalRow> Open { get; } = open;

        public long Now { get; } = now;

        public List<RecordRow> Records { get; } = [];

        public HashSet<Key> Dirty { get; } = [];

        public HashSet<Key> Closed { get; } = [];

        public int Late { get; private set; }

        public void Begin(Key key, string accountId, string contractId, long rate, UsageEventRow e)
        {
            var start = e.At;
            if (Open.ContainsKey(key))
            {
                start = Close(key, e.At);
            }
            Open[key] = new IntervalRow(key.ResourceId, key.Metric, key.Item, accountId, contractId, rate, start, e.Seq);
            Dirty.Add(key);
        }

        /// <summary>Writes the interval up to <paramref name="at"/> and drops it; returns where it ended.</summary>
        public long Close(Key key, long at)
        {
            if (!Open.TryGetValue(key, out var interval))
            {
                return at;
            }
            var end = Materialise(interval, at);
            Open.Remove(key);
            Closed.Add(key);
            return end;
        }

        /// <summary>Writes the interval up to <paramref name="at"/> and keeps it open from there.</summary>
        public void Cut(Key key, long at)
        {
            var interval = Open[key];
            if (interval.StartAt >= at)
            {
                return;
            }
            Open[key] = interval with { StartAt = Materialise(interval, at) };
            Dirty.Add(key);
        }

        private long Materialise(IntervalRow interval, long at)
        {
            // An event the meter reads after it already wrote past the event's time (its
            // transaction committed late) counts from the point already written: records are
            // never rewritten. The reconciliation shows such a stretch.
            if (at < interval.StartAt)
            {
                Late++;
                return interval.StartAt;
            }
            if (interval.Rate == 0)
            {
                return at;
            }
            foreach (var (start, end) in Slices(interval.StartAt, at))
            {
                Records.Add(new RecordRow(RecordId(interval.ResourceId, interval.Metric, interval.Item, start), interval.AccountId, interval.ContractId,
                    interval.Item, interval.ResourceId, interval.Metric, interval.Rate * (end - start), start, end, interval.SourceSeq, Now));
            }
            return at;
        }
    }
}

/// <summary>The meter as periodic work (<c>Metering:Interval</c>).</summary>
public sealed class MeteringWork(Meter meter, MeterOptions options) : IPeriodicWork
{
    public string Name => "metering";

    public TimeSpan Interval => options.Interval;

    public Task RunAsync(DateTimeOffset now, CancellationToken ct) => meter.CatchUpAsync(now - options.Settle, ct);
}

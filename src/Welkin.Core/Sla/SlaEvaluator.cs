using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Contracts;
using Welkin.Core.Data;
using Welkin.Core.Events;
using Welkin.Core.Instances;
using Welkin.Core.Monitoring;
using Welkin.Core.Security;

namespace Welkin.Core.Sla;

public sealed class SlaOptions
{
    /// <summary>How often every active contract's terms are evaluated (<c>Sla:Interval</c>).</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The window the CPU-utilization and page-fault means are taken over (<c>Sla:Window</c>).</summary>
    public TimeSpan Window { get; set; } = TimeSpan.FromHours(1);
}

/// <summary>The terms an SLA can carry, as they appear in reports, credits and events.</summary>
public static class SlaTermNames
{
    public const string Availability = "availability";
    public const string CpuUtilization = "cpu-utilization";
    public const string PageFaults = "page-faults";
    public const string IncidentResponse = "incident-response";

    /// <summary>The credit row's term: the term itself for the contract's first line, "term/item" for others.</summary>
    public static string CreditTerm(string term, int item) => item == 0 ? term : string.Create(CultureInfo.InvariantCulture, $"{term}/{item}");
}

/// <summary>
/// Evaluates the SLA terms of every compute line of every active contract, per billing period:
/// availability from recorded machine states (<see cref="Availability"/>), CPU utilization and
/// page faults as means over <see cref="SlaOptions.Window"/> through <see cref="IMeasurementQuery"/>
/// (when a Service Monitor is registered), and incident response times. Each tick stores the
/// measure of every term (sla_evaluations); a breach upserts the term's sla_credits row and, the
/// first time in the period, records an <c>sla.breached</c> event, all in one transaction.
/// Idempotent: a tick evaluates the current period so far and, on a period's first day, the
/// previous period to its end, so a missed tick is made good by the next.
/// </summary>
public sealed class SlaEvaluator(
    IDatabase db, AuditLog audit, EventLog events, IServiceProvider services, SlaOptions options, TimeProvider clock, ILogger<SlaEvaluator> logger)
    : IPeriodicWork
{
    private static readonly string[] MachineTypes =
    [
        EventLog.Types.MachineProvisioned, EventLog.Types.MachineActivated, EventLog.Types.MachineDeactivated,
        EventLog.Types.MachineFailed, EventLog.Types.MachineUnreachable, EventLog.Types.MachineReleased, EventLog.Types.SlaIncidentAcknowledged,
    ];

    public string Name => "sla-evaluation";

    public TimeSpan Interval => options.Interval;

    public async Task RunAsync(DateTimeOffset now, CancellationToken ct)
    {
        var previous = BillingPeriod.Of(now.AddDays(-1));
        var contracts = await ContractStore.EvaluatedAsync(db, DbTime.ToDb(now), DbTime.ToDb(previous.Start), ct);
        foreach (var contract in contracts)
        {
            try
            {
                await EvaluateAsync(contract, now, ct);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "SLA evaluation of contract {Contract} failed at {Now}", contract.Id, now);
            }
        }
    }

    private sealed record EventRow(long Seq, string? AccountId, string Type, string Target, long At, string Data);

    private sealed record Measure(string Term, int Item, decimal Target, decimal? Measured, bool Breached, decimal CreditPercent, string Detail, bool KeepHighest);

    private async Task EvaluateAsync(ContractRow contract, DateTimeOffset now, CancellationToken ct)
    {
        var lines = contract.Lines.Where(l => l.Kind == OfferingKind.Compute && l.Sla is not null).ToList();
        if (lines.Count == 0)
        {
            return;
        }
        var nowMs = DbTime.ToDb(now);
        var rows = await EventLog.OfAccountThroughAsync<EventRow>(db, contract.AccountId, MachineTypes, nowMs, ct);
        var byLine = new Dictionary<int, List<MachineEvent>>();
        foreach (var row in rows)
        {
            var data = JsonSerializer.Deserialize<Dictionary<string, string>>(row.Data) ?? [];
            if (data.GetValueOrDefault("contractId") != contract.Id
                || !int.TryParse(data.GetValueOrDefault("item"), NumberStyles.None, CultureInfo.InvariantCulture, out var item))
            {
                continue;
            }
            if (!byLine.TryGetValue(item, out var list))
            {
                byLine[item] = list = [];
            }
            list.Add(new MachineEvent(row.Target, row.Type, row.At));
        }
        var leftError = await MachineStore.StateChangesOutsideErrorAsync(db, contract.Id, ct);

        var current = BillingPeriod.Of(now.AddMilliseconds(-1));
        var periods = new List<BillingPeriod> { current };
        var previous = BillingPeriod.Of(now.AddDays(-1));
        if (previous != current)
        {
            periods.Insert(0, previous);
        }
        foreach (var period in periods)
        {
            var (start, end) = (period.Start, period.End);
            var from = Math.Max(DbTime.ToDb(start), contract.AcceptedAt ?? 0);
            var upTo = Math.Min(Math.Min(nowMs, DbTime.ToDb(end)), contract.TerminatedAt ?? long.MaxValue);
            if (upTo <= from)
            {
                continue;
            }
            var measures = new List<Measure>();
            foreach (var line in lines)
            {
                var lineEvents = byLine.GetValueOrDefault(line.Item) ?? [];
                measures.AddRange(await MeasureLineAsync(line, lineEvents, leftError, from, upTo, DbTime.ToDb(end), now, current == period, ct));
            }
            await RecordAsync(contract, start, end, measures, now, ct);
        }
    }

    private async Task<List<Measure>> MeasureLineAsync(
        ContractItem line, List<MachineEvent> lineEvents, Dictionary<string, long> leftError, long from, long upTo, long periodEnd,
        DateTimeOffset now, bool isCurrent, CancellationToken ct)
    {
        var sla = line.Sla;
        var measures = new List<Measure>();
        var availability = Availability.Compute(lineEvents, leftError, from, upTo, sla.UnknownCountsAsDowntime ?? true);
        // A breach is certain once the downtime exceeds what the whole period allows, counting
        // the rest of the period at the machines wanted now; at the period's end that is exact.
        var target = sla.AvailabilityPercent;
        var wantedTotal = availability.UpMs + availability.DownMs + ((decimal)availability.WantedNow * Math.Max(0, periodEnd - upTo));
        var allowed = (100m - target) / 100m * wantedTotal;
        var availabilityBreached = availability.DownMs > 0 && availability.Percent < target && availability.DownMs > allowed;
        measures.Add(new Measure(SlaTermNames.Availability, line.Item, target, availability.Percent, availabilityBreached,
            sla.AvailabilityCreditPercent ?? SlaTerms.DefaultAvailabilityCreditPercent,
            string.Create(CultureInfo.InvariantCulture, $"up {Hours(availability.UpMs)} h, down {Hours(availability.DownMs)} h of wanted machine time"), false));

        var query = services.GetService<IMeasurementQuery>();
        var machines = lineEvents.Select(e => e.MachineId).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (sla.CpuUtilizationPercentMax is { } cpuMax)
        {
            measures.Add(await PerformanceAsync(query, machines, MetricNames.CpuUtilization, SlaTermNames.CpuUtilization, line.Item, cpuMax,
                sla.PerformanceCreditPercent ?? SlaTerms.DefaultPerformanceCreditPercent, now, isCurrent, "%", ct));
        }
        if (sla.PageFaultsPerSecondMax is { } faultsMax)
        {
            measures.Add(await PerformanceAsync(query, machines, MetricNames.PageFaults, SlaTermNames.PageFaults, line.Item, faultsMax,
                sla.PerformanceCreditPercent ?? SlaTerms.DefaultPerformanceCreditPercent, now, isCurrent, "/s", ct));
        }
        if (sla.IncidentResponseMinutes is { } responseMax)
        {
            var incidents = availability.Incidents.Where(i => i.FailedAt >= from && i.FailedAt < upTo).ToList();
            decimal? worst = incidents.Count == 0 ? null
                : incidents.Max(i => Math.Round(((i.EndedAt ?? upTo) - i.FailedAt) / 60_000m, 2, MidpointRounding.ToEven));
            var open = incidents.Count(i => i.EndedAt is null);
            measures.Add(new Measure(SlaTermNames.IncidentResponse, line.Item, responseMax, worst, worst > responseMax,
                sla.ResponseCreditPercent ?? SlaTerms.DefaultResponseCreditPercent,
                string.Create(CultureInfo.InvariantCulture, $"{incidents.Count} incidents, {open} open"), true));
        }
        return measures;
    }

    private async Task<Measure> PerformanceAsync(
        IMeasurementQuery? query, List<string> machines, string metric, string term, int item, decimal max, decimal credit,
        DateTimeOffset now, bool isCurrent, string unit, CancellationToken ct)
    {
        double? value = null;
        if (query is not null && isCurrent && machines.Count > 0)
        {
            value = await query.AggregateAsync(machines, metric, now - options.Window, now, Aggregation.Mean, null, ct);
        }
        decimal? measured = value is { } v && double.IsFinite(v) ? Math.Round((decimal)v, 4, MidpointRounding.ToEven) : null;
        var detail = measured is null
            ? (query is null ? "no Service Monitor" : "no samples in the window")
            : string.Create(CultureInfo.InvariantCulture, $"mean over {options.Window.TotalMinutes:0} min to {now:o}: {measured}{unit}");
        return new Measure(term, item, max, measured, measured > max, credit, detail, true);
    }

    private static string Hours(long ms) => (ms / 3_600_000m).ToString("0.##", CultureInfo.InvariantCulture);

    private async Task RecordAsync(ContractRow contract, DateTimeOffset start, DateTimeOffset end, List<Measure> measures, DateTimeOffset now, CancellationToken ct)
    {
        var periodStart = DbTime.ToDb(start);
        var at = DbTime.ToDb(now);
        var caller = Caller.System("sla-" + contract.Id);
        await db.WriteAsync<bool>(async tx =>
        {
            // Once the period's invoice is issued its credits are what the invoice shows: the
            // measures are still recorded, the credits no longer change.
            var invoiced = await Billing.InvoiceService.IsInvoicedAsync(tx, contract.AccountId, periodStart);
            foreach (var m in measures)
            {
                var existing = await SlaStore.MeasuredAsync(tx, contract.Id, m.Item, periodStart, m.Term);
                var previous = existing is null ? (decimal?)null : decimal.Parse(existing, NumberStyles.Float, CultureInfo.InvariantCulture);
                // Performance and response terms keep the worst value seen in the period.
                var measured = m.KeepHighest && previous is { } p && (m.Measured is null || p > m.Measured) ? p : m.Measured;
                var detail = m.KeepHighest && measured != m.Measured
                    ? m.Detail + string.Create(CultureInfo.InvariantCulture, $"; highest in the period {measured}")
                    : m.Detail;
                await SlaStore.SaveEvaluationAsync(tx, new SlaStore.Evaluation(contract.Id, m.Item, periodStart, m.Term, contract.AccountId, m.Target, measured, detail, at));
                if (!m.Breached || invoiced)
                {
                    continue;
                }
                var term = SlaTermNames.CreditTerm(m.Term, m.Item);
                if (await SlaStore.UpdateCreditAsync(tx, contract.Id, periodStart, term, measured ?? 0m, detail, at))
                {
                    continue;
                }
                await SlaStore.InsertCreditAsync(tx, new SlaStore.NewCredit(
                    Ids.New("sla", clock), contract.AccountId, contract.Id, periodStart, DbTime.ToDb(end), term, m.Target, measured ?? 0m, m.CreditPercent, detail, at));
                var data = new Dictionary<string, string>
                {
                    ["contractId"] = contract.Id,
                    ["item"] = m.Item.ToString(CultureInfo.InvariantCulture),
                    ["term"] = m.Term,
                    ["period"] = BillingPeriod.Of(start).ToString(),
                    ["target"] = m.Target.ToString(CultureInfo.InvariantCulture),
                    ["measured"] = (measured ?? 0m).ToString(CultureInfo.InvariantCulture),
                    ["creditPercent"] = m.CreditPercent.ToString(CultureInfo.InvariantCulture),
                };
                await events.AppendAsync(tx, caller, new LifecycleEvent(EventLog.Types.SlaBreached, contract.Id, contract.AccountId, data), now);
                await audit.AppendAsync(tx, caller, new AuditEvent("sla.breach", contract.Id, AuditEvent.Success, contract.AccountId,
                    string.Create(CultureInfo.InvariantCulture, $"period={BillingPeriod.Of(start)}; term={term}; target={m.Target}; measured={measured}; credit={m.CreditPercent}%")));
            }
            return true;
        }, ct);
    }
}

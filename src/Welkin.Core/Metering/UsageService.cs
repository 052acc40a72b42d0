using Welkin.Contracts;
using Welkin.Core.Accounts;
using Welkin.Core.Common;
using Welkin.Core.Configuration;
using Welkin.Core.Contracts;
using Welkin.Core.Data;
using Welkin.Core.Events;
using Welkin.Core.Instances;
using Welkin.Core.Security;

namespace Welkin.Core.Metering;

/// <summary>A usage query: the range, an optional contract and how to group.</summary>
public sealed record UsageQuery(DateTimeOffset? From = null, DateTimeOffset? To = null, string? ContractId = null, string? GroupBy = null);

/// <summary>
/// Reads what the meter wrote: usage per account or contract with totals in raw and readable
/// units, the reconciliation against the event log, and the contract report. Needs usage-read,
/// on the accounts the caller sees (<see cref="Tenancy"/>).
/// </summary>
public sealed class UsageService(IDatabase db, Meter meter, TimeProvider clock)
{
    public static readonly TimeSpan MaxRange = TimeSpan.FromDays(400);
    public static readonly TimeSpan MaxReconciliationRange = TimeSpan.FromDays(93);
    public static readonly IReadOnlyList<string> GroupBys = ["contract", "metric", "resource", "hour"];

    public async Task<Result<UsageReport>> AccountUsageAsync(Caller caller, string accountId, UsageQuery query, CancellationToken ct)
    {
        if (CheckRead(caller) is { } denied)
        {
            return denied;
        }
        if (!Ids.IsValid(accountId, Ids.Account))
        {
            return Error.InvalidId(accountId, "account");
        }
        if (query.ContractId is not null && !Ids.IsValid(query.ContractId, Ids.Contract))
        {
            return Error.Validation("contractId", "contractId must be a contract id");
        }
        if (!Tenancy.Sees(caller, accountId) || !await AccountExistsAsync(accountId, ct))
        {
            return Error.NotFound("Account", accountId);
        }
        return await ReportAsync(accountId, query, ct);
    }

    public async Task<Result<UsageReport>> ContractUsageAsync(Caller caller, string contractId, UsageQuery query, CancellationToken ct)
    {
        var contract = await ContractAsync(caller, contractId, ct);
        if (!contract.IsSuccess)
        {
            return contract.Error!;
        }
        return await ReportAsync(contract.Value.AccountId, query with { ContractId = contractId }, ct);
    }

    /// <summary>
    /// Catches the meter up to the end of the range (or now), then proves from the event log that
    /// every millisecond of every resource's metered time in the range is covered by exactly one
    /// usage record at the right rate.
    /// </summary>
    public async Task<Result<ReconciliationReport>> ReconcileAsync(Caller caller, string accountId, DateTimeOffset? from, DateTimeOffset? to, CancellationToken ct)
    {
        if (CheckRead(caller) is { } denied)
        {
            return denied;
        }
        if (!Ids.IsValid(accountId, Ids.Account))
        {
            return Error.InvalidId(accountId, "account");
        }
        var range = Range(from, to, MaxReconciliationRange);
        if (!range.IsSuccess)
        {
            return range.Error!;
        }
        if (!Tenancy.Sees(caller, accountId) || !await AccountExistsAsync(accountId, ct))
        {
            return Error.NotFound("Account", accountId);
        }
        var (start, end) = range.Value;
        var checkedTo = Math.Max(start, Math.Min(end, clock.GetUtcNow().ToUnixTimeMilliseconds()));
        await meter.CatchUpAsync(DbTime.FromDb(checkedTo), ct);
        var (events, records, units) = await db.ReadAsync(async tx => (
            await EventLog.OfAccountBeforeAsync<UsageEventRow>(tx, accountId, UsageEvents.Types, checkedTo),
            await UsageRecords.SlicesAsync(tx, accountId, start, checkedTo),
            await VolumeStore.UnitsOfAccountAsync(tx, accountId)), ct);
        var expected = Reconciliation.Expected(events, checkedTo, units);
        var outcome = Reconciliation.Compare(expected, records, start, checkedTo);
        return new ReconciliationReport(accountId, DbTime.FromDb(start), DbTime.FromDb(end), DbTime.FromDb(checkedTo), outcome.Discrepancies.Count == 0,
            outcome.Resources, records.Count, outcome.ExpectedMs, outcome.CoveredMs, outcome.Discrepancies, outcome.Truncated);
    }

    /// <summary>The contract report over [from, to) (default: the current month so far), from the event log.</summary>
    public async Task<Result<ContractReport>> ContractReportAsync(Caller caller, string contractId, DateTimeOffset? from, DateTimeOffset? to, CancellationToken ct)
    {
        var contract = await ContractAsync(caller, contractId, ct);
        if (!contract.IsSuccess)
        {
            return contract.Error!;
        }
        var range = Range(from, to, MaxRange);
        if (!range.IsSuccess)
        {
            return range.Error!;
        }
        var (start, end) = range.Value;
        end = Math.Max(start, Math.Min(end, clock.GetUtcNow().ToUnixTimeMilliseconds()));
        // The contract's events and its machines', volumes' and vaults' ones, read in one snapshot.
        var events = await db.ReadAsync(async tx => await EventLog.OfTargetsBeforeAsync<UsageEventRow>(tx,
            [contractId, .. await MachineStore.IdsOfContractAsync(tx, contractId), .. await VolumeStore.IdsOfContractAsync(tx, contractId),
             .. await Vault.VaultStore.IdsOfContractAsync(tx, contractId)], end, e => e.Seq), ct);
        return ContractReports.Build(contractId, contract.Value.AccountId, contract.Value.Name, events, start, end);
    }

    private async Task<Result<UsageReport>> ReportAsync(string accountId, UsageQuery query, CancellationToken ct)
    {
        if (query.GroupBy is not null && !GroupBys.Contains(query.GroupBy, StringComparer.Ordinal))
        {
            return Error.Validation("groupBy", $"groupBy must be one of: {string.Join(", ", GroupBys)}");
        }
        var range = Range(query.From, query.To, MaxRange);
        if (!range.IsSuccess)
        {
            return range.Error!;
        }
        var (start, end) = range.Value;
        var totals = new Dictionary<(string Key, string Metric), (long Quantity, decimal Readable)>();
        // Per calendar month, so unit-months divide by the length of the month the usage lies in.
        // A record that straddles the range's edge counts for its part inside: its quantity is
        // rate x duration, so rate x overlap is exact.
        foreach (var (segFrom, segTo, month) in UsageMetrics.Months(DbTime.FromDb(start), DbTime.FromDb(end)))
        {
            var rows = await UsageRecords.SumAsync(db, accountId, query.ContractId, query.GroupBy, segFrom.ToUnixTimeMilliseconds(), segTo.ToUnixTimeMilliseconds(), ct);
            foreach (var row in rows)
            {
                var k = (row.GroupKey, row.Metric);
                var (quantity, readable) = totals.GetValueOrDefault(k);
                totals[k] = (quantity + row.Quantity, readable + row.Quantity / UsageMetrics.Divisor(row.Metric, month));
            }
        }
        static IReadOnlyList<UsageQuantity> Quantities(IEnumerable<KeyValuePair<(string Key, string Metric), (long Quantity, decimal Readable)>> rows) =>
            rows.GroupBy(r => r.Key.Metric, StringComparer.Ordinal)
                .OrderBy(g => MetricOrder(g.Key))
                .Select(g => UsageMetrics.Quantity(g.Key, g.Sum(r => r.Value.Quantity), g.Sum(r => r.Value.Readable)))
                .ToList();
        var groups = query.GroupBy is null
            ? []
            : totals.GroupBy(t => t.Key.Key, StringComparer.Ordinal)
                .Select(g => new UsageGroup(GroupKey(query.GroupBy, g.Key, g.First().Key.Metric), Quantities(g)))
                .OrderBy(g => g.Key, StringComparer.Ordinal)
                .SelectMany(g => query.GroupBy == "metric" ? g.Totals.Select(t => new UsageGroup(t.Metric, [t])) : [g])
                .ToList();
        var (_, meteredTo) = await meter.PositionAsync(ct);
        return new UsageReport(accountId, query.ContractId, DbTime.FromDb(start), DbTime.FromDb(end), meteredTo, query.GroupBy, Quantities(totals), groups);
    }

    private static int MetricOrder(string metric)
    {
        var i = UsageMetrics.All.ToList().IndexOf(metric);
        return i < 0 ? int.MaxValue : i;
    }

    /// <summary>Hours are shown as the ISO instant they start at; other keys as they are.</summary>
    private static string GroupKey(string groupBy, string key, string metric) =>
        groupBy == "hour" && long.TryParse(key, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var hour)
            ? DbTime.FromDb(hour * UsageMetrics.HourMs).ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture)
            : groupBy == "metric" ? metric : key;

    private static Error? CheckRead(Caller caller) => Tenancy.Require(caller, Permission.UsageRead, "Reading usage");

    private async Task<Result<ContractRow>> ContractAsync(Caller caller, string contractId, CancellationToken ct)
    {
        if (CheckRead(caller) is { } denied)
        {
            return denied;
        }
        if (!Ids.IsValid(contractId, Ids.Contract))
        {
            return Error.InvalidId(contractId, "contract");
        }
        var row = await ContractStore.GetAsync(db, contractId, ct);
        return row is null || !Tenancy.Sees(caller, row.AccountId) ? Error.NotFound("Contract", contractId) : row;
    }

    private Task<bool> AccountExistsAsync(string accountId, CancellationToken ct) => AccountStore.ExistsAsync(db, accountId, ct);

    /// <summary>[from, to) in unix ms: default to now and from the start of to's month; to after from; at most <paramref name="max"/>.</summary>
    private Result<(long From, long To)> Range(DateTimeOffset? from, DateTimeOffset? to, TimeSpan max)
    {
        if (from is { } f && (f.Year < 1970 || f.Year > 9000))
        {
            return Error.Validation("from", "from must be a time between the years 1970 and 9000");
        }
        if (to is { } t && (t.Year < 1970 || t.Year > 9000))
        {
            return Error.Validation("to", "to must be a time between the years 1970 and 9000");
        }
        var end = to ?? clock.GetUtcNow();
        var start = from ?? UsageMetrics.MonthStart(end.AddTicks(-1));
        if (end <= start)
        {
            return Error.Validation("to", "to must be after from");
        }
        if (end - start > max)
        {
            return Error.Validation("from", $"the range must be at most {max.TotalDays:0} days");
        }
        return (start.ToUnixTimeMilliseconds(), end.ToUnixTimeMilliseconds());
    }
}

using System.Globalization;
using System.Text.Json;
using Dapper;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Security;

namespace Welkin.Core.Events;

/// <summary>A lifecycle event to record, in the transaction of the change that caused it.</summary>
public sealed record LifecycleEvent(string Type, string Target, string? AccountId, IReadOnlyDictionary<string, string>? Data = null);

/// <summary>
/// The per-account event log. Every lifecycle change appends here in its own transaction; the
/// usage-relevant types carry exact times and sizes so metering can be derived from the log alone.
/// Numbers come from a counter row updated by the writer, so they follow commit order without gaps.
/// </summary>
public sealed class EventLog(TimeProvider clock)
{
    /// <summary>The largest page of events a list gives.</summary>
    public const int MaxLimit = 1000;

    /// <summary>Event types a meter reads: exact interval boundaries and the sizes they apply to.</summary>
    public static class Types
    {
        public const string MachineProvisioned = "machine.provisioned";
        public const string MachineActivated = "machine.activated";
        public const string MachineDeactivated = "machine.deactivated";
        public const string MachineResized = "machine.resized";
        public const string MachineReleased = "machine.released";
        public const string MachineFailed = "machine.failed";
        public const string MachineMigrated = "machine.migrated";

        /// <summary>The machine's cloud (a peer) could not be reached: its state is unknown.</summary>
        public const string MachineUnreachable = "machine.unreachable";
        public const string VolumeProvisioned = "volume.provisioned";
        public const string VolumeReleased = "volume.released";

        // A vault holds its units from provisioned to released; vault.stored carries its stored
        // size, rounded up to whole GiB, each time that rounded size changes (metered as storage-gib-ms).
        public const string VaultProvisioned = "vault.provisioned";
        public const string VaultStored = "vault.stored";
        public const string VaultReleased = "vault.released";

        // Contract events the meter reads for unit-ordered-ms: each carries quantity.N, the ordered
        // quantity of line N from that moment on (terminated ends them all).
        public const string ContractActivated = "contract.activated";
        public const string ContractAmended = "contract.amended";
        public const string ContractTerminated = "contract.terminated";
        /// <summary>An SLA term of a contract was breached in a billing period (once per term and period).</summary>
        public const string SlaBreached = "sla.breached";

        /// <summary>An operator acknowledged a failed machine's incident (ends its response time).</summary>
        public const string SlaIncidentAcknowledged = "sla.incident-acknowledged";
        public const string AccountClosed = "account.closed";
        public const string InvoiceIssued = "invoice.issued";
        public const string PricePlanVersionAdded = "contract.price-plan-added";
    }

    public async Task<long> AppendAsync(Tx tx, Caller caller, LifecycleEvent e, DateTimeOffset? at = null) =>
        (await AppendAsync(tx, caller, [e], at))[0];

    /// <summary>Appends several events with consecutive numbers; returns their numbers.</summary>
    public async Task<IReadOnlyList<long>> AppendAsync(Tx tx, Caller caller, IReadOnlyList<LifecycleEvent> events, DateTimeOffset? at = null)
    {
        if (events.Count == 0)
        {
            return [];
        }
        var last = await tx.ExecuteScalarAsync<long>(
            "UPDATE counters SET value = value + @N WHERE name = 'events' RETURNING value", new { N = events.Count });
        var when = (at ?? clock.GetUtcNow()).ToUnixTimeMilliseconds();
        var first = last - events.Count + 1;
        var rows = events.Select((e, i) => new
        {
            Seq = first + i,
            e.AccountId,
            e.Type,
            e.Target,
            At = when,
            Data = JsonSerializer.Serialize(e.Data ?? new Dictionary<string, string>()),
            caller.CorrelationId,
        }).ToList();
        await tx.ExecuteAsync(
            "INSERT INTO events (seq, account_id, type, target, at, data, correlation_id) VALUES (@Seq, @AccountId, @Type, @Target, @At, @Data, @CorrelationId)",
            rows);
        return rows.Select(r => r.Seq).ToList();
    }

    /// <summary>
    /// Events the caller may read: an account's principals their own account's, provider roles with
    /// accounts-read-all any account's (or all when <paramref name="accountId"/> is null).
    /// Filters: type (exact, or a prefix ending in '.', e.g. "machine."), target, time range.
    /// </summary>
    public async Task<Result<Page<EventView>>> ListAsync(
        IDatabase db, Caller caller, EventQuery query, CancellationToken ct)
    {
        var scope = Tenancy.Scope(caller, Permission.ResourcesRead, query.AccountId, "Reading events");
        if (!scope.IsSuccess)
        {
            return scope.Error!;
        }
        if (query.After is < 0)
        {
            return Error.Validation("after", "after must be an event number (0 or more)");
        }
        var paging = new Paging(query.Limit, MaxLimit);
        var prefix = query.Type is { } t && t.EndsWith('.') ? t : null;
        var exact = prefix is null ? query.Type : null;
        var rows = await db.QueryAsync<EventRow>(
            """
            SELECT seq AS Seq, account_id AS AccountId, type AS Type, target AS Target, at AS At, data AS Data, correlation_id AS CorrelationId
            FROM events
            WHERE seq > @After
              AND (@Scope IS NULL OR account_id = @Scope)
              AND (@Exact IS NULL OR type = @Exact)
              AND (@Prefix IS NULL OR substr(type, 1, @PrefixLength) = @Prefix)
              AND (@Target IS NULL OR target = @Target)
              AND (@Since IS NULL OR at >= @Since)
              AND (@Until IS NULL OR at < @Until)
            ORDER BY seq LIMIT @Take
            """,
            new
            {
                After = query.After ?? 0,
                Scope = scope.Value,
                Exact = exact,
                Prefix = prefix,
                PrefixLength = prefix?.Length ?? 0,
                query.Target,
                Since = DbTime.ToDb(query.Since),
                Until = DbTime.ToDb(query.Until),
                paging.Take,
            }, ct);
        return paging.Page(rows, ToView, v => v.Seq.ToString(CultureInfo.InvariantCulture));
    }

    // ---- reads of other rooms (metering, SLAs, billing) -----------------------------------------
    // Rows of type T take the columns seq, account_id, type, target, at and data as Seq, AccountId,
    // Type, Target, At and Data.

    private const string Columns = "seq AS Seq, account_id AS AccountId, type AS Type, target AS Target, at AS At, data AS Data";

    /// <summary>Up to <paramref name="take"/> events of <paramref name="types"/> after <paramref name="cursor"/>, in order.</summary>
    internal static async Task<List<T>> AfterAsync<T>(Tx tx, long cursor, IReadOnlyList<string> types, int take)
    {
        var args = new DynamicParameters(new { Cursor = cursor, Take = take });
        return (await tx.QueryAsync<T>(
            $"SELECT {Columns} FROM events WHERE seq > @Cursor AND type {SqlLists.In(args, "Type", types)} ORDER BY seq LIMIT @Take",
            args)).AsList();
    }

    /// <summary>An account's events of <paramref name="types"/> before <paramref name="before"/>, in order.</summary>
    internal static async Task<List<T>> OfAccountBeforeAsync<T>(Tx tx, string accountId, IReadOnlyList<string> types, long before)
    {
        var args = new DynamicParameters(new { Account = accountId, To = before });
        return (await tx.QueryAsync<T>(
            $"SELECT {Columns} FROM events WHERE account_id = @Account AND type {SqlLists.In(args, "Type", types)} AND at < @To ORDER BY seq",
            args)).AsList();
    }

    /// <summary>An account's events of <paramref name="types"/> up to and including <paramref name="through"/>, in order.</summary>
    internal static Task<IReadOnlyList<T>> OfAccountThroughAsync<T>(IDatabase db, string accountId, IReadOnlyList<string> types, long through, CancellationToken ct)
    {
        var args = new DynamicParameters(new { AccountId = accountId, Now = through });
        return db.QueryAsync<T>(
            $"SELECT {Columns} FROM events WHERE account_id = @AccountId AND at <= @Now AND type {SqlLists.In(args, "Type", types)} ORDER BY seq",
            args, ct);
    }

    /// <summary>The events of any of <paramref name="targets"/> before <paramref name="before"/>, in order (read in slices of a few hundred targets).</summary>
    internal static async Task<List<T>> OfTargetsBeforeAsync<T>(Tx tx, IReadOnlyList<string> targets, long before, Func<T, long> seq)
    {
        var rows = new List<T>();
        foreach (var slice in targets.Chunk(TargetsPerRead))
        {
            var args = new DynamicParameters(new { To = before });
            rows.AddRange(await tx.QueryAsync<T>(
                $"SELECT {Columns} FROM events WHERE at < @To AND target {SqlLists.In(args, "Target", slice)} ORDER BY seq", args));
        }
        return targets.Count <= TargetsPerRead ? rows : rows.OrderBy(seq).ToList();
    }

    private const int TargetsPerRead = 500;

    /// <summary>When the last event of <paramref name="type"/> on <paramref name="target"/> happened, or null when there is none.</summary>
    internal static Task<long?> LastAtAsync(IDatabase db, string type, string target, CancellationToken ct) =>
        db.ExecuteScalarAsync<long?>("SELECT MAX(at) FROM events WHERE type = @Type AND target = @Id", new { Type = type, Id = target }, ct);

    private static EventView ToView(EventRow r) =>
        new(r.Seq, r.AccountId, r.Type, r.Target, DbTime.FromDb(r.At),
            JsonSerializer.Deserialize<Dictionary<string, string>>(r.Data) ?? [], r.CorrelationId);

    private sealed record EventRow(long Seq, string? AccountId, string Type, string Target, long At, string Data, string? CorrelationId);
}

/// <summary>The query of <c>GET /api/v1/events</c>: filters and the page (<c>after</c> is an event number).</summary>
public sealed record EventQuery(
    string? Type = null,
    string? Target = null,
    DateTimeOffset? Since = null,
    DateTimeOffset? Until = null,
    long? After = null,
    string? AccountId = null,
    int Limit = 100);

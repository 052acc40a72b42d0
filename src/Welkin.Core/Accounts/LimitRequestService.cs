using System.Text.Json;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Contracts;
using Welkin.Core.Data;
using Welkin.Core.Security;

namespace Welkin.Core.Accounts;

/// <summary>The query of <c>GET /api/v1/limit-requests</c>: an account, a state and the page.</summary>
public sealed record LimitRequestListQuery(string? AccountId = null, string? State = null, string? After = null, int Limit = 100);

/// <summary>
/// Limits beyond the self-service ceiling (<see cref="AccountOptions.Ceiling"/>): an account-admin
/// asks, with a reason; a provider admin approves, which applies the limits asked for (the
/// account's other units keep theirs, and no limit goes below what the account holds), or
/// refuses with a reason. Tenants see their own account's requests only.
/// </summary>
public sealed class LimitRequestService(IDatabase db, AuditLog audit, AccountService accounts, TimeProvider clock)
{
    public async Task<Result<LimitRequestView>> CreateAsync(Caller caller, CreateLimitRequest request, CancellationToken ct)
    {
        if (Tenancy.RequireTenant(caller, Permission.AccountLimitsWrite, "Requesting limits") is { } denied)
        {
            return denied;
        }
        var invalid = AccountService.ValidateLimits(request.Limits, "limits")
            ?? (request.Limits is { Count: 0 } ? Error.Validation("limits", "limits must name at least one unit") : null)
            ?? AccountService.ValidateReason(request.Reason, required: true);
        if (invalid is not null)
        {
            return invalid;
        }
        var accountId = caller.AccountId!;
        return await db.WriteAsync<LimitRequestView>(async tx =>
        {
            if (await AccountStore.StateAsync(tx, accountId) is { } state && state != AccountStore.Active)
            {
                return Error.InvalidState($"Account '{accountId}' is {state}.");
            }
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            var limits = new SortedDictionary<string, long>(request.Limits.ToDictionary(kv => kv.Key, kv => kv.Value), StringComparer.Ordinal);
            var row = new LimitRequestRow(Ids.New(Ids.LimitRequest, clock), accountId, JsonSerializer.Serialize(limits), request.Reason,
                LimitRequestStore.Pending, caller.PrincipalId, null, null, 1, now, null);
            await LimitRequestStore.InsertAsync(tx, row);
            await audit.AppendAsync(tx, caller, new AuditEvent("limit-request.create", row.Id, AuditEvent.Success, accountId, Describe(limits)));
            return ToView(row);
        }, ct);
    }

    public async Task<Result<LimitRequestView>> GetAsync(Caller caller, string id, CancellationToken ct)
    {
        if (!Ids.IsValid(id, Ids.LimitRequest))
        {
            return Error.InvalidId(id, "limit request");
        }
        if (Tenancy.Require(caller, Permission.AccountRead, "Reading limit requests") is { } denied)
        {
            return denied;
        }
        var row = await LimitRequestStore.GetAsync(db, id, ct);
        return row is null || !Tenancy.Sees(caller, row.AccountId) ? Error.NotFound("Limit request", id) : ToView(row);
    }

    /// <summary>The requests the caller sees: an account principal its own account's, a provider principal every account's (or one's).</summary>
    public async Task<Result<Page<LimitRequestView>>> ListAsync(Caller caller, LimitRequestListQuery query, CancellationToken ct)
    {
        if (Filters.Page<LimitRequestState>(query.After, Ids.LimitRequest, "limit request", query.State) is { } invalid)
        {
            return invalid;
        }
        var scope = Tenancy.Scope(caller, Permission.AccountRead, query.AccountId, "Listing limit requests");
        if (!scope.IsSuccess)
        {
            return scope.Error!;
        }
        var paging = new Paging(query.Limit);
        var rows = await LimitRequestStore.ListAsync(db, scope.Value, query.State, query.After ?? "", paging.Take, ct);
        return paging.Page(rows, ToView, v => v.Id);
    }

    /// <summary>Applies the limits asked for to the account and marks the request approved, in one transaction, both audited.</summary>
    public async Task<Result<LimitRequestView>> ApproveAsync(Caller caller, string id, DecisionRequest request, CancellationToken ct)
    {
        if (Check(caller, id, request.Reason, refusal: false) is { } refused)
        {
            return refused;
        }
        return await db.WriteAsync<LimitRequestView>(async tx =>
        {
            var loaded = await LoadPendingAsync(tx, id, request.Version);
            if (!loaded.IsSuccess)
            {
                return loaded.Error!;
            }
            var wanted = Quotas.ParseLimits(loaded.Value.Limits);
            var account = await AccountService.LoadForLimitsAsync(tx, loaded.Value.AccountId, wanted.Keys, null);
            if (!account.IsSuccess)
            {
                return account.Error!;
            }
            var limits = new SortedDictionary<string, long>(Quotas.ParseLimits(account.Value.Limits).ToDictionary(kv => kv.Key, kv => kv.Value), StringComparer.Ordinal);
            foreach (var (unit, max) in wanted)
            {
                limits[unit] = max;
            }
            var applied = await accounts.ApplyLimitsAsync(tx, caller, account.Value, limits, "account.set-limits", $"; limit request {id}");
            if (!applied.IsSuccess)
            {
                return applied.Error!;
            }
            return await DecideAsync(tx, caller, loaded.Value, LimitRequestStore.Approved, request.Reason, "limit-request.approve");
        }, ct);
    }

    /// <summary>Marks the request refused, with the provider's reason; the account's limits stay as they are.</summary>
    public async Task<Result<LimitRequestView>> RefuseAsync(Caller caller, string id, DecisionRequest request, CancellationToken ct)
    {
        if (Check(caller, id, request.Reason, refusal: true) is { } refused)
        {
            return refused;
        }
        return await db.WriteAsync<LimitRequestView>(async tx =>
        {
            var loaded = await LoadPendingAsync(tx, id, request.Version);
            return loaded.IsSuccess
                ? await DecideAsync(tx, caller, loaded.Value, LimitRequestStore.Refused, request.Reason, "limit-request.refuse")
                : loaded.Error!;
        }, ct);
    }

    private static Error? Check(Caller caller, string id, string? reason, bool refusal) =>
        !Ids.IsValid(id, Ids.LimitRequest) ? Error.InvalidId(id, "limit request")
        : Tenancy.RequireProvider(caller, Permission.AccountsWriteAll, "Deciding on a limit request")
            ?? AccountService.ValidateReason(reason, required: refusal);

    private static async Task<Result<LimitRequestRow>> LoadPendingAsync(Tx tx, string id, long? expectedVersion)
    {
        var row = await LimitRequestStore.GetAsync(tx, id);
        if (row is null)
        {
            return Error.NotFound("Limit request", id);
        }
        if (row.State != LimitRequestStore.Pending)
        {
            return Error.InvalidState($"Limit request '{id}' is {row.State}; only a pending request is approved or refused.");
        }
        if (expectedVersion is { } expected && expected != row.Version)
        {
            return Error.VersionMismatch("Limit request", id, expected, row.Version);
        }
        return row;
    }

    private async Task<Result<LimitRequestView>> DecideAsync(Tx tx, Caller caller, LimitRequestRow row, string to, string? reason, string action)
    {
        var decided = row with
        {
            State = to, DecidedBy = caller.PrincipalId, DecisionReason = reason, Version = row.Version + 1, DecidedAt = clock.GetUtcNow().ToUnixTimeMilliseconds(),
        };
        if (!await LimitRequestStore.DecideAsync(tx, decided, row.Version))
        {
            return Error.Concurrency("Limit request", row.Id);
        }
        await audit.AppendAsync(tx, caller, new AuditEvent(action, row.Id, AuditEvent.Success, row.AccountId,
            Describe(Quotas.ParseLimits(row.Limits)) + (reason is null ? "" : $"; reason={(reason.Length <= 200 ? reason : reason[..200])}")));
        return ToView(decided);
    }

    private static string Describe(IEnumerable<KeyValuePair<string, long>> limits) => string.Join(", ", limits.Select(kv => $"{kv.Key}={kv.Value}"));

    private static LimitRequestView ToView(LimitRequestRow r) =>
        new(r.Id, r.AccountId, new SortedDictionary<string, long>(Quotas.ParseLimits(r.Limits).ToDictionary(kv => kv.Key, kv => kv.Value), StringComparer.Ordinal),
            r.Reason, WireNames.Parse<LimitRequestState>(r.State), r.RequestedBy, DbTime.FromDb(r.CreatedAt), r.DecidedBy,
            r.DecidedAt is { } d ? DbTime.FromDb(d) : null, r.DecisionReason, r.Version);
}

using System.Globalization;
using System.Text.Json;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Contracts;
using Welkin.Core.Data;
using Welkin.Core.Security;

namespace Welkin.Core.Accounts;

/// <summary>The query of <c>GET /api/v1/accounts</c>: the page, and a state (<c>pending</c> ones, for approval).</summary>
public sealed record AccountListQuery(string? After = null, int Limit = 100, string? State = null);

/// <summary>
/// Accounts are the consumer relationship of the white paper (Table 1, "Establish Relationship"):
/// sign-up through the Service Catalog creates the account and its account-admin; limits
/// (compute units, storage units, any unit an offering meters) are kept per account. The provider's
/// <see cref="AccountOptions"/> decide who may sign up, the limits a new account starts with, and
/// how far an account-admin may raise them itself; beyond that, a <see cref="LimitRequestService">limit request</see>.
/// </summary>
public sealed class AccountService(IDatabase db, AuditLog audit, SecurityManager security, TimeProvider clock, AccountOptions options)
{
    public const string ComputeUnit = "compute-unit";
    public const string StorageUnit = "storage-unit";
    public const long MaxLimit = 1_000_000_000;

    /// <summary>
    /// Creates the account, its account-admin and a first token. A provider admin's account is
    /// active at once; anyone else's follows <see cref="AccountOptions.SignUp"/>. A taken name answers
    /// the same whatever the account's state, and before any name is looked at when sign-up is closed.
    /// </summary>
    public async Task<Result<SignUpResponse>> SignUpAsync(Caller caller, SignUpRequest request, CancellationToken ct)
    {
        var provider = caller.Can(Permission.AccountsWriteAll);
        if (!provider && options.SignUp == SignUpPolicy.Closed)
        {
            return new Error("sign-up-closed", ErrorKind.Forbidden,
                "Sign-up on this cloud is closed: contact the provider, who can create an account for you.");
        }
        var state = provider || options.SignUp == SignUpPolicy.Open ? AccountStore.Active : AccountStore.Pending;
        var v = new Validator();
        v.Require(Names.IsValid(request.AccountName), "accountName", $"accountName {Names.Rule}");
        v.Require(request.DisplayName is { Length: > 0 and <= 200 }, "displayName", "displayName must be 1-200 characters");
        v.Require(request.Admin is not null, "admin", "admin is required");
        if (request.Admin is not null)
        {
            v.Require(Names.IsValid(request.Admin.Name), "admin.name", $"admin.name {Names.Rule}");
            v.Require(request.Admin.DisplayName is null || request.Admin.DisplayName.Length is > 0 and <= 200, "admin.displayName", "admin.displayName must be 1-200 characters");
            if (request.Admin.Password is not null && PasswordHasher.Problem(request.Admin.Password) is { } pw)
            {
                v.Add("admin.password", $"admin.password {pw}");
            }
        }
        if (v.ToError() is { } invalid)
        {
            return invalid;
        }
        var hashed = await security.HashPasswordAsync(request.Admin!.Password, ct);
        if (!hashed.IsSuccess)
        {
            return hashed.Error!;
        }
        var passwordHash = hashed.Value;
        return await db.WriteAsync<SignUpResponse>(async tx =>
        {
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            var row = new AccountRow(Ids.New(Ids.Account, clock), request.AccountName, request.DisplayName, state,
                JsonSerializer.Serialize(new SortedDictionary<string, long>(options.DefaultLimits, StringComparer.Ordinal)), 1, now, now);
            if (!await AccountStore.InsertAsync(tx, row))
            {
                return new Error("name-taken", ErrorKind.Conflict, $"The account name '{request.AccountName}' is not available; choose another.");
            }
            var admin = await security.InsertPrincipalAsync(tx, row.Id, request.Admin.Name, request.Admin.DisplayName, PrincipalKind.Person, [Role.AccountAdmin], passwordHash);
            if (!admin.IsSuccess)
            {
                return admin.Error!;
            }
            var token = await security.IssueTokenAsync(tx, admin.Value.Id, "sign-up", clock.GetUtcNow().AddDays(90));
            await audit.AppendAsync(tx, caller, new AuditEvent("account.sign-up", row.Id, AuditEvent.Success, row.Id, $"name={row.Name}; admin={admin.Value.Id}; state={state}"));
            return new SignUpResponse(ToView(row), admin.Value, token);
        }, ct);
    }

    public async Task<Result<AccountView>> GetAsync(Caller caller, string id, CancellationToken ct)
    {
        if (!Ids.IsValid(id, Ids.Account))
        {
            return Error.InvalidId(id, "account");
        }
        if (Tenancy.Require(caller, Permission.AccountRead, "Reading accounts") is { } denied)
        {
            return denied;
        }
        var row = await AccountStore.GetAsync(db, id, ct);
        if (row is null || !Tenancy.Sees(caller, id))
        {
            return Error.NotFound("Account", id);
        }
        return ToView(row);
    }

    /// <summary>Accounts the caller sees: an account principal its own, a provider principal with accounts-read-all every one.</summary>
    public async Task<Result<Page<AccountView>>> ListAsync(Caller caller, AccountListQuery query, CancellationToken ct)
    {
        if (Filters.Page<AccountState>(query.After, Ids.Account, "account", query.State) is { } invalid)
        {
            return invalid;
        }
        var scope = Tenancy.Scope(caller, Permission.AccountRead, null, "Listing accounts");
        if (!scope.IsSuccess)
        {
            return scope.Error!;
        }
        var paging = new Paging(query.Limit);
        var rows = await AccountStore.ListAsync(db, scope.Value, query.State, query.After ?? "", paging.Take, ct);
        return paging.Page(rows, ToView, v => v.Id);
    }

    public async Task<Result<AccountView>> SetLimitsAsync(Caller caller, string id, SetLimitsRequest request, CancellationToken ct)
    {
        if (!Ids.IsValid(id, Ids.Account))
        {
            return Error.InvalidId(id, "account");
        }
        if (Tenancy.Require(caller, Permission.AccountLimitsWrite, "Changing account limits") is { } denied)
        {
            return denied;
        }
        if (!Tenancy.Sees(caller, id))
        {
            return Error.NotFound("Account", id);
        }
        if (ValidateLimits(request.Limits, "limits") is { } invalid)
        {
            return invalid;
        }
        var limits = new SortedDictionary<string, long>(request.Limits!.ToDictionary(kv => kv.Key, kv => kv.Value), StringComparer.Ordinal);
        return await db.WriteAsync<AccountView>(async tx =>
        {
            var loaded = await LoadForLimitsAsync(tx, id, limits.Keys, request.Version);
            if (!loaded.IsSuccess)
            {
                return loaded.Error!;
            }
            var row = loaded.Value;
            // The provider's own limits are its decision; an account raises its own only up to the ceiling.
            if (!caller.IsProvider && AboveCeiling(Quotas.ParseLimits(row.Limits), limits) is { } above)
            {
                return above;
            }
            return await ApplyLimitsAsync(tx, caller, row, limits, "account.set-limits", "");
        }, ct);
    }

    /// <summary>Field errors of a set of limits: unit names, 0..<see cref="MaxLimit"/>, at most 100 units.</summary>
    internal static Error? ValidateLimits(IReadOnlyDictionary<string, long>? limits, string field)
    {
        var v = new Validator();
        v.Require(limits is not null, field, $"{field} is required");
        foreach (var (unit, max) in limits ?? new Dictionary<string, long>())
        {
            v.Require(Names.IsValid(unit), $"{field}.{Clip(unit)}", $"unit name {Names.Rule}");
            v.Require(max is >= 0 and <= MaxLimit, $"{field}.{Clip(unit)}", $"limit must be between 0 and {MaxLimit}");
        }
        v.Require(limits is null || limits.Count <= 100, field, "at most 100 units");
        return v.ToError();
    }

    /// <summary>
    /// The active account whose limits are about to change, at the version asked for (if any),
    /// with its quota rows locked (those of its current and new units) so no draw crosses the change.
    /// </summary>
    internal static async Task<Result<AccountRow>> LoadForLimitsAsync(Tx tx, string id, IEnumerable<string> newUnits, long? expectedVersion)
    {
        var row = await AccountStore.GetAsync(tx, id);
        if (row is null)
        {
            return Error.NotFound("Account", id);
        }
        if (row.State != AccountStore.Active)
        {
            return Error.InvalidState($"Account '{id}' is {row.State}.");
        }
        if (expectedVersion is { } expected && expected != row.Version)
        {
            return Error.VersionMismatch("Account", id, expected, row.Version);
        }
        await Quotas.LockAccountAsync(tx, id, Quotas.ParseLimits(row.Limits).Keys.Union(newUnits, StringComparer.Ordinal));
        return row;
    }

    /// <summary>403 naming each unit raised past the ceiling (a limit kept or lowered is never refused).</summary>
    private Error? AboveCeiling(IReadOnlyDictionary<string, long> current, IReadOnlyDictionary<string, long> wanted)
    {
        var above = wanted
            .Where(kv => kv.Value > options.CeilingOf(kv.Key) && kv.Value > Quotas.LimitOf(current, kv.Key))
            .Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value} is above the ceiling of {options.CeilingOf(kv.Key)}"))
            .ToList();
        return above.Count == 0 ? null : new Error("limit-above-ceiling", ErrorKind.Forbidden,
            $"An account sets its own limits only up to the provider's ceiling: {string.Join("; ", above)}. " +
            "Ask the provider for more with a limit request (POST /api/v1/limit-requests).");
    }

    /// <summary>
    /// Stores <paramref name="limits"/> (the whole set) with one conditional UPDATE that cannot put a
    /// limit below what the account holds; on refusal the numbers are read and stated (409). The
    /// audit entry commits with the change.
    /// </summary>
    internal async Task<Result<AccountView>> ApplyLimitsAsync(
        Tx tx, Caller caller, AccountRow row, IReadOnlyDictionary<string, long> limits, string action, string note)
    {
        var updated = row with { Limits = JsonSerializer.Serialize(limits), Version = row.Version + 1, UpdatedAt = clock.GetUtcNow().ToUnixTimeMilliseconds() };
        if (!await AccountStore.SetLimitsAsync(tx, updated, limits, row.Version))
        {
            var below = (await Quotas.OfAccountAsync(tx, row.Id))
                .Where(q => q.Ordered > Quotas.LimitOf(limits, q.Unit) || q.Provisioned > Quotas.LimitOf(limits, q.Unit))
                .Select(q => string.Create(CultureInfo.InvariantCulture,
                    $"{q.Unit}: limit {Quotas.LimitOf(limits, q.Unit)}, ordered {q.Ordered}, provisioned {q.Provisioned}"))
                .ToList();
            return below.Count == 0 ? Error.Concurrency("Account", row.Id) : new Error("limit-below-usage", ErrorKind.Conflict,
                $"A limit cannot be set below what the account's contracts hold or have provisioned: {string.Join("; ", below)}.");
        }
        await audit.AppendAsync(tx, caller, new AuditEvent(action, row.Id, AuditEvent.Success, row.Id,
            string.Join(", ", limits.Select(kv => $"{kv.Key}={kv.Value}")) + note));
        return ToView(updated);
    }

    /// <summary>A provider admin lets a pending account in: it becomes active with the limits it has.</summary>
    public Task<Result<AccountView>> ApproveAsync(Caller caller, string id, DecisionRequest request, CancellationToken ct) =>
        DecideAsync(caller, id, request, AccountStore.Active, "account.approve", ct);

    /// <summary>A provider admin turns a pending account away (with a reason); its name stays taken and nothing of it can be used.</summary>
    public Task<Result<AccountView>> RefuseAsync(Caller caller, string id, DecisionRequest request, CancellationToken ct) =>
        DecideAsync(caller, id, request, AccountStore.Refused, "account.refuse", ct);

    private async Task<Result<AccountView>> DecideAsync(Caller caller, string id, DecisionRequest request, string to, string action, CancellationToken ct)
    {
        if (!Ids.IsValid(id, Ids.Account))
        {
            return Error.InvalidId(id, "account");
        }
        if (Tenancy.RequireProvider(caller, Permission.AccountsWriteAll, "Deciding on a pending account") is { } denied)
        {
            return denied;
        }
        if (ValidateReason(request.Reason, required: to == AccountStore.Refused) is { } invalid)
        {
            return invalid;
        }
        return await db.WriteAsync<AccountView>(async tx =>
        {
            var row = await AccountStore.GetAsync(tx, id);
            if (row is null)
            {
                return Error.NotFound("Account", id);
            }
            if (row.State != AccountStore.Pending)
            {
                return Error.InvalidState($"Account '{id}' is {row.State}; only a pending account is approved or refused.");
            }
            if (request.Version is { } expected && expected != row.Version)
            {
                return Error.VersionMismatch("Account", id, expected, row.Version);
            }
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            if (!await AccountStore.SetStateAsync(tx, id, AccountStore.Pending, to, row.Version, now))
            {
                return Error.Concurrency("Account", id);
            }
            await audit.AppendAsync(tx, caller, new AuditEvent(action, id, AuditEvent.Success, id,
                request.Reason is null ? $"name={row.Name}" : $"name={row.Name}; reason={Clip(request.Reason, 200)}"));
            return ToView(row with { State = to, Version = row.Version + 1, UpdatedAt = now });
        }, ct);
    }

    /// <summary>A decision's reason: 1-500 characters, required for a refusal.</summary>
    internal static Error? ValidateReason(string? reason, bool required) =>
        (required && reason is null) || reason is { Length: 0 or > 500 }
            ? Error.Validation("reason", required ? "reason is required: 1-500 characters" : "reason must be 1-500 characters")
            : null;

    private static string Clip(string s, int max = 63) => s.Length <= max ? s : s[..max];

    internal static AccountView ToView(AccountRow r) =>
        new(r.Id, r.Name, r.DisplayName, WireNames.Parse<AccountState>(r.State),
            JsonSerializer.Deserialize<SortedDictionary<string, long>>(r.Limits) ?? [], r.Version, DbTime.FromDb(r.CreatedAt), DbTime.FromDb(r.UpdatedAt));
}

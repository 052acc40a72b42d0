using System.Text.Json;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Security;

namespace Welkin.Core.Accounts;

/// <summary>The query of <c>GET /api/v1/accounts</c>: the page.</summary>
public sealed record AccountListQuery(string? After = null, int Limit = 100);

/// <summary>
/// Accounts are the consumer relationship of the white paper (Table 1, "Establish Relationship"):
/// sign-up through the Service Catalog creates the account and its account-admin; limits
/// (compute units, storage units, any unit an offering meters) are kept per account.
/// </summary>
public sealed class AccountService(IDatabase db, AuditLog audit, SecurityManager security, TimeProvider clock)
{
    public const string ComputeUnit = "compute-unit";
    public const string StorageUnit = "storage-unit";
    public const long MaxLimit = 1_000_000_000;

    public async Task<Result<SignUpResponse>> SignUpAsync(Caller caller, SignUpRequest request, CancellationToken ct)
    {
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
            var row = new AccountRow(Ids.New(Ids.Account, clock), request.AccountName, request.DisplayName, "active",
                JsonSerializer.Serialize(new SortedDictionary<string, long>(StringComparer.Ordinal) { [ComputeUnit] = 0, [StorageUnit] = 0 }), 1, now, now);
            if (!await AccountStore.InsertAsync(tx, row))
            {
                return new Error("name-taken", ErrorKind.Conflict, $"An account named '{request.AccountName}' already exists.");
            }
            var admin = await security.InsertPrincipalAsync(tx, row.Id, request.Admin.Name, request.Admin.DisplayName, PrincipalKind.Person, [Role.AccountAdmin], passwordHash);
            if (!admin.IsSuccess)
            {
                return admin.Error!;
            }
            var token = await security.IssueTokenAsync(tx, admin.Value.Id, "sign-up", clock.GetUtcNow().AddDays(90));
            await audit.AppendAsync(tx, caller, new AuditEvent("account.sign-up", row.Id, AuditEvent.Success, row.Id, $"name={row.Name}; admin={admin.Value.Id}"));
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
        if (Filters.Id(query.After, Ids.Account, "account") is { } invalid)
        {
            return invalid;
        }
        var scope = Tenancy.Scope(caller, Permission.AccountRead, null, "Listing accounts");
        if (!scope.IsSuccess)
        {
            return scope.Error!;
        }
        var paging = new Paging(query.Limit);
        var rows = await AccountStore.ListAsync(db, scope.Value, query.After ?? "", paging.Take, ct);
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
        var v = new Validator();
        v.Require(request.Limits is not null, "limits", "limits is required");
        foreach (var (unit, max) in request.Limits ?? new Dictionary<string, long>())
        {
            v.Require(Names.IsValid(unit), $"limits.{Clip(unit)}", $"unit name {Names.Rule}");
            v.Require(max is >= 0 and <= MaxLimit, $"limits.{Clip(unit)}", $"limit must be between 0 and {MaxLimit}");
        }
        v.Require(request.Limits is null || request.Limits.Count <= 100, "limits", "at most 100 units");
        if (v.ToError() is { } invalid)
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
            if (row.State != "active")
            {
                return Error.InvalidState($"Account '{id}' is {row.State}.");
            }
            if (request.Version is { } expected && expected != row.Version)
            {
                return Error.VersionMismatch("Account", id, expected, row.Version);
            }
            var limits = new SortedDictionary<string, long>(request.Limits!.ToDictionary(kv => kv.Key, kv => kv.Value), StringComparer.Ordinal);
            var updated = row with { Limits = JsonSerializer.Serialize(limits), Version = row.Version + 1, UpdatedAt = clock.GetUtcNow().ToUnixTimeMilliseconds() };
            if (!await AccountStore.SetLimitsAsync(tx, updated, row.Version))
            {
                return Error.Concurrency("Account", id);
            }
            await audit.AppendAsync(tx, caller, new AuditEvent("account.set-limits", id, AuditEvent.Success, id,
                string.Join(", ", limits.Select(kv => $"{kv.Key}={kv.Value}"))));
            return ToView(updated);
        }, ct);
    }

    private static string Clip(string s) => s.Length <= 63 ? s : s[..63];

    internal static AccountView ToView(AccountRow r) =>
        new(r.Id, r.Name, r.DisplayName, WireNames.Parse<AccountState>(r.State),
            JsonSerializer.Deserialize<SortedDictionary<string, long>>(r.Limits) ?? [], r.Version, DbTime.FromDb(r.CreatedAt), DbTime.FromDb(r.UpdatedAt));
}

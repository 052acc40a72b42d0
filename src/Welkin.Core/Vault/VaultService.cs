using System.Globalization;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Contracts;
using Welkin.Core.Data;
using Welkin.Core.Events;
using Welkin.Core.Security;

namespace Welkin.Core.Vault;

/// <summary>The query of <c>GET /api/v1/vaults</c>.</summary>
public sealed record VaultListQuery(string? AccountId = null, string? ContractId = null, bool Deleted = false, string? After = null, int Limit = 100);

/// <summary>
/// Retention vaults (white paper 3.3): an account's versioned, write-once storage provisioned from
/// a storage line of an active contract, holding one unit of the line and of the account's quota per
/// increment of its capacity from creation to deletion, as a volume does; and the retention classes
/// of each vault. Records are <see cref="RecordService"/>'s.
/// </summary>
public sealed partial class VaultService(IDatabase db, AuditLog audit, EventLog events, VaultKeys keys, TimeProvider clock)
{
    public const string CryptographicErase = "cryptographic-erase";

    public static readonly IReadOnlyList<string> SanitizationMethods = [CryptographicErase];

    public async Task<Result<VaultView>> CreateAsync(Caller caller, CreateVaultRequest request, IdempotentWrite<VaultView>? once, CancellationToken ct)
    {
        if (Tenancy.RequireTenant(caller, Permission.ResourcesConfigure, "Creating a vault") is { } denied)
        {
            return denied;
        }
        if (StorageLines.Check(request.ContractId, request.CapacityGiB, request.Name, request.Item, "capacityGiB") is { } invalid)
        {
            return invalid;
        }
        var accountId = caller.AccountId!;
        return await db.WriteAsync<VaultView>(async tx =>
        {
            var drawn = await StorageLines.DrawAsync(tx, caller, accountId, request.ContractId, request.Item, request.CapacityGiB, "vaults", "capacityGiB");
            if (!drawn.IsSuccess)
            {
                return drawn.Error!;
            }
            var (line, units) = drawn.Value;
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            var id = Ids.New(Ids.Vault, clock);
            var row = new VaultRow(id, accountId, request.ContractId, line.Item, line.LimitUnit, units, request.Name ?? id, request.CapacityGiB, 0, 0,
                request.ObjectLock ?? true ? 1 : 0, VaultStore.Active, 1, now, now, null);
            await VaultStore.InsertVaultAsync(tx, row);
            await events.AppendAsync(tx, caller, new LifecycleEvent(EventLog.Types.VaultProvisioned, id, accountId, UsageData(row, 0)));
            await audit.AppendAsync(tx, caller, new AuditEvent("vault.create", id, AuditEvent.Success, accountId,
                string.Create(CultureInfo.InvariantCulture, $"contract={request.ContractId} item={line.Item} capacityGiB={request.CapacityGiB} objectLock={row.ObjectLock != 0}")));
            var view = ToView(row);
            return once is not null && await once.RecordAsync(tx, view) is { } taken ? taken : view;
        }, ct);
    }

    public async Task<Result<VaultView>> GetAsync(Caller caller, string id, CancellationToken ct)
    {
        var found = await ReadableAsync(caller, id, ct);
        return found.IsSuccess ? ToView(found.Value) : found.Error!;
    }

    /// <summary>Vaults of the caller's account (provider readers: of any account), oldest first.</summary>
    public async Task<Result<Page<VaultView>>> ListAsync(Caller caller, VaultListQuery query, CancellationToken ct)
    {
        var scope = Tenancy.Scope(caller, Permission.ResourcesRead, query.AccountId, "Listing vaults");
        if (!scope.IsSuccess)
        {
            return scope.Error!;
        }
        if ((Filters.Id(query.After, Ids.Vault, "vault") ?? Filters.Id(query.ContractId, Ids.Contract, "contract")) is { } invalid)
        {
            return invalid;
        }
        var paging = new Paging(query.Limit);
        var rows = await VaultStore.ListVaultsAsync(db, scope.Value, query.ContractId, query.Deleted, query.After ?? "", paging.Take, ct);
        return paging.Page(rows, ToView, v => v.Id);
    }

    /// <summary>Turns Object Lock on (S3: it can be enabled on a versioned bucket, never disabled).</summary>
    public Task<Result<VaultView>> EnableObjectLockAsync(Caller caller, string id, long? version, CancellationToken ct) =>
        ChangeAsync(caller, id, version, "Enabling Object Lock", (tx, row, now) =>
            Task.FromResult<Result<VaultRow>>(row with { ObjectLock = 1, Version = row.Version + 1, UpdatedAt = now }), "vault.object-lock", "objectLock=true", ct);

    /// <summary>Deletes a vault that holds no stored record and returns its increments.</summary>
    public Task<Result<VaultView>> DeleteAsync(Caller caller, string id, long? version, CancellationToken ct) =>
        ChangeAsync(caller, id, version, "Deleting a vault", async (tx, row, now) =>
        {
            if (row.Records > 0)
            {
                return Error.InvalidState(string.Create(CultureInfo.InvariantCulture,
                    $"Vault '{id}' holds {row.Records} record(s); a vault is deleted once every record is destroyed."));
            }
            return await ReleaseAsync(tx, caller, row, now);
        }, "vault.delete", null, ct);

    /// <summary>Marks an empty vault deleted and returns its increments, in the caller's transaction (the caller writes the row and the audit entry).</summary>
    internal async Task<VaultRow> ReleaseAsync(Tx tx, Caller caller, VaultRow row, long now)
    {
        await Quotas.ReturnProvisionedAsync(tx, row.AccountId, row.ContractId, (int)row.Item, row.LimitUnit, row.Units);
        await events.AppendAsync(tx, caller, new LifecycleEvent(EventLog.Types.VaultReleased, row.Id, row.AccountId, UsageData(row, 0)));
        return row with { State = VaultStore.Deleted, Version = row.Version + 1, UpdatedAt = now, DeletedAt = now };
    }

    /// <summary>Deletes an empty vault whose contract ends (by the termination job); false when another change came first.</summary>
    internal Task<Result<bool>> ReleaseForContractAsync(Caller caller, string vaultId, CancellationToken ct) =>
        db.WriteAsync<bool>(async tx =>
        {
            var row = await VaultStore.GetVaultAsync(tx, vaultId);
            if (row is null || row.State != VaultStore.Active)
            {
                return false;
            }
            if (row.Records > 0)
            {
                return Error.InvalidState($"Vault '{vaultId}' still holds records.");
            }
            var deleted = await ReleaseAsync(tx, caller, row, clock.GetUtcNow().ToUnixTimeMilliseconds());
            if (await VaultStore.UpdateVaultAsync(tx, deleted, row.Version) == 0)
            {
                return Error.Concurrency("Vault", vaultId);
            }
            await audit.AppendAsync(tx, caller, new AuditEvent("vault.delete", vaultId, AuditEvent.Success, row.AccountId, $"contract={row.ContractId} terminated"));
            return true;
        }, ct);

    public async Task<Result<RetentionClassView>> CreateClassAsync(Caller caller, string vaultId, CreateRetentionClassRequest request, CancellationToken ct)
    {
        if (Check(caller, vaultId, "Creating a retention class") is { } error)
        {
            return error;
        }
        var v = new Validator();
        v.Require(Names.IsValid(request.Name), "name", $"name {Names.Rule}");
        v.Require(RetentionPeriod.TryParse(request.RetentionPeriod, out _), "cdmi_retention_period",
            $"cdmi_retention_period must be an ISO 8601 duration of years, months and days (P7Y, P1Y6M, P90D), at most {RetentionRules.MaxYears} years");
        v.Require(request.SanitizationMethod is null || SanitizationMethods.Contains(request.SanitizationMethod), "cdmi_sanitization_method",
            $"cdmi_sanitization_method must be one of: {string.Join(", ", SanitizationMethods)}");
        v.Require(Enum.IsDefined(request.Mode), "mode", "mode must be governance or compliance");
        if (v.ToError() is { } invalid)
        {
            return invalid;
        }
        return await db.WriteAsync<RetentionClassView>(async tx =>
        {
            var vault = await VaultStore.GetVaultAsync(tx, vaultId);
            if (vault is null || !Tenancy.Sees(caller, vault.AccountId) || vault.State != VaultStore.Active)
            {
                return Error.NotFound("Vault", vaultId);
            }
            if (vault.ObjectLock == 0)
            {
                return Error.InvalidState($"Vault '{vaultId}' does not have Object Lock enabled; retention classes need it.");
            }
            var row = new RetentionClassRow(vaultId, request.Name, request.RetentionPeriod, WireNames.Of(request.Mode), request.AutoDelete ? 1 : 0,
                request.SanitizationMethod ?? CryptographicErase, clock.GetUtcNow().ToUnixTimeMilliseconds());
            if (!await VaultStore.InsertClassAsync(tx, row))
            {
                return new Error("already-exists", ErrorKind.Conflict, $"Vault '{vaultId}' already has a retention class '{request.Name}'; classes do not change once made.");
            }
            await audit.AppendAsync(tx, caller, new AuditEvent("vault.class.create", vaultId, AuditEvent.Success, vault.AccountId,
                $"class={row.Name} period={row.Period} mode={row.Mode} autoDelete={request.AutoDelete} sanitization={row.Sanitization}"));
            return ToView(row);
        }, ct);
    }

    public async Task<Result<IReadOnlyList<RetentionClassView>>> ClassesAsync(Caller caller, string vaultId, CancellationToken ct)
    {
        var found = await ReadableAsync(caller, vaultId, ct);
        if (!found.IsSuccess)
        {
            return found.Error!;
        }
        return (await VaultStore.ClassesAsync(db, vaultId, ct)).Select(ToView).ToList();
    }

    /// <summary>Rotates the caller's account's tenant key: every data key is rewrapped under a new version; no record is rewritten.</summary>
    public async Task<Result<VaultKeyRotationView>> RotateKeyAsync(Caller caller, CancellationToken ct)
    {
        if (Tenancy.RequireTenant(caller, Permission.ResourcesConfigure, "Rotating the vault key") is { } denied)
        {
            return denied;
        }
        var accountId = caller.AccountId!;
        var records = (await VaultStore.KeyedRecordsOfAccountAsync(db, accountId, ct)).Concat(await RecordUploads.KeyedUploadsOfAccountAsync(db, accountId, ct)).ToList();
        var (version, rewrapped) = await keys.RotateAsync(accountId, records, ct);
        await audit.AppendAsync(db, caller, new AuditEvent("vault.key.rotate", accountId, AuditEvent.Success, accountId,
            string.Create(CultureInfo.InvariantCulture, $"keyVersion={version} rewrapped={rewrapped}")), ct);
        return new VaultKeyRotationView(accountId, version, rewrapped);
    }

    /// <summary>A vault the caller may read: not-found when it is missing or of an account the caller does not see.</summary>
    internal async Task<Result<VaultRow>> ReadableAsync(Caller caller, string id, CancellationToken ct)
    {
        if (Tenancy.Require(caller, Permission.ResourcesRead, "Reading vaults") is { } denied)
        {
            return denied;
        }
        if (!Ids.IsValid(id, Ids.Vault))
        {
            return Error.InvalidId(id, "vault");
        }
        var row = await VaultStore.GetVaultAsync(db, id, ct);
        return row is null || !Tenancy.Sees(caller, row.AccountId) ? Error.NotFound("Vault", id) : row;
    }

    public static Error? Check(Caller caller, string id, string what) =>
        Tenancy.RequireTenant(caller, Permission.ResourcesConfigure, what) ?? (Ids.IsValid(id, Ids.Vault) ? null : Error.InvalidId(id, "vault"));

    internal static Dictionary<string, string> UsageData(VaultRow row, long storedGiB) => new()
    {
        ["sizeGiB"] = storedGiB.ToString(CultureInfo.InvariantCulture),
        ["contractId"] = row.ContractId,
        ["item"] = row.Item.ToString(CultureInfo.InvariantCulture),
        ["units"] = row.Units.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>Stored bytes as metering counts them: whole GiB, rounded up.</summary>
    internal static long StoredGiB(long bytes) => (bytes + (1L << 30) - 1) >> 30;

    internal static VaultView ToView(VaultRow r) =>
        new(r.Id, r.AccountId, r.ContractId, (int)r.Item, r.Name, r.CapacityGiB, r.StoredBytes, r.Records, r.ObjectLock != 0, WireNames.Parse<VaultState>(r.State),
            r.Version, DbTime.FromDb(r.CreatedAt), DbTime.FromDb(r.UpdatedAt));

    internal static RetentionClassView ToView(RetentionClassRow r) =>
        new(r.VaultId, r.Name, r.Period, WireNames.Parse<RetentionMode>(r.Mode), r.AutoDelete != 0, r.Sanitization, DbTime.FromDb(r.CreatedAt));

    private async Task<Result<VaultView>> ChangeAsync(
        Caller caller, string id, long? version, string what, Func<Tx, VaultRow, long, Task<Result<VaultRow>>> change, string action, string? detail, CancellationToken ct)
    {
        if (Check(caller, id, what) is { } error)
        {
            return error;
        }
        return await db.WriteAsync<VaultView>(async tx =>
        {
            var row = await VaultStore.GetVaultAsync(tx, id);
            if (row is null || !Tenancy.Sees(caller, row.AccountId) || row.State != VaultStore.Active)
            {
                return Error.NotFound("Vault", id);
            }
            if (version is { } expected && expected != row.Version)
            {
                return Error.VersionMismatch("Vault", id, expected, row.Version);
            }
            var changed = await change(tx, row, clock.GetUtcNow().ToUnixTimeMilliseconds());
            if (!changed.IsSuccess)
            {
                return changed.Error!;
            }
            if (await VaultStore.UpdateVaultAsync(tx, changed.Value, row.Version) == 0)
            {
                return Error.Concurrency("Vault", id);
            }
            await audit.AppendAsync(tx, caller, new AuditEvent(action, id, AuditEvent.Success, row.AccountId, detail));
            return ToView(changed.Value);
        }, ct);
    }
}

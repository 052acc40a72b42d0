using System.Text.Json;
using Dapper;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Security;

namespace Welkin.Core.Vault;

/// <summary>
/// Grants of a tenant's records to a regulator (docs/vault.md, "Regulator access"): given by the
/// account's vault-grants-write holders on its own vaults, or by the provider's with the legal basis
/// recorded; listed by the account (every grant on its data) and by the regulator (those given to it);
/// revoked by whoever may give them. The owner of the <c>vault_grants</c> table.
/// </summary>
public sealed class VaultGrants(IDatabase db, AuditLog audit, SecurityManager security, TimeProvider clock)
{
    public const int MaxRecordIds = 1000;
    public const int MaxLegalBasisLength = 1000;
    public static readonly TimeSpan MaxDuration = TimeSpan.FromDays(366);

    private const string Columns =
        "id AS Id, account_id AS AccountId, vault_id AS VaultId, regulator_id AS RegulatorId, record_ids AS RecordIds, key_prefix AS KeyPrefix, " +
        "class_name AS ClassName, granted_by AS GrantedBy, by_provider AS ByProvider, legal_basis AS LegalBasis, created_at AS CreatedAt, " +
        "expires_at AS ExpiresAt, revoked_at AS RevokedAt";

    public async Task<Result<VaultGrantView>> CreateAsync(Caller caller, CreateVaultGrantRequest request, CancellationToken ct)
    {
        if (Allowed(caller, "Giving a vault grant") is { } denied)
        {
            return denied;
        }
        if (!Ids.IsValid(request.VaultId, Ids.Vault))
        {
            return Error.InvalidId(request.VaultId, "vault");
        }
        // The vault first: another account's answers 404 as a missing one, whatever else the request holds.
        var vault = await VaultStore.GetVaultAsync(db, request.VaultId, ct);
        if (vault is null || vault.State != VaultStore.Active || !(caller.IsProvider || vault.AccountId == caller.AccountId))
        {
            return Error.NotFound("Vault", request.VaultId);
        }
        if (Validate(caller, request, clock.GetUtcNow()) is { } invalid)
        {
            return invalid;
        }
        var found = await security.GetPrincipalAsync(Caller.System(caller.CorrelationId), request.RegulatorId, ct);
        if ((found.IsSuccess ? found.Value : null) is not { AccountId: null, State: PrincipalState.Active } regulator || !regulator.Roles.Contains(Role.Regulator))
        {
            return Error.Validation("regulatorId", "regulatorId must name an active provider principal with the regulator role");
        }
        var now = DbTime.ToDb(clock.GetUtcNow());
        var row = new GrantRow(Ids.New(Ids.VaultGrant, clock), vault.AccountId, vault.Id, regulator.Id,
            request.RecordIds is { Count: > 0 } ids ? JsonSerializer.Serialize(ids.Distinct().ToArray()) : null,
            request.RecordIds is { Count: > 0 } ? null : request.KeyPrefix ?? "", request.ClassName, caller.PrincipalId, caller.IsProvider ? 1 : 0,
            request.LegalBasis, now, DbTime.ToDb(request.Expires), null);
        return await db.WriteAsync<VaultGrantView>(async tx =>
        {
            await tx.ExecuteAsync(
                """
                INSERT INTO vault_grants (id, account_id, vault_id, regulator_id, record_ids, key_prefix, class_name, granted_by, by_provider, legal_basis, created_at, expires_at)
                VALUES (@Id, @AccountId, @VaultId, @RegulatorId, @RecordIds, @KeyPrefix, @ClassName, @GrantedBy, @ByProvider, @LegalBasis, @CreatedAt, @ExpiresAt)
                """, row);
            // The account's own audit view shows a grant the provider gave on its data, with the legal basis.
            await audit.AppendAsync(tx, caller, new AuditEvent("vault.grant.create", row.Id, AuditEvent.Success, row.AccountId,
                $"vault={row.VaultId} regulator={row.RegulatorId} expires={RecordService.Time(row.ExpiresAt)}" +
                (row.LegalBasis is null ? "" : $" legal-basis={row.LegalBasis}")));
            return ToView(row, now);
        }, ct);
    }

    /// <summary>The account's readers see every grant on its data, a regulator those given to it, the provider's grant-givers all.</summary>
    public async Task<Result<Page<VaultGrantView>>> ListAsync(Caller caller, string? after, int limit, CancellationToken ct)
    {
        var receiver = caller.Can(Permission.VaultGrantsReceive) && caller.IsProvider;
        var reader = caller.IsProvider ? caller.Can(Permission.VaultGrantsWrite) : caller.Can(Permission.ResourcesRead);
        if (!receiver && !reader)
        {
            return Error.Forbidden($"Listing vault grants needs the {RolePermissions.Name(Permission.ResourcesRead)} permission of the account.");
        }
        if (Filters.Id(after, Ids.VaultGrant, "grant") is { } invalid)
        {
            return invalid;
        }
        var paging = new Paging(limit);
        var rows = await db.QueryAsync<GrantRow>(
            $"""
            SELECT {Columns} FROM vault_grants
            WHERE id > @After AND (@Account IS NULL OR account_id = @Account) AND (@Regulator IS NULL OR regulator_id = @Regulator)
            ORDER BY id LIMIT @Take
            """,
            new { After = after ?? "", Account = caller.AccountId, Regulator = receiver ? caller.PrincipalId : null, paging.Take }, ct);
        var now = DbTime.ToDb(clock.GetUtcNow());
        return paging.Page(rows, r => ToView(r, now), v => v.Id);
    }

    public async Task<Result<VaultGrantView>> RevokeAsync(Caller caller, string id, CancellationToken ct)
    {
        if (Allowed(caller, "Revoking a vault grant") is { } denied)
        {
            return denied;
        }
        if (!Ids.IsValid(id, Ids.VaultGrant))
        {
            return Error.InvalidId(id, "grant");
        }
        return await db.WriteAsync<VaultGrantView>(async tx =>
        {
            var row = await tx.QuerySingleOrDefaultAsync<GrantRow>($"SELECT {Columns} FROM vault_grants WHERE id = @Id", new { Id = id });
            if (row is null || !(caller.IsProvider || row.AccountId == caller.AccountId))
            {
                return Error.NotFound("Grant", id);
            }
            var now = DbTime.ToDb(clock.GetUtcNow());
            if (row.RevokedAt is null)
            {
                row = row with { RevokedAt = now };
                await tx.ExecuteAsync("UPDATE vault_grants SET revoked_at = @Now WHERE id = @Id AND revoked_at IS NULL", new { Now = now, Id = id });
                await audit.AppendAsync(tx, caller, new AuditEvent("vault.grant.revoke", id, AuditEvent.Success, row.AccountId, $"regulator={row.RegulatorId}"));
            }
            return ToView(row, now);
        }, ct);
    }

    internal Task<GrantRow?> ByIdAsync(string id, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<GrantRow>($"SELECT {Columns} FROM vault_grants WHERE id = @Id", new { Id = id }, ct);

    /// <summary>The regulator's own grant, active now: expired, revoked and others' grants answer 404 alike.</summary>
    internal async Task<Result<GrantRow>> ActiveAsync(string regulatorId, string id, CancellationToken ct)
    {
        if (!Ids.IsValid(id, Ids.VaultGrant))
        {
            return Error.InvalidId(id, "grant");
        }
        var row = await ByIdAsync(id, ct);
        return row is null || row.RegulatorId != regulatorId || State(row, DbTime.ToDb(clock.GetUtcNow())) != VaultGrantState.Active
            ? Error.NotFound("Grant", id)
            : row;
    }

    /// <summary>The stored records the grant covers, of those named (all when none are), at most <paramref name="take"/>.</summary>
    internal async Task<IReadOnlyList<RecordRow>> RecordsAsync(GrantRow grant, IReadOnlyList<string>? named, int take, CancellationToken ct)
    {
        var rows = await VaultStore.StoredRecordsAsync(db, grant.VaultId, grant.KeyPrefix, grant.ClassName, ct);
        var granted = grant.RecordIds is null ? null : JsonSerializer.Deserialize<string[]>(grant.RecordIds)!.ToHashSet();
        return rows.Where(r => (granted is null || granted.Contains(r.Id)) && (named is null || named.Contains(r.Id))).Take(take).ToList();
    }

    private static Error? Allowed(Caller caller, string what) =>
        caller.Can(Permission.VaultGrantsWrite) && (caller.IsProvider || caller.AccountId is not null)
            ? null
            : Error.Forbidden($"{what} needs the {RolePermissions.Name(Permission.VaultGrantsWrite)} permission.");

    private static Error? Validate(Caller caller, CreateVaultGrantRequest request, DateTimeOffset now)
    {
        var v = new Validator();
        if (!Ids.IsValid(request.RegulatorId, Ids.Principal))
        {
            v.Add("regulatorId", "regulatorId must be a principal id");
        }
        if (request.Expires <= now || request.Expires > now + MaxDuration)
        {
            v.Add("expires", $"expires must be in the future and at most {MaxDuration.TotalDays} days away");
        }
        var named = request.RecordIds is { Count: > 0 };
        if (named && (request.KeyPrefix is not null || request.ClassName is not null))
        {
            v.Add("recordIds", "name records or give a query (keyPrefix, className), not both");
        }
        if (request.RecordIds is { } ids && (ids.Count > MaxRecordIds || ids.Any(i => !Ids.IsValid(i, Ids.VaultRecord))))
        {
            v.Add("recordIds", $"recordIds must be at most {MaxRecordIds} record ids");
        }
        if (request.KeyPrefix is { } prefix && System.Text.Encoding.UTF8.GetByteCount(prefix) > RecordService.MaxKeyBytes)
        {
            v.Add("keyPrefix", $"keyPrefix must be at most {RecordService.MaxKeyBytes} bytes");
        }
        if (request.ClassName is not null && !Names.IsValid(request.ClassName))
        {
            v.Add("className", $"className {Names.Rule}");
        }
        if (caller.IsProvider && string.IsNullOrWhiteSpace(request.LegalBasis))
        {
            v.Add("legalBasis", "the provider gives a grant only under a legal process: legalBasis names it (order, court, reference)");
        }
        if (request.LegalBasis is { Length: > MaxLegalBasisLength } || request.LegalBasis?.Any(char.IsControl) == true)
        {
            v.Add("legalBasis", $"legalBasis must be at most {MaxLegalBasisLength} characters without control characters");
        }
        return v.ToError();
    }

    private static VaultGrantState State(GrantRow r, long now) =>
        r.RevokedAt is not null ? VaultGrantState.Revoked : r.ExpiresAt <= now ? VaultGrantState.Expired : VaultGrantState.Active;

    private static VaultGrantView ToView(GrantRow r, long now) =>
        new(r.Id, r.AccountId, r.VaultId, r.RegulatorId, r.RecordIds is null ? null : JsonSerializer.Deserialize<string[]>(r.RecordIds),
            r.KeyPrefix, r.ClassName, r.GrantedBy, r.ByProvider != 0, r.LegalBasis, State(r, now),
            DbTime.FromDb(r.CreatedAt), DbTime.FromDb(r.ExpiresAt), DbTime.FromDb(r.RevokedAt));
}

internal sealed record GrantRow(
    string Id, string AccountId, string VaultId, string RegulatorId, string? RecordIds, string? KeyPrefix, string? ClassName, string GrantedBy,
    long ByProvider, string? LegalBasis, long CreatedAt, long ExpiresAt, long? RevokedAt);

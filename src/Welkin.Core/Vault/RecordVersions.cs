using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Security;

namespace Welkin.Core.Vault;

/// <summary>A version of a key as a versioned object store lists it: a stored record, or a delete marker (no content, size 0).</summary>
public sealed record RecordVersion(string Id, string Key, bool IsDeleteMarker, string Sha256, long SizeBytes, DateTimeOffset Created);

/// <summary>
/// Every version of a vault's keys, delete markers included, as S3 sees a versioned bucket. A delete
/// marker is a row of its own: it holds no content, data key, retention or hold, is never destroyed
/// or certified (removing it deletes its row, audited), takes no capacity and is not metered; while it
/// is a key's newest version the key has no current version. The API's record views never show one.
/// </summary>
public sealed class RecordVersions(IDatabase db, AuditLog audit, TimeProvider clock)
{
    /// <summary>Adds a delete marker as the newest version of <paramref name="key"/> (whether or not the key has versions, as S3 does).</summary>
    public async Task<Result<RecordVersion>> AddDeleteMarkerAsync(Caller caller, string vaultId, string key, CancellationToken ct)
    {
        if ((VaultService.Check(caller, vaultId, "Deleting an object") ?? RecordService.CheckKey(key)) is { } refused)
        {
            return refused;
        }
        return await db.WriteAsync<RecordVersion>(async tx =>
        {
            var vault = await VaultStore.GetVaultAsync(tx, vaultId);
            if (vault is null || !Tenancy.Sees(caller, vault.AccountId) || vault.State != VaultStore.Active)
            {
                return Error.NotFound("Vault", vaultId);
            }
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            var row = new RecordRow(Ids.New(Ids.VaultRecord, clock), vaultId, vault.AccountId, key, "", 0, null, null, null, 0, VaultService.CryptographicErase,
                VaultStore.Marker, 1, now, now, null);
            await VaultStore.InsertRecordAsync(tx, row);
            await audit.AppendAsync(tx, caller, new AuditEvent("vault.record.delete-marker", row.Id, AuditEvent.Success, vault.AccountId, $"vault={vaultId}"));
            return ToVersion(row);
        }, ct);
    }

    /// <summary>Removes the delete marker <paramref name="markerId"/> of the vault: the version before it is current again.</summary>
    public async Task<Result<RecordVersion>> RemoveDeleteMarkerAsync(Caller caller, string vaultId, string markerId, CancellationToken ct)
    {
        if (VaultService.Check(caller, vaultId, "Deleting an object") is { } denied)
        {
            return denied;
        }
        return await db.WriteAsync<RecordVersion>(async tx =>
        {
            var row = await VaultStore.GetRecordAsync(tx, markerId);
            if (row is null || row.VaultId != vaultId || row.State != VaultStore.Marker || !Tenancy.Sees(caller, row.AccountId)
                || !await VaultStore.DeleteMarkerAsync(tx, markerId))
            {
                return Error.NotFound("Delete marker", markerId);
            }
            await audit.AppendAsync(tx, caller, new AuditEvent("vault.record.delete-marker-remove", markerId, AuditEvent.Success, row.AccountId, $"vault={vaultId}"));
            return ToVersion(row);
        }, ct);
    }

    /// <summary>A version of the vault by id, a delete marker or a stored record; not-found for destroyed records and other vaults'.</summary>
    public async Task<Result<RecordVersion>> GetAsync(Caller caller, string vaultId, string versionId, CancellationToken ct)
    {
        if (Read(caller, vaultId) is { } denied)
        {
            return denied;
        }
        if (!Ids.IsValid(versionId, Ids.VaultRecord))
        {
            return Error.InvalidId(versionId, "record");
        }
        var row = await VaultStore.GetRecordAsync(db, versionId, ct);
        return row is null || row.VaultId != vaultId || !Tenancy.Sees(caller, row.AccountId) || (row.State != VaultStore.Stored && row.State != VaultStore.Marker)
            ? Error.NotFound("Version", versionId)
            : ToVersion(row);
    }

    /// <summary>The newest version of <paramref name="key"/>, a stored record or a delete marker; not-found when it has none.</summary>
    public async Task<Result<RecordVersion>> LatestAsync(Caller caller, string vaultId, string key, CancellationToken ct)
    {
        if ((Read(caller, vaultId) ?? RecordService.CheckKey(key)) is { } refused)
        {
            return refused;
        }
        var vault = await VaultStore.GetVaultAsync(db, vaultId, ct);
        if (vault is null || !Tenancy.Sees(caller, vault.AccountId))
        {
            return Error.NotFound("Vault", vaultId);
        }
        var row = await VaultStore.CurrentRecordAsync(db, vaultId, key, ct);
        return row is null ? Error.NotFound("Key", key) : ToVersion(row);
    }

    /// <summary>
    /// Up to <paramref name="take"/> versions of the keys starting with <paramref name="prefix"/>, by key
    /// then newest first, after version <paramref name="afterId"/> of <paramref name="afterKey"/> (after
    /// all of that key's when <paramref name="afterId"/> is empty).
    /// </summary>
    public async Task<Result<IReadOnlyList<RecordVersion>>> ListAsync(
        Caller caller, string vaultId, string prefix, string afterKey, string afterId, int take, CancellationToken ct)
    {
        if (Read(caller, vaultId) is { } denied)
        {
            return denied;
        }
        var vault = await VaultStore.GetVaultAsync(db, vaultId, ct);
        if (vault is null || !Tenancy.Sees(caller, vault.AccountId))
        {
            return Error.NotFound("Vault", vaultId);
        }
        var prefixLength = prefix.EnumerateRunes().Count();
        var rows = await VaultStore.VersionsAsync(db, vaultId, prefix, prefixLength, afterKey, afterId, Math.Clamp(take, 1, RecordKeys.MaxPage), ct);
        return rows.Select(ToVersion).ToList();
    }

    private static Error? Read(Caller caller, string vaultId) =>
        Tenancy.Require(caller, Permission.ResourcesRead, "Reading vault records") ?? (Ids.IsValid(vaultId, Ids.Vault) ? null : Error.InvalidId(vaultId, "vault"));

    private static RecordVersion ToVersion(RecordRow r) => new(r.Id, r.Key, r.State == VaultStore.Marker, r.Sha256, r.SizeBytes, DbTime.FromDb(r.CreatedAt));
}

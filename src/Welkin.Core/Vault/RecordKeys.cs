using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Security;

namespace Welkin.Core.Vault;

/// <summary>
/// A vault's records by key, as a versioned object store reads them: the current version of a key
/// is its newest stored record unless a delete marker is newer (destroying that record makes the one
/// before it current again), and keys are listed in order with their current version.
/// </summary>
public sealed class RecordKeys(IDatabase db)
{
    public const int MaxPage = 1000;

    /// <summary>The current version of <paramref name="key"/>, or not-found when it has none.</summary>
    public async Task<Result<VaultRecordView>> CurrentAsync(Caller caller, string vaultId, string key, CancellationToken ct)
    {
        if (await SeenAsync(caller, vaultId, ct) is { } refused)
        {
            return refused;
        }
        if (RecordService.CheckKey(key) is { } badKey)
        {
            return badKey;
        }
        var row = await VaultStore.CurrentRecordAsync(db, vaultId, key, ct);
        if (row is null || row.State == VaultStore.Marker)
        {
            return Error.NotFound("Key", key);
        }
        var holds = await VaultStore.HoldsAsync(db, [row.Id], ct);
        return RecordService.ToView(row, holds[row.Id].ToList());
    }

    /// <summary>
    /// Up to <paramref name="take"/> keys after <paramref name="after"/> that start with
    /// <paramref name="prefix"/>, in key order, each with its current version.
    /// </summary>
    public async Task<Result<IReadOnlyList<VaultRecordView>>> CurrentVersionsAsync(
        Caller caller, string vaultId, string prefix, string after, int take, CancellationToken ct)
    {
        if (await SeenAsync(caller, vaultId, ct) is { } refused)
        {
            return refused;
        }
        // substr counts characters in both databases; a C# string's Length counts UTF-16 units.
        var prefixLength = prefix.EnumerateRunes().Count();
        var rows = await VaultStore.CurrentRecordsAsync(db, vaultId, prefix, prefixLength, after, Math.Clamp(take, 1, MaxPage), ct);
        var holds = await VaultStore.HoldsAsync(db, rows.Select(r => r.Id).ToList(), ct);
        return rows.Select(r => RecordService.ToView(r, holds[r.Id].ToList())).ToList();
    }

    private async Task<Error?> SeenAsync(Caller caller, string vaultId, CancellationToken ct)
    {
        if (Tenancy.Require(caller, Permission.ResourcesRead, "Reading vault records") is { } denied)
        {
            return denied;
        }
        if (!Ids.IsValid(vaultId, Ids.Vault))
        {
            return Error.InvalidId(vaultId, "vault");
        }
        var vault = await VaultStore.GetVaultAsync(db, vaultId, ct);
        return vault is null || !Tenancy.Sees(caller, vault.AccountId) ? Error.NotFound("Vault", vaultId) : null;
    }
}

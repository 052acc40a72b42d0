using System.Globalization;
using System.Security.Cryptography;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Security;

namespace Welkin.Core.Vault;

public sealed partial class RecordService
{
    /// <summary>
    /// Writes a new version of <paramref name="key"/> from <paramref name="content"/> as
    /// <see cref="PutAsync"/> does, and runs <paramref name="alsoInTx"/> in the transaction that commits
    /// the record, so that a completed multipart upload and its record commit together or not at all.
    /// </summary>
    internal async Task<Result<VaultRecordView>> PutCompletingAsync(
        Caller caller, string vaultId, string key, Stream content, Func<Tx, VaultRecordView, Task<Error?>> alsoInTx, CancellationToken ct)
    {
        if (VaultService.Check(caller, vaultId, "Writing a record") is { } denied)
        {
            return denied;
        }
        var vault = await VaultStore.GetVaultAsync(db, vaultId, ct);
        if (vault is null || !Tenancy.Sees(caller, vault.AccountId) || vault.State != VaultStore.Active)
        {
            return Error.NotFound("Vault", vaultId);
        }
        var id = Ids.New(Ids.VaultRecord, clock);
        var dataKey = VaultKeys.NewDataKey();
        VaultCipher.Sealed written;
        try
        {
            await keys.WriteDataKeyAsync(vault.AccountId, vaultId, id, dataKey, ct);
            written = await WriteBlobAsync(vaultId, id, dataKey, content, ct);
        }
        catch
        {
            keys.DestroyDataKey(vaultId, id);
            DeleteBlob(options, vaultId, id);
            throw;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(dataKey);
        }
        var result = written.TooLarge
            ? new Error("record-too-large", ErrorKind.PayloadTooLarge, string.Create(CultureInfo.InvariantCulture, $"A record holds at most {options.MaxRecordBytes} bytes."))
            : await db.WriteAsync<VaultRecordView>(async tx =>
            {
                var committed = await CommitAsync(tx, caller, vault, id, key, null, written);
                return !committed.IsSuccess ? committed : await alsoInTx(tx, committed.Value) is { } refused ? refused : committed;
            }, ct);
        if (!result.IsSuccess)
        {
            keys.DestroyDataKey(vaultId, id);
            DeleteBlob(options, vaultId, id);
        }
        return result;
    }
}

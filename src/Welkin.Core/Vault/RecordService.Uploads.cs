using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Security;

namespace Welkin.Core.Vault;

public sealed partial class RecordService
{
    /// <summary>
    /// Writes a new version of <paramref name="key"/> from <paramref name="content"/> as
    /// <see cref="PutAsync(Caller, string, string?, RecordWrite, Stream, CancellationToken)"/> does (the vault's
    /// default retention applies), and runs <paramref name="alsoInTx"/> in the transaction that commits
    /// the record, so that a completed multipart upload and its record commit together or not at all.
    /// </summary>
    internal Task<Result<VaultRecordView>> PutCompletingAsync(
        Caller caller, string vaultId, string key, Stream content, Func<Tx, VaultRecordView, Task<Error?>> alsoInTx, CancellationToken ct)
        => WriteAsync(caller, vaultId, key, new RecordWrite(), content, alsoInTx, ct);
}

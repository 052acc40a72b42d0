using System.Globalization;
using Welkin.Core.Common;
using Welkin.Core.Contracts;
using Welkin.Core.Data;
using Welkin.Core.Security;

namespace Welkin.Core.Vault;

/// <summary>
/// Terminating a contract frees its vaults (Table 1, "Terminate Contract"), but never before their
/// records' time: every record neither retention nor a legal hold keeps is destroyed (with its
/// certificate, reason contract-terminated) and each vault left empty is deleted with its
/// increments returned. A vault still keeping records makes the termination fail with
/// <c>records-retained</c>, naming the latest retain-until, and the contract stays terminating;
/// a later run (once the records expire or their holds are removed) finishes it.
/// </summary>
public sealed class VaultContractResources(IDatabase db, VaultService vaults, RecordDestruction destruction) : IContractResources
{
    public string Kind => "vaults";

    public async Task<Result<int>> ReleaseContractAsync(Caller caller, string contractId, CancellationToken ct)
    {
        var released = 0;
        foreach (var vault in await VaultStore.ActiveOfContractAsync(db, contractId, ct))
        {
            var kept = await destruction.DestroyReleasableAsync(caller, vault.Id, ct);
            if (!kept.IsSuccess)
            {
                return kept.Error!;
            }
            if (kept.Value.Count > 0)
            {
                var until = kept.Value.Max(r => r.RetainUntil) is { } ms ? DbTime.FromDb(ms).ToString("O", CultureInfo.InvariantCulture) : "a legal hold is removed";
                return new Error("records-retained", ErrorKind.Conflict, string.Create(CultureInfo.InvariantCulture,
                    $"Vault '{vault.Id}' keeps {kept.Value.Count} record(s) under retention or legal hold (until {until}); records are not destroyed before their time, so the contract's termination cannot finish yet."));
            }
            var done = await vaults.ReleaseForContractAsync(caller, vault.Id, ct);
            if (!done.IsSuccess)
            {
                return done.Error!;
            }
            released += done.Value ? 1 : 0;
        }
        return released;
    }
}

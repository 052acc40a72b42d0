using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Contracts;
using Welkin.Core.Data;
using Welkin.Core.Security;

namespace Welkin.Core.Configuration;

/// <summary>
/// Terminating a contract frees its storage (Table 1, "Terminate Contract"): every volume of the
/// contract is marked deleting (so nothing attaches it any more), taken off its machine, then
/// deleted with its increments returned. A re-run after a crash picks up the volumes still
/// deleting; deleted ones are skipped, so releasing twice releases nothing twice.
/// </summary>
public sealed class VolumeContractResources(IDatabase db, VolumeService volumes, ComputeFabric fabric, TimeProvider clock) : IContractResources
{
    public string Kind => "volumes";

    public async Task<Result<int>> ReleaseContractAsync(Caller caller, string contractId, CancellationToken ct)
    {
        await db.WriteAsync<int>(async tx => await VolumeStore.MarkContractDeletingAsync(tx, contractId, clock.GetUtcNow().ToUnixTimeMilliseconds()), ct);
        var pending = await VolumeStore.DeletingOfContractAsync(db, contractId, ct);
        var released = 0;
        foreach (var volume in pending)
        {
            if (await MachineDevices.DetachVolumeAsync(db, fabric, volume, ct) is { } error)
            {
                return error;
            }
            var done = await db.WriteAsync<bool>(async tx => await volumes.MarkDeletedAsync(tx, caller, volume) is not null, ct);
            if (!done.IsSuccess)
            {
                return done.Error!;
            }
            await volumes.DeleteStorageAsync(volume.Id, volume.Pool, ct);
            released += done.Value ? 1 : 0;
        }
        return released;
    }
}

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
        await db.WriteAsync<int>(async tx => await tx.ExecuteAsync(
            "UPDATE volumes SET state = @Deleting, version = version + 1, updated_at = @Now WHERE contract_id = @ContractId AND state <> @Deleted AND state <> @Deleting",
            new { VolumeService.Deleting, VolumeService.Deleted, Now = clock.GetUtcNow().ToUnixTimeMilliseconds(), ContractId = contractId }), ct);
        var pending = await db.QueryAsync<VolumeRow>(
            $"SELECT {VolumeService.Columns} FROM volumes WHERE contract_id = @ContractId AND state = @Deleting ORDER BY id",
            new { ContractId = contractId, VolumeService.Deleting }, ct);
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

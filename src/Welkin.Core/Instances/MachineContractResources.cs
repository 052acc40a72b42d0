using Welkin.Core.Common;
using Welkin.Core.Contracts;
using Welkin.Core.Data;
using Welkin.Core.Security;

namespace Welkin.Core.Instances;

/// <summary>Terminating a contract releases its machines: each is destroyed and its unit returned (Table 1: "Terminate Contract").</summary>
public sealed class MachineContractResources(IDatabase db, MachineLifecycle lifecycle, TimeProvider clock) : IContractResources
{
    public string Kind => "machines";

    public async Task<Result<int>> ReleaseContractAsync(Caller caller, string contractId, CancellationToken ct)
    {
        await MachineStore.MarkContractInstancesAsync(db, contractId, terminated: false, clock.GetUtcNow().ToUnixTimeMilliseconds(), ct);
        var ids = await MachineStore.LiveOfContractAsync(db, contractId, ct);
        var results = await Task.WhenAll(ids.Select(id => lifecycle.DestroyAsync(caller, id, ct)));
        if (results.FirstOrDefault(r => !r.IsSuccess) is { Error: { } error })
        {
            return error;
        }
        await MachineStore.MarkContractInstancesAsync(db, contractId, terminated: true, clock.GetUtcNow().ToUnixTimeMilliseconds(), ct);
        return ids.Count;
    }
}

using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Jobs;

namespace Welkin.Core.Contracts;

/// <summary>
/// <c>contract.terminate</c>: asks every registered <see cref="IContractResources"/> to release
/// what the contract holds, then marks it terminated and returns its units. Idempotent: a re-run
/// after a crash releases what is left and finds the contract already terminated if it was.
/// </summary>
public sealed class ContractTerminationHandler(IDatabase db, ContractService contracts, IEnumerable<IContractResources> resources) : IJobHandler
{
    private readonly IReadOnlyList<IContractResources> _resources = resources.ToList();

    public string Action => ContractService.TerminateAction;

    public async Task RunAsync(JobContext context, CancellationToken ct)
    {
        var job = context.Job;
        var state = await db.ReadAsync(async tx => (await ContractStore.GetAsync(tx, job.Target))?.State, ct);
        if (state is null || (state != ContractStore.Terminating && state != ContractStore.Terminated))
        {
            await FinishAsync(context, tx => context.Queue.FailAsync(tx, job.Id,
                Error.InvalidState($"Contract '{job.Target}' is {state ?? "missing"}; only a terminating contract is terminated.")), ct);
            return;
        }
        var released = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < _resources.Count; i++)
        {
            var owner = _resources[i];
            await context.Queue.ReportProgressAsync(job.Id, 10 + (80 * i / _resources.Count), $"releasing {owner.Kind}", ct);
            var result = await owner.ReleaseContractAsync(context.Caller, job.Target, ct);
            if (!result.IsSuccess)
            {
                await FinishAsync(context, tx => context.Queue.FailAsync(tx, job.Id, result.Error!, new { contractId = job.Target, released }), ct);
                return;
            }
            released[owner.Kind] = result.Value;
        }
        await FinishAsync(context, async tx =>
        {
            await contracts.CompleteTerminationAsync(tx, context.Caller, job.Target);
            await context.Queue.SucceedAsync(tx, job.Id, new { contractId = job.Target, state = ContractStore.Terminated, released }, "contract terminated");
        }, ct);
    }

    private Task FinishAsync(JobContext context, Func<Tx, Task> work, CancellationToken ct) =>
        db.WriteAsync<bool>(async tx =>
        {
            // Another run may have finished this job already (a retry racing a slow first attempt).
            if (await JobQueue.IsFinishedAsync(tx, context.Job.Id))
            {
                return true;
            }
            await work(tx);
            return true;
        }, ct);
}

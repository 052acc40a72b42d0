using Welkin.Contracts;
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
        var state = await db.ReadAsync(async tx => (await ContractService.LoadAsync(tx, job.Target))?.State, ct);
        if (state is null || (state != ContractService.Terminating && state != ContractService.Terminated))
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
            await context.Queue.SucceedAsync(tx, job.Id, new { contractId = job.Target, state = ContractService.Terminated, released }, "contract terminated");
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

/// <summary>
/// <c>account.close</c>: finishes when every <c>contract.terminate</c> job it started has
/// finished; fails, naming them, when any of them failed.
/// </summary>
public sealed class AccountCloseHandler(IDatabase db, ContractOptions options) : IJobHandler
{
    public string Action => ContractService.CloseAccountAction;

    public async Task RunAsync(JobContext context, CancellationToken ct)
    {
        var job = context.Job;
        while (true)
        {
            var children = await db.QueryAsync<Child>(
                "SELECT id AS Id, target AS Target, state AS State FROM jobs WHERE parent_id = @Id ORDER BY id", new { job.Id }, ct);
            var pending = children.Count(c => c.State == JobQueue.Queued || c.State == JobQueue.Running);
            if (pending == 0)
            {
                var failed = children.Where(c => c.State != JobQueue.Succeeded).Select(c => c.Target).ToList();
                await db.WriteAsync<bool>(async tx =>
                {
                    if (await JobQueue.IsFinishedAsync(tx, job.Id))
                    {
                        return true;
                    }
                    var result = new { accountId = job.Target, contracts = children.Select(c => c.Target).ToList(), failed };
                    if (failed.Count == 0)
                    {
                        await context.Queue.SucceedAsync(tx, job.Id, result, "account closed");
                    }
                    else
                    {
                        await context.Queue.FailAsync(tx, job.Id,
                            new Error("termination-failed", ErrorKind.Conflict, $"Terminating contracts {string.Join(", ", failed)} failed; see their jobs."), result);
                    }
                    return true;
                }, ct);
                return;
            }
            await context.Queue.ReportProgressAsync(job.Id, 100 * (children.Count - pending) / Math.Max(1, children.Count),
                $"terminating contracts: {children.Count - pending} of {children.Count} done", ct);
            await Task.Delay(options.CloseAccountPollInterval, ct);
        }
    }

    private sealed record Child(string Id, string Target, string State);
}

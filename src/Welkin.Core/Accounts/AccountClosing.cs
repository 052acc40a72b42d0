using Welkin.Core.Common;
using Welkin.Core.Contracts;
using Welkin.Core.Data;
using Welkin.Core.Jobs;

namespace Welkin.Core.Accounts;

/// <summary>
/// <c>account.close</c>: finished once every <c>contract.terminate</c> job it started has finished
/// (failed, naming them, when any of them failed). Until then it waits for them
/// (<see cref="JobContext.Wait"/>): the end of each one runs it again, with no polling.
/// </summary>
public sealed class AccountCloseHandler(IDatabase db) : IJobHandler
{
    public string Action => ContractService.CloseAccountAction;

    public async Task RunAsync(JobContext context, CancellationToken ct)
    {
        var job = context.Job;
        var children = await context.Queue.ChildrenAsync(job.Id, ct);
        var pending = children.Count(c => c.State == JobQueue.Queued || c.State == JobQueue.Running);
        if (pending > 0)
        {
            await context.Queue.ReportProgressAsync(job.Id, 100 * (children.Count - pending) / children.Count,
                $"terminating contracts: {children.Count - pending} of {children.Count} done", ct);
            context.Wait();
            return;
        }
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
    }
}

using Microsoft.Extensions.Logging;
using Welkin.Core.Common;
using Welkin.Core.Contracts;
using Welkin.Core.Data;
using Welkin.Core.Jobs;

namespace Welkin.Core.Accounts;

/// <summary>
/// <c>account.close</c>: finished once every <c>contract.terminate</c> job it started has finished
/// (failed, naming them, when any of them failed). The job finishes at once when there is nothing
/// to wait for; otherwise it waits, and <see cref="AccountClosingWork"/> finishes it on the
/// server's clock.
/// </summary>
public sealed class AccountCloseHandler(AccountClosings closings) : IJobHandler
{
    public string Action => ContractService.CloseAccountAction;

    public async Task RunAsync(JobContext context, CancellationToken ct)
    {
        if (!await closings.TryFinishAsync(context.Job.Id, context.Job.Target, ct))
        {
            context.Wait();
        }
    }
}

/// <summary>Finishes the <c>account.close</c> jobs whose contract terminations are over, every <see cref="ContractOptions.CloseAccountPollInterval"/> of the server's clock.</summary>
public sealed class AccountClosingWork(AccountClosings closings, ContractOptions options, ILogger<AccountClosingWork> logger) : IPeriodicWork
{
    public string Name => "accounts.close";

    public TimeSpan Interval => options.CloseAccountPollInterval;

    public async Task RunAsync(DateTimeOffset now, CancellationToken ct)
    {
        foreach (var job in await closings.Queue.RunningAsync(ContractService.CloseAccountAction, ct))
        {
            if (await closings.TryFinishAsync(job.Id, job.Target, ct))
            {
                logger.LogInformation("Account {Account} closed (job {Job})", job.Target, job.Id);
            }
        }
    }
}

/// <summary>The end of an account's closing: its job, once the contract terminations it started are over.</summary>
public sealed class AccountClosings(IDatabase db, JobQueue queue)
{
    internal JobQueue Queue => queue;

    /// <summary>Finishes the job when none of its children is queued or running any more (true); reports progress otherwise (false).</summary>
    public async Task<bool> TryFinishAsync(string jobId, string accountId, CancellationToken ct)
    {
        var children = await queue.ChildrenAsync(jobId, ct);
        var pending = children.Count(c => c.State == JobQueue.Queued || c.State == JobQueue.Running);
        if (pending > 0)
        {
            await queue.ReportProgressAsync(jobId, 100 * (children.Count - pending) / children.Count,
                $"terminating contracts: {children.Count - pending} of {children.Count} done", ct);
            return false;
        }
        var failed = children.Where(c => c.State != JobQueue.Succeeded).Select(c => c.Target).ToList();
        await db.WriteAsync<bool>(async tx =>
        {
            // The job's own run and the periodic work may both get here; the first one finishes it.
            if (await JobQueue.IsFinishedAsync(tx, jobId))
            {
                return true;
            }
            var result = new { accountId, contracts = children.Select(c => c.Target).ToList(), failed };
            if (failed.Count == 0)
            {
                await queue.SucceedAsync(tx, jobId, result, "account closed");
            }
            else
            {
                await queue.FailAsync(tx, jobId,
                    new Error("termination-failed", ErrorKind.Conflict, $"Terminating contracts {string.Join(", ", failed)} failed; see their jobs."), result);
            }
            return true;
        }, ct);
        return true;
    }
}

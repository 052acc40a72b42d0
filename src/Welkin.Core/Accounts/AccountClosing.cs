using System.Globalization;
using System.Text.Json;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Contracts;
using Welkin.Core.Data;
using Welkin.Core.Events;
using Welkin.Core.Jobs;
using Welkin.Core.Security;

namespace Welkin.Core.Accounts;

/// <summary>
/// Terminates the relationship (Table 1): every proposed contract is declined and every active
/// one terminated (one <c>contract.terminate</c> job each, under an <c>account.close</c> job),
/// every principal is disabled and every token revoked, and the account is closed, all in one
/// transaction. The <c>account.closed</c> event carries what a final bill needs.
/// </summary>
public sealed class AccountClosing(
    IDatabase db, AuditLog audit, EventLog events, JobQueue jobs, ContractService contracts, SecurityManager security, TimeProvider clock)
{
    public const string Action = "account.close";

    public async Task<Result<CloseAccountResponse>> CloseAsync(Caller caller, string accountId, CloseAccountRequest request, CancellationToken ct)
    {
        if (!Ids.IsValid(accountId, Ids.Account))
        {
            return Error.InvalidId(accountId, "account");
        }
        if (Tenancy.Require(caller, Permission.AccountClose, "Closing an account") is { } denied)
        {
            return denied;
        }
        if (!Tenancy.Sees(caller, accountId))
        {
            return Error.NotFound("Account", accountId);
        }
        var result = await db.WriteAsync<CloseAccountResponse>(async tx =>
        {
            var loaded = await LoadOpenAsync(tx, accountId, request.Version);
            if (!loaded.IsSuccess)
            {
                return loaded.Error!;
            }
            var account = loaded.Value;
            var now = clock.GetUtcNow();
            var atClosing = await Quotas.OfAccountAsync(tx, accountId);
            var ended = await EndContractsAsync(tx, caller, accountId, request.Reason ?? "account closed", now);
            if (!ended.IsSuccess)
            {
                return ended.Error!;
            }
            var (open, close) = ended.Value;
            var revoked = await security.CloseAccountPrincipalsAsync(tx, accountId);
            if (!await AccountStore.CloseAsync(tx, accountId, account.Version, now.ToUnixTimeMilliseconds()))
            {
                return Error.Concurrency("Account", accountId);
            }
            var ids = open.Select(c => c.Id).ToList();
            await RecordAsync(tx, caller, accountId, ids, atClosing, revoked, request.Reason, now);
            var view = new AccountView(account.Id, account.Name, account.DisplayName, AccountState.Closed,
                JsonSerializer.Deserialize<SortedDictionary<string, long>>(account.Limits) ?? [], account.Version + 1, DbTime.FromDb(account.CreatedAt), now);
            return new CloseAccountResponse(view, ids, revoked, close);
        }, ct);
        if (result.IsSuccess)
        {
            jobs.Wake();
        }
        return result;
    }

    /// <summary>The account to close: it exists, is active, and has the version the caller names (if any).</summary>
    private static async Task<Result<AccountRow>> LoadOpenAsync(Tx tx, string accountId, long? expectedVersion)
    {
        var account = await AccountStore.GetAsync(tx, accountId);
        if (account is null)
        {
            return Error.NotFound("Account", accountId);
        }
        if (account.State != "active")
        {
            return Error.InvalidState($"Account '{accountId}' is {account.State}.");
        }
        if (expectedVersion is { } expected && expected != account.Version)
        {
            return Error.VersionMismatch("Account", accountId, expected, account.Version);
        }
        return account;
    }

    /// <summary>
    /// The <c>account.close</c> job and, under it, the end of every open contract: proposals
    /// declined, active contracts terminating. The job is finished at once when no contract was
    /// active. Returns the contracts and the job as the caller sees it.
    /// </summary>
    private async Task<Result<(List<ContractRow> Open, JobView Close)>> EndContractsAsync(Tx tx, Caller caller, string accountId, string reason, DateTimeOffset now)
    {
        var open = await ContractStore.OpenOfAccountAsync(tx, accountId);
        var close = await jobs.EnqueueAsync(tx, caller, accountId, Action, accountId, new { accountId });
        foreach (var contract in open)
        {
            if (await contracts.BeginTerminationAsync(tx, caller, contract, reason, close.Id) is null)
            {
                return Error.Concurrency("Contract", contract.Id);
            }
        }
        if (!open.Any(c => c.State == ContractStore.Active))
        {
            await jobs.SucceedAsync(tx, close.Id, new { accountId, contracts = open.Select(c => c.Id).ToList() }, "no active contracts");
            close = close with { State = JobState.Succeeded, Progress = 100, StatusMessage = "no active contracts", Finished = now };
        }
        return (open, close);
    }

    /// <summary>The audit entry and the <c>account.closed</c> event with each unit's figures at the closing.</summary>
    private async Task RecordAsync(
        Tx tx, Caller caller, string accountId, List<string> contractIds, IReadOnlyList<Quotas.QuotaRow> atClosing, int revoked, string? reason, DateTimeOffset now)
    {
        var data = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["closedAt"] = now.ToString("O", CultureInfo.InvariantCulture),
            ["contracts"] = string.Join(",", contractIds),
            ["closedBy"] = caller.PrincipalId,
        };
        foreach (var q in atClosing)
        {
            data[$"ordered.{q.Unit}"] = q.Ordered.ToString(CultureInfo.InvariantCulture);
            data[$"provisioned.{q.Unit}"] = q.Provisioned.ToString(CultureInfo.InvariantCulture);
        }
        await audit.AppendAsync(tx, caller, new AuditEvent("account.close", accountId, AuditEvent.Success, accountId,
            $"contracts={contractIds.Count}; revokedTokens={revoked}" + (reason is null ? "" : $"; reason={ContractService.Clip(reason)}")));
        await events.AppendAsync(tx, caller, new LifecycleEvent(EventLog.Types.AccountClosed, accountId, accountId, data));
    }
}

/// <summary>
/// <c>account.close</c>: finished once every <c>contract.terminate</c> job it started has finished
/// (failed, naming them, when any of them failed). Until then it waits for them
/// (<see cref="JobContext.Wait"/>): the end of each one runs it again, with no polling.
/// </summary>
public sealed class AccountCloseHandler(IDatabase db) : IJobHandler
{
    public string Action => AccountClosing.Action;

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

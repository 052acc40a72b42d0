using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Security;

namespace Welkin.Core.Jobs;

/// <summary>What a handler is given to run one job.</summary>
/// <param name="Caller">Welkin itself acting for the job (audit actor "system", the job's correlation id).</param>
public sealed record JobContext(JobRecord Job, Caller Caller, JobQueue Queue)
{
    /// <summary>True when the handler left the job running, waiting for other work to finish it.</summary>
    public bool Waiting { get; private set; }

    /// <summary>
    /// Leaves the job running when the handler returns, waiting for the jobs it started (its
    /// children): the end of each child runs it again, so the handler looks once more. After a
    /// restart it runs again too.
    /// </summary>
    public void Wait() => Waiting = true;
}

/// <summary>
/// Runs the jobs of one action. A handler ends every run by finishing the job with
/// <see cref="JobQueue.SucceedAsync"/> or <see cref="JobQueue.FailAsync"/> in the same transaction
/// as its final change, or, when the job waits for others, by <see cref="JobContext.Wait"/>. It must be idempotent: after a crash it runs again from the start with
/// whatever an earlier attempt already did in place (driver operations are idempotent too).
/// To add an action: implement this and register it with <c>AddJobHandler&lt;T&gt;()</c>.
/// </summary>
public interface IJobHandler
{
    string Action { get; }

    Task RunAsync(JobContext context, CancellationToken ct);
}

public sealed class JobRunnerOptions
{
    /// <summary>Jobs run at once; simulated and real drivers spend most of a job waiting.</summary>
    public int MaxConcurrency { get; set; } = 256;

    /// <summary>How often the queue is polled when nobody wakes the runner (jobs of other replicas).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How often (on the server's clock) jobs waiting for their children are looked at once more:
    /// each child's end wakes its parent at once, so this only catches a wake a crash lost.
    /// </summary>
    public TimeSpan WaitingCheckInterval { get; set; } = TimeSpan.FromMinutes(5);
}

/// <summary>Runs again the waiting jobs whose children have all finished, in case a wake was lost (<see cref="JobRunnerOptions.WaitingCheckInterval"/>).</summary>
public sealed class WaitingJobsWork(JobQueue queue, JobRunnerOptions options, ILogger<WaitingJobsWork> logger) : IPeriodicWork
{
    public string Name => "jobs.waiting";

    public TimeSpan Interval => options.WaitingCheckInterval;

    public async Task RunAsync(DateTimeOffset now, CancellationToken ct)
    {
        var woken = await queue.WakeFinishedWaitersAsync(ct);
        if (woken > 0)
        {
            logger.LogInformation("Woke {Count} jobs whose children had finished", woken);
        }
    }
}

/// <summary>
/// Claims queued jobs and runs their handlers. At start it requeues jobs a crash left running,
/// which is what makes every accepted request complete or fail explicitly after a restart.
/// With several replicas on one PostgreSQL each claims with a conditional update; requeueing at
/// start assumes one runner per database (a lease column would lift that).
/// </summary>
public sealed class JobRunner(
    JobQueue queue, IDatabase db, IEnumerable<IJobHandler> handlers, JobRunnerOptions options, ILogger<JobRunner> logger) : BackgroundService
{
    private readonly Dictionary<string, IJobHandler> _handlers = handlers.ToDictionary(h => h.Action, StringComparer.Ordinal);
    private readonly SemaphoreSlim _slots = new(options.MaxConcurrency, options.MaxConcurrency);
    private int _running;

    public override void Dispose()
    {
        _slots.Dispose();
        base.Dispose();
    }

    /// <summary>Jobs executing in this process now.</summary>
    public int Running => Volatile.Read(ref _running);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var requeued = await queue.RequeueInterruptedAsync(stoppingToken);
        if (requeued > 0)
        {
            logger.LogWarning("Resuming {Count} jobs interrupted by a restart", requeued);
        }
        while (!stoppingToken.IsCancellationRequested)
        {
            var free = _slots.CurrentCount;
            IReadOnlyList<JobRecord> claimed = free == 0 ? [] : await queue.ClaimAsync(Math.Min(free, 64), stoppingToken);
            foreach (var job in claimed)
            {
                await _slots.WaitAsync(stoppingToken);
                Interlocked.Increment(ref _running);
                _ = Task.Run(() => RunOneAsync(job, stoppingToken), CancellationToken.None);
            }
            if (claimed.Count == 0 || _slots.CurrentCount == 0)
            {
                try
                {
                    await queue.WaitForWorkAsync(options.PollInterval, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }

    private async Task RunOneAsync(JobRecord job, CancellationToken ct)
    {
        var correlationId = job.CorrelationId ?? job.Id;
        // Everything logged while the job runs (its handler, the driver, the queue) carries the request that asked for it.
        using var scope = logger.BeginScope(new Dictionary<string, object> { ["CorrelationId"] = correlationId, ["JobId"] = job.Id, ["JobAction"] = job.Action });
        try
        {
            var caller = Caller.System(correlationId);
            if (!_handlers.TryGetValue(job.Action, out var handler))
            {
                await FailAsync(job, new Error("unknown-action", ErrorKind.Validation, $"No handler runs '{job.Action}' jobs in this build."), ct);
                return;
            }
            var context = new JobContext(job, caller, queue);
            await handler.RunAsync(context, ct);
            var finished = await db.ReadAsync(tx => JobQueue.IsFinishedAsync(tx, job.Id), ct);
            if (!finished && context.Waiting)
            {
                await queue.WaitForChildrenAsync(job.Id, ct);
            }
            else if (!finished)
            {
                logger.LogError("Handler for {Action} returned without finishing job {Job}", job.Action, job.Id);
                await FailAsync(job, new Error("internal-error", ErrorKind.Conflict, "The job ended without a result."), ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Shutting down: the job stays running and is requeued at the next start.
        }
        catch (Exception e)
        {
            logger.LogError(e, "Job {Job} ({Action}) failed with an unexpected error", job.Id, job.Action);
            await FailAsync(job, new Error("internal-error", ErrorKind.Conflict, "The job failed with an internal error; see the server log."), CancellationToken.None);
        }
        finally
        {
            if (job.ParentId is { } parent)
            {
                await WakeParentAsync(parent);
            }
            Interlocked.Decrement(ref _running);
            _slots.Release();
            queue.Wake();
        }
    }

    private async Task WakeParentAsync(string parentId)
    {
        try
        {
            await queue.WakeParentAsync(parentId, CancellationToken.None);
        }
        catch (Exception e) when (e is System.Data.Common.DbException or InvalidOperationException or ObjectDisposedException)
        {
            // The periodic check of waiting jobs (WaitingJobsWork) runs the parent later.
            logger.LogWarning(e, "Job {Parent} could not be woken; it runs at the next check of waiting jobs", parentId);
        }
    }

    private async Task FailAsync(JobRecord job, Error error, CancellationToken ct)
    {
        await db.WriteAsync<bool>(async tx =>
        {
            await queue.FailAsync(tx, job.Id, error);
            return true;
        }, ct);
    }
}

public static class JobServiceCollectionExtensions
{
    public static IServiceCollection AddJobs(this IServiceCollection services, JobRunnerOptions? options = null)
    {
        services.AddSingleton(options ?? new JobRunnerOptions());
        services.AddSingleton<JobQueue>();
        services.AddSingleton<JobService>();
        services.AddSingleton<Events.EventLog>();
        services.AddSingleton<JobRunner>();
        services.AddHostedService(sp => sp.GetRequiredService<JobRunner>());
        services.AddPeriodicWork<WaitingJobsWork>();
        return services;
    }

    public static IServiceCollection AddJobHandler<T>(this IServiceCollection services) where T : class, IJobHandler
    {
        services.AddSingleton<T>();
        services.AddSingleton<IJobHandler>(sp => sp.GetRequiredService<T>());
        return services;
    }
}

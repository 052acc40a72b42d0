using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Jobs;
using Welkin.Core.Security;

namespace Welkin.Core.Clock;

/// <summary>Welkin:Clock ("real" or "virtual") and Welkin:ClockStart (virtual mode's first instant).</summary>
public static class ClockModes
{
    public const string Real = "real";
    public const string Virtual = "virtual";
}

/// <summary>
/// Simulation mode: moves the <see cref="VirtualClock"/> on request. An advance steps through
/// every periodic-work tick and every timer that falls due before the target, in time order;
/// after each step it waits until no job is queued or running (or every running job waits for
/// the clock), so whatever a step starts completes before time moves on. Works of one instant
/// run one after another in the order of their names. The same inputs therefore give the same
/// results, and a month plays in seconds. An advance asked for in the background is a job
/// (<see cref="AdvanceAction"/>, run by <see cref="ClockAdvanceHandler"/>) whose progress is the
/// simulated time covered out of the time asked; the steps do not wait for it.
/// </summary>
public sealed class SimulationClock(
    VirtualClock clock, IDatabase db, IServiceProvider services, AuditLog audit, JobQueue jobs,
    IHostApplicationLifetime lifetime, ILogger<SimulationClock> logger) : IDisposable
{
    /// <summary>The longest single advance: a year and a month, enough for any billing scenario.</summary>
    public static readonly TimeSpan MaxAdvance = TimeSpan.FromDays(400);

    // A running job that waits neither for the clock nor for the database (another job's lock,
    // a real-time poll) is given this long to move before the advance goes on without it.
    private static readonly TimeSpan StallLimit = TimeSpan.FromSeconds(5);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, DateTimeOffset> _nextTicks = new(StringComparer.Ordinal);
    private IReadOnlyList<IPeriodicWork>? _works;

    public DateTimeOffset Now => clock.GetUtcNow();

    public void Dispose() => _gate.Dispose();

    /// <summary>Continues from the persisted time (never backwards); the first start records its start instant.</summary>
    public async Task RestoreAsync(CancellationToken ct)
    {
        var persisted = await db.ExecuteScalarAsync<long?>("SELECT now_at FROM clock_state WHERE id = 1", null, ct);
        if (persisted is { } at)
        {
            clock.MoveForwardTo(DbTime.FromDb(at));
            logger.LogInformation("Virtual clock continues at {Now:o}", clock.GetUtcNow());
            return;
        }
        await PersistAsync(null, clock.GetUtcNow(), null, ct);
        logger.LogInformation("Virtual clock starts at {Now:o}", clock.GetUtcNow());
    }

    public async Task<Result<ClockAdvanceView>> AdvanceAsync(Caller caller, ClockAdvanceRequest request, CancellationToken ct)
    {
        if (Refuse(caller, request) is { } refused)
        {
            return refused;
        }
        await _gate.WaitAsync(ct);
        try
        {
            var from = clock.GetUtcNow();
            var target = Target(request, from);
            if (!target.IsSuccess)
            {
                return target.Error!;
            }
            // The target is recorded (and audited) before the first step: a crash during the
            // advance restarts at the target, never behind anything the steps wrote, and the
            // periodic works catch up as after any missed tick.
            await PersistAsync(caller, target.Value, from, ct);
            var (ticks, timers) = await StepToAsync(target.Value, null, lifetime.ApplicationStopping);
            return new ClockAdvanceView(ClockModes.Virtual, from, clock.GetUtcNow(), ticks, timers);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Checks an advance as <see cref="AdvanceAsync"/> does, then queues it as a job (audited now, with its target) and
    /// answers at once: the job, and the clock as it stands. The job's result is the <see cref="ClockAdvanceView"/>.
    /// </summary>
    public async Task<Result<AcceptedView<ClockView>>> StartAdvanceAsync(Caller caller, ClockAdvanceRequest request, CancellationToken ct)
    {
        if (Refuse(caller, request) is { } refused)
        {
            return refused;
        }
        var from = clock.GetUtcNow();
        var target = Target(request, from);
        if (!target.IsSuccess)
        {
            return target.Error!;
        }
        var job = await db.WriteAsync<JobView>(async tx =>
        {
            var queued = await jobs.EnqueueAsync(tx, caller, null, AdvanceAction, "clock", new AdvancePlan(from, target.Value));
            await audit.AppendAsync(tx, caller, new AuditEvent("clock.advance", "clock", AuditEvent.Success, null,
                string.Create(CultureInfo.InvariantCulture, $"from={from:o}; to={target.Value:o}; job={queued.Id}")));
            return queued;
        }, ct);
        if (!job.IsSuccess)
        {
            return job.Error!;
        }
        jobs.Wake();
        return new AcceptedView<ClockView>(job.Value, new ClockView(ClockModes.Virtual, from));
    }

    /// <summary>
    /// Runs a queued advance (<see cref="StartAdvanceAsync"/>): steps to its target as a synchronous advance does,
    /// reporting the share of the simulated time covered as the job's progress. Run again after a restart, it finds
    /// the clock at the target (stored before the first step) and ends.
    /// </summary>
    internal async Task RunAdvanceAsync(JobContext context, CancellationToken ct)
    {
        var plan = context.Job.Request is { } json ? JsonSerializer.Deserialize<AdvancePlan>(json, WelkinJson.Client) : null;
        if (plan is null)
        {
            await FinishAsync(context, Error.Validation("to", "the advance job has no target"), null);
            return;
        }
        await _gate.WaitAsync(ct);
        try
        {
            var from = clock.GetUtcNow();
            if (from > plan.To)
            {
                await FinishAsync(context, new Error("clock-passed", ErrorKind.Conflict,
                    $"Another advance moved the clock to {from:o}, past this one's target {plan.To:o}; the clock never goes backwards."), null);
                return;
            }
            await PersistAsync(null, plan.To, from, ct);
            var span = plan.To - from;
            var reported = -1;
            var (ticks, timers) = await StepToAsync(plan.To, async at =>
            {
                var percent = span <= TimeSpan.Zero ? 99 : (int)Math.Min(99, Math.Floor(100 * ((at - from) / span)));
                if (percent > reported)
                {
                    reported = percent;
                    await context.Queue.ReportProgressAsync(context.Job.Id, percent,
                        string.Create(CultureInfo.InvariantCulture, $"at {at:yyyy-MM-dd HH:mm} UTC of {plan.To:yyyy-MM-dd HH:mm} UTC"), ct);
                }
            }, lifetime.ApplicationStopping);
            await FinishAsync(context, null, new ClockAdvanceView(ClockModes.Virtual, from, clock.GetUtcNow(), ticks, timers));
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task FinishAsync(JobContext context, Error? error, ClockAdvanceView? done) =>
        await db.WriteAsync<bool>(async tx =>
        {
            if (error is not null)
            {
                await context.Queue.FailAsync(tx, context.Job.Id, error);
            }
            else
            {
                await context.Queue.SucceedAsync(tx, context.Job.Id, done,
                    string.Create(CultureInfo.InvariantCulture, $"the clock is at {done!.Now:yyyy-MM-dd HH:mm:ss} UTC"));
            }
            return true;
        }, CancellationToken.None);

    private static Error? Refuse(Caller caller, ClockAdvanceRequest request)
    {
        if (!caller.Can(Permission.ClockAdvance))
        {
            return Error.Forbidden("Advancing the clock needs the clock-advance permission.");
        }
        if ((request.By is null) == (request.To is null))
        {
            return Error.Validation("by", "give exactly one of by (an ISO 8601 duration such as P1D) and to (an instant)");
        }
        return null;
    }

    private static Result<DateTimeOffset> Target(ClockAdvanceRequest request, DateTimeOffset from)
    {
        DateTimeOffset target;
        if (request.By is { } by)
        {
            var parsed = ParseDuration(by, from);
            if (parsed is null)
            {
                return Error.Validation("by", "by must be an ISO 8601 duration such as P1D, PT6H, P1M or P1DT12H");
            }
            target = parsed.Value;
        }
        else
        {
            target = request.To!.Value.ToUniversalTime();
        }
        if (target < from)
        {
            return Error.Validation(request.By is null ? "to" : "by", $"the clock never goes backwards: it is {from:o}");
        }
        if (target - from > MaxAdvance)
        {
            return Error.Validation(request.By is null ? "to" : "by", $"one advance moves at most {MaxAdvance.TotalDays:0} days");
        }
        return target;
    }

    /// <summary>The job action of an advance run in the background.</summary>
    public const string AdvanceAction = "clock.advance";

    /// <summary>What an advance job keeps: the clock when it was asked, and its target.</summary>
    private sealed record AdvancePlan(DateTimeOffset From, DateTimeOffset To);

    private async Task<(int Ticks, int Timers)> StepToAsync(DateTimeOffset target, Func<DateTimeOffset, Task>? progress, CancellationToken ct)
    {
        var works = _works ??= services.GetServices<IPeriodicWork>().OrderBy(w => w.Name, StringComparer.Ordinal).ToList();
        foreach (var w in works)
        {
            if (!_nextTicks.ContainsKey(w.Name))
            {
                _nextTicks[w.Name] = PeriodicWorkExtensions.NextTick(clock.GetUtcNow(), w.Interval);
            }
        }
        var ticks = 0;
        var timers = 0;
        await QuiesceAsync(ct);
        while (true)
        {
            DateTimeOffset? next = clock.NextTimerDue;
            foreach (var w in works)
            {
                var due = _nextTicks[w.Name];
                next = next is null || due < next ? due : next;
            }
            if (next is null || next > target)
            {
                break;
            }
            timers += clock.AdvanceTo(next.Value);
            if (progress is not null)
            {
                await progress(next.Value);
            }
            await QuiesceAsync(ct);
            foreach (var w in works)
            {
                if (_nextTicks[w.Name] != next.Value)
                {
                    continue;
                }
                _nextTicks[w.Name] = PeriodicWorkExtensions.NextTick(next.Value, w.Interval);
                try
                {
                    await w.RunAsync(next.Value, ct);
                }
                catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    logger.LogWarning(e, "Periodic work {Work} failed at {Tick}; the next tick runs as usual", w.Name, next.Value);
                }
                ticks++;
                await QuiesceAsync(ct);
            }
        }
        timers += clock.AdvanceTo(target);
        await QuiesceAsync(ct);
        return (ticks, timers);
    }

    /// <summary>Waits until no job is queued and every running job (if any) waits for the clock.</summary>
    private async Task QuiesceAsync(CancellationToken ct)
    {
        var last = (Queued: -1L, Running: -1L, Timers: -1);
        var unchangedSince = TimeProvider.System.GetTimestamp();
        while (true)
        {
            // A job waiting for its children is woken by their ends, not by the clock: it does not hold the advance.
            var counts = await JobQueue.CountActiveAsync(db, AdvanceAction, ct);
            if (counts.Queued == 0 && counts.Running == 0)
            {
                return;
            }
            var pending = clock.PendingTimers;
            if (counts.Queued == 0 && pending > 0 && counts.Running <= pending)
            {
                return;
            }
            var now = (counts.Queued, counts.Running, pending);
            if (now != last)
            {
                last = now;
                unchangedSince = TimeProvider.System.GetTimestamp();
            }
            else if (TimeProvider.System.GetElapsedTime(unchangedSince) > StallLimit)
            {
                logger.LogWarning("{Running} jobs neither finish nor wait for the clock; the advance goes on", counts.Running);
                return;
            }
            jobs.Wake();
            await Task.Delay(TimeSpan.FromMilliseconds(2), ct);
        }
    }

    private Task PersistAsync(Caller? caller, DateTimeOffset at, DateTimeOffset? from, CancellationToken ct) =>
        db.WriteAsync<bool>(async tx =>
        {
            var ms = DbTime.ToDb(at);
            var now = DbTime.ToDb(clock.GetUtcNow());
            var n = await tx.ExecuteAsync("UPDATE clock_state SET now_at = @At, updated_at = @Now WHERE id = 1 AND now_at <= @At", new { At = ms, Now = now });
            if (n == 0)
            {
                await tx.ExecuteAsync("INSERT INTO clock_state (id, now_at, updated_at) VALUES (1, @At, @Now) ON CONFLICT (id) DO NOTHING", new { At = ms, Now = now });
            }
            if (caller is not null)
            {
                await audit.AppendAsync(tx, caller, new AuditEvent("clock.advance", "clock", AuditEvent.Success, null,
                    string.Create(CultureInfo.InvariantCulture, $"from={from:o}; to={at:o}")));
            }
            return true;
        }, ct);

    /// <summary>An ISO 8601 duration added to <paramref name="from"/> (see <see cref="IsoDuration"/>); null when malformed or too large.</summary>
    public static DateTimeOffset? ParseDuration(string text, DateTimeOffset from) => IsoDuration.AddTo(text, from);

    /// <summary>
    /// The answer to an advance on a server that runs on the real clock: forbidden without the
    /// permission (as in simulation mode), else a conflict that says why, rather than a bare 404.
    /// </summary>
    public static Error RefuseOnRealClock(Caller caller) =>
        !caller.Can(Permission.ClockAdvance)
            ? Error.Forbidden("Advancing the clock needs the clock-advance permission.")
            : new Error("not-simulated", ErrorKind.Conflict,
                "This server runs on the real clock; only a server started in simulation mode (Welkin:Clock=virtual) has a clock to advance.");
}

public static class ClockServiceCollectionExtensions
{
    /// <summary>
    /// The server's <see cref="TimeProvider"/>: the system clock, or in simulation mode
    /// (<paramref name="mode"/> "virtual") a <see cref="VirtualClock"/> starting at
    /// <paramref name="start"/> (default: today, 00:00 UTC) and a <see cref="SimulationClock"/> to move it.
    /// </summary>
    public static IServiceCollection AddWelkinClock(this IServiceCollection services, string? mode, DateTimeOffset? start)
    {
        switch (mode ?? ClockModes.Real)
        {
            case ClockModes.Real:
                services.AddSingleton(TimeProvider.System);
                break;
            case ClockModes.Virtual:
                var today = TimeProvider.System.GetUtcNow();
                var clock = new VirtualClock(start?.ToUniversalTime() ?? new DateTimeOffset(today.Year, today.Month, today.Day, 0, 0, 0, TimeSpan.Zero));
                services.AddSingleton(clock);
                services.AddSingleton<TimeProvider>(clock);
                services.AddSingleton<SimulationClock>();
                services.AddJobHandler<ClockAdvanceHandler>();
                break;
            default:
                throw new InvalidOperationException($"Welkin:Clock is '{mode}'; it must be '{ClockModes.Real}' or '{ClockModes.Virtual}'.");
        }
        return services;
    }
}

/// <summary>Runs the advances asked for in the background (<see cref="SimulationClock.StartAdvanceAsync"/>).</summary>
public sealed class ClockAdvanceHandler(SimulationClock simulation) : IJobHandler
{
    public string Action => SimulationClock.AdvanceAction;

    public Task RunAsync(JobContext context, CancellationToken ct) => simulation.RunAdvanceAsync(context, ct);
}

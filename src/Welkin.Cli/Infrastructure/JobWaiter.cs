using System.Globalization;
using Welkin.Contracts;

namespace Welkin.Cli.Infrastructure;

/// <summary>
/// Follows a job of an asynchronous operation (a 202 answer) until it finishes, printing a
/// progress line to standard error whenever its state, progress or status message changes:
/// <c>job job_... running 40% releasing machines</c>. Commands with <c>--wait</c> use it, with
/// <c>--wait-timeout</c> and, on a server in simulation mode, <c>--advance-clock</c> (<see cref="WaitOptions"/>).
/// </summary>
internal static class JobWaiter
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMilliseconds(500);

    /// <summary>Polls with <paramref name="fetch"/> every <paramref name="interval"/> until the job succeeds, fails or is cancelled.</summary>
    /// <param name="pending">Called before each poll while the job is unfinished (the simulated clock's note or advance).</param>
    public static async Task<JobView> WaitAsync(
        JobView job, Func<string, CancellationToken, Task<JobView>> fetch, TextWriter progress, TimeSpan interval, CancellationToken ct,
        Func<JobView, CancellationToken, Task>? pending = null)
    {
        string? last = null;
        while (true)
        {
            var line = Describe(job);
            if (line != last)
            {
                progress.WriteLine(line);
                last = line;
            }
            if (IsFinished(job))
            {
                if (job.State != JobState.Succeeded)
                {
                    progress.WriteLine($"job {job.Id} {Fmt.Name(job.State)}: {job.ErrorCode}: {job.ErrorDetail}");
                }
                return job;
            }
            if (pending is not null)
            {
                await pending(job, ct);
            }
            await Task.Delay(interval, ct);
            job = await fetch(job.Id, ct);
        }
    }

    /// <summary>
    /// Waits on the invocation's cloud, progress to standard error. When <c>--wait-timeout</c> runs
    /// out it stops with exit code <see cref="ExitCodes.WaitTimeout"/>; the job itself goes on.
    /// </summary>
    public static async Task<JobView> WaitAsync(Invocation inv, JobView job)
    {
        var timeout = inv.Value(inv.Waiting.Timeout);
        var clock = new SimulatedClockWait(inv, inv.Value(inv.Waiting.AdvanceClock));
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(inv.Ct);
        if (timeout is { } limit)
        {
            deadline.CancelAfter(limit);
        }
        var last = job;
        try
        {
            return await WaitAsync(job, async (id, ct) => last = await inv.Client().Jobs.GetAsync(id, ct), inv.Err, DefaultInterval, deadline.Token, clock.OnPendingAsync);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !inv.Ct.IsCancellationRequested)
        {
            throw new CliException(
                $"Stopped waiting after {inv.Parse.GetResult(inv.Waiting.Timeout)?.Tokens[0].Value}: job {last.Id} is {Fmt.Name(last.State)} and goes on on the server; "
                + $"follow it with 'welkin job wait {last.Id}'.", ExitCodes.WaitTimeout);
        }
    }

    /// <summary>0 when the job succeeded, 1 otherwise (as for an API problem).</summary>
    public static int ExitCode(JobView job) => job.State == JobState.Succeeded ? ExitCodes.Ok : ExitCodes.ApiProblem;

    public static bool IsFinished(JobView job) => job.State is JobState.Succeeded or JobState.Failed or JobState.Cancelled;

    private static string Describe(JobView job) =>
        string.Create(CultureInfo.InvariantCulture, $"job {job.Id} {Fmt.Name(job.State)} {job.Progress}%")
        + (string.IsNullOrEmpty(job.StatusMessage) ? "" : " " + job.StatusMessage);
}

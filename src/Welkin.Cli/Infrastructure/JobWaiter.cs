using System.Globalization;
using Welkin.Contracts;

namespace Welkin.Cli.Infrastructure;

/// <summary>
/// Follows a job of an asynchronous operation (a 202 answer) until it finishes, printing a
/// progress line to standard error whenever its state, progress or status message changes:
/// <c>job job_... running 40% releasing machines</c>. Commands with <c>--wait</c> use it.
/// </summary>
internal static class JobWaiter
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMilliseconds(500);

    /// <summary>Polls with <paramref name="fetch"/> every <paramref name="interval"/> until the job succeeds, fails or is cancelled.</summary>
    public static async Task<JobView> WaitAsync(
        JobView job, Func<string, CancellationToken, Task<JobView>> fetch, TextWriter progress, TimeSpan interval, CancellationToken ct)
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
            await Task.Delay(interval, ct);
            job = await fetch(job.Id, ct);
        }
    }

    /// <summary>Waits on the invocation's cloud, progress to standard error.</summary>
    public static Task<JobView> WaitAsync(Invocation inv, JobView job) =>
        WaitAsync(job, (id, ct) => inv.Client().Jobs.GetAsync(id, ct), inv.Err, DefaultInterval, inv.Ct);

    /// <summary>0 when the job succeeded, 1 otherwise (as for an API problem).</summary>
    public static int ExitCode(JobView job) => job.State == JobState.Succeeded ? ExitCodes.Ok : ExitCodes.ApiProblem;

    public static bool IsFinished(JobView job) => job.State is JobState.Succeeded or JobState.Failed or JobState.Cancelled;

    private static string Describe(JobView job) =>
        string.Create(CultureInfo.InvariantCulture, $"job {job.Id} {Fmt.Name(job.State)} {job.Progress}%")
        + (string.IsNullOrEmpty(job.StatusMessage) ? "" : " " + job.StatusMessage);
}

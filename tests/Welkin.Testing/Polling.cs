using Welkin.Contracts;

namespace Welkin.Testing;

/// <summary>Waiting for what happens in the background (a job, a guest, a state change) by asking again and again.</summary>
public static class Polling
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMilliseconds(20);

    public static bool IsFinished(JobView job) => job.State is JobState.Succeeded or JobState.Failed or JobState.Cancelled;

    /// <summary>
    /// Reads the job with <paramref name="read"/> (over HTTP, through the client or from the queue)
    /// every <paramref name="interval"/> until it has succeeded, failed or been cancelled, and returns
    /// it; <paramref name="ct"/> bounds the wait.
    /// </summary>
    public static async Task<JobView> FinishedAsync(Func<CancellationToken, Task<JobView>> read, CancellationToken ct, TimeSpan? interval = null)
    {
        while (true)
        {
            var job = await read(ct);
            if (IsFinished(job))
            {
                return job;
            }
            await Task.Delay(interval ?? DefaultInterval, ct);
        }
    }

    /// <summary>Asks <paramref name="condition"/> every <paramref name="interval"/> until it holds; fails, naming <paramref name="what"/>, after <paramref name="patience"/>.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, string what, TimeSpan patience, TimeSpan interval)
    {
        var deadline = TimeProvider.System.GetUtcNow() + patience;
        while (!await condition())
        {
            TimeProvider.System.GetUtcNow().ShouldBeLessThan(deadline, what);
            await Task.Delay(interval, TestContext.Current.CancellationToken);
        }
    }
}

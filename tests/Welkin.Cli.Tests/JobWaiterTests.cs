using Welkin.Cli.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Tests;

public sealed class JobWaiterTests
{
    private static JobView Job(JobState state, int progress, string? message, string? errorCode = null) =>
        new("job_01h00000000000000000000000", "acc_01h00000000000000000000000", "contract.terminate", "ctr_01h00000000000000000000000", state, progress,
            message, errorCode, errorCode is null ? null : "it broke", null, null, DateTimeOffset.UnixEpoch, null, null);

    [Fact]
    public async Task Wait_PrintsEachChangeOfProgressAndReturnsTheFinishedJob()
    {
        var states = new Queue<JobView>([Job(JobState.Running, 40, "releasing machines"), Job(JobState.Running, 40, "releasing machines"),
            Job(JobState.Running, 80, "releasing volumes"), Job(JobState.Succeeded, 100, "contract terminated")]);
        var progress = new StringWriter { NewLine = "\n" };

        var job = await JobWaiter.WaitAsync(Job(JobState.Queued, 0, null), (_, _) => Task.FromResult(states.Dequeue()), progress, TimeSpan.Zero,
            TestContext.Current.CancellationToken);

        job.State.ShouldBe(JobState.Succeeded);
        JobWaiter.ExitCode(job).ShouldBe(0);
        progress.ToString().ShouldBe(
            """
            job job_01h00000000000000000000000 queued 0%
            job job_01h00000000000000000000000 running 40% releasing machines
            job job_01h00000000000000000000000 running 80% releasing volumes
            job job_01h00000000000000000000000 succeeded 100% contract terminated

            """.ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task Wait_WhenTheJobFails_ReportsTheErrorAndExitsOne()
    {
        var progress = new StringWriter { NewLine = "\n" };

        var job = await JobWaiter.WaitAsync(Job(JobState.Running, 10, null), (_, _) => Task.FromResult(Job(JobState.Failed, 10, null, "driver-failed")),
            progress, TimeSpan.Zero, TestContext.Current.CancellationToken);

        JobWaiter.ExitCode(job).ShouldBe(1);
        progress.ToString().ShouldEndWith("job job_01h00000000000000000000000 failed: driver-failed: it broke\n");
    }
}

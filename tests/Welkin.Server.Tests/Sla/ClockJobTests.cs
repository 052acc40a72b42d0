using System.Net;
using System.Text.Json;
using Welkin.Contracts;
using Welkin.Testing;

namespace Welkin.Server.Tests.Sla;

/// <summary>An advance asked for in the background: a job whose progress is the simulated time covered out of the time asked.</summary>
public sealed class ClockJobTests(SimulationApp app) : IClassFixture<SimulationApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task BackgroundAdvance_AnswersAtOnceWithAJob_WhoseProgressRises_AndTheClockEndsWhereAsked()
    {
        var admin = app.Admin();
        var before = (await admin.ClockAsync()).Now;

        var response = await admin.PostAdvanceAsync(new ClockAdvanceRequest("P7D", Background: true));

        var accepted = await response.ReadAsync<AcceptedView<ClockView>>(HttpStatusCode.Accepted);
        response.Headers.Location!.OriginalString.ShouldBe($"/api/v1/jobs/{accepted.Job.Id}");
        accepted.Job.Action.ShouldBe("clock.advance");
        accepted.Job.Target.ShouldBe("clock");
        accepted.Resource.ShouldBe(new ClockView("virtual", before));
        var seen = new List<int>();
        JobView job;
        while (true)
        {
            job = await (await admin.GetAsync($"/api/v1/jobs/{accepted.Job.Id}", Ct)).ReadAsync<JobView>();
            seen.Add(job.Progress);
            if (Polling.IsFinished(job))
            {
                break;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(20), Ct);
        }

        job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
        job.Progress.ShouldBe(100);
        seen.ShouldBe(seen.Order().ToList(), "progress never goes back");
        seen.ShouldContain(p => p > 0 && p < 100, "progress was seen between the start and the end: " + string.Join(",", seen.Distinct()));
        var result = job.Result!.Value.Deserialize<ClockAdvanceView>(WelkinJson.Client)!;
        result.From.ShouldBe(before);
        result.Now.ShouldBe(before.AddDays(7));
        result.Ticks.ShouldBeGreaterThan(0);
        job.StatusMessage.ShouldBe($"the clock is at {before.AddDays(7).UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC");
        (await admin.ClockAsync()).Now.ShouldBe(before.AddDays(7));
    }

    [Theory]
    [InlineData("{\"by\":\"one day\",\"background\":true}")]
    [InlineData("{\"by\":\"P500D\",\"background\":true}")]
    [InlineData("{\"background\":true}")]
    public async Task BackgroundAdvance_WithBadInput_IsRefusedAtOnce_WithoutAJob(string body)
    {
        var admin = app.Admin();
        var before = (await admin.ClockAsync()).Now;

        var response = await admin.PostAsync("/api/v1/clock/advance", new StringContent(body, System.Text.Encoding.UTF8, "application/json"), Ct);

        await response.ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        var jobs = await (await admin.GetAsync("/api/v1/jobs?action=clock.advance&state=queued", Ct)).ReadAsync<Page<JobView>>();
        jobs.Items.ShouldBeEmpty();
        (await admin.ClockAsync()).Now.ShouldBe(before);
    }

    [Fact]
    public async Task BackgroundAdvance_ByATenant_IsForbidden()
    {
        var (_, tenant) = await app.SignUpAsync("clkjob");

        await (await tenant.PostAdvanceAsync(new ClockAdvanceRequest("P1D", Background: true))).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
    }
}

public sealed class RealClockJobTests(WelkinApp app) : IClassFixture<WelkinApp>
{
    [Fact]
    public async Task BackgroundAdvance_OnTheRealClock_IsRefused_WithoutAJob()
    {
        var admin = app.Admin();

        await (await admin.PostAdvanceAsync(new ClockAdvanceRequest("P1D", Background: true))).ProblemAsync(HttpStatusCode.Conflict, "not-simulated");

        var jobs = await (await admin.GetAsync("/api/v1/jobs?action=clock.advance", TestContext.Current.CancellationToken)).ReadAsync<Page<JobView>>();
        jobs.Items.ShouldBeEmpty();
    }
}

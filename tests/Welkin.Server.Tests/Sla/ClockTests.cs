using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Server.Tests.Catalog;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Testing;

namespace Welkin.Server.Tests.Sla;

public sealed class RealClockTests(WelkinApp app) : IClassFixture<WelkinApp>
{
    [Fact]
    public async Task Clock_InRealMode_ShowsTheRealTime_AndAdvanceSaysItIsNotSimulated()
    {
        var (_, tenant) = await app.SignUpAsync("clk");
        var clock = await tenant.ClockAsync();
        clock.Mode.ShouldBe("real");
        (clock.Now - TimeProvider.System.GetUtcNow()).Duration().ShouldBeLessThan(TimeSpan.FromMinutes(5));

        var refused = await (await app.Admin().PostAdvanceAsync(new ClockAdvanceRequest("P1D"))).ProblemAsync(HttpStatusCode.Conflict, "not-simulated");
        refused.GetProperty("detail").GetString().ShouldNotBeNull().ShouldContain("real clock");
        await (await tenant.PostAdvanceAsync(new ClockAdvanceRequest("P1D"))).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task Clock_Anonymous_IsUnauthorized()
    {
        var response = await app.Anonymous().GetAsync("/api/v1/clock", TestContext.Current.CancellationToken);
        response.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }
}

/// <summary>A periodic work that records the instants it ran at.</summary>
public sealed class TickRecorder : IPeriodicWork
{
    public List<DateTimeOffset> Ticks { get; } = [];

    public string Name => "test-recorder";

    public TimeSpan Interval => TimeSpan.FromHours(6);

    public Task RunAsync(DateTimeOffset now, CancellationToken ct)
    {
        lock (Ticks)
        {
            Ticks.Add(now);
        }
        return Task.CompletedTask;
    }
}

public sealed class RecordingSimulationApp : SimulationApp
{
    public TickRecorder Recorder => Services.GetRequiredService<TickRecorder>();

    protected override void ConfigureWebHost(Microsoft.AspNetCore.Hosting.IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureServices(services => services.AddPeriodicWork<TickRecorder>());
    }
}

public sealed class VirtualClockTests(RecordingSimulationApp app) : IClassFixture<RecordingSimulationApp>
{
    [Fact]
    public async Task Advance_ByADay_RunsEveryTickOnTheWayInOrder_AndIsAudited()
    {
        var admin = app.Admin();
        var before = await admin.ClockAsync();
        before.Mode.ShouldBe("virtual");
        int countBefore;
        lock (app.Recorder.Ticks)
        {
            countBefore = app.Recorder.Ticks.Count;
        }

        var advanced = await admin.AdvanceAsync("P1D");

        advanced.From.ShouldBe(before.Now);
        advanced.Now.ShouldBe(before.Now.AddDays(1));
        (await admin.ClockAsync()).Now.ShouldBe(before.Now.AddDays(1));
        List<DateTimeOffset> ticks;
        lock (app.Recorder.Ticks)
        {
            ticks = app.Recorder.Ticks.Skip(countBefore).ToList();
        }
        // Ticks of a 6-hour work fall on multiples of 6 hours after the start, up to and including the target.
        var expected = Enumerable.Range(1, 4).Select(i => PeriodicWorkExtensions.NextTick(before.Now, TimeSpan.FromHours(6)).AddHours(6 * (i - 1)))
            .Where(t => t <= advanced.Now).ToList();
        ticks.ShouldBe(expected);
        advanced.Ticks.ShouldBeGreaterThanOrEqualTo(expected.Count);

        var audit = await admin.AuditAsync();
        audit.ShouldContain(e => e.Action == "clock.advance" && e.Outcome == "success" && e.Detail!.Contains(advanced.Now.ToString("o")));
    }

    [Fact]
    public async Task Advance_ToAnInstant_MovesExactlyThere()
    {
        var admin = app.Admin();
        var now = (await admin.ClockAsync()).Now;
        var target = now.AddHours(3).AddMinutes(7);
        var advanced = await (await admin.PostAdvanceAsync(new ClockAdvanceRequest(To: target))).ReadAsync<ClockAdvanceView>();
        advanced.Now.ShouldBe(target);
    }

    [Fact]
    public async Task Advance_CalendarMonth_AddsTheMonth()
    {
        var admin = app.Admin();
        var now = (await admin.ClockAsync()).Now;
        (await admin.AdvanceAsync("P1M")).Now.ShouldBe(now.AddMonths(1));
    }

    [Theory]
    [InlineData("""{"by":"1 day"}""")]
    [InlineData("""{"by":"P"}""")]
    [InlineData("""{"by":"PT"}""")]
    [InlineData("""{"by":"P-1D"}""")]
    [InlineData("""{"by":"P2000D"}""")]
    [InlineData("""{"by":"P1D","to":"2030-01-01T00:00:00Z"}""")]
    [InlineData("""{}""")]
    [InlineData("""{"to":"2001-01-01T00:00:00Z"}""")]
    public async Task Advance_WithBadInput_IsRefusedAndTheClockStays(string body)
    {
        var admin = app.Admin();
        var before = (await admin.ClockAsync()).Now;
        var response = await admin.PostAsync("/api/v1/clock/advance",
            new StringContent(body, System.Text.Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
        await response.ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        (await admin.ClockAsync()).Now.ShouldBe(before);
    }

    [Fact]
    public async Task Advance_ByAnAccountPrincipalOrOperator_IsForbidden()
    {
        var (_, tenant) = await app.SignUpAsync("clk");
        await (await tenant.PostAdvanceAsync(new ClockAdvanceRequest("PT1H"))).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        var operatorClient = await app.ProviderPrincipalAsync(Role.Operator);
        await (await operatorClient.PostAdvanceAsync(new ClockAdvanceRequest("PT1H"))).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        (await tenant.ClockAsync()).Mode.ShouldBe("virtual");
    }
}

/// <summary>A simulation app on a data directory the test owns, so a second app can continue from it.</summary>
public sealed class SharedDirSimulationApp(string dataDir) : SimulationApp
{
    protected override IDictionary<string, string?> Settings
    {
        get
        {
            var settings = base.Settings;
            settings["Welkin:DataDir"] = dataDir;
            return settings;
        }
    }

    public HttpClient SharedAdmin() => As(TestServers.AdminToken(dataDir));
}

public sealed class VirtualClockRestartTests
{
    [Fact]
    public async Task Restart_ContinuesWhereTheClockStopped()
    {
        var dir = TestServers.NewDataDirectory();
        try
        {
            DateTimeOffset reached;
            await using (var first = new SharedDirSimulationApp(dir))
            {
                await first.InitializeAsync();
                reached = (await first.SharedAdmin().AdvanceAsync("P3DT4H")).Now;
                reached.ShouldBe(SimulationApp.Start.AddDays(3).AddHours(4));
            }
            await using var second = new SharedDirSimulationApp(dir);
            await second.InitializeAsync();
            (await second.SharedAdmin().ClockAsync()).Now.ShouldBe(reached);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

using Welkin.Cli.Infrastructure;
using Welkin.Cli.Tests.Infrastructure;
using Welkin.Client;
using Welkin.Contracts;

namespace Welkin.Cli.Tests;

/// <summary>A server of its own in simulation mode (virtual clock), for the CLI's clock commands and waits.</summary>
public sealed class VirtualCloud : IAsyncLifetime
{
    public ServerProcess Server { get; private set; } = null!;

    public async ValueTask InitializeAsync() =>
        Server = await ServerProcess.StartAsync(TestContext.Current.CancellationToken, settings: new Dictionary<string, string>
        {
            ["Welkin__Clock"] = "virtual",
            ["Welkin__ClockStart"] = "2026-11-01T00:00:00Z",
        });

    public async ValueTask DisposeAsync()
    {
        if (Server is not null)
        {
            await Server.DisposeAsync();
        }
    }
}

/// <summary>Stops a run (as Ctrl+C would) as soon as standard error shows a given text.</summary>
internal sealed class CancelOnText(string text, CancellationTokenSource cancel) : StringWriter
{
    public override void Write(string? value)
    {
        base.Write(value);
        Check();
    }

    public override void WriteLine(string? value)
    {
        base.WriteLine(value);
        Check();
    }

    private void Check()
    {
        if (ToString().Contains(text, StringComparison.Ordinal))
        {
            cancel.Cancel();
        }
    }
}

public sealed class SimulationCommandsTests(VirtualCloud cloud) : IClassFixture<VirtualCloud>, IDisposable
{
    private readonly CliRunner _cli = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _cli.Dispose();

    private async Task<DateTimeOffset> NowAsync() => (await _cli.OkAsync("clock", "show", "--output", "json")).Json<ClockView>().Now;

    [Fact]
    public async Task ClockAdvance_OverSeveralSteps_ShowsEachStep_AndEndsAtTheTarget()
    {
        await _cli.OkAsync("profile", "add", "admin", "--endpoint", cloud.Server.Endpoint.AbsoluteUri, "--token-file", cloud.Server.AdminTokenFile);
        var before = await NowAsync();

        var advanced = await _cli.OkAsync("clock", "advance", "--by", "3d", "--step", "1d");
        var json = (await _cli.OkAsync("clock", "advance", "--by", "12h", "--step", "6h", "--output", "json")).Json<ClockAdvanceView>();

        advanced.Err.ShouldContain($"clock at {Fmt.Time(before.AddDays(1))}: step 1 of 3");
        advanced.Err.ShouldContain($"clock at {Fmt.Time(before.AddDays(2))}: step 2 of 3");
        advanced.Err.ShouldContain($"clock at {Fmt.Time(before.AddDays(3))}: step 3 of 3");
        advanced.Out.ShouldMatch(@"Steps:\s+3 of 3");
        advanced.Out.ShouldMatch($@"Now:\s+{Fmt.Time(before.AddDays(3))}");
        json.From.ShouldBe(before.AddDays(3));
        json.Now.ShouldBe(before.AddDays(3).AddHours(12));
        json.Mode.ShouldBe("virtual");
        (await NowAsync()).ShouldBe(before.AddDays(3).AddHours(12));
    }

    [Fact]
    public async Task ClockAdvance_Interrupted_StopsBetweenSteps_WithTheClockAtTheEndOfAStep()
    {
        await _cli.OkAsync("profile", "add", "admin", "--endpoint", cloud.Server.Endpoint.AbsoluteUri, "--token-file", cloud.Server.AdminTokenFile);
        var before = await NowAsync();
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        using var err = new CancelOnText("step 1 of 5", cancel);

        var interrupted = await _cli.RunAsync(err, "", ["clock", "advance", "--by", "5d", "--step", "1d"], cancel.Token);

        interrupted.ExitCode.ShouldBe(130, interrupted.ToString());
        interrupted.Err.ShouldContain("Stopped after step 1 of 5");
        interrupted.Err.ShouldNotContain("step 2 of 5");
        interrupted.Out.ShouldMatch(@"Steps:\s+1 of 5");
        (await NowAsync()).ShouldBe(before.AddDays(1));
    }

    [Fact]
    public async Task Wait_OnAVirtualClock_SaysTheJobWaitsForTheClock_TimesOut_AndAdvanceClockFinishesIt()
    {
        await _cli.OkAsync("profile", "add", "admin", "--endpoint", cloud.Server.Endpoint.AbsoluteUri, "--token-file", cloud.Server.AdminTokenFile);
        await _cli.OkAsync("profile", "add", "tenant", "--endpoint", cloud.Server.Endpoint.AbsoluteUri);
        await _cli.OkAsync("profile", "use", "tenant");
        var account = (await _cli.OkAsync("account", "sign-up", "--name", Names.Unique("sim"), "--display-name", "Sim", "--save", "--output", "json"))
            .Json<SignUpResponse>();
        await _cli.OkAsync("--profile", "admin", "account", "set-limits", account.Account.Id, "--limit", "compute-unit=2");
        var offering = await ComputeOfferingAsync();
        var contract = (await _cli.OkAsync("contract", "request", "--offering", offering, "--quantity", "1", "--output", "json")).Json<ContractView>();
        await _cli.OkAsync("contract", "accept", contract.Id);

        // Nothing advances the clock, so the simulated boot never ends: the wait can only time out.
        var timedOut = await _cli.RunAsync("instance", "provision", "--contract", contract.Id, "--name", "sim", "--wait", "--wait-timeout", "2s");
        var jobId = (await _cli.OkAsync("job", "list", "--action", "instance.provision", "--output", "json")).Json<Page<JobView>>().Items.Single().Id;
        var refused = await _cli.RunAsync("job", "wait", jobId, "--advance-clock");
        var finished = await _cli.RunAsync("--profile", "admin", "job", "wait", jobId, "--advance-clock");

        timedOut.ExitCode.ShouldBe(4, timedOut.ToString());
        timedOut.Err.ShouldContain($"The server runs on a virtual clock (simulation mode): job {jobId} goes on only as the clock is advanced");
        timedOut.Err.ShouldContain("--advance-clock");
        timedOut.Err.ShouldMatch($"Stopped waiting after 2s: job {jobId} is (queued|running) and goes on on the server; follow it with 'welkin job wait {jobId}'\\.");
        refused.ExitCode.ShouldBe(1, refused.ToString());
        refused.Err.ShouldContain("clock-advance permission");
        finished.ExitCode.ShouldBe(0, finished.ToString());
        finished.Err.ShouldContain("clock advanced to");
        finished.Err.ShouldContain($"job {jobId} succeeded 100%");
        finished.Err.ShouldNotContain("The server runs on a virtual clock");
    }

    /// <summary>A published one-tier compute offering, made through the client library.</summary>
    private async Task<string> ComputeOfferingAsync()
    {
        using var admin = new WelkinClient(cloud.Server.Endpoint, cloud.Server.AdminToken);
        var name = Names.Unique("sim");
        var template = await admin.Templates.CreateAsync(new TemplateSpec(name,
        [
            new VirtualSystemSpec("web", new HardwareChoices(new Choice<int>([1], 1), new Choice<long>([512], 512), new Choice<long>([10], 10)),
                new SoftwareChoices(new Choice<string>(["debian"], "debian"))),
        ]), Ct);
        await admin.Templates.PublishAsync(template.Id, new TemplateTransitionRequest(), Ct);
        var offering = await admin.Offerings.CreateAsync(new OfferingSpec(name, OfferingKind.Compute,
            new PricePlan("USD", "month", [new PriceRate("compute-unit", "unit-month", 10m)]), new SlaTerms(99.9m), new OfferingTerms(0, 0m),
            "compute-unit", TemplateId: template.Id, TemplateVersion: 1), Ct);
        await admin.Offerings.PublishAsync(offering.Id, new OfferingTransitionRequest(), Ct);
        return offering.Id;
    }
}

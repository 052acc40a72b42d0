using Welkin.Cli.Tests.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Tests;

[Collection(CloudsCollection.Name)]
public sealed class SlaCommandsTests(TwoClouds clouds) : IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task Clock_OnARealClockCloud_ShowsIt_AndAdvanceSaysItIsNotSimulated()
    {
        await _cli.OkAsync("profile", "add", "admin", "--endpoint", clouds.A.Endpoint.AbsoluteUri, "--token-file", clouds.A.AdminTokenFile);

        (await _cli.OkAsync("clock", "show")).Out.ShouldMatch(@"Mode:\s+real");
        (await _cli.OkAsync("clock", "show", "--output", "json")).Json<ClockView>().Mode.ShouldBe("real");

        var advance = await _cli.RunAsync("clock", "advance", "--by", "1d");
        advance.ExitCode.ShouldBe(1);
        advance.Err.ShouldContain("Not in simulation mode: This server runs on the real clock");
        advance.Err.ShouldContain("code not-simulated");
        var usage = await _cli.RunAsync("clock", "advance", "--by", "tomorrow");
        usage.ExitCode.ShouldNotBe(0);
        usage.Err.ShouldContain("not a duration");
    }

    [Fact]
    public async Task ContractSla_AndInstancePolicy_ReportProblemsAsMessages()
    {
        await _cli.OkAsync("profile", "add", "admin", "--endpoint", clouds.A.Endpoint.AbsoluteUri, "--token-file", clouds.A.AdminTokenFile);
        var sla = await _cli.RunAsync("contract", "sla", "ctr_01h00000000000000000000000", "--period", "2026-11");
        sla.ExitCode.ShouldBe(1);
        sla.Err.ShouldContain("does not exist");
        var policy = await _cli.RunAsync("instance", "policy", "show", "ins_01h00000000000000000000000");
        policy.ExitCode.ShouldBe(1);
        policy.Err.ShouldContain("does not exist");
    }
}

using Welkin.Cli.Tests.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Tests;

/// <summary><c>welkin burst</c> and <c>welkin agreement reconcile</c> against a cloud without peers; bursting itself is in the server's federation tests.</summary>
[Collection(CloudsCollection.Name)]
public sealed class BurstCommandsTests(TwoClouds clouds) : IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    private Task UseAdminAsync() =>
        _cli.OkAsync("profile", "add", "admin", "--endpoint", clouds.B.Endpoint.AbsoluteUri, "--token-file", clouds.B.AdminTokenFile);

    [Fact]
    public async Task BurstSet_ChangesWhatItNames_AndKeepsTheRest()
    {
        await UseAdminAsync();
        var before = (await _cli.OkAsync("burst", "show", "--output", "json")).Json<CloudBurstPolicy>();

        await _cli.OkAsync("burst", "set", "--on", "--peer", "cloud-b", "--peer", "cloud-c", "--max-price", "0.05");
        var on = (await _cli.OkAsync("burst", "show", "--output", "json")).Json<CloudBurstPolicy>();
        (await _cli.OkAsync("burst", "show")).Out.ShouldContain("on, to cloud-b, cloud-c, at most 0.05 per vCPU-hour");
        await _cli.OkAsync("burst", "set", "--off");
        var off = (await _cli.OkAsync("burst", "show", "--output", "json")).Json<CloudBurstPolicy>();
        await _cli.OkAsync("burst", "set", "--any-peer", "--no-ceiling");
        var open = (await _cli.OkAsync("burst", "show", "--output", "json")).Json<CloudBurstPolicy>();

        (on.Enabled, on.MaxPricePerCpuHour, on.Version).ShouldBe((true, 0.05m, before.Version + 1));
        on.Peers.ShouldBe(["cloud-b", "cloud-c"]);
        (off.Enabled, off.Peers!.Count, off.MaxPricePerCpuHour).ShouldBe((false, 2, 0.05m));
        (open.Enabled, open.Peers is null, open.MaxPricePerCpuHour).ShouldBe((false, true, null));
        (await _cli.OkAsync("burst", "show")).Out.ShouldContain("off");
        (await _cli.RunAsync("burst", "set", "--on", "--off")).ExitCode.ShouldNotBe(0);
    }

    [Fact]
    public async Task Reconcile_AnUnknownAgreement_ExitsOneWithTheServersReason()
    {
        await UseAdminAsync();

        var result = await _cli.RunAsync("agreement", "reconcile", "agr_01h00000000000000000000000", "--period", "2026-01");

        result.ExitCode.ShouldBe(1);
        result.Err.ShouldContain("agr_01h00000000000000000000000");
    }
}

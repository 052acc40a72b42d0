using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Core.Metering;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;
using Welkin.Testing;
using Welkin.Testing.Clouds;

namespace Welkin.Server.Tests.Federation;

/// <summary>A guest moved live to the peer comes home live: the peer's hypervisor sends it, Cloud1 resumes it, then the peer ends its copy.</summary>
public sealed partial class LiveMoveTests
{
    [Fact]
    public async Task LiveMoveHome_OfAGuestAtThePeer_KeepsItsCounter_ServesHere_LeavesNothingAtThePeer_AndThePeerBillsUpToTheHandover()
    {
        var (tenant, machine) = await RunningGuestAsync("home");
        await clouds.PeerOnlineAsync();
        var away = await MoveAsync(machine.Id, new MoveRequest(Cloud: MoveClouds.Peer, Mode: MoveMode.Live));
        away.State.ShouldBe(JobState.Succeeded, away.ErrorDetail);
        await WaitForAsync(async () => Ticks(await ConsoleAsync(tenant.Client, machine.Id)).Count >= 2, "ticks at the peer");
        using var peer = await PeerClientAsync();
        var there = (await peer.Machines.ListAsync(limit: 1000, ct: Ct)).Items.Where(m => m.State == MachineState.Running).ShouldHaveSingleItem();
        var lastThere = LastTick(await ConsoleAsync(tenant.Client, machine.Id));

        var home = await MoveAsync(machine.Id, new MoveRequest(MoveClouds.LocalPool, MoveMode.Live));

        home.State.ShouldBe(JobState.Succeeded, home.ErrorDetail);
        var back = await tenant.Client.GetMachineAsync(machine.Id);
        (back.Pool, back.Peer, back.Host, back.State).ShouldBe((MoveClouds.LocalPool, null, "lab-a", MachineState.Running));
        var events = await tenant.Client.EventsAsync(machine.Id);
        var migrated = events.Where(e => e.Type == "machine.migrated" && e.Data.GetValueOrDefault("home") == "true").ShouldHaveSingleItem();
        (migrated.Data["from"], migrated.Data["to"], migrated.Data["mode"], migrated.Data["cloud"]).ShouldBe((MoveClouds.PeerPool, MoveClouds.LocalPool, "live", MoveClouds.Peer));
        events.Where(e => e.Type == "machine.deactivated").ShouldBeEmpty("the machine ran throughout, in this cloud's records");

        await WaitForAsync(async () => Ticks(await ConsoleAsync(tenant.Client, machine.Id)).Count >= 3, "ticks here");
        var console = await ConsoleAsync(tenant.Client, machine.Id);
        var ticks = Ticks(console);
        ticks.Zip(ticks.Skip(1)).ShouldAllBe(pair => pair.Second == pair.First + 1, "the counter goes on without a gap");
        ticks[^1].ShouldBeGreaterThan(lastThere);
        var http = back.Access!.Endpoints.Single(e => e.Protocol == "http");
        using (var web = new HttpClient { Timeout = TimeSpan.FromSeconds(30) })
        {
            (await web.GetStringAsync($"http://{http.Host}:{http.Port}/", Ct)).ShouldContain("hello from " + machine.Id);
        }

        // Nothing at the peer: its machine ended, no QEMU of it left, and it billed the agreement's account up to the handover.
        var ended = await peer.Machines.GetAsync(there.Id, Ct);
        ended.State.ShouldBe(MachineState.Terminated);
        TestGuest.ProcessesMentioning(Path.Combine(clouds.Provider.DataDir, "pools", QemuMoveClouds.PeerLocalPool)).ShouldBeEmpty();
        var peerEvents = await clouds.Provider.OrdinaryAdmin().EventsAsync(there.Id);
        var peerActivated = peerEvents.Single(e => e.Type == "machine.activated").At;
        var peerEnded = peerEvents.Single(e => e.Type == "machine.deactivated").At;
        peerEnded.ShouldBeGreaterThanOrEqualTo(migrated.At, "the peer ends its copy only once this cloud runs the guest");
        peerEnded.ShouldBeLessThanOrEqualTo(home.Finished!.Value);
        var end = peerEnded.AddSeconds(1);
        await clouds.Provider.Services.GetRequiredService<Meter>().CatchUpAsync(end, Ct);
        (await VcpuMsAsync(clouds.Provider.OrdinaryAdmin(), there.AccountId, there.Id, peerActivated.AddHours(-1), end.AddHours(1)))
            .ShouldBe((peerEnded - peerActivated).Ticks / TimeSpan.TicksPerMillisecond);

        (await tenant.Client.ActAsync(machine.Id, "destroy")).State.ShouldBe(JobState.Succeeded);
    }
}

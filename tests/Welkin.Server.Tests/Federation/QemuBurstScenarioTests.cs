using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Welkin.Contracts;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;
using Welkin.Testing;
using static Welkin.Server.Tests.Federation.BurstClouds;

namespace Welkin.Server.Tests.Federation;

/// <summary>
/// Intercloud III with real guests (<see cref="QemuBurstClouds"/>: Prosody, three cloud processes, QEMU pools in US and
/// DE): US's pool full with one guest, the next one bursts to DE and runs there as a real guest whose console the
/// consumer reads through US; CloudCoC's consumer of the resold offering gets a real guest at DE too; then US's own
/// guest moves live to DE and its counter goes on without a reboot or a gap.
/// </summary>
public sealed partial class QemuBurstScenarioTests(QemuBurstClouds clouds) : IClassFixture<QemuBurstClouds>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task QemuPools_TheBurstAndTheBrokersMachinesAreRealGuestsAtThePeer_AndALocalGuestMovesThereLive_WithItsCounterContinuous()
    {
        var scenario = await clouds.ReadyAsync();
        var filler = await clouds.TenantAsync("us", scenario.LocalOffering.Id, quantity: 2);
        var (_, local) = await filler.Client.ProvisionedAsync(Request(filler));
        var resident = await filler.Client.GetMachineAsync(local.Machines.Single());
        (resident.Pool, resident.Peer, resident.State).ShouldBe((LocalPool, null, MachineState.Running));

        var tenant = await clouds.TenantAsync("us", scenario.UsOffering.Id, quantity: 1);
        var (_, burst) = await tenant.Client.ProvisionedAsync(Request(tenant));
        var remote = await RealGuestAtDeAsync(tenant, burst, scenario.UsAgreement);

        var broker = await clouds.TenantAsync("cc", scenario.Resale.OfferingId, quantity: 1);
        var (_, resold) = await broker.Client.ProvisionedAsync(Request(broker));
        var resoldRemote = await RealGuestAtDeAsync(broker, resold, scenario.CcAgreement);
        resoldRemote.Id.ShouldNotBe(remote.Id);

        await WaitForAsync(async () => LastTick(await ConsoleAsync(filler.Client, resident.Id)) >= 2, "two ticks in US's pool before the move");
        var lastHere = LastTick(await ConsoleAsync(filler.Client, resident.Id));
        var accepted = await (await clouds.Admin("us").PostAsync($"/api/v1/machines/{resident.Id}/move", new MoveRequest(Pool, MoveMode.Live)))
            .ReadAsync<AcceptedView<MachineView>>(HttpStatusCode.Accepted);
        var job = await clouds.Admin("us").WaitAsync(accepted.Job.Id);

        job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
        var moved = await filler.Client.GetMachineAsync(resident.Id);
        (moved.Pool, moved.Peer, moved.Host, moved.State).ShouldBe((Pool, Peer, null, MachineState.Running));
        var migrated = (await filler.Client.EventsAsync(resident.Id)).Where(e => e.Type == "machine.migrated").ShouldHaveSingleItem();
        (migrated.Data["from"], migrated.Data["to"], migrated.Data["mode"], migrated.Data["cloud"]).ShouldBe((LocalPool, Pool, "live", Peer));
        TestGuest.ProcessesMentioning(Path.Combine(clouds.DataDirectory("us"), "pools", LocalPool)).ShouldBeEmpty("US's QEMU is gone");
        await WaitForAsync(async () => Ticks(await ConsoleAsync(filler.Client, resident.Id)).Count >= 3, "ticks at DE, read through US");
        var console = await ConsoleAsync(filler.Client, resident.Id);
        console.ShouldNotContain("welkin-guest ready", Case.Sensitive, "the guest did not boot again at DE");
        var ticks = Ticks(console);
        ticks.Zip(ticks.Skip(1)).ShouldAllBe(pair => pair.Second == pair.First + 1, "the counter goes on without a gap");
        ticks[0].ShouldBeGreaterThan(lastHere);
        var http = moved.Access!.Endpoints.Single(e => e.Protocol == "http");
        resident.Access!.Endpoints.ShouldNotContain(http, "the endpoints are DE's now");
        using (var web = new HttpClient { Timeout = TimeSpan.FromSeconds(30) })
        {
            (await web.GetStringAsync($"http://{http.Host}:{http.Port}/", Ct)).ShouldContain("hello from " + resident.Id, Case.Sensitive, "the same guest serves at DE");
        }
        TestGuest.ProcessesMentioning(Path.Combine(clouds.DataDirectory("de"), "pools", LocalPool)).Count.ShouldBe(3, "DE runs the three guests");

        // US's host has room again, and its next machine runs there; the burst machine stays at DE.
        var (_, back) = await filler.Client.ProvisionedAsync(Request(filler));
        (await filler.Client.GetMachineAsync(back.Machines.Single())).Pool.ShouldBe(LocalPool);
        (await tenant.Client.GetMachineAsync(burst.Machines.Single())).Pool.ShouldBe(Pool);

        foreach (var (owner, instance) in new[] { (filler, local), (filler, back), (tenant, burst), (broker, resold) })
        {
            var ended = await (await owner.Client.PostAsync($"/api/v1/instances/{instance.Id}/terminate")).ReadAsync<AcceptedView<InstanceView>>(HttpStatusCode.Accepted);
            (await owner.Client.WaitAsync(ended.Job.Id)).State.ShouldBe(JobState.Succeeded);
        }
        await WaitForAsync(() => Task.FromResult(TestGuest.ProcessesMentioning(Path.Combine(clouds.DataDirectory("de"), "pools", LocalPool)).Count == 0),
            "DE's guests gone with their instances");
    }

    /// <summary>
    /// The consumer's one machine of <paramref name="instance"/> runs in the peer pool, as a real guest of DE's QEMU pool
    /// under the agreement's account, whose console the consumer reads through its own cloud. Returns DE's machine.
    /// </summary>
    private async Task<MachineView> RealGuestAtDeAsync(Tenant tenant, InstanceView instance, AgreementView agreement)
    {
        var machine = await tenant.Client.GetMachineAsync(instance.Machines.Single());
        (machine.Pool, machine.Peer, machine.State).ShouldBe((Pool, Peer, MachineState.Running));
        var page = await (await clouds.Admin("de").GetAsync($"/api/v1/machines?accountId={agreement.AccountId}&limit=1000", Ct)).ReadAsync<Page<MachineView>>();
        var remote = page.Items.Where(m => m.Released is null).OrderByDescending(m => m.Created).First();
        (remote.Pool, remote.Host, remote.State).ShouldBe((LocalPool, "de-qemu-1", MachineState.Running));
        machine.Access!.Endpoints.ShouldBe(remote.Access!.Endpoints);
        await WaitForAsync(async () => Ticks(await ConsoleAsync(tenant.Client, machine.Id)).Count >= 2, $"ticks of {machine.Id}, read through {tenant.Cloud}");
        var relayed = Ticks(await ConsoleAsync(tenant.Client, machine.Id));
        relayed.Zip(relayed.Skip(1)).ShouldAllBe(pair => pair.Second == pair.First + 1);
        (await ConsoleAsync(clouds.Admin("de"), remote.Id)).ShouldContain($"TICK {relayed[^1].ToString(CultureInfo.InvariantCulture)} ", Case.Sensitive,
            "the console relayed is DE's guest's");
        return remote;
    }

    private static ProvisionRequest Request(Tenant tenant) => new(tenant.Contract.Id, VirtualSystems: [new VirtualSystemChoice("web", 1)]);

    private static async Task<string> ConsoleAsync(HttpClient client, string machineId) => await client.GetStringAsync($"/api/v1/machines/{machineId}/console", Ct);

    private static List<int> Ticks(string console) => [.. TickPattern().Matches(console).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture))];

    private static int LastTick(string console) => Ticks(console) is { Count: > 0 } ticks ? ticks[^1] : 0;

    private static Task WaitForAsync(Func<Task<bool>> condition, string what) =>
        Polling.UntilAsync(condition, what, TimeSpan.FromMinutes(2), TimeSpan.FromMilliseconds(200));

    [GeneratedRegex(@"TICK (\d+) ")]
    private static partial Regex TickPattern();
}

using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Client;
using Welkin.Contracts;
using Welkin.Core.Compute;
using Welkin.Core.Metering;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;
using Welkin.Testing;
using Welkin.Testing.Clouds;

namespace Welkin.Server.Tests.Federation;

/// <summary>Live moves of a running QEMU guest from Cloud1's pool "lab" to Cloud2's QEMU pool, through the agreement (<see cref="QemuMoveClouds"/>).</summary>
public sealed partial class LiveMoveTests(QemuMoveClouds clouds, TestGuest guest) : IClassFixture<QemuMoveClouds>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task LiveMove_OfARunningGuest_KeepsItsCounter_ServesOnThePeersEndpoint_AndBillingSwitchesAtTheHandoverExactlyOnce()
    {
        var began = clouds.Consumer.Services.GetRequiredService<TimeProvider>().GetUtcNow();
        var (tenant, machine) = await RunningGuestAsync("live");
        await clouds.PeerOnlineAsync();
        await WaitForAsync(async () => LastTick(await ConsoleAsync(tenant.Client, machine.Id)) >= 2, "two ticks before the move");
        var stale = await IncomingLeftByAnEarlierAttemptAsync(machine.Id);
        var lastHere = LastTick(await ConsoleAsync(tenant.Client, machine.Id));
        var accepted = clouds.Consumer.Services.GetRequiredService<TimeProvider>().GetUtcNow();

        var job = await MoveAsync(machine.Id, new MoveRequest(Cloud: MoveClouds.Peer, Mode: MoveMode.Live));

        job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
        using (var arrived = await PeerClientAsync())
        {
            // The peer's job ended with its complete: the machine's instance there is free for the next operation at once.
            // Only this move's: another test of the class may have moved a machine to the peer before.
            var incoming = (await arrived.Jobs.ListAsync(action: "machine.incoming", limit: 100, ct: Ct)).Items.Where(j => j.Created >= began).ToList();
            incoming.ShouldAllBe(j => j.State != JobState.Queued && j.State != JobState.Running);
            incoming.Where(j => j.State == JobState.Succeeded && j.StatusMessage!.EndsWith(" arrived", StringComparison.Ordinal)).ShouldHaveSingleItem();
        }
        var moved = await tenant.Client.GetMachineAsync(machine.Id);
        (moved.Pool, moved.Peer, moved.Host, moved.State).ShouldBe((MoveClouds.PeerPool, MoveClouds.Peer, null, MachineState.Running));
        var events = await tenant.Client.EventsAsync(machine.Id);
        var migrated = events.Where(e => e.Type == "machine.migrated").ShouldHaveSingleItem();
        (migrated.Data["from"], migrated.Data["to"], migrated.Data["mode"], migrated.Data["cloud"]).ShouldBe((MoveClouds.LocalPool, MoveClouds.PeerPool, "live", MoveClouds.Peer));
        events.Where(e => e.Type == "machine.deactivated").ShouldBeEmpty("the machine ran throughout, in this cloud's records");
        var localDirectory = Path.Combine(clouds.Consumer.DataDir, "pools", MoveClouds.LocalPool, "machines", machine.Id);
        TestGuest.ProcessesMentioning(localDirectory).ShouldBeEmpty("the source QEMU is gone");
        Directory.Exists(localDirectory).ShouldBeFalse();

        // The counter goes on at the peer (read through Cloud1, which relays the peer's console): no reboot, no reset, no gap.
        await WaitForAsync(async () => Ticks(await ConsoleAsync(tenant.Client, machine.Id)).Count >= 3, "ticks at the peer");
        var console = await ConsoleAsync(tenant.Client, machine.Id);
        console.ShouldNotContain("welkin-guest ready", Case.Sensitive, "the guest did not boot again at the peer");
        var ticks = Ticks(console);
        ticks.Zip(ticks.Skip(1)).ShouldAllBe(pair => pair.Second == pair.First + 1, "the counter goes on without a gap");
        ticks[0].ShouldBeGreaterThan(lastHere);
        var http = moved.Access!.Endpoints.Single(e => e.Protocol == "http");
        machine.Access!.Endpoints.ShouldNotContain(http, "the endpoints are the peer's now");
        using (var web = new HttpClient { Timeout = TimeSpan.FromSeconds(30) })
        {
            (await web.GetStringAsync($"http://{http.Host}:{http.Port}/", Ct)).ShouldContain("hello from " + machine.Id);
        }

        // At the peer: one running machine of the agreement's account, prepared while provisioning and running from the handover.
        using var peer = await PeerClientAsync();
        var there = (await peer.Machines.ListAsync(limit: 1000, ct: Ct)).Items.Where(m => m.State != MachineState.Terminated).ShouldHaveSingleItem();
        there.State.ShouldBe(MachineState.Running);
        moved.Access.Endpoints.ShouldBe(there.Access!.Endpoints);
        (await peer.Machines.GetAsync(stale, Ct)).State.ShouldBe(MachineState.Terminated, "the earlier attempt's machine was aborted");

        (await tenant.Client.ActAsync(machine.Id, "destroy")).State.ShouldBe(JobState.Succeeded);
        await BillingSwitchedAtTheHandoverAsync(tenant, machine.Id, there, migrated.At, accepted);
    }

    /// <summary>
    /// Cloud1 metered the tenant's machine from its activation to its destruction without a gap or an overlap at the
    /// handover; Cloud2 metered the agreement's account from its <c>complete</c> (no earlier than the move began, no
    /// later than Cloud1's switch) to its destruction, and nothing while the machine was arriving.
    /// </summary>
    private async Task BillingSwitchedAtTheHandoverAsync(InstancesApi.Tenant tenant, string machineId, MachineView there, DateTimeOffset handover, DateTimeOffset accepted)
    {
        var events = await tenant.Client.EventsAsync(machineId);
        var activated = events.Single(e => e.Type == "machine.activated").At;
        var ended = events.Single(e => e.Type == "machine.deactivated").At;
        var peerEvents = await clouds.Provider.OrdinaryAdmin().EventsAsync(there.Id);
        var peerActivated = peerEvents.Single(e => e.Type == "machine.activated").At;
        var peerEnded = peerEvents.Single(e => e.Type == "machine.deactivated").At;
        peerActivated.ShouldBeGreaterThanOrEqualTo(accepted);
        peerActivated.ShouldBeLessThanOrEqualTo(handover, "the peer runs the machine before this cloud switches its record");
        var created = peerEvents.Min(e => e.At);

        var consumer = clouds.Consumer.OrdinaryAdmin();
        var provider = clouds.Provider.OrdinaryAdmin();
        var end = new[] { ended, peerEnded }.Max().AddSeconds(1);
        await clouds.Consumer.Services.GetRequiredService<Meter>().CatchUpAsync(end, Ct);
        await clouds.Provider.Services.GetRequiredService<Meter>().CatchUpAsync(end, Ct);
        var start = activated.AddHours(-1);
        var local = await VcpuMsAsync(consumer, tenant.AccountId, machineId, start, handover);
        var remote = await VcpuMsAsync(consumer, tenant.AccountId, machineId, handover, end);
        (local, remote).ShouldBe(((handover - activated).Ticks / TimeSpan.TicksPerMillisecond, (ended - handover).Ticks / TimeSpan.TicksPerMillisecond));
        (await VcpuMsAsync(consumer, tenant.AccountId, machineId, start, end)).ShouldBe(local + remote, "no millisecond counted twice or lost at the handover");
        (await ReconcileAsync(consumer, tenant.AccountId, start, end)).Ok.ShouldBeTrue();

        (await VcpuMsAsync(provider, there.AccountId, there.Id, created.AddHours(-1), peerActivated)).ShouldBe(0, "nothing is billed while the machine arrives");
        (await VcpuMsAsync(provider, there.AccountId, there.Id, created.AddHours(-1), end))
            .ShouldBe((peerEnded - peerActivated).Ticks / TimeSpan.TicksPerMillisecond);
        (await ReconcileAsync(provider, there.AccountId, created.AddHours(-1), end)).Ok.ShouldBeTrue();
    }

    [Fact]
    public async Task LiveMove_ThePeerWithoutRoom_FailsTheJob_TheGuestRunsOnHere_AndNothingIsLeftAtThePeer_NorByARepeatedThenAbortedPrepare()
    {
        var (tenant, machine) = await RunningGuestAsync("full");
        await clouds.PeerOnlineAsync();
        var provider = clouds.Provider.OrdinaryAdmin();
        (await provider.PostAsync($"/api/v1/fabric/hosts/{QemuMoveClouds.PeerHost}/state", new HostStateRequest(true, "maintenance"))).StatusCode.ShouldBe(HttpStatusCode.OK);
        JobView job;
        try
        {
            job = await MoveAsync(machine.Id, new MoveRequest(MoveClouds.PeerPool, MoveMode.Live));
        }
        finally
        {
            (await provider.PostAsync($"/api/v1/fabric/hosts/{QemuMoveClouds.PeerHost}/state", new HostStateRequest(false))).StatusCode.ShouldBe(HttpStatusCode.OK);
        }

        job.State.ShouldBe(JobState.Failed);
        job.ErrorDetail.ShouldNotBeNull().ShouldContain("It was not moved");
        var still = await tenant.Client.GetMachineAsync(machine.Id);
        (still.Pool, still.Peer, still.Host, still.State).ShouldBe((MoveClouds.LocalPool, null, "lab-a", MachineState.Running));
        still.Access!.Endpoints.ShouldBe(machine.Access!.Endpoints);
        (await tenant.Client.EventsAsync(machine.Id)).ShouldNotContain(e => e.Type == "machine.migrated" || e.Type == "machine.deactivated");
        var before = LastTick(await ConsoleAsync(tenant.Client, machine.Id));
        await WaitForAsync(async () => LastTick(await ConsoleAsync(tenant.Client, machine.Id)) > before + 1, "ticks here after the refusal");
        using var peer = await PeerClientAsync();
        (await peer.Machines.ListAsync(limit: 1000, ct: Ct)).Items.Where(m => m.State != MachineState.Terminated).ShouldBeEmpty();
        TestGuest.ProcessesMentioning(Path.Combine(clouds.Provider.DataDir, "pools", QemuMoveClouds.PeerLocalPool)).ShouldBeEmpty();

        // With room again, the peer's API directly: a prepare repeated under its key gets the first answer, and an abort leaves nothing.
        var contractId = (await clouds.Consumer.Services.GetRequiredService<IPeerLinks>().GetAsync(MoveClouds.Peer, Ct)).Value.ContractIds[0];
        var request = new IncomingMachineRequest(contractId, "app", 1, 256, 1, [new IncomingDisk("root", 1L << 30)], true, OperatingSystem: "debian");
        var first = await peer.Machines.PrepareIncomingAsync(request, "retry-" + machine.Id, Ct);
        var again = await peer.Machines.PrepareIncomingAsync(request, "retry-" + machine.Id, Ct);
        (again.MachineId, again.DiskPort, again.MigrationPort, first.State).ShouldBe((first.MachineId, first.DiskPort, first.MigrationPort, MachineState.Provisioning));
        TestGuest.ProcessesMentioning(Path.Combine(clouds.Provider.DataDir, "pools", QemuMoveClouds.PeerLocalPool)).ShouldHaveSingleItem();
        (await peer.Machines.AbortIncomingAsync(first.MachineId, Ct)).State.ShouldBe(MachineState.Terminated);
        (await peer.Machines.AbortIncomingAsync(first.MachineId, Ct)).State.ShouldBe(MachineState.Terminated);
        (await peer.Machines.ListAsync(limit: 1000, ct: Ct)).Items.Where(m => m.State != MachineState.Terminated).ShouldBeEmpty();
        TestGuest.ProcessesMentioning(Path.Combine(clouds.Provider.DataDir, "pools", QemuMoveClouds.PeerLocalPool)).ShouldBeEmpty();

        (await tenant.Client.ActAsync(machine.Id, "destroy")).State.ShouldBe(JobState.Succeeded);
    }

    /// <summary>
    /// What an attempt of the move cut short by a restart of Cloud1 leaves: a machine prepared at the peer, never
    /// completed (the peer pool's row for it still live). Returns the peer's machine id.
    /// </summary>
    private async Task<string> IncomingLeftByAnEarlierAttemptAsync(string machineId)
    {
        var fabric = clouds.Consumer.Services.GetRequiredService<ComputeFabric>();
        var outgoing = await ((ILiveMigrationSource)fabric.Find(MoveClouds.LocalPool)!.Driver).DescribeOutgoingAsync(machineId, Ct);
        var prepared = await ((ILiveMigrationTarget)fabric.Find(MoveClouds.PeerPool)!.Driver)
            .PrepareIncomingAsync(outgoing.Value, "cloud2", new MigrationTls("ca.pem", "cert.pem", "key.pem", null), Ct);
        prepared.Error.ShouldBeNull();
        using var peer = await PeerClientAsync();
        var arriving = (await peer.Machines.ListAsync(limit: 1000, ct: Ct)).Items.Where(m => m.State == MachineState.Provisioning).ShouldHaveSingleItem();
        return arriving.Id;
    }

    /// <summary>A consumer of Cloud1 with a running test guest in its QEMU pool.</summary>
    private async Task<(InstancesApi.Tenant Tenant, MachineView Machine)> RunningGuestAsync(string name)
    {
        var (signUp, client, contract) = await clouds.TenantAsync(await clouds.RegisterGuestAsync(guest), name);
        var tenant = new InstancesApi.Tenant(signUp, client, contract);
        var (_, instance) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant));
        var machine = await tenant.Client.GetMachineAsync(instance.Machines.Single());
        (machine.Pool, machine.State).ShouldBe((MoveClouds.LocalPool, MachineState.Running));
        return (tenant, machine);
    }

    private async Task<JobView> MoveAsync(string machineId, MoveRequest request)
    {
        var admin = clouds.Consumer.OrdinaryAdmin();
        var accepted = await (await admin.PostAsync($"/api/v1/machines/{machineId}/move", request)).ReadAsync<AcceptedView<MachineView>>(HttpStatusCode.Accepted);
        return await admin.WaitAsync(accepted.Job.Id);
    }

    /// <summary>Cloud2's API as Cloud1 reaches it: under the agreement's credential.</summary>
    private async Task<WelkinClient> PeerClientAsync()
    {
        var link = (await clouds.Consumer.Services.GetRequiredService<IPeerLinks>().GetAsync(MoveClouds.Peer, Ct)).Value;
        return new WelkinClient(link.Http, link.ApiUrl, link.Credential);
    }

    private static async Task<long> VcpuMsAsync(HttpClient client, string accountId, string machineId, DateTimeOffset from, DateTimeOffset to)
    {
        var usage = await (await client.GetAsync($"/api/v1/accounts/{accountId}/usage?groupBy=resource&from={Iso(from)}&to={Iso(to)}", Ct)).ReadAsync<UsageReport>();
        return usage.Groups.FirstOrDefault(g => g.Key == machineId)?.Totals.FirstOrDefault(t => t.Metric == UsageMetrics.VcpuMs)?.Quantity ?? 0;
    }

    private static async Task<ReconciliationReport> ReconcileAsync(HttpClient client, string accountId, DateTimeOffset from, DateTimeOffset to) =>
        await (await client.GetAsync($"/api/v1/accounts/{accountId}/usage/reconciliation?from={Iso(from)}&to={Iso(to)}", Ct)).ReadAsync<ReconciliationReport>();

    private static string Iso(DateTimeOffset at) => Uri.EscapeDataString(at.ToString("O", CultureInfo.InvariantCulture));

    private static async Task<string> ConsoleAsync(HttpClient client, string machineId) => await client.GetStringAsync($"/api/v1/machines/{machineId}/console", Ct);

    private static List<int> Ticks(string console) => [.. TickPattern().Matches(console).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture))];

    private static int LastTick(string console) => Ticks(console) is { Count: > 0 } ticks ? ticks[^1] : 0;

    private static Task WaitForAsync(Func<Task<bool>> condition, string what) =>
        Polling.UntilAsync(condition, what, TimeSpan.FromMinutes(2), TimeSpan.FromMilliseconds(200));

    [GeneratedRegex(@"TICK (\d+) ")]
    private static partial Regex TickPattern();
}

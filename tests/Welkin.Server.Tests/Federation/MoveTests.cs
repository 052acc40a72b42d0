using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Client;
using Welkin.Contracts;
using Welkin.Core.Federation;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;
using Welkin.Testing;
using Welkin.Testing.Clouds;

namespace Welkin.Server.Tests.Federation;

/// <summary>Cold moves of a real QEMU machine to a peer cloud (<see cref="MoveClouds"/>).</summary>
public sealed class MoveTests(MoveClouds clouds, TestGuest guest) : IClassFixture<MoveClouds>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A consumer of Cloud1 with a running test guest in its QEMU pool.</summary>
    private async Task<(InstancesApi.Tenant Tenant, MachineView Machine)> RunningGuestAsync(string name, long memoryMiB = 256)
    {
        var (signUp, client, contract) = await clouds.TenantAsync(await clouds.RegisterGuestAsync(guest), name, memoryMiB);
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
        accepted.Job.Action.ShouldBe("machine.move");
        return await admin.WaitAsync(accepted.Job.Id);
    }

    [Fact]
    public async Task ColdMove_OfARunningQemuMachine_WithItsTransferCut_ResumesWithoutResending_AndRunsAtThePeer()
    {
        var (tenant, machine) = await RunningGuestAsync("move");
        (await tenant.Client.ActAsync(machine.Id, "stop")).State.ShouldBe(JobState.Succeeded);
        var size = (await clouds.Consumer.OrdinaryAdmin().GetByteArrayAsync($"/api/v1/machines/{machine.Id}/export", Ct)).LongLength;
        (await tenant.Client.ActAsync(machine.Id, "start")).State.ShouldBe(JobState.Succeeded);
        var before = clouds.Proxy.Upstream;
        await clouds.PeerOnlineAsync();
        clouds.Proxy.CutAfter(size / 2);

        var job = await MoveAsync(machine.Id, new MoveRequest(Cloud: MoveClouds.Peer));

        job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
        clouds.Proxy.Cuts.ShouldBe(1);
        // Sending the package again from its start would take the half sent before the cut and the whole package after it.
        var sent = clouds.Proxy.Upstream - before;
        TestContext.Current.TestOutputHelper?.WriteLine($"package: {size} bytes; sent towards the peer during the move: {sent} bytes");
        sent.ShouldBeLessThan(size / 2 + size, $"the package is {size} bytes");
        var moved = await tenant.Client.GetMachineAsync(machine.Id);
        (moved.Pool, moved.Peer, moved.Host, moved.State).ShouldBe((MoveClouds.PeerPool, MoveClouds.Peer, null, MachineState.Running));
        var migrated = (await tenant.Client.EventsAsync(machine.Id)).Where(e => e.Type == "machine.migrated").ShouldHaveSingleItem();
        (migrated.Data["from"], migrated.Data["to"], migrated.Data["mode"], migrated.Data["cloud"]).ShouldBe((MoveClouds.LocalPool, MoveClouds.PeerPool, "cold", MoveClouds.Peer));
        TestGuest.ProcessesMentioning(Path.Combine(clouds.Consumer.DataDir, "pools", MoveClouds.LocalPool, "machines", machine.Id)).ShouldBeEmpty();
        Directory.Exists(Path.Combine(clouds.Consumer.DataDir, "pools", MoveClouds.LocalPool, "machines", machine.Id)).ShouldBeFalse();

        // At the peer: one running machine of the agreement's account, made from the moved disk, and no image or upload left over.
        var link = (await clouds.Consumer.Services.GetRequiredService<Core.Compute.IPeerLinks>().GetAsync(MoveClouds.Peer, Ct)).Value;
        using var peer = new WelkinClient(link.Http, link.ApiUrl, link.Credential);
        var there = (await peer.Machines.ListAsync(limit: 1000, ct: Ct)).Items.Where(m => m.State == MachineState.Running).ShouldHaveSingleItem();
        there.ImageId.ShouldNotBeNull();
        (await peer.AccountImages.ListAsync(ct: Ct)).Items.ShouldBeEmpty();
        (await peer.Uploads.ListAsync(ct: Ct)).Items.ShouldBeEmpty();
        moved.Access!.Endpoints.ShouldBe(there.Access!.Endpoints);

        (await tenant.Client.ActAsync(machine.Id, "destroy")).State.ShouldBe(JobState.Succeeded);
        (await peer.Machines.ListAsync(limit: 1000, ct: Ct)).Items.Where(m => m.State != MachineState.Terminated).ShouldBeEmpty();
    }

    [Fact]
    public async Task Move_RefusesTenants_UnknownPoolsAndClouds_ThisCloudsOwnPool_AndALiveMoveToAPeerThatTakesNoneFails()
    {
        var (tenant, machine) = await RunningGuestAsync("refuse");
        var admin = clouds.Consumer.OrdinaryAdmin();
        var path = $"/api/v1/machines/{machine.Id}/move";

        await (await tenant.Client.PostAsync(path, new MoveRequest(Cloud: MoveClouds.Peer))).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await admin.PostAsync(path, new MoveRequest("no-such-pool"))).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        await (await admin.PostAsync(path, new MoveRequest(Cloud: "Cloud9"))).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        await (await admin.PostAsync(path, new MoveRequest(MoveClouds.PeerPool, Cloud: MoveClouds.Peer))).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        (await (await admin.PostAsync(path, new MoveRequest(MoveClouds.LocalPool))).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed"))
            .GetProperty("detail").GetString()!.ShouldContain("already in pool 'lab'");

        // Cloud2's pool is simulated: it takes no machine live, so the job fails and the machine runs on here.
        await clouds.PeerOnlineAsync();
        var live = await MoveAsync(machine.Id, new MoveRequest(Cloud: MoveClouds.Peer, Mode: MoveMode.Live));
        (live.State, live.ErrorCode).ShouldBe((JobState.Failed, "hypervisor-error"));
        live.ErrorDetail.ShouldNotBeNull().ShouldContain("It was not moved");

        // A tenant network would be left behind at this cloud: the move is refused until it is disconnected.
        var network = await (await tenant.Client.PostAsync("/api/v1/networks", new CreateNetworkRequest("move-net"))).ReadAsync<NetworkView>(HttpStatusCode.Created);
        var connected = await (await tenant.Client.PostAsync($"/api/v1/networks/{network.Id}/connect", new ConnectNetworkRequest(machine.Id)))
            .ReadAsync<AcceptedView<NetworkView>>(HttpStatusCode.Accepted);
        (await tenant.Client.WaitAsync(connected.Job.Id)).State.ShouldBe(JobState.Succeeded);
        (await (await admin.PostAsync(path, new MoveRequest(Cloud: MoveClouds.Peer))).ProblemAsync(HttpStatusCode.Conflict, "invalid-state"))
            .GetProperty("detail").GetString()!.ShouldContain("1 tenant network(s) attached");

        var still = await tenant.Client.GetMachineAsync(machine.Id);
        (still.Pool, still.State).ShouldBe((MoveClouds.LocalPool, MachineState.Running));
        (await tenant.Client.ActAsync(machine.Id, "destroy")).State.ShouldBe(JobState.Succeeded);
    }

    [Fact]
    public async Task ColdMove_ThePeerRefusingTheMachine_LeavesItRunningHere_AndNothingAtThePeer()
    {
        // Cloud2's offering admits 256 MiB only: the package goes over and becomes an image, then the provision is refused.
        var (tenant, machine) = await RunningGuestAsync("refused", memoryMiB: 512);
        await clouds.PeerOnlineAsync();

        var job = await MoveAsync(machine.Id, new MoveRequest(MoveClouds.PeerPool));

        job.State.ShouldBe(JobState.Failed);
        job.ErrorCode.ShouldBe("host-unavailable");
        var still = await tenant.Client.GetMachineAsync(machine.Id);
        (still.Pool, still.Peer, still.Host, still.State).ShouldBe((MoveClouds.LocalPool, null, "lab-a", MachineState.Running));
        still.Access!.Endpoints.ShouldBe(machine.Access!.Endpoints);
        (await tenant.Client.EventsAsync(machine.Id)).ShouldNotContain(e => e.Type == "machine.migrated");
        TestGuest.ProcessesMentioning(Path.Combine(clouds.Consumer.DataDir, "pools", MoveClouds.LocalPool, "machines", machine.Id)).ShouldHaveSingleItem();
        var link = (await clouds.Consumer.Services.GetRequiredService<Core.Compute.IPeerLinks>().GetAsync(MoveClouds.Peer, Ct)).Value;
        using var peer = new WelkinClient(link.Http, link.ApiUrl, link.Credential);
        (await peer.AccountImages.ListAsync(ct: Ct)).Items.ShouldBeEmpty();
        (await peer.Uploads.ListAsync(ct: Ct)).Items.ShouldBeEmpty();
        Directory.EnumerateFiles(Path.Combine(clouds.Consumer.DataDir, "ovf-work"), "move-*").ShouldBeEmpty();

        (await tenant.Client.ActAsync(machine.Id, "destroy")).State.ShouldBe(JobState.Succeeded);
    }
}

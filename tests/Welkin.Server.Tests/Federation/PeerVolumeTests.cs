using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Compute.Peer;
using Welkin.Contracts;
using Welkin.Core.Data;
using Welkin.Server.Tests.Instances;
using Welkin.Testing;

namespace Welkin.Server.Tests.Federation;

/// <summary>
/// A tenant of Cloud1 attaches a volume to its machine in Cloud2's pool through Cloud1's API: the volume is kept at Cloud2
/// under Cloud1's account there, and detach and delete act there. It lives at Cloud2, so a machine of another pool cannot
/// have it, and another tenant of Cloud1 sees nothing of it.
/// </summary>
public sealed class PeerVolumeTests(PeerPoolClouds clouds) : IClassFixture<PeerPoolClouds>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task VolumeOfAMachineAtThePeer_IsKeptAtThePeer_UnderTheCloudAccount_AndDetachAndDeleteActThere()
    {
        var tenant = await clouds.TenantAsync(machines: 2, storage: true);
        var (_, burst) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant, constraints: PeerPoolClouds.AtPeer));
        var (_, home) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant, constraints: PeerPoolClouds.Local));
        var atPeer = await tenant.Client.GetMachineAsync(burst.Machines.Single());
        var local = await tenant.Client.GetMachineAsync(home.Machines.Single());
        (atPeer.Pool, local.Pool).ShouldBe((PeerPoolClouds.Pool, "home"));
        var volume = await (await tenant.Client.PostAsJsonAsync("/api/v1/volumes", new CreateVolumeRequest(tenant.Contract.Id, 100, "data"), WelkinJson.Client, Ct))
            .ReadAsync<VolumeView>(HttpStatusCode.Created);

        var attached = await RunAsync(tenant, $"/api/v1/volumes/{volume.Id}/attach", new AttachVolumeRequest(atPeer.Id));

        (attached.State, attached.MachineId, attached.Applied).ShouldBe((VolumeState.Attached, atPeer.Id, true));
        var operatorAtPeer = clouds.Provider.OrdinaryAdmin();
        var kept = (await KeptAsync(operatorAtPeer, volume.Id)).ShouldHaveSingleItem();
        var remoteMachine = (await new PeerMachineStore(clouds.Consumer.Services.GetRequiredService<IDatabase>(), clouds.Clock).GetAsync(atPeer.Id, Ct))!.RemoteMachineId;
        (kept.SizeGiB, kept.State, kept.MachineId, kept.AccountId).ShouldBe((100L, VolumeState.Attached, remoteMachine, clouds.Agreement.AccountId));
        kept.ContractId.ShouldBe(clouds.Agreement.ContractIds.Single());

        // Its data is at Cloud2: Cloud1's own machine cannot have it, attached or not.
        await (await tenant.Client.PostAsJsonAsync($"/api/v1/volumes/{volume.Id}/attach", new AttachVolumeRequest(local.Id), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
        var detached = await RunAsync(tenant, $"/api/v1/volumes/{volume.Id}/detach", new DetachVolumeRequest());
        detached.State.ShouldBe(VolumeState.Available);
        (await operatorAtPeer.GetFromJsonAsync<VolumeView>($"/api/v1/volumes/{kept.Id}", WelkinJson.Client, Ct))!.State.ShouldBe(VolumeState.Available);
        var elsewhere = await (await tenant.Client.PostAsJsonAsync($"/api/v1/volumes/{volume.Id}/attach", new AttachVolumeRequest(local.Id), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
        elsewhere.GetProperty("detail").GetString()!.ShouldContain(PeerPoolClouds.Pool);

        // Attached again to the machine at the peer: the same volume there, not a second one.
        await RunAsync(tenant, $"/api/v1/volumes/{volume.Id}/attach", new AttachVolumeRequest(atPeer.Id));
        (await operatorAtPeer.GetFromJsonAsync<VolumeView>($"/api/v1/volumes/{kept.Id}", WelkinJson.Client, Ct))!.State.ShouldBe(VolumeState.Attached);
        await RunAsync(tenant, $"/api/v1/volumes/{volume.Id}/detach", new DetachVolumeRequest());

        (await tenant.Client.DeleteAsync($"/api/v1/volumes/{volume.Id}", Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);

        (await operatorAtPeer.GetFromJsonAsync<VolumeView>($"/api/v1/volumes/{kept.Id}", WelkinJson.Client, Ct))!.State.ShouldBe(VolumeState.Deleted);
        (await KeptAsync(operatorAtPeer, volume.Id)).ShouldBeEmpty();
    }

    [Fact]
    public async Task Attach_ThePeersStorageCannotTake_FailsTheJob_AndLeavesTheVolumeFreeForAnotherPool()
    {
        var tenant = await clouds.TenantAsync(machines: 2, storage: true);
        var (_, burst) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant, constraints: PeerPoolClouds.AtPeer));
        var (_, home) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant, constraints: PeerPoolClouds.Local));
        // 300 GiB: Cloud2's storage line takes 200 GiB at most.
        var volume = await (await tenant.Client.PostAsJsonAsync("/api/v1/volumes", new CreateVolumeRequest(tenant.Contract.Id, 300), WelkinJson.Client, Ct))
            .ReadAsync<VolumeView>(HttpStatusCode.Created);

        var accepted = await (await tenant.Client.PostAsJsonAsync($"/api/v1/volumes/{volume.Id}/attach", new AttachVolumeRequest(burst.Machines.Single()), WelkinJson.Client, Ct))
            .ReadAsync<AcceptedView<VolumeView>>(HttpStatusCode.Accepted);
        var job = await tenant.Client.WaitAsync(accepted.Job.Id);

        (job.State, job.ErrorCode).ShouldBe((JobState.Failed, "unsupported"));
        (await KeptAsync(clouds.Provider.OrdinaryAdmin(), volume.Id)).ShouldBeEmpty();
        // It never held data at Cloud2, so it is not bound there.
        (await RunAsync(tenant, $"/api/v1/volumes/{volume.Id}/attach", new AttachVolumeRequest(home.Machines.Single()))).State.ShouldBe(VolumeState.Attached);
    }

    [Fact]
    public async Task VolumeOfAMachineAtThePeer_IsInvisibleToAnotherTenant()
    {
        var tenant = await clouds.TenantAsync(storage: true);
        var (_, burst) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant, constraints: PeerPoolClouds.AtPeer));
        var volume = await (await tenant.Client.PostAsJsonAsync("/api/v1/volumes", new CreateVolumeRequest(tenant.Contract.Id, 100), WelkinJson.Client, Ct))
            .ReadAsync<VolumeView>(HttpStatusCode.Created);
        await RunAsync(tenant, $"/api/v1/volumes/{volume.Id}/attach", new AttachVolumeRequest(burst.Machines.Single()));
        var other = await clouds.TenantAsync();

        await (await other.Client.GetAsync($"/api/v1/volumes/{volume.Id}", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        (await other.Client.GetFromJsonAsync<Page<VolumeView>>("/api/v1/volumes", WelkinJson.Client, Ct))!.Items.ShouldBeEmpty();
        await (await other.Client.PostAsJsonAsync($"/api/v1/volumes/{volume.Id}/detach", new DetachVolumeRequest(), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.NotFound, "not-found");
        await (await other.Client.DeleteAsync($"/api/v1/volumes/{volume.Id}", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        (await tenant.Client.GetFromJsonAsync<VolumeView>($"/api/v1/volumes/{volume.Id}", WelkinJson.Client, Ct))!.State.ShouldBe(VolumeState.Attached);
    }

    /// <summary>The live volumes Cloud2 keeps for Cloud1's volume <paramref name="volumeId"/> (named after it), as Cloud2's operator lists them.</summary>
    private async Task<List<VolumeView>> KeptAsync(HttpClient operatorAtPeer, string volumeId) =>
        (await operatorAtPeer.GetFromJsonAsync<Page<VolumeView>>($"/api/v1/volumes?accountId={clouds.Agreement.AccountId}&limit=500", WelkinJson.Client, Ct))!
            .Items.Where(v => v.Name == "welkin-" + volumeId).ToList();

    /// <summary>Posts a volume action and waits for its job; returns the volume as it then is.</summary>
    private static async Task<VolumeView> RunAsync<T>(InstancesApi.Tenant tenant, string path, T body)
    {
        var accepted = await (await tenant.Client.PostAsJsonAsync(path, body, WelkinJson.Client, Ct)).ReadAsync<AcceptedView<VolumeView>>(HttpStatusCode.Accepted);
        var job = await tenant.Client.WaitAsync(accepted.Job.Id);
        job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
        return (await tenant.Client.GetFromJsonAsync<VolumeView>($"/api/v1/volumes/{accepted.Resource.Id}", WelkinJson.Client, Ct))!;
    }
}

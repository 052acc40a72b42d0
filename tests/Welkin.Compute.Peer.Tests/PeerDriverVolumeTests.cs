using Microsoft.Extensions.DependencyInjection;
using Welkin.Client;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Compute;

namespace Welkin.Compute.Peer.Tests;

/// <summary>What the peer-cloud driver does with volumes beyond the shared suite: where it keeps them, and once only.</summary>
public sealed class PeerDriverVolumeTests(PeerClouds clouds) : IClassFixture<PeerClouds>, IDisposable
{
    private readonly List<PeerDriver> _drivers = [];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private PeerDriver NewDriver()
    {
        var driver = clouds.NewDriver();
        _drivers.Add(driver);
        return driver;
    }

    private async Task<string> RunningMachineAsync(PeerDriver driver)
    {
        var spec = new MachineSpec(Ids.New(Ids.Machine, TimeProvider.System), "acc_test", PeerClouds.Host, 1, 512, 10, null, "Welkin Test OS",
            new Dictionary<string, string>(), new Dictionary<string, string>(), null, [], []);
        (await driver.CreateAsync(spec, null, Ct)).Value.State.ShouldBe(DriverMachineState.Running);
        return spec.MachineId;
    }

    private WelkinClient ProviderAdmin() => new(clouds.Provider.OrdinaryAdmin(), clouds.Provider.ApiAddress, clouds.Provider.AdminToken);

    private async Task<List<VolumeView>> KeptAsync(string volumeId)
    {
        using var admin = ProviderAdmin();
        var page = await admin.Volumes.ListAsync(accountId: clouds.Agreement.AccountId, limit: 500, ct: Ct);
        return page.Items.Where(v => v.Name == "welkin-" + volumeId).ToList();
    }

    [Fact]
    public async Task Attach_CreatesTheVolumeOnThePeerOnce_OnTheAgreementsStorageLine_AndANewDriverFindsIt()
    {
        var volumeId = Ids.New(Ids.Volume, TimeProvider.System);
        var first = NewDriver();
        var a = await RunningMachineAsync(first);
        var b = await RunningMachineAsync(first);

        (await first.AttachVolumeAsync(a, new VolumeAttachment(volumeId, 20, "vdb"), Ct)).Value.ShouldBeTrue();
        (await first.DetachVolumeAsync(a, volumeId, Ct)).Value.ShouldBeTrue();
        // A restarted cloud's driver: the volume is where peer_volumes says, and moves to another machine of the pool.
        (await NewDriver().AttachVolumeAsync(b, new VolumeAttachment(volumeId, 20, "vdb"), Ct)).Value.ShouldBeTrue();

        var kept = (await KeptAsync(volumeId)).ShouldHaveSingleItem();
        (kept.SizeGiB, kept.State, kept.MachineId).ShouldBe((20L, VolumeState.Attached, await clouds.RemoteIdAsync(b)));
        (kept.ContractId, kept.Item).ShouldBe((clouds.Agreement.ContractIds.Single(), 1));
        (await clouds.Store.Volumes.GetAsync(volumeId, Ct))!.RemoteVolumeId.ShouldBe(kept.Id);
    }

    [Fact]
    public async Task Attach_AfterACrashThatLostThePeersAnswer_GetsTheSameRemoteVolume()
    {
        var driver = NewDriver();
        var machine = await RunningMachineAsync(driver);
        var volumeId = Ids.New(Ids.Volume, TimeProvider.System);
        var link = (await clouds.Consumer.Services.GetRequiredService<IPeerLinks>().GetAsync(PeerClouds.Peer, Ct)).Value;
        // The first attach recorded the volume and sent the create; the peer made it, and Cloud1 stopped before the answer came.
        var row = await clouds.Store.Volumes.BeginAsync(PeerClouds.Host, PeerClouds.Peer, link.AgreementId, volumeId, 5, Ct);
        using (var client = new WelkinClient(link.Http, link.ApiUrl, link.Credential))
        {
            await client.Volumes.CreateAsync(new CreateVolumeRequest(link.ContractIds[0], 5, "welkin-" + volumeId, 1), row.IdempotencyKey, Ct);
        }

        (await driver.AttachVolumeAsync(machine, new VolumeAttachment(volumeId, 5, "vdb"), Ct)).Value.ShouldBeTrue();

        (await KeptAsync(volumeId)).ShouldHaveSingleItem().State.ShouldBe(VolumeState.Attached);
    }

    [Fact]
    public async Task Attach_OfASizeNoStorageLineOfTheAgreementTakes_IsUnsupported_AndDeleteThenSucceeds()
    {
        var driver = NewDriver();
        var machine = await RunningMachineAsync(driver);
        var volumeId = Ids.New(Ids.Volume, TimeProvider.System);

        var refused = await driver.AttachVolumeAsync(machine, new VolumeAttachment(volumeId, PeerClouds.StorageGiB + 1, "vdb"), Ct);

        refused.Error!.Code.ShouldBe("unsupported");
        refused.Error.Detail.ShouldContain(PeerClouds.Peer);
        (await KeptAsync(volumeId)).ShouldBeEmpty();
        (await driver.DeleteVolumeAsync(volumeId, Ct)).Value.ShouldBeTrue();
        (await clouds.Store.Volumes.GetAsync(volumeId, Ct))!.IsDeleted.ShouldBeTrue();
    }

    [Fact]
    public async Task Delete_RemovesTheVolumeOnThePeer_AndNetworksStayUnsupported()
    {
        var driver = NewDriver();
        var machine = await RunningMachineAsync(driver);
        var volumeId = Ids.New(Ids.Volume, TimeProvider.System);
        await driver.AttachVolumeAsync(machine, new VolumeAttachment(volumeId, 3, "vdb"), Ct);
        var kept = (await KeptAsync(volumeId)).ShouldHaveSingleItem();
        await driver.DetachVolumeAsync(machine, volumeId, Ct);

        (await driver.DeleteVolumeAsync(volumeId, Ct)).Value.ShouldBeTrue();

        using var admin = ProviderAdmin();
        (await admin.Volumes.GetAsync(kept.Id, Ct)).State.ShouldBe(VolumeState.Deleted);
        driver.Capabilities.HasFlag(DriverCapabilities.Devices).ShouldBeFalse();
        (await driver.ConnectNetworkAsync(machine, new NetworkAttachment("net_a", "192.168.10.5", "52:54:00:00:00:01", "192.168.10.0/24"), Ct))
            .Error!.Code.ShouldBe("unsupported");
    }

    public void Dispose()
    {
        foreach (var driver in _drivers)
        {
            driver.Dispose();
        }
    }
}

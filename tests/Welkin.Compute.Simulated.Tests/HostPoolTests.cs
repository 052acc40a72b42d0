using Welkin.Contracts;
using Welkin.Core.Compute;
using Welkin.Testing;

namespace Welkin.Compute.Simulated.Tests;

/// <summary>Host pools and the fabric made of them, with simulated drivers behind the pools.</summary>
public sealed class HostPoolTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static SimulatedDriver Driver(params FabricHost[] hosts) =>
        new(new SimulatedFabricOptions { Hosts = [.. hosts], Timing = SimulatedTiming.Zero }, new FakeTimeProvider());

    private static FabricHost Host(string name, string region = "r1", string jurisdiction = "US") => new(name, region, jurisdiction, 8, 16_384, 500);

    private static MachineSpec Spec(string id, string host) =>
        new(id, "acc_1", host, 1, 512, 10, null, null, new Dictionary<string, string>(), new Dictionary<string, string>(), null, [], []);

    [Fact]
    public void Pool_GivesItsHostsItsNameAndPlacesThemWhereItsLabelsSay_KeepingTheirOwnPlaceOtherwise()
    {
        var placed = new HostPool("eu", Driver(Host("a", "somewhere", "XX")), new Dictionary<string, string> { ["jurisdiction"] = "DE", ["tier"] = "gold" });
        var own = new HostPool("lab", Driver(Host("b", "lab-1", "US")));

        placed.Hosts.ShouldBe([new FabricHost("a", "somewhere", "DE", 8, 16_384, 500, "eu")]);
        placed.Labels.ShouldBe(new Dictionary<string, string> { ["jurisdiction"] = "DE", ["tier"] = "gold" });
        placed.Kind.ShouldBe("simulated");
        own.Hosts.ShouldBe([new FabricHost("b", "lab-1", "US", 8, 16_384, 500, "lab")]);
    }

    [Theory]
    [InlineData("Upper")]
    [InlineData("")]
    [InlineData("9lives")]
    public void Pool_WithAnInvalidName_IsRefused(string name) =>
        Should.Throw<ArgumentException>(() => new HostPool(name, Driver(Host("a"))));

    [Fact]
    public void Pool_WithAnInvalidLabel_IsRefused()
    {
        Should.Throw<ArgumentException>(() => new HostPool("p", Driver(Host("a")), new Dictionary<string, string> { ["Bad Key"] = "x" }));
        Should.Throw<ArgumentException>(() => new HostPool("p", Driver(Host("a")), new Dictionary<string, string> { ["region"] = "" }));
    }

    [Fact]
    public void Fabric_RefusesTwoPoolsOfOneName_AndOneHostInTwoPools()
    {
        Should.Throw<ArgumentException>(() => new ComputeFabric([new HostPool("p", Driver(Host("a"))), new HostPool("p", Driver(Host("b")))]))
            .Message.ShouldContain("declared twice");
        Should.Throw<ArgumentException>(() => new ComputeFabric([new HostPool("p", Driver(Host("a"))), new HostPool("q", Driver(Host("a")))]))
            .Message.ShouldContain("in pool 'p' and in pool 'q'");
        Should.Throw<ArgumentException>(() => new ComputeFabric([]));
    }

    [Fact]
    public async Task Fabric_FindsPoolsByNameAndByHost_AndAnUnknownPoolIsUnavailable()
    {
        await using var fabric = new ComputeFabric([new HostPool("east", Driver(Host("e1"), Host("e2"))), new HostPool("west", Driver(Host("w1")))]);

        fabric.Hosts.Select(h => (h.Name, h.Pool)).ShouldBe([("e1", "east"), ("e2", "east"), ("w1", "west")]);
        fabric.PoolOfHost("w1")!.Name.ShouldBe("west");
        fabric.PoolOfHost("nowhere").ShouldBeNull();
        fabric.DriverOf("east").Value.ShouldBeSameAs(fabric.Pools[0].Driver);
        fabric.DriverOf("gone").Error!.Code.ShouldBe("pool-unavailable");
        fabric.DriverOf(null).Error!.Code.ShouldBe("pool-unavailable");
    }

    [Fact]
    public async Task DeleteVolume_AsksTheVolumesPool_OrEveryPoolWhenItWasNeverPlaced()
    {
        var east = Driver(Host("e1"));
        var west = Driver(Host("w1"));
        await using var fabric = new ComputeFabric([new HostPool("east", east), new HostPool("west", west)]);
        (await east.CreateAsync(Spec("mch_1", "e1"), null, Ct)).IsSuccess.ShouldBeTrue();
        (await east.AttachVolumeAsync("mch_1", new VolumeAttachment("vol_1", 10, "vdb"), Ct)).IsSuccess.ShouldBeTrue();

        // Still attached in east: east refuses, whether asked as its pool or as one of all.
        (await fabric.DeleteVolumeAsync("vol_1", "east", Ct)).Error!.Code.ShouldBe("invalid-state");
        (await fabric.DeleteVolumeAsync("vol_1", null, Ct)).Error!.Code.ShouldBe("invalid-state");
        // West never had it.
        (await fabric.DeleteVolumeAsync("vol_1", "west", Ct)).IsSuccess.ShouldBeTrue();
        (await east.DetachVolumeAsync("mch_1", "vol_1", Ct)).IsSuccess.ShouldBeTrue();
        (await fabric.DeleteVolumeAsync("vol_1", null, Ct)).IsSuccess.ShouldBeTrue();
    }

    [Fact]
    public async Task Disposing_TheFabric_DisposesEveryPoolsDriver()
    {
        var east = Driver(Host("e1"));
        var west = Driver(Host("w1"));
        var fabric = new ComputeFabric([new HostPool("east", east), new HostPool("west", west)]);

        await fabric.DisposeAsync();
        await fabric.DisposeAsync();

        // A disposed simulated driver completes its event stream.
        east.Events.Completion.IsCompleted.ShouldBeTrue();
        west.Events.Completion.IsCompleted.ShouldBeTrue();
    }
}

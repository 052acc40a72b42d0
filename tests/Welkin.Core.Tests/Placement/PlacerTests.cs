using Welkin.Core.Compute;
using Welkin.Core.Placement;

namespace Welkin.Core.Tests.Placement;

public sealed class PlacerTests
{
    private static readonly FabricHost UsA = new("us-a", "us-east", "US", 8, 16_384, 1_000);
    private static readonly FabricHost UsB = new("us-b", "us-east", "US", 8, 32_768, 1_000);
    private static readonly FabricHost De = new("de-a", "eu-central", "DE", 8, 16_384, 1_000);

    private static Placer NewPlacer(double cpuOvercommit = 1.0, params FabricHost[] hosts) =>
        new(hosts.Length == 0 ? [UsA, UsB, De] : hosts, new PlacementOptions { CpuOvercommit = cpuOvercommit });

    [Fact]
    public void Place_PicksTheHostWithTheMostMemoryLeft()
    {
        var placer = NewPlacer();
        placer.Place(new PlacementRequest(2, 8_192, 100)).Value.Host.ShouldBe("us-b");
    }

    [Fact]
    public void Place_AccountsCapacity_AndRefusesWhenFull()
    {
        var placer = NewPlacer(1.0, UsA);
        placer.Place(new PlacementRequest(4, 8_192, 100)).IsSuccess.ShouldBeTrue();
        placer.Place(new PlacementRequest(4, 8_192, 100)).IsSuccess.ShouldBeTrue();
        placer.Free("us-a").ShouldBe((0L, 0L, 800L));
        var refused = placer.Place(new PlacementRequest(1, 512, 1));
        refused.Error!.Code.ShouldBe("insufficient-capacity");
        refused.Error.Detail.ShouldContain("1 vCPU");
    }

    [Fact]
    public void Place_HonoursCpuOvercommitButNeverMemoryBeyondItsRatio()
    {
        var placer = NewPlacer(2.0, UsA);
        // 8 cores at 2x = 16 vCPUs; memory 16 GiB at 1x.
        for (var i = 0; i < 4; i++)
        {
            placer.Place(new PlacementRequest(4, 2_048, 10)).IsSuccess.ShouldBeTrue();
        }
        placer.Place(new PlacementRequest(1, 1_024, 10)).IsSuccess.ShouldBeFalse("16 vCPUs are taken");
        var memoryBound = NewPlacer(4.0, UsA);
        memoryBound.Place(new PlacementRequest(1, 16_384, 10)).IsSuccess.ShouldBeTrue();
        memoryBound.Place(new PlacementRequest(1, 1, 10)).IsSuccess.ShouldBeFalse("memory is not overcommitted");
    }

    [Fact]
    public void Place_KeepsToAllowedJurisdictionsAndRegions()
    {
        var placer = NewPlacer();
        placer.Place(new PlacementRequest(1, 1_024, 10, Jurisdictions: ["DE"])).Value.Host.ShouldBe("de-a");
        placer.Place(new PlacementRequest(1, 1_024, 10, Regions: ["us-east"])).Value.Host.ShouldStartWith("us-");
        var nowhere = placer.Place(new PlacementRequest(1, 1_024, 10, Jurisdictions: ["FR"]));
        nowhere.Error!.Code.ShouldBe("insufficient-capacity");
        nowhere.Error.Detail.ShouldContain("jurisdictions FR");
    }

    [Fact]
    public void Place_AntiAffinity_SpreadsAGroupOverHosts_AndFailsWhenHostsRunOut()
    {
        var placer = NewPlacer(hosts: [UsA, UsB]);
        var first = placer.Place(new PlacementRequest(1, 1_024, 10, AntiAffinityGroup: "web")).Value;
        var second = placer.Place(new PlacementRequest(1, 1_024, 10, AntiAffinityGroup: "web")).Value;
        second.Host.ShouldNotBe(first.Host);
        placer.Place(new PlacementRequest(1, 1_024, 10, AntiAffinityGroup: "web")).Error!.Detail.ShouldContain("group 'web'");
        placer.Place(new PlacementRequest(1, 1_024, 10, AntiAffinityGroup: "db")).IsSuccess.ShouldBeTrue("another group is free to share");
        placer.Release(first);
        placer.Place(new PlacementRequest(1, 1_024, 10, AntiAffinityGroup: "web")).Value.Host.ShouldBe(first.Host);
    }

    [Fact]
    public void Release_GivesCapacityBack()
    {
        var placer = NewPlacer(1.0, UsA);
        var before = placer.Free("us-a");
        var placed = placer.Place(new PlacementRequest(3, 4_096, 100)).Value;
        placer.Release(placed);
        placer.Free("us-a").ShouldBe(before);
    }

    [Fact]
    public void SetDown_TakesAHostOutOfPlacement()
    {
        var placer = NewPlacer();
        placer.SetDown("us-b", true);
        placer.Place(new PlacementRequest(1, 1_024, 10)).Value.Host.ShouldNotBe("us-b");
        placer.SetDown("us-b", false);
        placer.Place(new PlacementRequest(1, 1_024, 10)).Value.Host.ShouldBe("us-b");
    }

    [Fact]
    public async Task Place_UnderConcurrentRequests_NeverOvercommits()
    {
        var placer = NewPlacer(1.0, UsA, UsB, De);
        // 24 cores in all: 100 racing one-core requests must get exactly 24 placements.
        var results = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => Task.Run(() => placer.Place(new PlacementRequest(1, 256, 1)))));
        results.Count(r => r.IsSuccess).ShouldBe(24);
        foreach (var host in new[] { "us-a", "us-b", "de-a" })
        {
            placer.Free(host).CpuMilli.ShouldBe(0);
        }
    }

    [Theory]
    [InlineData(0, 1024, 10)]
    [InlineData(1, 0, 10)]
    [InlineData(1, 1024, -1)]
    public void Place_RejectsImpossibleRequests(int vcpus, long memory, long disk) =>
        NewPlacer().Place(new PlacementRequest(vcpus, memory, disk)).Error!.Code.ShouldBe("validation-failed");

    [Fact]
    public void Constructor_RejectsDuplicateHostsAndUndercommit()
    {
        Should.Throw<ArgumentException>(() => new Placer([UsA, UsA], new PlacementOptions()));
        Should.Throw<ArgumentException>(() => new Placer([UsA], new PlacementOptions { CpuOvercommit = 0.5 }));
    }

    [Fact]
    public void Reserve_RebuildsCapacityAndAntiAffinityFromExistingPlacements()
    {
        var first = NewPlacer(1.0, UsA, UsB);
        var a = first.Place(new PlacementRequest(2, 4_096, 50, AntiAffinityGroup: "ins/web")).Value;
        var b = first.Place(new PlacementRequest(2, 4_096, 50, AntiAffinityGroup: "ins/web")).Value;

        var rebuilt = NewPlacer(1.0, UsA, UsB);
        rebuilt.Reserve(a);
        rebuilt.Reserve(b);

        rebuilt.Free("us-a").ShouldBe(first.Free("us-a"));
        rebuilt.Free("us-b").ShouldBe(first.Free("us-b"));
        rebuilt.Place(new PlacementRequest(1, 512, 1, AntiAffinityGroup: "ins/web")).Error!.Code.ShouldBe("insufficient-capacity");
        rebuilt.Release(a);
        rebuilt.Place(new PlacementRequest(1, 512, 1, AntiAffinityGroup: "ins/web")).Value.Host.ShouldBe(a.Host);
    }

    [Fact]
    public void Reserve_OfAnUnknownHost_Throws() =>
        Should.Throw<ArgumentException>(() => NewPlacer().Reserve(new Core.Placement.Placement("gone", 1, 512, 1, null)));

    [Fact]
    public void Resize_GrowsOnTheSameHostOnlyWhenItFits()
    {
        var placer = NewPlacer(1.0, UsA);
        var p = placer.Place(new PlacementRequest(2, 4_096, 100)).Value;

        var grown = placer.Resize(p, 4, 8_192).Value;

        grown.ShouldBe(p with { Vcpus = 4, MemoryMiB = 8_192 });
        placer.Free("us-a").ShouldBe((4_000L, 8_192L, 900L));
        placer.Resize(grown, 9, 8_192).Error!.Code.ShouldBe("insufficient-capacity");
        placer.Free("us-a").ShouldBe((4_000L, 8_192L, 900L));
        var shrunk = placer.Resize(grown, 1, 1_024).Value;
        placer.Free("us-a").ShouldBe((7_000L, 15_360L, 900L));
        placer.Release(shrunk);
        placer.Free("us-a").ShouldBe((8_000L, 16_384L, 1_000L));
    }

    [Fact]
    public void SetDown_IsReportedAndKeepsPlacementAway()
    {
        var placer = NewPlacer(1.0, UsA, UsB);
        placer.SetDown("us-b", true);
        placer.IsDown("us-b").ShouldBeTrue();
        placer.Place(new PlacementRequest(1, 1_024, 1)).Value.Host.ShouldBe("us-a");
        placer.SetDown("us-b", false);
        placer.IsDown("us-b").ShouldBeFalse();
    }
}

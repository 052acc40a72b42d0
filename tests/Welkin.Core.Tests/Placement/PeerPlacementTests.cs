using Welkin.Contracts;
using Welkin.Core.Compute;
using Welkin.Core.Federation;
using Welkin.Core.Placement;

namespace Welkin.Core.Tests.Placement;

public sealed class PeerPlacementTests
{
    private static readonly PlacementRequest Machine = new(2, 4096, 50);

    private static PeerCandidate Pool(string name, decimal? price, string? currency = "EUR", int vcpus = 32, string[]? jurisdictions = null, bool available = true) =>
        new(name, "cloud-" + name, new PeerPoolStatus(available, available ? null : "offline", vcpus, 65_536, 1_000, jurisdictions ?? ["DE"], price, currency, "agr_x"),
            null, name + "-host");

    [Fact]
    public void Choose_OrdersByPrice_ThenByMostCapacity_ThenByName()
    {
        var choice = PeerPlacement.Choose([Pool("a", 0.05m), Pool("b", 0.03m, vcpus: 8), Pool("c", 0.03m, vcpus: 16), Pool("d", null)], Machine, new(true), "EUR");
        choice.Chosen!.Pool.ShouldBe("c");
        choice.Refusals.ShouldBeEmpty();
        PeerPlacement.Choose([Pool("d", null), Pool("a", 0.05m)], Machine, new(true), "EUR").Chosen!.Pool.ShouldBe("a");
        PeerPlacement.Choose([Pool("b", 0.03m), Pool("a", 0.03m)], Machine, new(true), "EUR").Chosen!.Pool.ShouldBe("a");
    }

    [Fact]
    public void Choose_RefusesEachIneligiblePool_SayingWhy()
    {
        var choice = PeerPlacement.Choose(
        [
            Pool("off", 0.01m, available: false),
            Pool("usd", 0.01m, currency: "USD"),
            Pool("dear", 0.09m),
            Pool("abroad", 0.01m, jurisdictions: ["DE", "US"]),
            Pool("full", 0.01m, vcpus: 1),
            Pool("unpriced", null),
            Pool("other", 0.01m) with { Peer = "cloud-x" },
        ], Machine with { Jurisdictions = ["DE"] }, new BurstPolicy(true, ["cloud-off", "cloud-usd", "cloud-dear", "cloud-abroad", "cloud-full", "cloud-unpriced"], 0.05m), "EUR");

        choice.Chosen.ShouldBeNull();
        choice.Refusals.ShouldBe(
        [
            "pool 'off' of peer 'cloud-off': unavailable (offline)",
            "pool 'usd' of peer 'cloud-usd': it prices in USD, the offering in EUR",
            "pool 'dear' of peer 'cloud-dear': its price 0.09 EUR per vCPU-hour is above the ceiling 0.05",
            "pool 'abroad' of peer 'cloud-abroad': it may run machines in US, outside the allowed jurisdictions DE",
            "pool 'full' of peer 'cloud-full': room for 1 vCPU, 65536 MiB memory and 1000 GiB disk, not 2 vCPU, 4096 MiB and 50 GiB",
            "pool 'unpriced' of peer 'cloud-unpriced': it has no per-vCPU-hour price, and bursting has a ceiling of 0.05 EUR",
            "pool 'other' of peer 'cloud-x': not a peer the bursting policy allows",
        ]);
    }

    [Fact]
    public void Choose_CountsWhatTheRequestAlreadyPlacedInThePool()
    {
        var pool = Pool("a", 0.01m, vcpus: 4);
        PeerPlacement.Choose([pool with { HeldVcpus = 2 }], Machine, new(true), "EUR").Chosen.ShouldNotBeNull();
        PeerPlacement.Choose([pool with { HeldVcpus = 3 }], Machine, new(true), "EUR").Chosen.ShouldBeNull();
    }

    [Fact]
    public void Choose_NeverUsesAPoolWithoutAHostUp_OrOutsideTheRegions()
    {
        PeerPlacement.Choose([Pool("a", 0.01m) with { Host = null }], Machine, new(true), "EUR").Refusals.ShouldHaveSingleItem().ShouldContain("every host of the pool is down");
        PeerPlacement.Choose([Pool("a", 0.01m) with { Region = "eu" }], Machine with { Regions = ["us"] }, new(true), "EUR").Chosen.ShouldBeNull();
        PeerPlacement.Choose([Pool("a", 0.01m) with { Region = "eu" }], Machine with { Regions = ["eu"] }, new(true), "EUR").Chosen.ShouldNotBeNull();
    }

    [Fact]
    public void Effective_NeedsBothOn_IntersectsPeers_AndTakesTheLowerCeiling()
    {
        BurstPolicies.Effective(null, new(true)).Enabled.ShouldBeFalse();
        BurstPolicies.Effective(new(true), new(false)).Enabled.ShouldBeFalse();
        BurstPolicies.Effective(new(false), new(true)).Enabled.ShouldBeFalse();
        var both = BurstPolicies.Effective(new(true, ["a", "B", "c"], 0.05m), new(true, ["b", "c", "d"], 0.04m));
        (both.Enabled, both.MaxPricePerCpuHour).ShouldBe((true, 0.04m));
        both.Peers.ShouldBe(["B", "c"]);
        var open = BurstPolicies.Effective(new(true, null, null), new(true, ["x"], 0.07m));
        (open.Peers!.Single(), open.MaxPricePerCpuHour).ShouldBe(("x", 0.07m));
        BurstPolicies.Effective(new(true, ["y"], 0.02m), new(true)).Peers!.Single().ShouldBe("y");
    }

    [Fact]
    public void Placer_NeverChoosesABurstOnlyHost_ButReservesAndReleasesIt()
    {
        var placer = new Placer([new FabricHost("local", "r", "DE", 1, 1024, 10), new FabricHost("peer", "r", "DE", 64, 65_536, 1000)], new PlacementOptions { CpuOvercommit = 1 }, ["peer"]);
        placer.Place(Machine).Error!.Code.ShouldBe("insufficient-capacity");
        var held = new Core.Placement.Placement("peer", 2, 4096, 50, null);
        placer.Reserve(held);
        placer.Free("peer").ShouldBe((62_000L, 61_440L, 950L));
        placer.Release(held);
        placer.Free("peer").ShouldBe((64_000L, 65_536L, 1000L));
    }
}

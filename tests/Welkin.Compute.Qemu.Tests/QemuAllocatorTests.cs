using Welkin.Core.Compute;

namespace Welkin.Compute.Qemu.Tests;

/// <summary>Subnets, ports, displays and segments as the allocator hands them out, with no QEMU, socket or file involved.</summary>
public sealed class QemuAllocatorTests
{
    private static QemuAllocator Allocator(int portFirst = 20_000, int portLast = 20_009, Func<int, bool>? isPortFree = null) =>
        new(portFirst, portLast, 100, 102, isPortFree ?? (_ => true));

    private static QemuMachineRecord Record(
        string id, int subnet = 0, IReadOnlyDictionary<string, int>? ports = null, int? display = null, params QemuNic[] nics) =>
        new()
        {
            Spec = new MachineSpec(id, "acc_1", "qemu-a", 1, 256, 1, null, null, new Dictionary<string, string>(), new Dictionary<string, string>(), null, [], []),
            Host = "qemu-a",
            Subnet = subnet,
            Ports = new Dictionary<string, int>(ports ?? new Dictionary<string, int>(), StringComparer.Ordinal),
            VncDisplay = display,
            Nics = [.. nics],
        };

    private static QemuNic Nic(string networkId, string group, int port) =>
        new(new NetworkAttachment(networkId, "192.168.1.10", "52:54:00:00:00:01", "192.168.1.0/24"), group, port, null);

    /// <summary>A machine id whose search for a subnet starts at <paramref name="subnet"/>.</summary>
    private static string IdStartingAt(int subnet)
    {
        for (var i = 0; ; i++)
        {
            var id = "mch_" + i;
            if (1 + (QemuAllocator.Hash(id) % QemuAllocator.Subnets) == subnet)
            {
                return id;
            }
        }
    }

    [Fact]
    public void Subnet_OfAMachine_ComesFromItsId_AndIsTheSameEachTime()
    {
        var allocator = Allocator();

        var first = allocator.Subnet("mch_stable", []);
        var again = allocator.Subnet("mch_stable", [Record("mch_other", subnet: first == 1 ? 3 : 1)]);

        first.ShouldNotBeNull();
        again.ShouldBe(first);
        allocator.Subnet("mch_another", []).ShouldNotBe(first);
    }

    [Fact]
    public void Subnet_TakenByAnotherMachine_GoesToTheNextFreeOne()
    {
        var id = IdStartingAt(100);
        var allocator = Allocator();

        var alone = allocator.Subnet(id, []);
        var next = allocator.Subnet(id, [Record("mch_b", subnet: 100)]);

        alone.ShouldBe(100);
        next.ShouldBe(101);
    }

    [Fact]
    public void Subnet_NeverIsQemusDefault10_0_2()
    {
        var id = IdStartingAt(QemuAllocator.QemuDefaultSubnet);

        Allocator().Subnet(id, []).ShouldBe(QemuAllocator.QemuDefaultSubnet + 1);
    }

    [Fact]
    public void Subnet_WhenEveryOneIsTaken_IsNull_EvenThough10_0_2IsFree()
    {
        var inUse = Enumerable.Range(1, QemuAllocator.Subnets).Where(n => n != QemuAllocator.QemuDefaultSubnet).Select(n => Record("mch_" + n, subnet: n)).ToList();

        Allocator().Subnet("mch_new", inUse).ShouldBeNull();
    }

    [Fact]
    public void Port_ForAKey_IsStable_AndSkipsPortsHeldByMachinesOrBusyOnTheHost()
    {
        var busy = new HashSet<int>();
        var allocator = Allocator(isPortFree: p => !busy.Contains(p));
        var natural = allocator.Port("mch_a/ssh", [], [])!.Value;
        allocator.Port("mch_a/ssh", [], []).ShouldBe(natural);
        natural.ShouldBeInRange(20_000, 20_009);

        var held = allocator.Port("mch_a/ssh", [Record("mch_b", ports: new Dictionary<string, int> { ["ssh"] = natural })], []);
        busy.Add(natural);
        var busyOnHost = allocator.Port("mch_a/ssh", [], []);
        var alsoTaken = Allocator().Port("mch_a/ssh", [], [natural]);

        var following = natural == 20_009 ? 20_000 : natural + 1;
        held.ShouldBe(following);
        busyOnHost.ShouldBe(following);
        alsoTaken.ShouldBe(following);
    }

    [Fact]
    public void Port_WhenTheRangeIsExhausted_IsNull()
    {
        var held = Record("mch_b", ports: new Dictionary<string, int> { ["ssh"] = 20_000, ["http"] = 20_001 });
        var allocator = Allocator(portFirst: 20_000, portLast: 20_002, isPortFree: p => p != 20_002);

        allocator.Port("mch_a/ssh", [held], []).ShouldBeNull();
    }

    [Fact]
    public void Display_IsTheLowestFree_AndNullWhenNoneIs()
    {
        var allocator = Allocator(isPortFree: p => p != QemuAllocator.VncBasePort + 101);

        allocator.Display([]).ShouldBe(100);
        allocator.Display([Record("mch_b", display: 100)]).ShouldBe(102);
        allocator.Display([Record("mch_b", display: 100), Record("mch_c", display: 102)]).ShouldBeNull();
    }

    [Fact]
    public void Segment_OfANetworkInUse_IsTheOneItsNicsAlreadyHave()
    {
        var inUse = new[] { Record("mch_b", nics: Nic("net_blue", "239.192.1.2", 41_000)) };

        QemuAllocator.Segment("net_blue", inUse).ShouldBe(("239.192.1.2", 41_000));
    }

    [Fact]
    public void Segment_OfANewNetwork_ComesFromItsId_AndStepsAsideFromAnotherNetworksSegment()
    {
        var natural = QemuAllocator.Segment("net_red", []);
        QemuAllocator.Segment("net_red", []).ShouldBe(natural);

        var beside = QemuAllocator.Segment("net_red", [Record("mch_b", nics: Nic("net_green", natural.Group, natural.Port))]);

        beside.ShouldNotBe(natural);
        foreach (var (group, port) in new[] { natural, beside })
        {
            var octets = group.Split('.').Select(int.Parse).ToArray();
            octets[0].ShouldBe(239);
            octets[1].ShouldBeInRange(192, 195);
            port.ShouldBeInRange(40_000, 59_999);
        }
    }
}

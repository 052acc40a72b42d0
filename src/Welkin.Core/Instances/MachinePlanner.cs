using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Data;
using Welkin.Core.Federation;
using Welkin.Core.Placement;

namespace Welkin.Core.Instances;

/// <summary>Whose new machines are planned: the instance, its account, contract line, offering and resolved spec.</summary>
internal sealed record MachineOwner(string InstanceId, string AccountId, string ContractId, long Item, string OfferingId, InstanceSpec Spec);

/// <summary>
/// Plans the new machines of an instance, for a provision and for a scale: places each on a host of
/// a local pool (<see cref="Placer"/>, within the instance's jurisdictions and regions, apart from its
/// siblings under anti-affinity) and, only when no local host can take it and the offering and the
/// cloud allow bursting, in a peer's pool (<see cref="PeerPlacement"/>); then describes its row,
/// recording its pool and, in a peer's pool, the peer. Placements are held
/// (<see cref="PlacementHold"/>) until the transaction that records the machines commits.
/// </summary>
public sealed class MachinePlanner(Placer placer, ComputeFabric fabric, TimeProvider clock)
{
    private readonly IReadOnlyList<HostPool> _peerPools = fabric.Pools.Where(p => p.Driver is IPeerPool).ToList();

    /// <summary>Placements of one request; given back on dispose unless <see cref="PlacementHold.Keep"/> was called.</summary>
    public PlacementHold Hold() => new(placer);

    /// <summary>
    /// Places <paramref name="count"/> machines of one virtual system, numbered from
    /// <paramref name="firstNumber"/> after <paramref name="namePrefix"/>; insufficient-capacity when one finds no host.
    /// With <paramref name="hosts"/> only those hosts are considered, and nothing bursts to a peer.
    /// </summary>
    internal async Task<Result<List<MachineRow>>> PlaceAsync(
        Tx tx, PlacementHold held, MachineOwner owner, VirtualSystemChoice choice, string namePrefix, int firstNumber, int count, long now,
        IReadOnlySet<string>? hosts = null)
    {
        var spec = owner.Spec;
        var group = spec.AntiAffinity ? $"{owner.InstanceId}/{choice.VirtualSystem}" : null;
        var machines = new List<MachineRow>(count);
        Burst? burst = null;
        for (var i = 0; i < count; i++)
        {
            // The host's storage holds the machine's data disks beside its system disk.
            var disk = choice.DiskGiB!.Value + DataDisksOf(owner, choice).Sum(d => d.SizeGiB);
            var request = new PlacementRequest(choice.Vcpus!.Value, choice.MemoryMiB!.Value, disk, spec.Jurisdictions, spec.Regions, group, hosts);
            var placed = held.Place(request);
            string? peer = null;
            if (!placed.IsSuccess && placed.Error!.Code == "insufficient-capacity" && _peerPools.Count > 0 && hosts is null && disk > choice.DiskGiB!.Value)
            {
                // A peer pool cannot make data disks (its drivers answer unsupported): such a machine stays in this cloud.
                placed = placed.Error! with { Detail = $"{placed.Error!.Detail} Its machines have data disks, which a peer cloud's pool cannot make." };
            }
            else if (!placed.IsSuccess && placed.Error!.Code == "insufficient-capacity" && _peerPools.Count > 0 && hosts is null)
            {
                burst ??= await BurstOfAsync(tx, owner.OfferingId);
                (placed, peer) = PlaceOnPeer(held, request, burst, placed.Error!);
            }
            if (!placed.IsSuccess)
            {
                return placed.Error!;
            }
            var pool = fabric.PoolOfHost(placed.Value.Host)?.Name;
            machines.Add(NewMachine(owner, choice, $"{namePrefix}{firstNumber + i}", group, placed.Value.Host, pool, peer, now));
        }
        return machines;
    }

    /// <summary>The effective bursting policy of an offering in this cloud, and the currency its plan charges in.</summary>
    private sealed record Burst(BurstPolicy Policy, string Currency, string? Off);

    private static async Task<Burst> BurstOfAsync(Tx tx, string offeringId)
    {
        var offering = await Catalog.OfferingService.FindAsync(tx, offeringId);
        var cloud = await BurstPolicies.GetAsync(tx);
        var policy = BurstPolicies.Effective(offering?.Spec.Burst, cloud.AsPolicy());
        var off = offering?.Spec.Burst is not { Enabled: true } ? "the offering does not allow it"
            : !cloud.Enabled ? "this cloud's policy does not allow it"
            : null;
        return new Burst(policy, offering?.Spec.PricePlan.Currency ?? "", off);
    }

    private (Result<Core.Placement.Placement> Placed, string? Peer) PlaceOnPeer(PlacementHold held, PlacementRequest request, Burst burst, Error local)
    {
        if (burst.Off is { } off)
        {
            return (local with { Detail = $"{local.Detail} Bursting to a peer cloud is off: {off}." }, null);
        }
        var candidates = _peerPools.Select(p =>
        {
            var (vcpus, memory, disk) = held.HeldOn(p.Hosts);
            var host = p.Hosts.FirstOrDefault(h => !placer.IsDown(h.Name))?.Name;
            return new PeerCandidate(p.Name, ((IPeerPool)p.Driver).Peer, ((IPeerPool)p.Driver).Status, p.Labels.GetValueOrDefault(HostPool.LabelRegion),
                host, vcpus, memory, disk);
        });
        var choice = PeerPlacement.Choose(candidates, request, burst.Policy, burst.Currency);
        if (choice.Chosen is not { Host: { } chosenHost } chosen)
        {
            return (local with { Detail = $"{local.Detail} No peer pool could take it either: {string.Join("; ", choice.Refusals)}." }, null);
        }
        return (held.Reserve(new Core.Placement.Placement(chosenHost, request.Vcpus, request.MemoryMiB, request.DiskGiB, request.AntiAffinityGroup)), chosen.Peer);
    }

    private static IReadOnlyList<DataDisk> DataDisksOf(MachineOwner owner, VirtualSystemChoice c) =>
        owner.Spec.DataDisks?.GetValueOrDefault(c.VirtualSystem) ?? [];

    private MachineRow NewMachine(MachineOwner owner, VirtualSystemChoice c, string name, string? group, string host, string? pool, string? peer, long now)
    {
        var software = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (c.HttpServer is not null)
        {
            software["httpServer"] = c.HttpServer;
        }
        if (c.DatabaseManager is not null)
        {
            software["databaseManager"] = c.DatabaseManager;
        }
        var dataDisks = DataDisksOf(owner, c);
        var config = new MachineConfig((int)owner.Item, c.OperatingSystem, software, c.Properties ?? new Dictionary<string, string>(), owner.Spec.SshPublicKey, group,
            dataDisks.Count == 0 ? null : dataDisks, owner.Spec.Secrets?.GetValueOrDefault(c.VirtualSystem));
        return new MachineRow(Ids.New(Ids.Machine, clock), owner.AccountId, owner.InstanceId, owner.ContractId, c.VirtualSystem, name, MachineStore.Provisioning,
            host, c.Vcpus!.Value, c.MemoryMiB!.Value, c.DiskGiB!.Value, owner.Spec.Images.GetValueOrDefault(c.VirtualSystem), MachineStore.Serialize(config),
            null, null, 1, now, now, now, null, pool, peer);
    }
}

/// <summary>
/// Capacity taken for a request that is not committed yet. A database work may run more than once
/// (a batch retried), so it starts with <see cref="ReleaseAll"/>; after the commit the request calls
/// <see cref="Keep"/>, and otherwise disposing gives everything back.
/// </summary>
public sealed class PlacementHold(Placer placer) : IDisposable
{
    private readonly List<Core.Placement.Placement> _held = [];
    private bool _kept;

    public Result<Core.Placement.Placement> Place(PlacementRequest request)
    {
        var placed = placer.Place(request);
        if (placed.IsSuccess)
        {
            _held.Add(placed.Value);
        }
        return placed;
    }

    /// <summary>Takes capacity chosen elsewhere (a peer pool's host) and holds it like a placement.</summary>
    public Result<Core.Placement.Placement> Reserve(Core.Placement.Placement placement)
    {
        placer.Reserve(placement);
        _held.Add(placement);
        return placement;
    }

    /// <summary>What this request holds on <paramref name="hosts"/> so far.</summary>
    public (int Vcpus, long MemoryMiB, long DiskGiB) HeldOn(IReadOnlyList<FabricHost> hosts)
    {
        var (vcpus, memory, disk) = (0, 0L, 0L);
        foreach (var p in _held.Where(p => hosts.Any(h => h.Name == p.Host)))
        {
            (vcpus, memory, disk) = (vcpus + p.Vcpus, memory + p.MemoryMiB, disk + p.DiskGiB);
        }
        return (vcpus, memory, disk);
    }

    public void ReleaseAll()
    {
        foreach (var p in _held)
        {
            placer.Release(p);
        }
        _held.Clear();
    }

    /// <summary>The request committed: its machines hold the capacity now.</summary>
    public void Keep() => _kept = true;

    public void Dispose()
    {
        if (!_kept)
        {
            ReleaseAll();
        }
    }
}

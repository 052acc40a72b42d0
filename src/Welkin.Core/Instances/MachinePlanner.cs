using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Placement;

namespace Welkin.Core.Instances;

/// <summary>Whose new machines are planned: the instance, its account, contract line and resolved spec.</summary>
internal sealed record MachineOwner(string InstanceId, string AccountId, string ContractId, long Item, InstanceSpec Spec);

/// <summary>
/// Plans the new machines of an instance, for a provision and for a scale: places each on a host of
/// any pool (<see cref="Placer"/>, within the instance's jurisdictions and regions, apart from its
/// siblings under anti-affinity) and describes its row, recording the pool of its host. Placements
/// are held (<see cref="PlacementHold"/>) until the transaction that records the machines commits.
/// </summary>
public sealed class MachinePlanner(Placer placer, ComputeFabric fabric, TimeProvider clock)
{
    /// <summary>Placements of one request; given back on dispose unless <see cref="PlacementHold.Keep"/> was called.</summary>
    public PlacementHold Hold() => new(placer);

    /// <summary>
    /// Places <paramref name="count"/> machines of one virtual system, numbered from
    /// <paramref name="firstNumber"/> after <paramref name="namePrefix"/>; insufficient-capacity when one finds no host.
    /// </summary>
    internal Result<List<MachineRow>> Place(PlacementHold held, MachineOwner owner, VirtualSystemChoice choice, string namePrefix, int firstNumber, int count, long now)
    {
        var spec = owner.Spec;
        var group = spec.AntiAffinity ? $"{owner.InstanceId}/{choice.VirtualSystem}" : null;
        var machines = new List<MachineRow>(count);
        for (var i = 0; i < count; i++)
        {
            var placed = held.Place(new PlacementRequest(choice.Vcpus!.Value, choice.MemoryMiB!.Value, choice.DiskGiB!.Value, spec.Jurisdictions, spec.Regions, group));
            if (!placed.IsSuccess)
            {
                return placed.Error!;
            }
            var pool = fabric.PoolOfHost(placed.Value.Host)?.Name;
            machines.Add(NewMachine(owner, choice, $"{namePrefix}{firstNumber + i}", group, placed.Value.Host, pool, now));
        }
        return machines;
    }

    private MachineRow NewMachine(MachineOwner owner, VirtualSystemChoice c, string name, string? group, string host, string? pool, long now)
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
        var config = new MachineConfig((int)owner.Item, c.OperatingSystem, software, c.Properties ?? new Dictionary<string, string>(), owner.Spec.SshPublicKey, group);
        return new MachineRow(Ids.New(Ids.Machine, clock), owner.AccountId, owner.InstanceId, owner.ContractId, c.VirtualSystem, name, MachineStore.Provisioning,
            host, c.Vcpus!.Value, c.MemoryMiB!.Value, c.DiskGiB!.Value, owner.Spec.Images.GetValueOrDefault(c.VirtualSystem), MachineStore.Serialize(config),
            null, null, 1, now, now, now, null, pool);
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

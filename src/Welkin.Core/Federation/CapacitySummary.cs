using Welkin.Contracts;
using Welkin.Core.Compute;
using Welkin.Core.Data;
using Welkin.Core.Placement;

namespace Welkin.Core.Federation;

/// <summary>
/// The capacity a cloud publishes to its peers: per jurisdiction and region, the vCPUs, memory and
/// storage still free on the hosts that are up (after overcommit, as placement counts them), and the
/// number of published offerings. Hosts of peer pools are left out: that capacity is the peers' to
/// announce, and a cloud that bursts or brokers there must not announce it again as its own.
/// </summary>
public sealed class CapacitySummary(ComputeFabric fabric, Placer placer, IDatabase db)
{
    public async Task<CloudCapacity> ComputeAsync(CancellationToken ct)
    {
        var regions = fabric.Hosts
            .Where(h => !placer.IsDown(h.Name) && fabric.PoolOfHost(h.Name)?.Driver is not IPeerPool)
            .GroupBy(h => (h.Jurisdiction, h.Region))
            .OrderBy(g => g.Key.Jurisdiction, StringComparer.Ordinal).ThenBy(g => g.Key.Region, StringComparer.Ordinal)
            .Select(g =>
            {
                var free = g.Select(h => placer.Free(h.Name)).ToList();
                return new RegionCapacity(g.Key.Jurisdiction, g.Key.Region, free.Sum(f => f.CpuMilli) / 1000, free.Sum(f => f.MemoryMiB), free.Sum(f => f.DiskGiB));
            })
            .ToList();
        var offerings = await Catalog.OfferingService.PublishedCountAsync(db, ct);
        return new CloudCapacity(regions, (int)offerings);
    }

    /// <summary>Whether two summaries say the same (records compare their lists by reference).</summary>
    public static bool Same(CloudCapacity a, CloudCapacity b) => a.Offerings == b.Offerings && a.Regions.SequenceEqual(b.Regions);
}

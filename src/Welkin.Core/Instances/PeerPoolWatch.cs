using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Data;
using Welkin.Core.Events;
using Welkin.Core.Security;

namespace Welkin.Core.Instances;

/// <summary>
/// Tells the consumers whose machines run in a peer's pool when that pool stops being available
/// (trust revoked, agreement ended, peer offline): a <see cref="Unavailable"/> event on each such
/// machine, in its account's events feed, and a <see cref="Available"/> event when the pool is back.
/// Placement already refuses an unavailable pool (<see cref="Placement.PeerPlacement"/>); this only
/// reports. Every <see cref="Interval"/> it tells each machine of an unavailable pool not yet told,
/// so a machine placed between two looks (a pool available for less than one interval) is told too,
/// and once back, the machines it told.
/// </summary>
public sealed class PeerPoolWatch(ComputeFabric fabric, IDatabase db, EventLog events) : IPeriodicWork
{
    public const string Unavailable = "machine.peer-unavailable";
    public const string Available = "machine.peer-available";

    private readonly Lock _lock = new();

    // Per pool, the machines told of its current spell of unavailability.
    private readonly Dictionary<string, HashSet<string>> _told = new(StringComparer.Ordinal);

    public string Name => "peer-pool-watch";

    /// <summary>Every ten seconds; hourly on a cloud without peer pools, where there is nothing to watch (a simulated month then takes fewer steps).</summary>
    public TimeSpan Interval => fabric.Pools.Any(p => p.Driver is IPeerPool) ? TimeSpan.FromSeconds(10) : TimeSpan.FromHours(1);

    public async Task RunAsync(DateTimeOffset now, CancellationToken ct) => await CheckAsync(ct);

    /// <summary>Tells the machines of each unavailable peer pool not yet told, and those told of a pool now back; returns the events appended.</summary>
    public async Task<int> CheckAsync(CancellationToken ct)
    {
        var appended = 0;
        foreach (var pool in fabric.Pools)
        {
            if (pool.Driver is IPeerPool peer)
            {
                appended += await CheckAsync(pool.Name, peer, ct);
            }
        }
        return appended;
    }

    private async Task<int> CheckAsync(string pool, IPeerPool peer, CancellationToken ct)
    {
        var status = peer.Status;
        HashSet<string> told;
        lock (_lock)
        {
            told = _told.GetValueOrDefault(pool) is { } known ? [.. known] : [];
        }
        if (status.Available && told.Count == 0)
        {
            return 0;
        }
        var result = await db.WriteAsync<List<string>>(async tx =>
        {
            var data = new Dictionary<string, string> { ["pool"] = pool, ["peer"] = peer.Peer };
            List<(string Id, string AccountId)> machines;
            if (status.Available)
            {
                machines = (await MachineStore.HoldingInPoolAsync(tx, pool)).Where(m => told.Contains(m.Id)).ToList();
            }
            else
            {
                data["reason"] = status.Reason ?? "no reason given";
                machines = (await MachineStore.HoldingInPoolAsync(tx, pool)).Where(m => !told.Contains(m.Id)).ToList();
            }
            var type = status.Available ? Available : Unavailable;
            await events.AppendAsync(tx, Caller.System(Name), machines.Select(m => new LifecycleEvent(type, m.Id, m.AccountId, data)).ToList());
            return machines.Select(m => m.Id).ToList();
        }, ct);
        if (!result.IsSuccess)
        {
            return 0;
        }
        lock (_lock)
        {
            if (status.Available)
            {
                _told.Remove(pool);
            }
            else
            {
                _told[pool] = [.. told, .. result.Value!];
            }
        }
        return result.Value!.Count;
    }
}

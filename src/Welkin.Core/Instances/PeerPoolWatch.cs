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
/// reports. It watches the pools' status every <see cref="Interval"/> and tells each change it sees once.
/// </summary>
public sealed class PeerPoolWatch(ComputeFabric fabric, IDatabase db, EventLog events) : IPeriodicWork
{
    public const string Unavailable = "machine.peer-unavailable";
    public const string Available = "machine.peer-available";

    private readonly Lock _lock = new();
    private readonly Dictionary<string, bool> _available = new(StringComparer.Ordinal);

    public string Name => "peer-pool-watch";

    public TimeSpan Interval => TimeSpan.FromSeconds(10);

    public async Task RunAsync(DateTimeOffset now, CancellationToken ct) => await CheckAsync(ct);

    /// <summary>Compares each peer pool's status with the last one seen and tells the machines of each pool that changed; returns the events appended.</summary>
    public async Task<int> CheckAsync(CancellationToken ct)
    {
        var told = 0;
        foreach (var pool in fabric.Pools)
        {
            if (pool.Driver is not IPeerPool peer)
            {
                continue;
            }
            var status = peer.Status;
            bool changed;
            lock (_lock)
            {
                // A pool is taken as available until seen otherwise, so one found unavailable at start is told.
                changed = _available.GetValueOrDefault(pool.Name, true) != status.Available;
                _available[pool.Name] = status.Available;
            }
            if (changed)
            {
                told += await TellAsync(pool.Name, peer.Peer, status, ct);
            }
        }
        return told;
    }

    private async Task<int> TellAsync(string pool, string peer, PeerPoolStatus status, CancellationToken ct)
    {
        var result = await db.WriteAsync<int>(async tx =>
        {
            var machines = await MachineStore.HoldingInPoolAsync(tx, pool);
            var data = new Dictionary<string, string> { ["pool"] = pool, ["peer"] = peer };
            if (!status.Available)
            {
                data["reason"] = status.Reason ?? "no reason given";
            }
            var type = status.Available ? Available : Unavailable;
            await events.AppendAsync(tx, Caller.System(Name), machines.Select(m => new LifecycleEvent(type, m.Id, m.AccountId, data)).ToList());
            return machines.Count;
        }, ct);
        return result.IsSuccess ? result.Value : 0;
    }
}

using Welkin.Contracts;
using Welkin.Core.Compute;

namespace Welkin.Compute.Simulated;

/// <summary>
/// The load the simulation puts on machines: a machine's own, or its share of its instance's
/// demand, spread evenly over the instance's running machines. Guarded by the driver's lock.
/// </summary>
internal sealed class SimulatedLoads(MachineTable<SimulatedMachine> machines)
{
    private readonly Dictionary<string, LoadProfile> _instanceLoads = new(StringComparer.Ordinal);

    /// <summary>Sets a machine's own load (by machine id) or an instance's demand (by instance id); how many machines it changed.</summary>
    public int Set(string id, LoadProfile load, DateTimeOffset now)
    {
        if (machines.Find(id) is { } machine)
        {
            machine.Count(now);
            machine.Load = load;
            machine.Pinned = true;
            Rebalance(machine.Spec.InstanceId, now);
            return 1;
        }
        _instanceLoads[id] = load;
        var changed = 0;
        foreach (var m in machines.Machines.Where(m => m.Spec.InstanceId == id))
        {
            m.Pinned = false;
            changed++;
        }
        Rebalance(id, now);
        return changed;
    }

    /// <summary>Gives every unpinned machine of the instance its share of the instance's demand.</summary>
    public void Rebalance(string? instanceId, DateTimeOffset now)
    {
        if (Share(instanceId) is not { } share)
        {
            return;
        }
        foreach (var m in machines.Machines.Where(m => m.Spec.InstanceId == instanceId && !m.Pinned))
        {
            // Count what each machine did at its old share up to now before it takes the new one.
            m.Count(now);
            m.Load = share;
        }
    }

    /// <summary>What each unpinned running machine of the instance takes of its demand; null when the instance has none set.</summary>
    public LoadProfile? Share(string? instanceId)
    {
        if (instanceId is null || !_instanceLoads.TryGetValue(instanceId, out var total))
        {
            return null;
        }
        var running = Math.Max(1, machines.Machines.Count(m => m.Spec.InstanceId == instanceId && !m.Pinned && m.State == DriverMachineState.Running));
        return new LoadProfile(Math.Min(100, total.CpuUtilizationPercent / running), total.MemoryUsedFraction, total.PageFaultsPerSecond / running,
            total.DiskReadBytesPerSecond / running, total.DiskWriteBytesPerSecond / running, total.NetworkRxBytesPerSecond / running, total.NetworkTxBytesPerSecond / running);
    }

    public static LoadProfile ToProfile(LoadSettings l) =>
        new(l.CpuUtilizationPercent, l.MemoryUsedFraction, l.PageFaultsPerSecond, l.DiskReadBytesPerSecond, l.DiskWriteBytesPerSecond,
            l.NetworkRxBytesPerSecond, l.NetworkTxBytesPerSecond);
}

using Welkin.Contracts;

namespace Welkin.Core.Compute;

/// <summary>
/// A fabric whose guests' load can be set from outside (the simulated one), so an operator or a
/// test can make measurements, SLA evaluation and scaling policies see the load they need.
/// A driver of real machines does not implement it.
/// </summary>
public interface ILoadSimulation
{
    /// <summary>Sets one machine's load; false when the fabric has no such machine.</summary>
    bool SetMachineLoad(string machineId, LoadSettings load);

    /// <summary>
    /// Sets an instance's total demand, spread evenly over its running machines (including
    /// machines created or started later); returns how many machines the fabric has of it now.
    /// </summary>
    int SetInstanceLoad(string instanceId, LoadSettings load);
}

namespace Welkin.Core.Compute;

/// <summary>A hypervisor host of the cloud's compute fabric.</summary>
/// <param name="Pool">The host pool it belongs to; set by <see cref="HostPool"/>, null in a driver's own list.</param>
public sealed record FabricHost(string Name, string Region, string Jurisdiction, int Cores, long MemoryMiB, long DiskGiB, string? Pool = null);

/// <summary>
/// The hosts one driver serves (the hosts of one <see cref="HostPool"/>). Every
/// <see cref="IComputeDriver"/> is one; see there how a driver is added and a pool registered.
/// </summary>
public interface IComputeFabric
{
    /// <summary>"simulated", "qemu", ...</summary>
    string Kind { get; }

    IReadOnlyList<FabricHost> Hosts { get; }
}

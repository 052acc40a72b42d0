namespace Welkin.Core.Compute;

/// <summary>A hypervisor host of the cloud's compute fabric.</summary>
public sealed record FabricHost(string Name, string Region, string Jurisdiction, int Cores, long MemoryMiB, long DiskGiB);

/// <summary>
/// The compute fabric: the hosts machines are placed on. To add a kind of fabric, implement this
/// in a project of its own (as Welkin.Compute.Simulated does) and select it with the Fabric option.
/// </summary>
public interface IComputeFabric
{
    /// <summary>"simulated", "qemu", ...</summary>
    string Kind { get; }

    IReadOnlyList<FabricHost> Hosts { get; }
}

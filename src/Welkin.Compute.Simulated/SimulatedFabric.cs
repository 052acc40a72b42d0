using Welkin.Core.Compute;

namespace Welkin.Compute.Simulated;

public sealed class SimulatedFabricOptions
{
    /// <summary>The hosts; when empty, a default fabric of four hosts in two jurisdictions.</summary>
    public List<FabricHost> Hosts { get; set; } = [];

    public static IReadOnlyList<FabricHost> DefaultHosts { get; } =
    [
        new("sim-us-east-1", "us-east", "US", 32, 131_072, 4_000),
        new("sim-us-east-2", "us-east", "US", 32, 131_072, 4_000),
        new("sim-eu-central-1", "eu-central", "DE", 32, 131_072, 4_000),
        new("sim-eu-central-2", "eu-central", "DE", 16, 65_536, 2_000),
    ];
}

/// <summary>A simulated hypervisor fabric: hosts with cores, memory, disk and a region/jurisdiction label.</summary>
public sealed class SimulatedFabric(SimulatedFabricOptions options) : IComputeFabric
{
    public string Kind => "simulated";

    public IReadOnlyList<FabricHost> Hosts { get; } = options.Hosts.Count > 0 ? options.Hosts : SimulatedFabricOptions.DefaultHosts;
}

using Welkin.Compute.Peer;
using Welkin.Compute.Qemu;
using Welkin.Compute.Simulated;
using Welkin.Core.Compute;
using Welkin.Core.Data;

namespace Welkin.Server.Infrastructure;

/// <summary>One host pool as the configuration declares it: its name, driver, labels and the section of its driver's settings.</summary>
/// <param name="Root">Where the pool keeps its files when its settings name no place of their own.</param>
public sealed record PoolDeclaration(string Name, string Driver, IReadOnlyDictionary<string, string> Labels, IConfigurationSection Settings, string Root);

/// <summary>
/// The cloud's compute fabric from configuration. Either named pools,
/// <c>Fabric:Pools:&lt;name&gt;:Driver=&lt;driver&gt;</c> with the driver's settings and
/// <c>Labels</c> beside it, or (without <c>Fabric:Pools</c>) one pool of the <c>Welkin:Fabric</c>
/// driver named after it, with its settings in <c>Fabric</c>: <c>--fabric qemu</c> is one QEMU pool
/// called "qemu". The <see cref="ComputeFabric"/> it registers owns the drivers.
/// </summary>
public static class FabricSetup
{
    /// <summary>
    /// The drivers this build offers, by the name a pool's <c>Driver</c> setting gives. To add a
    /// driver, add its factory here; see <see cref="IComputeDriver"/>.
    /// </summary>
    private static readonly Dictionary<string, Func<PoolDeclaration, IServiceProvider, IComputeDriver>> Drivers = new(StringComparer.Ordinal)
    {
        ["simulated"] = (pool, sp) => new SimulatedDriver(pool.Settings.Get<SimulatedFabricOptions>() ?? new SimulatedFabricOptions(), sp.GetRequiredService<TimeProvider>()),
        ["qemu"] = (pool, sp) =>
        {
            var options = pool.Settings.Get<QemuFabricOptions>() ?? new QemuFabricOptions();
            if (string.IsNullOrWhiteSpace(options.Root))
            {
                options.Root = pool.Root;
            }
            return new QemuDriver(options, sp.GetRequiredService<TimeProvider>(), sp.GetService<IImageResolver>(), sp.GetRequiredService<ILogger<QemuDriver>>());
        },
        ["peer"] = (pool, sp) =>
        {
            var clock = sp.GetRequiredService<TimeProvider>();
            return new PeerDriver(pool.Name, pool.Settings.Get<PeerPoolOptions>() ?? new PeerPoolOptions(), sp.GetRequiredService<IPeerLinks>(),
                new PeerMachineStore(sp.GetRequiredService<IDatabase>(), clock), clock);
        },
    };

    public static IReadOnlyCollection<string> DriverNames => Drivers.Keys;

    /// <summary>Registers the <see cref="ComputeFabric"/> of the declared pools; a declaration that cannot work fails here, before anything starts.</summary>
    public static IServiceCollection AddComputeFabric(this IServiceCollection services, IConfiguration configuration, string dataDir)
    {
        var pools = Declare(configuration, dataDir);
        services.AddSingleton(sp => new ComputeFabric(pools.Select(p => new HostPool(p.Name, Drivers[p.Driver](p, sp), p.Labels))));
        return services;
    }

    /// <summary>The pools the configuration declares, checked: known drivers, valid names, no two pools in one directory.</summary>
    public static IReadOnlyList<PoolDeclaration> Declare(IConfiguration configuration, string dataDir)
    {
        var section = configuration.GetSection("Fabric:Pools");
        var single = configuration["Welkin:Fabric"];
        List<PoolDeclaration> pools;
        if (!section.GetChildren().Any())
        {
            var driver = single ?? "simulated";
            pools = [new PoolDeclaration(driver, driver, new Dictionary<string, string>(), configuration.GetSection("Fabric"), Path.Combine(dataDir, "qemu"))];
        }
        else
        {
            if (single is not null)
            {
                throw new InvalidOperationException(
                    $"The fabric is declared twice: Fabric:Pools names host pools, and Welkin:Fabric (--fabric, WELKIN_FABRIC) is '{single}'. Leave out one of them.");
            }
            pools = [.. section.GetChildren().Select(p => new PoolDeclaration(
                p.Key, p["Driver"] ?? "", p.GetSection("Labels").GetChildren().ToDictionary(l => l.Key, l => l.Value ?? "", StringComparer.Ordinal),
                p, Path.Combine(dataDir, "pools", p.Key)))];
        }
        foreach (var pool in pools)
        {
            if (pool.Driver == "peer" && string.IsNullOrWhiteSpace(pool.Settings["Peer"]))
            {
                throw new InvalidOperationException($"Host pool '{pool.Name}' of driver peer names no Peer (the peer cloud's federation name).");
            }
            if (!Core.Common.Names.IsValid(pool.Name))
            {
                throw new InvalidOperationException($"Host pool name '{pool.Name}' {Core.Common.Names.Rule}.");
            }
            if (!Drivers.ContainsKey(pool.Driver))
            {
                throw new InvalidOperationException(
                    $"Host pool '{pool.Name}' names driver '{pool.Driver}'; this build offers: {string.Join(", ", Drivers.Keys)}.");
            }
        }
        var roots = pools.Where(p => p.Driver == "qemu")
            .GroupBy(p => Path.TrimEndingDirectorySeparator(Path.GetFullPath(p.Settings["Root"] is { Length: > 0 } root ? root : p.Root)));
        if (roots.FirstOrDefault(g => g.Count() > 1) is { } shared)
        {
            throw new InvalidOperationException($"Host pools {string.Join(" and ", shared.Select(p => p.Name))} keep their machines in one directory ({shared.Key}); give each its own Root.");
        }
        return pools;
    }
}

using System.Globalization;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Compute.Simulated;
using Welkin.Core.Compute;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Instances;

/// <summary>A <see cref="WelkinApp"/> whose simulated fabric answers at once, on the hosts a test chooses (default: the four default hosts).</summary>
public class InstancesApp : WelkinApp
{
    private readonly IReadOnlyList<FabricHost>? _hosts;
    private readonly TimeSpan _create;

    public InstancesApp() : this(null)
    {
    }

    protected InstancesApp(IReadOnlyList<FabricHost>? hosts, TimeSpan? create = null)
    {
        _hosts = hosts;
        _create = create ?? TimeSpan.Zero;
    }

    /// <summary>The simulated driver of the cloud's one pool.</summary>
    public SimulatedDriver Driver => (SimulatedDriver)Services.GetRequiredService<ComputeFabric>().Pools.Single().Driver;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        foreach (var name in new[] { "Start", "Stop", "Pause", "Resume", "Reboot", "Resize", "Destroy", "Migrate", "Attach", "Detach" })
        {
            builder.UseSetting("Fabric:Timing:" + name, "00:00:00");
        }
        builder.UseSetting("Fabric:Timing:Create", _create.ToString("c", CultureInfo.InvariantCulture));
        for (var i = 0; i < (_hosts?.Count ?? 0); i++)
        {
            var h = _hosts![i];
            builder.UseSetting($"Fabric:Hosts:{i}:Name", h.Name);
            builder.UseSetting($"Fabric:Hosts:{i}:Region", h.Region);
            builder.UseSetting($"Fabric:Hosts:{i}:Jurisdiction", h.Jurisdiction);
            builder.UseSetting($"Fabric:Hosts:{i}:Cores", h.Cores.ToString(CultureInfo.InvariantCulture));
            builder.UseSetting($"Fabric:Hosts:{i}:MemoryMiB", h.MemoryMiB.ToString(CultureInfo.InvariantCulture));
            builder.UseSetting($"Fabric:Hosts:{i}:DiskGiB", h.DiskGiB.ToString(CultureInfo.InvariantCulture));
        }
    }
}

/// <summary>Three small hosts (two in the US, one in Germany), each with room for two machines of the test template (6 GiB each).</summary>
public sealed class SmallFabricApp() : InstancesApp(
[
    new FabricHost("us-1", "us-east", "US", 4, 16_384, 1_000),
    new FabricHost("us-2", "us-east", "US", 4, 16_384, 1_000),
    new FabricHost("de-1", "eu-central", "DE", 4, 16_384, 1_000),
]);

/// <summary>An app made inside one test (its own fabric), for tests that need a fabric no other test touches.</summary>
public sealed class CustomFabricApp(IReadOnlyList<FabricHost>? hosts, TimeSpan? create = null) : InstancesApp(hosts, create);

using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
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

    public SimulatedDriver Driver => Services.GetRequiredService<SimulatedDriver>();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(services =>
        {
            services.RemoveAll<SimulatedFabricOptions>();
            var timing = SimulatedTiming.Zero;
            timing.Create = _create;
            services.AddSingleton(new SimulatedFabricOptions { Hosts = _hosts?.ToList() ?? [], Timing = timing });
        });
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

using Microsoft.Extensions.DependencyInjection;
using Welkin.Compute.Simulated;
using Welkin.Core.Compute;
using Microsoft.Extensions.Configuration;
using Welkin.Server.Infrastructure;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Compute;

public sealed class SimulatedFabricSetupTests(SimulatedFabricSetupTests.TimedApp app) : IClassFixture<SimulatedFabricSetupTests.TimedApp>
{
    public sealed class TimedApp : WelkinApp
    {
        protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["Fabric:Timing:Create"] = "00:00:05",
            ["Fabric:Timing:Stop"] = "00:00:00",
            ["Fabric:Timing:Jitter"] = "0.1",
            ["Fabric:SshPortFirst"] = "30000",
        };
    }

    [Fact]
    public void WithoutPools_TheFabricIsOneSimulatedPoolOnTheDefaultHosts()
    {
        var pool = app.Services.GetRequiredService<ComputeFabric>().Pools.ShouldHaveSingleItem();

        pool.Name.ShouldBe("simulated");
        pool.Driver.ShouldBeOfType<SimulatedDriver>().Hosts.ShouldBe(SimulatedFabricOptions.DefaultHosts);
        pool.Hosts.Select(h => h with { Pool = null }).ShouldBe(SimulatedFabricOptions.DefaultHosts);
        pool.Hosts.ShouldAllBe(h => h.Pool == "simulated");
    }

    [Fact]
    public void FabricTiming_IsReadFromConfiguration()
    {
        var pool = FabricSetup.Declare(app.Services.GetRequiredService<IConfiguration>(), app.DataDir).ShouldHaveSingleItem();
        var options = pool.Settings.Get<SimulatedFabricOptions>()!;

        options.Timing.Create.ShouldBe(TimeSpan.FromSeconds(5));
        options.Timing.Stop.ShouldBe(TimeSpan.Zero);
        options.Timing.Start.ShouldBe(TimeSpan.FromSeconds(1));
        options.Timing.Jitter.ShouldBe(0.1);
        options.SshPortFirst.ShouldBe(30_000);
    }
}

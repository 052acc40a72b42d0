using Microsoft.Extensions.DependencyInjection;
using Welkin.Compute.Simulated;
using Welkin.Core.Compute;
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
    public void OneSimulatedDriver_ServesAsComputeDriverAndFabric()
    {
        var driver = app.Services.GetRequiredService<SimulatedDriver>();

        app.Services.GetRequiredService<IComputeDriver>().ShouldBeSameAs(driver);
        app.Services.GetRequiredService<IComputeFabric>().ShouldBeSameAs(driver);
        driver.Hosts.ShouldBe(SimulatedFabricOptions.DefaultHosts);
    }

    [Fact]
    public void FabricTiming_IsReadFromConfiguration()
    {
        var options = app.Services.GetRequiredService<SimulatedFabricOptions>();

        options.Timing.Create.ShouldBe(TimeSpan.FromSeconds(5));
        options.Timing.Stop.ShouldBe(TimeSpan.Zero);
        options.Timing.Start.ShouldBe(TimeSpan.FromSeconds(1));
        options.Timing.Jitter.ShouldBe(0.1);
        options.SshPortFirst.ShouldBe(30_000);
    }
}

using Welkin.Core.Compute;
using Welkin.Testing;
using Welkin.Testing.Compute;

namespace Welkin.Compute.Simulated.Tests;

/// <summary>The simulated driver against the conformance suite every driver passes, with zero operation times.</summary>
public sealed class SimulatedDriverConformanceTests : ComputeDriverConformanceTests
{
    protected override IComputeDriver CreateDriver() =>
        new SimulatedDriver(new SimulatedFabricOptions { Timing = SimulatedTiming.Zero }, new FakeTimeProvider());

    protected override Task CrashAsync(IComputeDriver driver, string machineId)
    {
        ((SimulatedDriver)driver).CrashMachine(machineId).ShouldBeTrue();
        return Task.CompletedTask;
    }
}

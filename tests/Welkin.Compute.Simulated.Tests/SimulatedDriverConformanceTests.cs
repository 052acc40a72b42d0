using System.Globalization;
using System.Text.RegularExpressions;
using Welkin.Core.Compute;
using Welkin.Testing;
using Welkin.Testing.Compute;

namespace Welkin.Compute.Simulated.Tests;

/// <summary>The simulated driver against the conformance suite every driver passes, with zero operation times.</summary>
public sealed partial class SimulatedDriverConformanceTests : ComputeDriverConformanceTests
{
    protected override IComputeDriver CreateDriver() =>
        new SimulatedDriver(new SimulatedFabricOptions { Timing = SimulatedTiming.Zero }, new FakeTimeProvider());

    protected override Task CrashAsync(IComputeDriver driver, string machineId)
    {
        ((SimulatedDriver)driver).CrashMachine(machineId).ShouldBeTrue();
        return Task.CompletedTask;
    }

    // The simulated guest's kernel prints each disk at boot ("[vdb] 2 GiB"); the last boot's lines are the disks it has now.
    protected override async Task<IReadOnlyDictionary<string, long>> DisksSeenAsync(IComputeDriver driver, string machineId)
    {
        var console = (await driver.ConsoleLogAsync(machineId, 1 << 20, Ct)).Value;
        var boot = console[console.LastIndexOf("Linux version", StringComparison.Ordinal)..];
        return DiskLine().Matches(boot).ToDictionary(m => m.Groups[1].Value, m => long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), StringComparer.Ordinal);
    }

    [GeneratedRegex(@"\[(vd[a-z]+)\] (\d+) GiB")]
    private static partial Regex DiskLine();
}

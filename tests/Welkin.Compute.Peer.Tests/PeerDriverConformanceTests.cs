using Welkin.Core.Compute;
using Welkin.Testing.Compute;

namespace Welkin.Compute.Peer.Tests;

/// <summary>
/// The peer-cloud driver against the conformance suite every driver passes: its machines run on a second Welkin
/// cloud (a simulated fabric), reached through a real agreement over mutual TLS. A crash is the peer's own failure
/// injection, as its provider would use it; the consumer learns of it by polling.
/// </summary>
public sealed class PeerDriverConformanceTests(PeerClouds clouds) : ComputeDriverConformanceTests, IClassFixture<PeerClouds>
{
    // Each machine is a provision on the peer: a handful at once proves the allocation as well as a dozen.
    protected override int ConcurrentMachinesPerHost => 5;

    protected override IComputeDriver CreateDriver() => clouds.NewDriver();

    protected override async Task CrashAsync(IComputeDriver driver, string machineId) =>
        clouds.ProviderFabricDriver.CrashMachine(await clouds.RemoteIdAsync(machineId)).ShouldBeTrue();

    // A peer pool makes no data disks (its create answers unsupported), so the suite never asks which it has.
    protected override Task<IReadOnlyDictionary<string, long>> DisksSeenAsync(IComputeDriver driver, string machineId) =>
        throw new NotSupportedException("A peer pool makes no data disks.");
}

using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Welkin.Compute.Simulated;
using Welkin.Contracts;
using Welkin.Core.Compute;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Federation;

/// <summary>
/// A cloud with one small local pool ("home": one host in the US with room for one 6 GiB machine)
/// and three peers' pools whose status the tests set: "peer-b" (cloud-b, 0.05 USD per vCPU-hour, US),
/// "peer-c" (cloud-c, 0.02 EUR, US) and "peer-d" (cloud-d, 0.03 USD, US and DE).
/// </summary>
public class BurstApp : WelkinApp
{
    public const string LocalHost = "home-1";

    public TestPeerPool B { get; private set; } = null!;

    public TestPeerPool C { get; private set; } = null!;

    public TestPeerPool D { get; private set; } = null!;

    public static PeerPoolStatus BStatus => TestPeerPool.Open(0.05m, "USD", "US");

    public static PeerPoolStatus CStatus => TestPeerPool.Open(0.02m, "EUR", "US");

    public static PeerPoolStatus DStatus => TestPeerPool.Open(0.03m, "USD", "US", "DE");

    /// <summary>Puts every peer pool back to its initial status.</summary>
    public void ResetPeers() => (B.Status, C.Status, D.Status) = (BStatus, CStatus, DStatus);

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(services =>
        {
            services.RemoveAll<ComputeFabric>();
            services.AddSingleton(sp =>
            {
                var clock = sp.GetRequiredService<TimeProvider>();
                var home = new SimulatedDriver(new SimulatedFabricOptions
                {
                    Hosts = [new FabricHost(LocalHost, "us-east", "US", 2, 8192, 1000)],
                    Timing = SimulatedTiming.Zero,
                }, clock);
                B = TestPeerPool.Create("cloud-b", "b-1", BStatus, clock);
                C = TestPeerPool.Create("cloud-c", "c-1", CStatus, clock);
                D = TestPeerPool.Create("cloud-d", "d-1", DStatus, clock);
                return new ComputeFabric([new HostPool("home", home), new HostPool("peer-b", B), new HostPool("peer-c", C), new HostPool("peer-d", D)]);
            });
        });
    }
}

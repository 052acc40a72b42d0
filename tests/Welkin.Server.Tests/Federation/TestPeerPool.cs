using System.Threading.Channels;
using Welkin.Compute.Simulated;
using Welkin.Core.Common;
using Welkin.Core.Compute;

namespace Welkin.Server.Tests.Federation;

/// <summary>
/// A peer's pool for tests: a simulated driver standing in for the other cloud, with a status the
/// test sets (available, capacity, jurisdictions, price) as the peer-cloud driver would report it.
/// </summary>
public sealed class TestPeerPool(string peer, SimulatedDriver inner, PeerPoolStatus status) : IComputeDriver, IPeerPool, IDisposable
{
    public void Refresh()
    {
    }

    public string Peer => peer;

    public PeerPoolStatus Status { get; set; } = status;

    public string Kind => "peer";

    public IReadOnlyList<FabricHost> Hosts => inner.Hosts;

    public DriverCapabilities Capabilities => inner.Capabilities;

    public ChannelReader<DriverEvent> Events => inner.Events;

    public Task<Result<DriverMachine>> CreateAsync(MachineSpec spec, IProgress<int>? progress, CancellationToken ct) => inner.CreateAsync(spec, progress, ct);

    public Task<Result<DriverMachine>> StartAsync(string machineId, CancellationToken ct) => inner.StartAsync(machineId, ct);

    public Task<Result<DriverMachine>> StopAsync(string machineId, bool force, CancellationToken ct) => inner.StopAsync(machineId, force, ct);

    public Task<Result<DriverMachine>> PauseAsync(string machineId, CancellationToken ct) => inner.PauseAsync(machineId, ct);

    public Task<Result<DriverMachine>> ResumeAsync(string machineId, CancellationToken ct) => inner.ResumeAsync(machineId, ct);

    public Task<Result<DriverMachine>> RebootAsync(string machineId, CancellationToken ct) => inner.RebootAsync(machineId, ct);

    public Task<Result<DriverMachine>> ResizeAsync(string machineId, int vcpus, long memoryMiB, CancellationToken ct) => inner.ResizeAsync(machineId, vcpus, memoryMiB, ct);

    public Task<Result<DriverMachine>> MigrateAsync(string machineId, string targetHost, IProgress<int>? progress, CancellationToken ct) =>
        inner.MigrateAsync(machineId, targetHost, progress, ct);

    public Task<Result<bool>> DestroyAsync(string machineId, CancellationToken ct) => inner.DestroyAsync(machineId, ct);

    public Task<DriverMachine?> InspectAsync(string machineId, CancellationToken ct) => inner.InspectAsync(machineId, ct);

    public Task<Result<string>> ConsoleLogAsync(string machineId, int maxBytes, CancellationToken ct) => inner.ConsoleLogAsync(machineId, maxBytes, ct);

    public Task<Result<MachineMetrics>> MetricsAsync(string machineId, CancellationToken ct) => inner.MetricsAsync(machineId, ct);

    public Task<Result<bool>> AttachVolumeAsync(string machineId, VolumeAttachment volume, CancellationToken ct) => inner.AttachVolumeAsync(machineId, volume, ct);

    public Task<Result<bool>> DetachVolumeAsync(string machineId, string volumeId, CancellationToken ct) => inner.DetachVolumeAsync(machineId, volumeId, ct);

    public Task<Result<bool>> DeleteVolumeAsync(string volumeId, CancellationToken ct) => inner.DeleteVolumeAsync(volumeId, ct);

    public Task<Result<bool>> ConnectNetworkAsync(string machineId, NetworkAttachment nic, CancellationToken ct) => inner.ConnectNetworkAsync(machineId, nic, ct);

    public Task<Result<bool>> DisconnectNetworkAsync(string machineId, string networkId, CancellationToken ct) => inner.DisconnectNetworkAsync(machineId, networkId, ct);

    public Task<Result<bool>> SetPropertiesAsync(string machineId, IReadOnlyDictionary<string, string> properties, CancellationToken ct) =>
        inner.SetPropertiesAsync(machineId, properties, ct);

    public Task<IReadOnlyList<DriverMachine>> RecoverAsync(IReadOnlyList<KnownMachine> known, CancellationToken ct) => inner.RecoverAsync(known, ct);

    public Task<Result<bool>> SetHostFailedAsync(string host, bool failed, CancellationToken ct) => inner.SetHostFailedAsync(host, failed, ct);

    public void Dispose() => inner.Dispose();

    /// <summary>A status of an available pool with ample room.</summary>
    public static PeerPoolStatus Open(decimal? price, string? currency, params string[] jurisdictions) =>
        new(true, null, 64, 262_144, 10_000, jurisdictions, price, currency, "agr_01h00000000000000000000000");

    /// <summary>A peer pool of one simulated host named <paramref name="host"/>.</summary>
    public static TestPeerPool Create(string peer, string host, PeerPoolStatus status, TimeProvider clock) =>
        new(peer, new SimulatedDriver(new SimulatedFabricOptions
        {
            Hosts = [new FabricHost(host, "peer", "XX", 64, 262_144, 10_000)],
            Timing = SimulatedTiming.Zero,
        }, clock), status);
}

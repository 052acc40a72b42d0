using System.Diagnostics;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Compute;

namespace Welkin.Compute.Peer;

/// <summary>
/// A machine this cloud runs at the peer coming home live: the peer describes it (<c>GET .../outgoing</c>), its
/// hypervisor sends the disks and the guest's state straight to the machine this cloud prepared (<c>POST .../send</c>),
/// and once everything is sent (the send is <c>ready</c>, the guest paused there) this cloud resumes the guest at home
/// and then confirms the handover; only then does the peer end its copy (and its billing of this cloud). A guest this
/// cloud cannot resume is given back to the peer (<c>DELETE .../send</c>), where it runs on.
/// </summary>
public sealed partial class PeerDriver : ILiveMigrationSource
{
    private static readonly TimeSpan SendPoll = TimeSpan.FromMilliseconds(250);

    public async Task<Result<OutgoingMachine>> DescribeOutgoingAsync(string machineId, CancellationToken ct)
    {
        var row = await _store.GetAsync(machineId, ct);
        if (row is null || row.IsDestroyed || row.RemoteMachineId is null)
        {
            return DriverErrors.MachineNotFound(machineId);
        }
        var connected = await ConnectAsync(ct);
        if (!connected.IsSuccess)
        {
            return connected.Error!;
        }
        var client = connected.Value.Client;
        var described = await CallAsync(machineId, () => client.Machines.DescribeOutgoingAsync(row.RemoteMachineId, ct), ct, DriverMachineState.Running, "move live");
        if (!described.IsSuccess)
        {
            return described.Error!;
        }
        var d = described.Value;
        var spec = new MachineSpec(machineId, row.AccountId, row.Host, d.Vcpus, d.MemoryMiB, d.DiskGiB, row.ImageId, d.OperatingSystem,
            new Dictionary<string, string>(), new Dictionary<string, string>(), null, [], []);
        return new OutgoingMachine(spec, [.. d.Disks.Select(x => new MigrationDisk(x.Id, x.VirtualSizeBytes))], d.Running, d.Hypervisor);
    }

    /// <remarks><paramref name="tls"/> names this cloud (<see cref="MigrationTls.PeerName"/>): the peer's hypervisor checks the destination's certificate against it.</remarks>
    public async Task<Result<LiveMigrationReport>> MigrateOutAsync(
        string machineId, IncomingMachine target, MigrationTls tls, Func<CancellationToken, Task<Result<DriverMachine>>> resumeAtTarget,
        IProgress<int>? progress, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(tls);
        ArgumentNullException.ThrowIfNull(resumeAtTarget);
        var started = Stopwatch.GetTimestamp();
        var row = await _store.GetAsync(machineId, ct);
        if (row is null || row.IsDestroyed || row.RemoteMachineId is null)
        {
            return DriverErrors.MachineNotFound(machineId);
        }
        var connected = await ConnectAsync(ct);
        if (!connected.IsSuccess)
        {
            return connected.Error!;
        }
        var client = connected.Value.Client;
        var remote = row.RemoteMachineId;
        var request = new SendMachineRequest(target.Address, target.DiskPort, target.MigrationPort, target.Exports, tls.PeerName ?? "");
        var sent = await CallAsync(machineId, () => client.Machines.SendAsync(remote, request, ct), ct);
        while (sent is { IsSuccess: true, Value.State: SendState.Sending })
        {
            await Task.Delay(SendPoll, ct);
            sent = await CallAsync(machineId, () => client.Machines.SendStatusAsync(remote, ct), ct);
        }
        if (!sent.IsSuccess || sent.Value.State != SendState.Ready)
        {
            return DriverErrors.HypervisorFailed(machineId, HypervisorFailure.Migration,
                sent.IsSuccess ? $"the peer's send {sent.Value.State}: {sent.Value.Detail}" : sent.Error!.Cause ?? sent.Error.Detail);
        }
        var paused = Stopwatch.GetTimestamp();
        var resumed = await resumeAtTarget(ct);
        if (!resumed.IsSuccess)
        {
            await CallAsync(machineId, () => client.Machines.CancelSendAsync(remote, CancellationToken.None), CancellationToken.None);
            return DriverErrors.HypervisorFailed(machineId, HypervisorFailure.Migration, "resuming at home failed: " + (resumed.Error!.Cause ?? resumed.Error.Detail));
        }
        var downtime = Stopwatch.GetElapsedTime(paused);
        // The guest runs at home now: the answer is success whatever the peer says, and the handover is repeated until it is heard.
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var handed = await CallAsync(machineId, () => client.Machines.HandoverAsync(remote, CancellationToken.None), CancellationToken.None);
            if (handed.IsSuccess || handed.Error!.Code != "host-unavailable")
            {
                break;
            }
            await Task.Delay(SendPoll * (attempt + 1), CancellationToken.None);
        }
        await _store.DestroyedAsync(machineId, CancellationToken.None);
        Forget(machineId);
        progress?.Report(100);
        return new LiveMigrationReport(resumed.Value, Stopwatch.GetElapsedTime(started), downtime, TimeSpan.Zero, 0, 0);
    }
}

using System.Globalization;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Events;
using Welkin.Core.Instances;
using Welkin.Core.Jobs;
using Welkin.Core.Placement;

namespace Welkin.Core.Changes;

/// <summary>
/// machine.move, live, to a peer cloud's pool: the machine's capacity moves to the peer pool's host, the peer
/// prepares an incoming machine (<see cref="ILiveMigrationTarget"/> of the peer-cloud driver), this cloud's
/// hypervisor sends the disk and the guest's state over TLS with the federation certificates
/// (<see cref="CrossFabricMigration"/>), and at the handover (the peer has resumed the guest) the machine's record
/// switches in one transaction: pool, host, peer, access, machine.migrated. The machine stays running in this
/// cloud's records throughout, so its consumer is billed without a gap; the peer bills this cloud from the handover.
/// Any failure before the handover leaves the guest running here, nothing at the peer, and fails the job.
/// </summary>
public sealed class LiveMove(MachineLifecycle lifecycle, Placer placer, ComputeFabric fabric, IMigrationCredentials credentials, IPeerLinks links, LiveRepatriation home)
{
    /// <summary>Why a machine cannot move live to <paramref name="target"/>; null when it can.</summary>
    internal static Error? Check(MachineRow m, HostPool target, ComputeFabric fabric)
    {
        if (m.State != MachineStore.Running)
        {
            return Error.InvalidState($"Machine '{m.Id}' is {m.State}; only a running machine moves live.");
        }
        var source = fabric.Find(m.Pool ?? "")?.Driver;
        if (source is not ILiveMigrationSource || (source is IPeerPool && target.Driver is IPeerPool))
        {
            return DriverErrors.Unsupported($"live moves from pool '{m.Pool}' to pool '{target.Name}'; move the machine cold");
        }
        return target.Driver is ILiveMigrationTarget ? null : DriverErrors.Unsupported($"live moves to pool '{target.Name}'; move the machine cold");
    }

    internal async Task RunAsync(JobContext context, MoveJob request, CancellationToken ct)
    {
        var m = await lifecycle.LoadAsync(request.MachineId, ct);
        if (m is { Holds: true } && m.Pool == request.Pool)
        {
            await FinishAsync(context, null, $"{m.Id} is in pool {request.Pool}", ct);
            return;
        }
        var target = fabric.Find(request.Pool);
        if (m is { Holds: true } && target?.Driver is ILiveMigrationTarget and IPeerPool && await EarlierAttemptAsync(context, m, target, ct))
        {
            return;
        }
        if (m is null || !m.Holds || target is null || Check(m, target, fabric) is { } refused)
        {
            await FinishAsync(context, m is null || !m.Holds
                ? Error.InvalidState($"Machine '{request.MachineId}' is gone; it was not moved.")
                : target is null ? FabricErrors.PoolUnavailable(request.Pool) : Check(m, target, fabric), null, ct);
            return;
        }
        if (fabric.Find(m.Pool!)!.Driver is IPeerPool)
        {
            await home.RunAsync(context, m, fabric.Find(m.Pool!)!, target, ct);
            return;
        }
        var source = (ILiveMigrationSource)lifecycle.DriverOf(m).Value;
        var peer = ((IPeerPool)target.Driver).Peer;
        var link = await links.GetAsync(peer, ct);
        var tls = link.IsSuccess ? credentials.For(link.Value.ApiUrl.Host) : link.Error!;
        if (!tls.IsSuccess)
        {
            await FinishAsync(context, tls.Error, null, ct);
            return;
        }
        var targetHost = target.Hosts[0].Name;
        var from = m.Placement!;
        var placed = placer.Move(from, targetHost);
        if (!placed.IsSuccess)
        {
            await FinishAsync(context, placed.Error, null, ct);
            return;
        }
        var handover = new Handover((ILiveMigrationTarget)target.Driver, (there, c) => SwitchAsync(context, m, request.Pool, targetHost, peer, there, c));
        var progress = new JobProgress(context.Queue, context.Job.Id, 1);
        var moved = await CrossFabricMigration.MoveAsync(source, handover, m.Id, targetHost, tls.Value, tls.Value, progress.For(0), ct);
        if (!moved.IsSuccess && !handover.Switched)
        {
            placer.Move(placed.Value, from.Host);
            await FinishAsync(context, moved.Error! with { Detail = $"{moved.Error.Detail} It was not moved to pool '{request.Pool}' of peer '{peer}'." }, null, ct);
            return;
        }
        var r = moved.IsSuccess ? moved.Value : null;
        var error = handover.Switched ? moved.Error : Error.InvalidState(
            $"Machine '{m.Id}' runs at peer '{peer}' now, but its record could not be switched to pool '{request.Pool}'.");
        await FinishAsync(context, error, r is null ? null
            : string.Create(CultureInfo.InvariantCulture, $"{m.Id} moved live from {m.Pool} to {request.Pool} of {peer}: {r.Total.TotalSeconds:F1} s, downtime {r.Downtime.TotalMilliseconds:F0} ms"), ct);
    }

    /// <summary>
    /// What an attempt interrupted by a restart of this cloud left at the peer: a machine the peer already runs
    /// (the handover happened, the switch did not) has its record switched now and the local copy removed (true:
    /// the job is done); one still arriving is aborted, so the move starts afresh.
    /// </summary>
    private async Task<bool> EarlierAttemptAsync(JobContext context, MachineRow m, HostPool target, CancellationToken ct)
    {
        var there = await target.Driver.InspectAsync(m.Id, ct);
        if (there is null)
        {
            return false;
        }
        if (there.State == DriverMachineState.Creating)
        {
            await ((ILiveMigrationTarget)target.Driver).AbortIncomingAsync(m.Id, ct);
            return false;
        }
        var peer = ((IPeerPool)target.Driver).Peer;
        var targetHost = target.Hosts[0].Name;
        var placed = placer.Move(m.Placement!, targetHost);
        if (!await SwitchAsync(context, m, target.Name, targetHost, peer, there, ct))
        {
            if (placed.IsSuccess)
            {
                placer.Move(placed.Value, m.Placement!.Host);
            }
            await FinishAsync(context, Error.InvalidState($"Machine '{m.Id}' runs at peer '{peer}', but its record could not be switched to pool '{target.Name}'."), null, ct);
            return true;
        }
        var removed = lifecycle.DriverOf(m) is { IsSuccess: true } source ? await source.Value.DestroyAsync(m.Id, ct) : true;
        await FinishAsync(context, removed.IsSuccess ? null : removed.Error,
            $"{m.Id} had moved live to {target.Name} of {peer} before this cloud restarted; its record is switched", ct);
        return true;
    }

    /// <summary>At the handover, in one transaction: the machine's pool, host, peer and access are the peer's, and machine.migrated says from where to where.</summary>
    private async Task<bool> SwitchAsync(JobContext context, MachineRow m, string pool, string host, string peer, DriverMachine there, CancellationToken ct)
    {
        var result = await lifecycle.Db.WriteAsync<bool>(async tx =>
        {
            var now = lifecycle.Now;
            var current = await MachineStore.GetMachineAsync(tx, m.Id);
            if (current is null || !current.Holds || current.Pool != m.Pool || await MachineStore.MovePoolAsync(tx, m.Id, pool, host, peer, now) != 1)
            {
                return false;
            }
            var access = current.ParsedAccess;
            await MachineStore.SetAccessAsync(tx, m.Id, new StoredAccess(there.Addresses, there.Endpoints, access?.User ?? MachineLifecycle.DefaultUser,
                access?.SshKeyFingerprint, access?.PasswordHash));
            await lifecycle.Events.AppendAsync(tx, context.Caller, new LifecycleEvent(EventLog.Types.MachineMigrated, m.Id, m.AccountId,
                new Dictionary<string, string> { ["from"] = m.Pool ?? "", ["to"] = pool, ["mode"] = "live", ["cloud"] = peer }),
                DateTimeOffset.FromUnixTimeMilliseconds(now));
            return true;
        }, CancellationToken.None);
        return result.IsSuccess && result.Value;
    }

    private Task FinishAsync(JobContext context, Error? error, string? message, CancellationToken ct) =>
        MoveSteps.FinishAsync(lifecycle.Db, context, error, message, ct);

    /// <summary>
    /// The peer pool as the destination, switching the machine's record the moment the peer has resumed the guest.
    /// The answer is the peer's whatever the switch gives: the guest runs there, and must not run here again.
    /// </summary>
    internal sealed class Handover(ILiveMigrationTarget inner, Func<DriverMachine, CancellationToken, Task<bool>> onResumed) : ILiveMigrationTarget
    {
        public bool Switched { get; private set; }

        public Task<Result<IncomingMachine>> PrepareIncomingAsync(OutgoingMachine machine, string host, MigrationTls tls, CancellationToken ct) =>
            inner.PrepareIncomingAsync(machine, host, tls, ct);

        public async Task<Result<DriverMachine>> ResumeIncomingAsync(string machineId, CancellationToken ct)
        {
            var resumed = await inner.ResumeIncomingAsync(machineId, ct);
            if (resumed.IsSuccess)
            {
                Switched = await onResumed(resumed.Value, ct);
            }
            return resumed;
        }

        public Task<Result<bool>> AbortIncomingAsync(string machineId, CancellationToken ct) => inner.AbortIncomingAsync(machineId, ct);
    }
}

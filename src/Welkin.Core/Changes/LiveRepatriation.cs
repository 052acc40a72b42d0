using System.Globalization;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Events;
using Welkin.Core.Instances;
using Welkin.Core.Jobs;
using Welkin.Core.Placement;

namespace Welkin.Core.Changes;

/// <summary>
/// machine.move, live, home from a peer cloud's pool: the machine's capacity moves to a host of this cloud's pool,
/// this cloud's hypervisor prepares an incoming machine with this cloud's federation certificate, the peer's hypervisor
/// sends the disk and the guest's state (the peer-cloud driver as <see cref="ILiveMigrationSource"/>), and at the
/// handover (the guest resumed here, before the peer ends its copy) the record switches in one transaction: pool, host,
/// no peer, access, machine.migrated (live, home). Any failure before the handover leaves the guest running at the peer.
/// </summary>
public sealed class LiveRepatriation(MachineLifecycle lifecycle, Placer placer, IMigrationCredentials credentials)
{
    internal async Task RunAsync(JobContext context, MachineRow m, HostPool source, HostPool target, CancellationToken ct)
    {
        var peer = ((IPeerPool)source.Driver).Peer;
        if (credentials.OwnName is not { } ownName)
        {
            await FinishAsync(context, DriverErrors.Unsupported("live moves between clouds without this cloud's federation API URL"), null, ct);
            return;
        }
        var sourceTls = credentials.For(ownName);
        // This cloud's side accepts any certificate of the federation's authority: the peer's subject is not known here.
        var targetTls = credentials.For(null);
        if ((sourceTls.IsSuccess ? targetTls : sourceTls) is { IsSuccess: false } noTls)
        {
            await FinishAsync(context, noTls.Error, null, ct);
            return;
        }
        var from = m.Placement!;
        var placed = Place(m, target);
        if (!placed.IsSuccess)
        {
            await FinishAsync(context, placed.Error, null, ct);
            return;
        }
        var host = placed.Value.Host;
        var handover = new LiveMove.Handover((ILiveMigrationTarget)target.Driver, (here, c) => SwitchAsync(context, m, target.Name, host, peer, here));
        var progress = new JobProgress(context.Queue, context.Job.Id, 1);
        var moved = await CrossFabricMigration.MoveAsync((ILiveMigrationSource)source.Driver, handover, m.Id, host, sourceTls.Value, targetTls.Value, progress.For(0), ct);
        if (!moved.IsSuccess && !handover.Switched)
        {
            placer.Move(placed.Value, from.Host);
            await FinishAsync(context, moved.Error! with { Detail = $"{moved.Error.Detail} It runs on at peer '{peer}'." }, null, ct);
            return;
        }
        var error = handover.Switched ? moved.Error : Error.InvalidState(
            $"Machine '{m.Id}' runs in pool '{target.Name}' now, but its record could not be switched from peer '{peer}'.");
        await FinishAsync(context, error, moved.IsSuccess
            ? string.Create(CultureInfo.InvariantCulture, $"{m.Id} moved live home from {m.Pool} of {peer} to {target.Name}: {moved.Value.Total.TotalSeconds:F1} s, downtime {moved.Value.Downtime.TotalMilliseconds:F0} ms")
            : null, ct);
    }

    /// <summary>Moves the machine's capacity from the peer's host to the target pool's host with the most memory left.</summary>
    private Result<Core.Placement.Placement> Place(MachineRow m, HostPool target)
    {
        foreach (var host in target.Hosts.Where(h => !placer.IsDown(h.Name)).OrderByDescending(h => placer.Free(h.Name).MemoryMiB))
        {
            if (placer.Move(m.Placement!, host.Name) is { IsSuccess: true } moved)
            {
                return moved;
            }
        }
        return new Error("insufficient-capacity", ErrorKind.Conflict,
            $"No host of pool '{target.Name}' has room for machine '{m.Id}' ({m.Vcpus} vCPU, {m.MemoryMiB} MiB memory, {m.TotalDiskGiB} GiB disk).");
    }

    /// <summary>At the handover, in one transaction: the machine's pool, host and access are this cloud's, no peer, and machine.migrated says from where to where.</summary>
    private async Task<bool> SwitchAsync(JobContext context, MachineRow m, string pool, string host, string peer, DriverMachine here)
    {
        var result = await lifecycle.Db.WriteAsync<bool>(async tx =>
        {
            var now = lifecycle.Now;
            var current = await MachineStore.GetMachineAsync(tx, m.Id);
            if (current is null || !current.Holds || current.Pool != m.Pool || await MachineStore.MovePoolAsync(tx, m.Id, pool, host, null, now) != 1)
            {
                return false;
            }
            var access = current.ParsedAccess;
            await MachineStore.SetAccessAsync(tx, m.Id, new StoredAccess(here.Addresses, here.Endpoints, access?.User ?? MachineLifecycle.DefaultUser,
                access?.SshKeyFingerprint, access?.PasswordHash));
            await lifecycle.Events.AppendAsync(tx, context.Caller, new LifecycleEvent(EventLog.Types.MachineMigrated, m.Id, m.AccountId,
                new Dictionary<string, string> { ["from"] = m.Pool ?? "", ["to"] = pool, ["mode"] = "live", ["cloud"] = peer, ["home"] = "true" }),
                DateTimeOffset.FromUnixTimeMilliseconds(now));
            return true;
        }, CancellationToken.None);
        return result.IsSuccess && result.Value;
    }

    private Task FinishAsync(JobContext context, Error? error, string? message, CancellationToken ct) =>
        MoveSteps.FinishAsync(lifecycle.Db, context, error, message, ct);
}

using System.Security.Cryptography;
using System.Text.Json;
using Welkin.Contracts;
using Welkin.Core.Catalog;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Events;
using Welkin.Core.Instances;
using Welkin.Core.Jobs;
using Welkin.Core.Placement;

namespace Welkin.Core.Changes;

/// <summary>
/// machine.move, cold, to a peer cloud's pool: stops the machine (remembering whether it ran), exports it
/// as an OVA into a spool file with its SHA-256, has the peer pool create it from that package (a
/// resumable upload whose id the job keeps, an image of the agreement's account, a provision from it),
/// then switches the machine's record (pool, host, capacity, access, machine.migrated), destroys the
/// local machine and starts it at the peer if it ran. Until the switch a failure removes what was made
/// at the peer, gives the capacity back and leaves the machine where and as it was. An attempt after a
/// restart goes on from the job's kept state: the same spool file, the same upload (resumed at the
/// peer's offset), the same machine at the peer.
/// </summary>
public sealed class MoveJobHandler(MachineLifecycle lifecycle, Placer placer, ComputeFabric fabric, OvfPackages packages, OvfPackageOptions options, RepatriateMove repatriate, LiveMove live) : IJobHandler
{
    public string Action => ChangeManager.Actions.Move;

    /// <summary>What the job keeps between attempts.</summary>
    internal sealed record MoveState(string? Spool, long SizeBytes, string? Sha256, string? UploadId);

    public async Task RunAsync(JobContext context, CancellationToken ct)
    {
        var request = JsonSerializer.Deserialize<MoveJob>(context.Job.Request!, WelkinJson.Client)!;
        if (request.Live)
        {
            await live.RunAsync(context, request, ct);
            return;
        }
        var m = await lifecycle.LoadAsync(request.MachineId, ct);
        if (m is { Holds: true } && m.Pool == request.Pool)
        {
            await FinishAsync(context, null, $"{m.Id} is in pool {request.Pool}", ct);
            return;
        }
        if (m is null || !m.Holds || (m.State != MachineStore.Running && m.State != MachineStore.Inactive))
        {
            await FinishAsync(context, Error.InvalidState($"Machine '{request.MachineId}' is {m?.State ?? "gone"}; it was not moved."), null, ct);
            return;
        }
        if (repatriate.Handles(m, request.Pool))
        {
            await repatriate.RunAsync(context, request, m, ct);
            return;
        }
        var source = lifecycle.DriverOf(m);
        var target = fabric.Find(request.Pool);
        if (!source.IsSuccess || target?.Driver is not IPeerMachineImport import || target.Driver is not IPeerPool peer)
        {
            await FinishAsync(context, source.Error ?? FabricErrors.PoolUnavailable(request.Pool), null, ct);
            return;
        }
        var state = await context.Queue.StateAsync<MoveState>(context.Job.Id, ct) ?? new MoveState(null, 0, null, null);
        var progress = new JobProgress(context.Queue, context.Job.Id, 3);
        if (m.State == MachineStore.Running)
        {
            var stopped = await source.Value.StopAsync(m.Id, false, ct);
            m = stopped.IsSuccess ? await lifecycle.SetStateAsync(context.Caller, m, MachineState.Inactive, ct) : null;
            if (m is null)
            {
                await FinishAsync(context, stopped.Error ?? MoveSteps.Changed(request.MachineId), null, ct);
                return;
            }
        }
        var package = await PackAsync(context, m, state, ct);
        await progress.StepDoneAsync(0, ct);
        if (!package.IsSuccess)
        {
            await RestoreAsync(context, m, source.Value, request.WasRunning, package.Error!, ct);
            return;
        }
        state = package.Value;
        var moved = await MoveAsync(context, m, request, (source.Value, target, import, peer), state, progress, ct);
        if (moved)
        {
            MoveSteps.DeleteSpool(state.Spool);
        }
    }

    /// <summary>Creates the machine at the peer, switches the record, removes the local machine; false when the machine stayed here.</summary>
    private async Task<bool> MoveAsync(
        JobContext context, MachineRow m, MoveJob request, (IComputeDriver Source, HostPool Target, IPeerMachineImport Import, IPeerPool Peer) to,
        MoveState state, JobProgress progress, CancellationToken ct)
    {
        var targetHost = to.Target.Hosts[0].Name;
        var from = m.Placement!;
        var placed = placer.Move(from, targetHost);
        if (!placed.IsSuccess)
        {
            await RestoreAsync(context, m, to.Source, request.WasRunning, placed.Error!, ct);
            return false;
        }
        var package = new MachinePackage(state.Spool!, state.SizeBytes, state.Sha256!);
        var transfer = new PackageTransfer(state.UploadId, async (uploadId, c) =>
        {
            state = state with { UploadId = uploadId };
            await context.Queue.SaveStateAsync(context.Job.Id, state, c);
        });
        var spec = MachineStore.SpecOf(m) with { Host = targetHost };
        var created = await to.Import.ImportAsync(spec, package, transfer, progress.For(1), ct);
        if (created.IsSuccess && !request.WasRunning && created.Value.State != DriverMachineState.Stopped)
        {
            created = await to.Target.Driver.StopAsync(m.Id, false, ct);
        }
        if (!created.IsSuccess)
        {
            // Nothing of the move stays at the peer; the machine is where it was.
            await to.Target.Driver.DestroyAsync(m.Id, ct);
            placer.Move(placed.Value, from.Host);
            await RestoreAsync(context, m, to.Source, request.WasRunning, created.Error!, ct);
            return false;
        }
        await progress.StepDoneAsync(1, ct);
        var switched = await SwitchAsync(context, m, request.Pool, targetHost, to.Peer.Peer, created.Value, ct);
        if (switched is null)
        {
            await to.Target.Driver.DestroyAsync(m.Id, ct);
            placer.Move(placed.Value, from.Host);
            await FinishAsync(context, MoveSteps.Changed(m.Id), null, ct);
            return false;
        }
        // The record says the machine is at the peer now: what is left here is only a copy.
        var removed = await to.Source.DestroyAsync(m.Id, ct);
        if (request.WasRunning)
        {
            switched = await lifecycle.SetStateAsync(context.Caller, switched, MachineState.Running, ct) ?? switched;
        }
        var error = removed.IsSuccess ? null : removed.Error! with
        {
            Detail = $"Machine '{m.Id}' moved to pool '{request.Pool}' of peer '{to.Peer.Peer}', but its copy on host '{from.Host}' could not be removed: {removed.Error.Detail}",
        };
        await FinishAsync(context, error, $"{m.Id} moved cold from {m.Pool} to {request.Pool} of {to.Peer.Peer}", ct);
        return true;
    }

    /// <summary>The machine's OVA in the spool file the job keeps, exported now unless an earlier attempt left it whole.</summary>
    private async Task<Result<MoveState>> PackAsync(JobContext context, MachineRow m, MoveState state, CancellationToken ct)
    {
        if (state is { Spool: { } kept, Sha256: not null } && File.Exists(kept) && new FileInfo(kept).Length == state.SizeBytes)
        {
            return state;
        }
        var export = await packages.ExportMachineAsync(context.Caller, m.Id, ct);
        if (!export.IsSuccess)
        {
            return export.Error!;
        }
        var spool = Path.Combine(options.WorkDirectory, $"move-{context.Job.Id}.ova");
        Directory.CreateDirectory(options.WorkDirectory);
        await using (var ova = export.Value)
        {
            await using var file = new FileStream(spool, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.Asynchronous);
            await ova.WriteAsync(file, ct);
            file.Position = 0;
            var sha256 = Convert.ToHexStringLower(await SHA256.HashDataAsync(file, ct));
            state = new MoveState(spool, file.Length, sha256, null);
        }
        await context.Queue.SaveStateAsync(context.Job.Id, state, ct);
        return state;
    }

    /// <summary>In one transaction: the machine's pool, host, peer and access are the peer's, and machine.migrated says from where to where.</summary>
    private async Task<MachineRow?> SwitchAsync(JobContext context, MachineRow m, string pool, string host, string peer, DriverMachine there, CancellationToken ct)
    {
        var result = await lifecycle.Db.WriteAsync<MachineRow?>(async tx =>
        {
            var now = lifecycle.Now;
            var current = await MachineStore.GetMachineAsync(tx, m.Id);
            if (current is null || current.Version != m.Version || await MachineStore.MovePoolAsync(tx, m.Id, pool, host, peer, now) != 1)
            {
                return (MachineRow?)null;
            }
            var access = current.ParsedAccess;
            await MachineStore.SetAccessAsync(tx, m.Id, new StoredAccess(there.Addresses, there.Endpoints, access?.User ?? MachineLifecycle.DefaultUser,
                access?.SshKeyFingerprint, access?.PasswordHash));
            await lifecycle.Events.AppendAsync(tx, context.Caller, new LifecycleEvent(EventLog.Types.MachineMigrated, m.Id, m.AccountId,
                new Dictionary<string, string> { ["from"] = m.Pool ?? "", ["to"] = pool, ["mode"] = "cold", ["cloud"] = peer }),
                DateTimeOffset.FromUnixTimeMilliseconds(now));
            return await MachineStore.GetMachineAsync(tx, m.Id);
        }, ct);
        return result.Value;
    }

    /// <summary>Starts the machine again where it was when it ran, and fails the job with <paramref name="error"/>.</summary>
    private async Task RestoreAsync(JobContext context, MachineRow m, IComputeDriver source, bool wasRunning, Error error, CancellationToken ct)
    {
        if (wasRunning && m.State == MachineStore.Inactive && (await source.StartAsync(m.Id, ct)).IsSuccess)
        {
            await lifecycle.SetStateAsync(context.Caller, m, MachineState.Running, ct);
        }
        var state = await context.Queue.StateAsync<MoveState>(context.Job.Id, ct);
        MoveSteps.DeleteSpool(state?.Spool);
        await FinishAsync(context, error, null, ct);
    }



    private Task FinishAsync(JobContext context, Error? error, string? message, CancellationToken ct) =>
        MoveSteps.FinishAsync(lifecycle.Db, context, error, message, ct);
}

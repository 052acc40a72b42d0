using Welkin.Contracts;
using Welkin.Core.Catalog;
using Welkin.Core.Catalog.Images;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Events;
using Welkin.Core.Instances;
using Welkin.Core.Jobs;
using Welkin.Core.Placement;

namespace Welkin.Core.Changes;

/// <summary>
/// machine.move, cold, from a peer cloud's pool home to one of this cloud's pools (repatriation): stops the machine
/// at the peer (remembering whether it ran), downloads its package into a spool file (resumable, its SHA-256
/// checked), makes it an image of the machine's account (booting as the machine's original image boots: an OVA
/// names no kernel), places the machine on a host of the target pool within its jurisdictions, creates it there,
/// then switches the record (pool, host, no peer, capacity, access, machine.migrated), destroys it at the peer and
/// starts it here if it ran. Until the switch a failure removes what was made here, gives the capacity back and
/// leaves the machine at the peer, started again if it ran. An attempt after a restart resumes the download from
/// the bytes the job recorded as durable, or goes on with the image an earlier attempt made.
/// </summary>
public sealed class RepatriateMove(MachineLifecycle lifecycle, Placer placer, ComputeFabric fabric, AccountImageService images, OvfPackageOptions options)
{
    /// <summary>What the job keeps between attempts: the package's digest and how much of it the spool file durably holds.</summary>
    internal sealed record RepatriateState(string? Sha256, long ReceivedBytes, string? ImageId = null);

    /// <summary>Whether moving <paramref name="m"/> to <paramref name="pool"/> is bringing it home from a peer.</summary>
    internal bool Handles(MachineRow m, string pool) => fabric.Find(m.Pool)?.Driver is IPeerPool && fabric.Find(pool) is { Driver: not IPeerPool };

    /// <summary>The checks of a move home at the request: the machine runs at a peer, and the pool has a host with room for it.</summary>
    internal static Error? Check(MachineRow m, HostPool target, Placer placer)
    {
        if (m.Peer is null)
        {
            return Error.Validation("pool", $"pool '{target.Name}' is one of this cloud's pools; move a machine between this cloud's hosts with migrate");
        }
        var room = target.Hosts.Any(h => !placer.IsDown(h.Name) && placer.Free(h.Name) is var (cpu, memory, disk)
            && cpu >= m.Vcpus * 1000 && memory >= m.MemoryMiB && disk >= m.TotalDiskGiB);
        return room ? null : NoRoom(m, target);
    }

    internal async Task RunAsync(JobContext context, MoveJob request, MachineRow m, CancellationToken ct)
    {
        var source = lifecycle.DriverOf(m);
        var target = fabric.Find(request.Pool)!;
        if (!source.IsSuccess || source.Value is not IPeerMachineExport export)
        {
            await FinishAsync(context, source.Error ?? DriverErrors.Unsupported($"bringing machines home from pool '{m.Pool}'"), null, ct);
            return;
        }
        var peer = m.Peer ?? (source.Value as IPeerPool)?.Peer ?? "";
        var state = await context.Queue.StateAsync<RepatriateState>(context.Job.Id, ct) ?? new RepatriateState(null, 0);
        var progress = new JobProgress(context.Queue, context.Job.Id, 3);
        if (m.State == MachineStore.Running)
        {
            var stopped = await source.Value.StopAsync(m.Id, false, ct);
            var inactive = stopped.IsSuccess ? await lifecycle.SetStateAsync(context.Caller, m, MachineState.Inactive, ct) : null;
            if (inactive is null)
            {
                await FinishAsync(context, stopped.Error ?? MoveSteps.Changed(m.Id), null, ct);
                return;
            }
            m = inactive;
        }
        var spool = Path.Combine(options.WorkDirectory, $"repatriate-{context.Job.Id}.ova");
        var image = await ImageAsync(context, m, export, spool, state, progress, ct);
        if (!image.IsSuccess)
        {
            await RestoreAsync(context, m, source.Value, request.WasRunning, image.Error!, spool, ct);
            return;
        }
        var home = await HomeAsync(context, m, request, (target, peer), image.Value, progress, ct);
        await images.DeleteOwnAsync(context.Caller, m.AccountId, image.Value, CancellationToken.None);
        if (!home.IsSuccess)
        {
            await RestoreAsync(context, m, source.Value, request.WasRunning, home.Error!, spool, ct);
            return;
        }
        await export.DiscardAsync(m.Id, CancellationToken.None);
        MoveSteps.DeleteSpool(spool);
        // The record says the machine is here now: what is left at the peer is only a copy.
        var removed = await source.Value.DestroyAsync(m.Id, ct);
        var (switched, running) = home.Value;
        if (request.WasRunning && (running || (await target.Driver.StartAsync(m.Id, ct)).IsSuccess))
        {
            await lifecycle.SetStateAsync(context.Caller, switched, MachineState.Running, ct);
        }
        var error = removed.IsSuccess ? null : removed.Error! with
        {
            Detail = $"Machine '{m.Id}' came home to pool '{request.Pool}', but its copy at peer '{peer}' could not be removed: {removed.Error.Detail}",
        };
        await FinishAsync(context, error, $"{m.Id} moved cold from {m.Pool} of {peer} to {request.Pool}", ct);
    }

    /// <summary>
    /// The id of the image of the machine's account made from its package: the one an earlier attempt made, when the
    /// account still has it, else one made now from the package downloaded into <paramref name="spool"/>.
    /// </summary>
    private async Task<Result<string>> ImageAsync(
        JobContext context, MachineRow m, IPeerMachineExport export, string spool, RepatriateState state, JobProgress progress, CancellationToken ct)
    {
        if (state.ImageId is { } kept && await lifecycle.Db.ReadAsync(tx => AccountImageService.FindOwnAsync(tx, m.AccountId, kept), ct) is not null)
        {
            return kept;
        }
        var download = new PackageDownload(state.Sha256, state.ReceivedBytes, (sha256, bytes, c) =>
            context.Queue.SaveStateAsync(context.Job.Id, new RepatriateState(sha256, bytes), c));
        var package = await export.ExportAsync(m.Id, spool, download, progress.For(0), ct);
        await progress.StepDoneAsync(0, ct);
        if (!package.IsSuccess)
        {
            return package.Error!;
        }
        var image = await images.CreateFromFileAsync(context.Caller, m.AccountId, spool, $"home-{m.Id}", m.ImageId, ct);
        if (!image.IsSuccess)
        {
            return image.Error!;
        }
        // An attempt after a restart creates the machine from this image again: the local driver answers the same machine.
        await context.Queue.SaveStateAsync(context.Job.Id, new RepatriateState(package.Value.Sha256, package.Value.SizeBytes, image.Value.Id), ct);
        return image.Value.Id;
    }

    /// <summary>
    /// Places and creates the machine in the target pool from <paramref name="imageId"/> and switches its record: the
    /// machine as recorded afterwards and whether it runs here already. On a failure nothing of it stays here.
    /// </summary>
    private async Task<Result<(MachineRow Machine, bool Running)>> HomeAsync(
        JobContext context, MachineRow m, MoveJob request, (HostPool Target, string Peer) to, string imageId, JobProgress progress, CancellationToken ct)
    {
        var placed = await PlaceAsync(m, to.Target, ct);
        if (!placed.IsSuccess)
        {
            return placed.Error!;
        }
        var driver = to.Target.Driver;
        var spec = MachineStore.SpecOf(m) with { Host = placed.Value.Host, ImageId = imageId };
        var created = await driver.CreateAsync(spec, progress.For(1), ct);
        if (created.IsSuccess && !request.WasRunning && created.Value.State != DriverMachineState.Stopped)
        {
            created = await driver.StopAsync(m.Id, false, ct);
        }
        var switched = created.IsSuccess ? await SwitchAsync(context, m, request.Pool, placed.Value.Host, to.Peer, created.Value, ct) : null;
        if (switched is null)
        {
            await driver.DestroyAsync(m.Id, CancellationToken.None);
            placer.Move(placed.Value, m.Placement!.Host);
            return created.Error ?? MoveSteps.Changed(m.Id);
        }
        await progress.StepDoneAsync(1, ct);
        return (switched, created.Value.State == DriverMachineState.Running);
    }

    /// <summary>Moves the machine's capacity from the peer's host to the target pool's host with the most memory left among those in its jurisdictions.</summary>
    private async Task<Result<Core.Placement.Placement>> PlaceAsync(MachineRow m, HostPool target, CancellationToken ct)
    {
        var allowed = (await lifecycle.Db.ReadAsync(tx => MachineStore.GetInstanceAsync(tx, m.InstanceId), ct))?.ParsedSpec.Jurisdictions;
        var hosts = target.Hosts
            .Where(h => allowed is not { Count: > 0 } || allowed.Contains(h.Jurisdiction, StringComparer.OrdinalIgnoreCase))
            .OrderByDescending(h => placer.Free(h.Name).MemoryMiB)
            .ToList();
        if (hosts.Count == 0)
        {
            return new Error("outside-jurisdictions", ErrorKind.Conflict,
                $"Pool '{target.Name}' has no host in the jurisdictions {string.Join(", ", allowed!)} machine '{m.Id}' may run in.");
        }
        foreach (var host in hosts)
        {
            if (placer.Move(m.Placement!, host.Name) is { IsSuccess: true } moved)
            {
                return moved;
            }
        }
        return NoRoom(m, target);
    }

    /// <summary>In one transaction: the machine's pool, host and access are this cloud's, no peer, and machine.migrated says from where to where.</summary>
    private async Task<MachineRow?> SwitchAsync(JobContext context, MachineRow m, string pool, string host, string peer, DriverMachine here, CancellationToken ct)
    {
        var result = await lifecycle.Db.WriteAsync<MachineRow?>(async tx =>
        {
            var now = lifecycle.Now;
            var current = await MachineStore.GetMachineAsync(tx, m.Id);
            if (current is null || current.Version != m.Version || await MachineStore.MovePoolAsync(tx, m.Id, pool, host, null, now) != 1)
            {
                return (MachineRow?)null;
            }
            var access = current.ParsedAccess;
            await MachineStore.SetAccessAsync(tx, m.Id, new StoredAccess(here.Addresses, here.Endpoints, access?.User ?? MachineLifecycle.DefaultUser,
                access?.SshKeyFingerprint, access?.PasswordHash));
            await lifecycle.Events.AppendAsync(tx, context.Caller, new LifecycleEvent(EventLog.Types.MachineMigrated, m.Id, m.AccountId,
                new Dictionary<string, string> { ["from"] = m.Pool ?? "", ["to"] = pool, ["mode"] = "cold", ["cloud"] = peer, ["home"] = "true" }),
                DateTimeOffset.FromUnixTimeMilliseconds(now));
            return await MachineStore.GetMachineAsync(tx, m.Id);
        }, ct);
        return result.Value;
    }

    /// <summary>Starts the machine again at the peer when it ran, deletes the spool file and the peer's package, and fails the job with <paramref name="error"/>.</summary>
    private async Task RestoreAsync(JobContext context, MachineRow m, IComputeDriver source, bool wasRunning, Error error, string spool, CancellationToken ct)
    {
        if (wasRunning && m.State == MachineStore.Inactive && (await source.StartAsync(m.Id, ct)).IsSuccess)
        {
            await lifecycle.SetStateAsync(context.Caller, m, MachineState.Running, ct);
        }
        if (source is IPeerMachineExport export)
        {
            await export.DiscardAsync(m.Id, CancellationToken.None);
        }
        MoveSteps.DeleteSpool(spool);
        await FinishAsync(context, error, null, ct);
    }

    private static Error NoRoom(MachineRow m, HostPool target) =>
        new("insufficient-capacity", ErrorKind.Conflict,
            $"No host of pool '{target.Name}' has room for machine '{m.Id}' ({m.Vcpus} vCPU, {m.MemoryMiB} MiB memory, {m.TotalDiskGiB} GiB disk).");



    private Task FinishAsync(JobContext context, Error? error, string? message, CancellationToken ct) =>
        MoveSteps.FinishAsync(lifecycle.Db, context, error, message, ct);
}

using System.Text.Json;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Events;
using Welkin.Core.Instances;
using Welkin.Core.Jobs;
using Welkin.Core.Placement;

namespace Welkin.Core.Changes;

/// <summary>start, stop, pause, resume, reboot and destroy of one machine, with the usage events of each state change.</summary>
public sealed class MachineActionJobHandler(string action, MachineLifecycle lifecycle) : IJobHandler
{
    public string Action => action;

    public async Task RunAsync(JobContext context, CancellationToken ct)
    {
        var request = JsonSerializer.Deserialize<MachineJob>(context.Job.Request!, WelkinJson.Client)!;
        var id = request.MachineId;
        if (action == ChangeManager.Actions.Destroy)
        {
            var destroyed = await lifecycle.DestroyAsync(context.Caller, id, ct);
            await FinishAsync(context, destroyed.IsSuccess ? null : destroyed.Error, destroyed.IsSuccess ? destroyed.Value : null, null, ct);
            return;
        }
        var m = await lifecycle.LoadAsync(id, ct);
        if (m is null || !m.Holds || m.State is "terminating" or "terminated")
        {
            await FinishAsync(context, Error.InvalidState($"Machine '{id}' is {m?.State ?? "gone"}; the {action} was not done."), null, null, ct);
            return;
        }
        // Already where the action leads (a job repeated after a restart): nothing to do.
        var done = action switch
        {
            ChangeManager.Actions.Start or ChangeManager.Actions.Resume => m.State == MachineStore.Running,
            ChangeManager.Actions.Stop => m.State == MachineStore.Inactive,
            ChangeManager.Actions.Pause => m.State == MachineStore.Paused,
            _ => false,
        };
        if (done)
        {
            await FinishAsync(context, null, m, null, ct);
            return;
        }
        var pool = lifecycle.DriverOf(m);
        if (!pool.IsSuccess)
        {
            await FinishAsync(context, pool.Error, null, null, ct);
            return;
        }
        var driver = pool.Value;
        if (action == ChangeManager.Actions.Start && await lifecycle.ApplyPendingDevicesAsync(driver, id, ct) is { IsSuccess: false } pending)
        {
            await FinishAsync(context, pending.Error, null, null, ct);
            return;
        }
        var result = action switch
        {
            ChangeManager.Actions.Start => await driver.StartAsync(id, ct),
            ChangeManager.Actions.Stop => await driver.StopAsync(id, request.Force, ct),
            ChangeManager.Actions.Pause => await driver.PauseAsync(id, ct),
            ChangeManager.Actions.Resume => await driver.ResumeAsync(id, ct),
            ChangeManager.Actions.Reboot => await driver.RebootAsync(id, ct),
            _ => throw new InvalidOperationException($"Not a machine action: {action}"),
        };
        if (!result.IsSuccess)
        {
            await FinishAsync(context, result.Error, null, null, ct);
            return;
        }
        await FinishAsync(context, null, m, MachineLifecycle.StateOf(result.Value.State), ct);
    }

    /// <summary>Records the machine's new state (if any) and finishes the job in the same transaction.</summary>
    private async Task FinishAsync(JobContext context, Error? error, MachineRow? m, MachineState? to, CancellationToken ct)
    {
        await lifecycle.Db.WriteAsync<bool>(async tx =>
        {
            if (error is null && m is not null && to is { } state && WireNames.Of(state) != m.State)
            {
                var moved = await MachineStore.TransitionAsync(tx, lifecycle.Events, context.Caller, m, state, lifecycle.Now,
                    error: state == MachineState.Error ? "the fabric reports the machine in error" : null);
                if (moved is null)
                {
                    error = Error.InvalidState($"Machine '{m.Id}' was changed by something else meanwhile; read it again.");
                }
            }
            if (error is null)
            {
                await context.Queue.SucceedAsync(tx, context.Job.Id, null, $"{context.Job.Target} {Past(action)}");
            }
            else
            {
                await context.Queue.FailAsync(tx, context.Job.Id, error);
            }
            return true;
        }, ct);
    }

    private static string Past(string action) => action switch
    {
        ChangeManager.Actions.Start => "started",
        ChangeManager.Actions.Stop => "stopped",
        ChangeManager.Actions.Pause => "paused",
        ChangeManager.Actions.Resume => "resumed",
        ChangeManager.Actions.Reboot => "rebooted",
        _ => "destroyed",
    };
}

/// <summary>
/// machine.resize: the driver refuses to resize a running machine, so a running one is stopped
/// (machine.deactivated), resized (machine.resized with old and new sizes) and started again
/// (machine.activated with the new sizes). Capacity on the host is taken before the driver acts
/// and given back when it refuses.
/// </summary>
public sealed class ResizeJobHandler(MachineLifecycle lifecycle, Placer placer) : IJobHandler
{
    public string Action => ChangeManager.Actions.Resize;

    public async Task RunAsync(JobContext context, CancellationToken ct)
    {
        var request = JsonSerializer.Deserialize<ResizeJob>(context.Job.Request!, WelkinJson.Client)!;
        var id = request.MachineId;
        var m = await lifecycle.LoadAsync(id, ct);
        if (m is null || !m.Holds || (m.State != MachineStore.Running && m.State != MachineStore.Inactive))
        {
            await FailAsync(context, Error.InvalidState($"Machine '{id}' is {m?.State ?? "gone"}; it was not resized."), ct);
            return;
        }
        var pool = lifecycle.DriverOf(m);
        if (!pool.IsSuccess)
        {
            await FailAsync(context, pool.Error!, ct);
            return;
        }
        var driver = pool.Value;
        var needsResize = m.Vcpus != request.Vcpus || m.MemoryMiB != request.MemoryMiB;
        if (needsResize && m.State == MachineStore.Running)
        {
            var stopped = await driver.StopAsync(id, false, ct);
            if (!stopped.IsSuccess)
            {
                await FailAsync(context, stopped.Error!, ct);
                return;
            }
            m = await MoveAsync(context, m, MachineState.Inactive, null, ct);
            if (m is null)
            {
                return;
            }
        }
        if (needsResize)
        {
            var grown = placer.Resize(m.Placement!, request.Vcpus, request.MemoryMiB);
            if (!grown.IsSuccess)
            {
                await RestartAndFailAsync(context, m, request, grown.Error!, ct);
                return;
            }
            var resized = await driver.ResizeAsync(id, request.Vcpus, request.MemoryMiB, ct);
            if (!resized.IsSuccess)
            {
                placer.Resize(grown.Value, (int)m.Vcpus, m.MemoryMiB);
                await RestartAndFailAsync(context, m, request, resized.Error!, ct);
                return;
            }
            var updated = await lifecycle.Db.WriteAsync<MachineRow?>(async tx =>
            {
                var next = await MachineStore.TransitionAsync(tx, lifecycle.Events, context.Caller, m, MachineState.Inactive, lifecycle.Now,
                    size: (request.Vcpus, request.MemoryMiB));
                if (next is not null && !request.WasRunning)
                {
                    await context.Queue.SucceedAsync(tx, context.Job.Id, null, $"{id} resized to {request.Vcpus} vCPU, {request.MemoryMiB} MiB");
                }
                return next;
            }, ct);
            if (updated.Value is null)
            {
                placer.Resize(grown.Value, (int)m.Vcpus, m.MemoryMiB);
                await FailAsync(context, Error.InvalidState($"Machine '{id}' was changed by something else meanwhile; it was not resized."), ct);
                return;
            }
            m = updated.Value;
            if (!request.WasRunning)
            {
                return;
            }
        }
        if (request.WasRunning && m.State == MachineStore.Inactive)
        {
            var started = await driver.StartAsync(id, ct);
            if (!started.IsSuccess)
            {
                await FailAsync(context, started.Error!, ct);
                return;
            }
            await lifecycle.Db.WriteAsync<bool>(async tx =>
            {
                await MachineStore.TransitionAsync(tx, lifecycle.Events, context.Caller, m, MachineState.Running, lifecycle.Now);
                await context.Queue.SucceedAsync(tx, context.Job.Id, null, $"{id} resized to {request.Vcpus} vCPU, {request.MemoryMiB} MiB");
                return true;
            }, ct);
            return;
        }
        await lifecycle.Db.WriteAsync<bool>(async tx =>
        {
            await context.Queue.SucceedAsync(tx, context.Job.Id, null, $"{id} resized to {request.Vcpus} vCPU, {request.MemoryMiB} MiB");
            return true;
        }, ct);
    }

    private async Task<MachineRow?> MoveAsync(JobContext context, MachineRow m, MachineState to, string? message, CancellationToken ct)
    {
        var moved = await lifecycle.Db.WriteAsync<MachineRow?>(async tx =>
            await MachineStore.TransitionAsync(tx, lifecycle.Events, context.Caller, m, to, lifecycle.Now, error: message), ct);
        if (moved.Value is null)
        {
            await FailAsync(context, Error.InvalidState($"Machine '{m.Id}' was changed by something else meanwhile; it was not resized."), ct);
        }
        return moved.Value;
    }

    private async Task RestartAndFailAsync(JobContext context, MachineRow m, ResizeJob request, Error error, CancellationToken ct)
    {
        if (request.WasRunning && m.State == MachineStore.Inactive && lifecycle.DriverOf(m) is { IsSuccess: true } driver
            && (await driver.Value.StartAsync(m.Id, ct)).IsSuccess)
        {
            await lifecycle.Db.WriteAsync<bool>(async tx =>
            {
                await MachineStore.TransitionAsync(tx, lifecycle.Events, context.Caller, m, MachineState.Running, lifecycle.Now);
                await context.Queue.FailAsync(tx, context.Job.Id, error);
                return true;
            }, ct);
            return;
        }
        await FailAsync(context, error, ct);
    }

    private Task FailAsync(JobContext context, Error error, CancellationToken ct) =>
        lifecycle.Db.WriteAsync<bool>(async tx =>
        {
            await context.Queue.FailAsync(tx, context.Job.Id, error);
            return true;
        }, ct);
}

/// <summary>
/// machine.migrate: takes the machine's capacity on the target host, has the driver move it (live
/// or cold), then records the new host and a machine.migrated event. A failure gives the capacity
/// back to the host the machine stayed on. Idempotent: a machine already on the target is recorded there.
/// </summary>
public sealed class MigrateJobHandler(MachineLifecycle lifecycle, Placer placer) : IJobHandler
{
    public string Action => ChangeManager.Actions.Migrate;

    public async Task RunAsync(JobContext context, CancellationToken ct)
    {
        var request = JsonSerializer.Deserialize<MigrateJob>(context.Job.Request!, WelkinJson.Client)!;
        var m = await lifecycle.LoadAsync(request.MachineId, ct);
        if (m is null || !m.Holds || !MachineStore.CanMigrate(m.State))
        {
            await FailAsync(context, Error.InvalidState($"Machine '{request.MachineId}' is {m?.State ?? "gone"}; it was not moved."), ct);
            return;
        }
        var driver = lifecycle.DriverOf(m);
        if (!driver.IsSuccess)
        {
            await FailAsync(context, driver.Error!, ct);
            return;
        }
        var from = m.Placement!;
        var moved = m.Host == request.Host ? from : placer.Move(from, request.Host);
        if (!moved.IsSuccess)
        {
            await FailAsync(context, moved.Error!, ct);
            return;
        }
        var progress = new JobProgress(context.Queue, context.Job.Id, 1);
        var result = await driver.Value.MigrateAsync(m.Id, request.Host, progress.For(0), ct);
        if (!result.IsSuccess || result.Value.Host != request.Host)
        {
            if (m.Host != request.Host)
            {
                placer.Move(moved.Value, from.Host);
            }
            await FailAsync(context, result.Error ?? Error.InvalidState($"The fabric left machine '{m.Id}' on host '{result.Value.Host}'."), ct);
            return;
        }
        var live = m.State != MachineStore.Inactive;
        await lifecycle.Db.WriteAsync<bool>(async tx =>
        {
            var now = lifecycle.Now;
            await MachineStore.MoveHostAsync(tx, m.Id, request.Host, now);
            await lifecycle.Events.AppendAsync(tx, context.Caller, new LifecycleEvent(EventLog.Types.MachineMigrated, m.Id, m.AccountId,
                new Dictionary<string, string> { ["from"] = from.Host, ["to"] = request.Host, ["mode"] = live ? "live" : "cold" }),
                DateTimeOffset.FromUnixTimeMilliseconds(now));
            await context.Queue.SucceedAsync(tx, context.Job.Id, new { host = request.Host, live },
                $"{m.Id} moved {(live ? "live" : "cold")} from {from.Host} to {request.Host}");
            return true;
        }, ct);
    }

    private Task FailAsync(JobContext context, Error error, CancellationToken ct) =>
        lifecycle.Db.WriteAsync<bool>(async tx =>
        {
            await context.Queue.FailAsync(tx, context.Job.Id, error);
            return true;
        }, ct);
}

using System.Globalization;
using System.Text.Json;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Data;
using Welkin.Core.Events;
using Welkin.Core.Jobs;
using Welkin.Core.Placement;
using Welkin.Core.Security;

namespace Welkin.Core.Instances;

/// <summary>
/// instance.provision, instance.scale and instance.terminate: destroys the machines the request
/// marked terminating, creates the ones it recorded as provisioning (in parallel, progress reported
/// to the job), then finishes the job with what was made. Idempotent: machines already running or
/// terminated are taken as they are.
/// </summary>
public sealed class InstanceJobHandler(string action, MachineLifecycle lifecycle) : IJobHandler
{
    public string Action => action;

    public async Task RunAsync(JobContext context, CancellationToken ct)
    {
        var job = context.Job;
        var request = JsonSerializer.Deserialize<MachinesJob>(job.Request!, WelkinJson.Client)!;
        var destroy = request.Destroy ?? [];
        var steps = Math.Max(1, request.Create.Count + destroy.Count);
        var progress = new JobProgress(context.Queue, job.Id, steps);
        var problems = new List<string>();
        for (var i = 0; i < destroy.Count; i++)
        {
            var destroyed = await lifecycle.DestroyAsync(context.Caller, destroy[i], ct);
            if (!destroyed.IsSuccess)
            {
                problems.Add($"{destroy[i]}: {destroyed.Error!.Detail}");
            }
            await progress.StepDoneAsync(request.Create.Count + i, ct);
        }
        var created = await Task.WhenAll(request.Create.Select(async (id, i) =>
        {
            var m = await lifecycle.CreateAsync(context.Caller, id, progress.For(i), ct);
            await progress.StepDoneAsync(i, ct);
            return (Id: id, Machine: m);
        }));
        foreach (var (id, m) in created)
        {
            if (m is null || m.State != MachineStore.Running)
            {
                problems.Add($"{id}: {(m is null ? "gone" : m.State)}{(m?.Error is { } e ? " (" + e + ")" : "")}");
            }
        }
        await lifecycle.Db.WriteAsync<bool>(async tx =>
        {
            var now = lifecycle.Now;
            if (action == ServiceManager.Actions.Terminate && problems.Count == 0)
            {
                await tx.ExecuteAsync(
                    "UPDATE instances SET state = 'terminated', terminated_at = @Now, updated_at = @Now, version = version + 1 WHERE id = @Id AND state <> 'terminated'",
                    new { Now = now, Id = request.InstanceId });
            }
            else if (action == ServiceManager.Actions.Terminate)
            {
                await tx.ExecuteAsync("UPDATE instances SET state = 'error', updated_at = @Now, version = version + 1 WHERE id = @Id",
                    new { Now = now, Id = request.InstanceId });
            }
            else
            {
                await MachineStore.RefreshInstanceAsync(tx, request.InstanceId, now);
            }
            var machines = new List<ProvisionedMachine>();
            foreach (var (id, made) in created)
            {
                // The row each create ended with is current (it was just committed); only a
                // machine that came back with none is looked up.
                var m = made ?? await MachineStore.GetMachineAsync(tx, id);
                if (m is not null)
                {
                    var view = MachineStore.ToView(m);
                    machines.Add(new ProvisionedMachine(m.Id, m.Name, m.VirtualSystem, view.State, m.Host, view.Access, m.Error));
                }
            }
            var result = action == ServiceManager.Actions.Terminate ? null : new ProvisionResult(request.InstanceId, machines);
            if (problems.Count == 0)
            {
                var message = action == ServiceManager.Actions.Terminate
                    ? $"{destroy.Count} machines terminated"
                    : $"{machines.Count} machines running" + (destroy.Count > 0 ? $", {destroy.Count} terminated" : "");
                await context.Queue.SucceedAsync(tx, job.Id, result, message);
            }
            else
            {
                var code = action == ServiceManager.Actions.Terminate ? "terminate-failed" : "provision-failed";
                await context.Queue.FailAsync(tx, job.Id,
                    new Error(code, ErrorKind.Conflict, $"{problems.Count} of {steps} machines failed: " + string.Join("; ", problems.Take(10))), result);
            }
            return true;
        }, ct);
    }
}

/// <summary>start, stop, pause, resume, reboot and destroy of one machine, with the usage events of each state change.</summary>
public sealed class MachineActionJobHandler(string action, MachineLifecycle lifecycle) : IJobHandler
{
    public string Action => action;

    public async Task RunAsync(JobContext context, CancellationToken ct)
    {
        var request = JsonSerializer.Deserialize<MachineJob>(context.Job.Request!, WelkinJson.Client)!;
        var driver = lifecycle.Driver;
        var id = request.MachineId;
        if (action == ServiceManager.Actions.Destroy)
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
            ServiceManager.Actions.Start or ServiceManager.Actions.Resume => m.State == MachineStore.Running,
            ServiceManager.Actions.Stop => m.State == MachineStore.Inactive,
            ServiceManager.Actions.Pause => m.State == MachineStore.Paused,
            _ => false,
        };
        if (done)
        {
            await FinishAsync(context, null, m, null, ct);
            return;
        }
        if (action == ServiceManager.Actions.Start && await lifecycle.ApplyPendingDevicesAsync(id, ct) is { IsSuccess: false } pending)
        {
            await FinishAsync(context, pending.Error, null, null, ct);
            return;
        }
        var result = action switch
        {
            ServiceManager.Actions.Start => await driver.StartAsync(id, ct),
            ServiceManager.Actions.Stop => await driver.StopAsync(id, request.Force, ct),
            ServiceManager.Actions.Pause => await driver.PauseAsync(id, ct),
            ServiceManager.Actions.Resume => await driver.ResumeAsync(id, ct),
            ServiceManager.Actions.Reboot => await driver.RebootAsync(id, ct),
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
        ServiceManager.Actions.Start => "started",
        ServiceManager.Actions.Stop => "stopped",
        ServiceManager.Actions.Pause => "paused",
        ServiceManager.Actions.Resume => "resumed",
        ServiceManager.Actions.Reboot => "rebooted",
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
    public string Action => ServiceManager.Actions.Resize;

    public async Task RunAsync(JobContext context, CancellationToken ct)
    {
        var request = JsonSerializer.Deserialize<ResizeJob>(context.Job.Request!, WelkinJson.Client)!;
        var driver = lifecycle.Driver;
        var id = request.MachineId;
        var m = await lifecycle.LoadAsync(id, ct);
        if (m is null || !m.Holds || (m.State != MachineStore.Running && m.State != MachineStore.Inactive))
        {
            await FailAsync(context, Error.InvalidState($"Machine '{id}' is {m?.State ?? "gone"}; it was not resized."), ct);
            return;
        }
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
        if (request.WasRunning && m.State == MachineStore.Inactive && (await lifecycle.Driver.StartAsync(m.Id, ct)).IsSuccess)
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
    public string Action => ServiceManager.Actions.Migrate;

    public async Task RunAsync(JobContext context, CancellationToken ct)
    {
        var request = JsonSerializer.Deserialize<MigrateJob>(context.Job.Request!, WelkinJson.Client)!;
        var m = await lifecycle.LoadAsync(request.MachineId, ct);
        if (m is null || !m.Holds || !MachineStore.CanMigrate(m.State))
        {
            await FailAsync(context, Error.InvalidState($"Machine '{request.MachineId}' is {m?.State ?? "gone"}; it was not moved."), ct);
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
        var result = await lifecycle.Driver.MigrateAsync(m.Id, request.Host, progress.For(0), ct);
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
            await tx.ExecuteAsync("UPDATE machines SET host = @Host, version = version + 1, updated_at = @Now WHERE id = @Id",
                new { request.Host, Now = now, m.Id });
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

/// <summary>
/// Aggregates the driver's per-machine progress into the job's percentage. Writes are paced: a
/// change of at least 5 points, or a machine finished, and no more than one write per
/// <see cref="MinInterval"/> of the server's clock, so a large or quick provision does not flood
/// the single database writer. The last machine's completion is never written on its own: the
/// job's final state follows at once.
/// </summary>
internal sealed class JobProgress(JobQueue queue, string jobId, int steps)
{
    public static readonly TimeSpan MinInterval = TimeSpan.FromMilliseconds(250);

    private readonly object _lock = new();
    private readonly int[] _parts = new int[Math.Max(steps, 1)];
    private readonly long _started = queue.Clock.GetTimestamp();
    private long _lastWrite;
    private int _done;
    private int _reported;

    public IProgress<int> For(int index) => new Part(this, index);

    public Task StepDoneAsync(int index, CancellationToken ct)
    {
        int percent;
        int done;
        lock (_lock)
        {
            _parts[index] = 100;
            done = ++_done;
            percent = _parts.Sum() / _parts.Length;
            if (done >= _parts.Length || !Due())
            {
                return Task.CompletedTask;
            }
            _reported = Math.Max(_reported, percent);
        }
        return queue.ReportProgressAsync(jobId, percent, Message(done), ct);
    }

    private string Message(int done) => string.Create(CultureInfo.InvariantCulture, $"{done} of {_parts.Length} machines done");

    /// <summary>True (and the write time taken) when a write is allowed now; call under the lock.</summary>
    private bool Due()
    {
        var now = queue.Clock.GetTimestamp();
        if (queue.Clock.GetElapsedTime(_lastWrite == 0 ? _started : _lastWrite, now) < MinInterval)
        {
            return false;
        }
        _lastWrite = now;
        return true;
    }

    private void Report(int index, int value)
    {
        int percent;
        int done;
        lock (_lock)
        {
            _parts[index] = Math.Max(_parts[index], Math.Clamp(value, 0, 99));
            percent = _parts.Sum() / _parts.Length;
            if (percent < _reported + 5 || !Due())
            {
                return;
            }
            _reported = percent;
            done = _done;
        }
        _ = ReportQuietlyAsync(percent, Message(done));
    }

    private async Task ReportQuietlyAsync(int percent, string message)
    {
        try
        {
            await queue.ReportProgressAsync(jobId, percent, message, CancellationToken.None);
        }
        catch (Exception e) when (e is System.Data.Common.DbException or InvalidOperationException or ObjectDisposedException)
        {
            // Progress is advisory; the job's final state is written with its last change.
        }
    }

    private sealed class Part(JobProgress owner, int index) : IProgress<int>
    {
        public void Report(int value) => owner.Report(index, value);
    }
}

using System.Globalization;
using System.Text.Json;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Jobs;

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
            if (action == ServiceManager.Actions.Terminate)
            {
                await MachineStore.FinishTerminationAsync(tx, request.InstanceId, problems.Count == 0, now);
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

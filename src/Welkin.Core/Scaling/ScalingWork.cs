using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Welkin.Contracts;
using Welkin.Core.Changes;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Instances;
using Welkin.Core.Jobs;
using Welkin.Core.Monitoring;
using Welkin.Core.Security;

namespace Welkin.Core.Scaling;

/// <summary>
/// Evaluates every scaling policy: keeps the instance's running machines within [min, max], and
/// inside that range deactivates one machine when the mean CPU utilization of its running
/// machines over the policy's window is below the low target, or activates one when it is above
/// the high target — at most one such action per cooldown, and never while an operation on the
/// instance or its machines is under way. It acts through the Change Manager's start and stop,
/// as a caller of the instance's account named after the policy, so every action is checked,
/// queued and audited exactly like a person's.
/// </summary>
public sealed class ScalingWork(IDatabase db, ChangeManager manager, IServiceProvider services, ScalingOptions options, ILogger<ScalingWork> logger)
    : IPeriodicWork
{
    public string Name => "scaling-policies";

    public TimeSpan Interval => options.Interval;

    public async Task RunAsync(DateTimeOffset now, CancellationToken ct)
    {
        var policies = await ScalingPolicies.AllAsync(db, ct);
        foreach (var policy in policies)
        {
            try
            {
                await EvaluateAsync(policy, now, ct);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Scaling policy of instance {Instance} failed at {Now}", policy.InstanceId, now);
            }
        }
    }

    private async Task EvaluateAsync(PolicyRow policy, DateTimeOffset now, CancellationToken ct)
    {
        var nowMs = DbTime.ToDb(now);
        var state = await MachineStore.StateOfInstanceAsync(db, policy.InstanceId, ct);
        if (state is null or "terminating" or "terminated" or "provisioning")
        {
            return;
        }
        var machines = await MachineStore.HoldingOfInstanceAsync(db, policy.InstanceId, ct);
        var busy = await JobQueue.BusyAsync(db, [policy.InstanceId, .. await MachineStore.IdsOfInstanceAsync(db, policy.InstanceId, ct)], ct);
        if (busy || machines.Any(m => m.State is "provisioning" or "terminating"))
        {
            return;
        }
        var running = machines.Where(m => m.State == "running").Select(m => m.Id).ToList();
        var startable = machines.Where(m => m.State == "inactive").Concat(machines.Where(m => m.State == "error")).Select(m => m.Id).ToList();
        double? cpu = null;
        var query = services.GetService<IMeasurementQuery>();
        if (query is not null && running.Count > 0)
        {
            cpu = await query.AggegateCpuAsync(running, now - TimeSpan.FromMinutes(policy.WindowMinutes), now, ct);
        }
        var cooling = policy.LastActionAt is { } last && nowMs < last + (policy.CooldownMinutes * 60_000);
        var cpuText = cpu is { } c ? c.ToString("0.#", CultureInfo.InvariantCulture) + " %" : "no samples";

        // Bounds first (they are the contract with the consumer), then the load targets.
        string action;
        List<string> targets;
        string reason;
        if (running.Count < policy.MinActive && startable.Count > 0)
        {
            (action, targets, reason) = (ChangeManager.Actions.Start, startable.Take((int)policy.MinActive - running.Count).ToList(),
                $"{running.Count} running, below the minimum {policy.MinActive}");
        }
        else if (running.Count > policy.MaxActive)
        {
            (action, targets, reason) = (ChangeManager.Actions.Stop, running.AsEnumerable().Reverse().Take(running.Count - (int)policy.MaxActive).ToList(),
                $"{running.Count} running, above the maximum {policy.MaxActive}");
        }
        else if (!cooling && cpu is { } high && (decimal)high > policy.High && running.Count < policy.MaxActive && startable.Count > 0)
        {
            (action, targets, reason) = (ChangeManager.Actions.Start, [startable[0]], $"cpu {cpuText} above {policy.High} %");
        }
        else if (!cooling && cpu is { } low && (decimal)low < policy.Low && running.Count > policy.MinActive)
        {
            (action, targets, reason) = (ChangeManager.Actions.Stop, [running[^1]], $"cpu {cpuText} below {policy.Low} %");
        }
        else
        {
            await ScalingPolicies.MarkEvaluatedAsync(db, policy.InstanceId, nowMs, ct);
            return;
        }

        var caller = Caller.For(policy.Actor, policy.Name, policy.AccountId, [Role.Engineer],
            string.Create(CultureInfo.InvariantCulture, $"scaling-{policy.InstanceId[^8..]}-{nowMs}"), null);
        var done = new List<string>();
        foreach (var id in targets)
        {
            var result = await manager.MachineActionAsync(caller, id, action, new MachineActionRequest(), ct);
            if (result.IsSuccess)
            {
                done.Add(id);
            }
            else
            {
                logger.LogInformation("Scaling policy of {Instance} could not {Action} {Machine}: {Detail}", policy.InstanceId, action, id, result.Error!.Detail);
            }
        }
        if (done.Count == 0)
        {
            return;
        }
        var verb = action == ChangeManager.Actions.Start ? "started" : "stopped";
        var summary = $"{verb} {string.Join(", ", done)}: {reason}";
        await ScalingPolicies.RecordActionAsync(db, policy.InstanceId, summary, nowMs, ct);
        logger.LogInformation("Scaling policy of {Instance} {Summary}", policy.InstanceId, summary);
    }
}

internal static class MeasurementQueryExtensions
{
    public static Task<double?> AggegateCpuAsync(this IMeasurementQuery query, IReadOnlyList<string> machines, DateTimeOffset from, DateTimeOffset to, CancellationToken ct) =>
        query.AggregateAsync(machines, MetricNames.CpuUtilization, from, to, Aggregation.Mean, null, ct);
}

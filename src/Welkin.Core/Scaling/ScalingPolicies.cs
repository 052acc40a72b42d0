using System.Globalization;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Instances;
using Welkin.Core.Security;

namespace Welkin.Core.Scaling;

public sealed class ScalingOptions
{
    /// <summary>How often policies are evaluated (<c>Scaling:Interval</c>).</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(1);
}

// A class rather than a positional record: SQLite reports a CAST column's type only once there
// is a row, and Dapper matches a record's constructor against those types.
internal sealed class PolicyRow
{
    public string InstanceId { get; init; } = "";

    public string AccountId { get; init; } = "";

    public string Name { get; init; } = "";

    public long MinActive { get; init; }

    public long MaxActive { get; init; }

    public string CpuLow { get; init; } = "0";

    public string CpuHigh { get; init; } = "0";

    public long WindowMinutes { get; init; }

    public long CooldownMinutes { get; init; }

    public string? LastAction { get; init; }

    public long? LastActionAt { get; init; }

    public long? LastEvaluatedAt { get; init; }

    public long Version { get; init; }

    public long CreatedAt { get; init; }

    public long UpdatedAt { get; init; }

    public decimal Low => decimal.Parse(CpuLow, NumberStyles.Float, CultureInfo.InvariantCulture);

    public decimal High => decimal.Parse(CpuHigh, NumberStyles.Float, CultureInfo.InvariantCulture);

    public string Actor => ScalingPolicies.ActorOf(InstanceId);

    public ScalingPolicyView ToView() =>
        new(InstanceId, AccountId, Name, Actor, (int)MinActive, (int)MaxActive, Low, High, (int)WindowMinutes, (int)CooldownMinutes, LastAction,
            DbTime.FromDb(LastActionAt), DbTime.FromDb(LastEvaluatedAt), Version, DbTime.FromDb(CreatedAt), DbTime.FromDb(UpdatedAt));
}

/// <summary>
/// Scaling policies of instances (Table 1's SLA management system): set, read and clear. The
/// policy itself acts in <see cref="ScalingWork"/>. The owner of the <c>scaling_policies</c> table:
/// what the work records of its evaluations is written here too.
/// </summary>
public sealed class ScalingPolicies(IDatabase db, AuditLog audit, TimeProvider clock)
{
    public const int MaxWindowMinutes = 24 * 60;
    public const int MaxCooldownMinutes = 7 * 24 * 60;

    private const string Columns =
        "instance_id AS InstanceId, account_id AS AccountId, name AS Name, min_active AS MinActive, max_active AS MaxActive, " +
        "CAST(cpu_low AS TEXT) AS CpuLow, CAST(cpu_high AS TEXT) AS CpuHigh, window_minutes AS WindowMinutes, cooldown_minutes AS CooldownMinutes, " +
        "last_action AS LastAction, last_action_at AS LastActionAt, last_evaluated_at AS LastEvaluatedAt, version AS Version, created_at AS CreatedAt, updated_at AS UpdatedAt";

    /// <summary>The principal id a policy's actions are recorded under (audit actor, job creator).</summary>
    public static string ActorOf(string instanceId) => "scaling-policy:" + instanceId;

    public async Task<Result<ScalingPolicyView>> SetAsync(Caller caller, string instanceId, ScalingPolicyRequest request, CancellationToken ct)
    {
        if (CheckChange(caller, instanceId) is { } refused)
        {
            return refused;
        }
        var v = new Validator();
        v.Require(request.MinActive is >= 0 and <= ServiceManager.MaxMachinesPerSystem, "minActive", $"minActive must be 0-{ServiceManager.MaxMachinesPerSystem}");
        v.Require(request.MaxActive is >= 1 and <= ServiceManager.MaxMachinesPerSystem, "maxActive", $"maxActive must be 1-{ServiceManager.MaxMachinesPerSystem}");
        v.Require(request.MaxActive >= request.MinActive, "maxActive", "maxActive must be at least minActive");
        v.Require(request.CpuLowPercent is >= 0 and <= 100, "cpuLowPercent", "cpuLowPercent must be 0-100");
        v.Require(request.CpuHighPercent is >= 0 and <= 100, "cpuHighPercent", "cpuHighPercent must be 0-100");
        v.Require(request.CpuLowPercent < request.CpuHighPercent, "cpuHighPercent", "cpuHighPercent must be above cpuLowPercent");
        v.Require(request.WindowMinutes is >= 1 and <= MaxWindowMinutes, "windowMinutes", $"windowMinutes must be 1-{MaxWindowMinutes}");
        v.Require(request.CooldownMinutes is >= 0 and <= MaxCooldownMinutes, "cooldownMinutes", $"cooldownMinutes must be 0-{MaxCooldownMinutes}");
        v.Require(request.Name is null || Names.IsValid(request.Name), "name", $"name {Names.Rule}");
        if (v.ToError() is { } invalid)
        {
            return invalid;
        }
        return await db.WriteAsync<ScalingPolicyView>(async tx =>
        {
            var instance = await MachineStore.GetInstanceAsync(tx, instanceId);
            if (instance is null || !Tenancy.Sees(caller, instance.AccountId))
            {
                return Error.NotFound("Instance", instanceId);
            }
            if (instance.State is "terminating" or "terminated")
            {
                return Error.InvalidState($"Instance '{instanceId}' is {instance.State}; it can no longer carry a scaling policy.");
            }
            // A policy never exceeds the contract: it only starts machines the line already holds.
            var quantity = await Contracts.ContractStore.QuantityAsync(tx, instance.ContractId, instance.Item);
            if (request.MaxActive > quantity)
            {
                return Error.Validation("maxActive", $"maxActive must not exceed the {quantity} machines of contract line {instance.Item}");
            }
            var existing = await tx.QuerySingleOrDefaultAsync<PolicyRow>($"SELECT {Columns} FROM scaling_policies WHERE instance_id = @Id", new { Id = instanceId });
            if (request.Version is { } expected && expected != (existing?.Version ?? 0))
            {
                return Error.VersionMismatch("Scaling policy", instanceId, expected, existing?.Version ?? 0);
            }
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            var row = new PolicyRow
            {
                InstanceId = instanceId, AccountId = instance.AccountId, Name = request.Name ?? existing?.Name ?? instance.Name,
                MinActive = request.MinActive, MaxActive = request.MaxActive,
                CpuLow = request.CpuLowPercent.ToString(CultureInfo.InvariantCulture), CpuHigh = request.CpuHighPercent.ToString(CultureInfo.InvariantCulture),
                WindowMinutes = request.WindowMinutes, CooldownMinutes = request.CooldownMinutes, LastAction = existing?.LastAction,
                LastActionAt = existing?.LastActionAt, LastEvaluatedAt = existing?.LastEvaluatedAt, Version = (existing?.Version ?? 0) + 1,
                CreatedAt = existing?.CreatedAt ?? now, UpdatedAt = now,
            };
            var p = new
            {
                row.InstanceId, row.AccountId, row.Name, row.MinActive, row.MaxActive, Low = request.CpuLowPercent, High = request.CpuHighPercent,
                row.WindowMinutes, row.CooldownMinutes, row.Version, row.CreatedAt, row.UpdatedAt, OldVersion = existing?.Version ?? 0,
            };
            var n = existing is null
                ? await tx.ExecuteAsync(
                    """
                    INSERT INTO scaling_policies (instance_id, account_id, name, min_active, max_active, cpu_low, cpu_high, window_minutes, cooldown_minutes,
                        version, created_at, updated_at)
                    VALUES (@InstanceId, @AccountId, @Name, @MinActive, @MaxActive, @Low, @High, @WindowMinutes, @CooldownMinutes, @Version, @CreatedAt, @UpdatedAt)
                    ON CONFLICT (instance_id) DO NOTHING
                    """, p)
                : await tx.ExecuteAsync(
                    """
                    UPDATE scaling_policies SET name = @Name, min_active = @MinActive, max_active = @MaxActive, cpu_low = @Low, cpu_high = @High,
                        window_minutes = @WindowMinutes, cooldown_minutes = @CooldownMinutes, version = @Version, updated_at = @UpdatedAt
                    WHERE instance_id = @InstanceId AND version = @OldVersion
                    """, p);
            if (n == 0)
            {
                return Error.Concurrency("Scaling policy", instanceId);
            }
            await audit.AppendAsync(tx, caller, new AuditEvent("scaling-policy.set", instanceId, AuditEvent.Success, instance.AccountId,
                string.Create(CultureInfo.InvariantCulture,
                    $"name={row.Name}; active={request.MinActive}-{request.MaxActive}; cpu={request.CpuLowPercent}-{request.CpuHighPercent}%; window={request.WindowMinutes}m; cooldown={request.CooldownMinutes}m")));
            return row.ToView();
        }, ct);
    }

    public async Task<Result<ScalingPolicyView>> GetAsync(Caller caller, string instanceId, CancellationToken ct)
    {
        if (!Ids.IsValid(instanceId, Ids.Instance))
        {
            return Error.InvalidId(instanceId, "instance");
        }
        if (Tenancy.Require(caller, Permission.ResourcesRead, "Reading scaling policies") is { } denied)
        {
            return denied;
        }
        var row = await db.QuerySingleOrDefaultAsync<PolicyRow>($"SELECT {Columns} FROM scaling_policies WHERE instance_id = @Id", new { Id = instanceId }, ct);
        if (row is null || !Tenancy.Sees(caller, row.AccountId))
        {
            var owner = await MachineStore.AccountOfInstanceAsync(db, instanceId, ct);
            return owner is not null && Tenancy.Sees(caller, owner)
                ? new Error("not-found", ErrorKind.NotFound, $"Instance '{instanceId}' has no scaling policy.")
                : Error.NotFound("Instance", instanceId);
        }
        return row.ToView();
    }

    public async Task<Result<bool>> ClearAsync(Caller caller, string instanceId, CancellationToken ct)
    {
        if (CheckChange(caller, instanceId) is { } refused)
        {
            return refused;
        }
        return await db.WriteAsync<bool>(async tx =>
        {
            var owner = await MachineStore.AccountOfInstanceAsync(tx, instanceId);
            if (owner is null || !Tenancy.Sees(caller, owner))
            {
                return Error.NotFound("Instance", instanceId);
            }
            var n = await tx.ExecuteAsync("DELETE FROM scaling_policies WHERE instance_id = @Id", new { Id = instanceId });
            if (n == 0)
            {
                return new Error("not-found", ErrorKind.NotFound, $"Instance '{instanceId}' has no scaling policy.");
            }
            await audit.AppendAsync(tx, caller, new AuditEvent("scaling-policy.clear", instanceId, AuditEvent.Success, owner));
            return true;
        }, ct);
    }

    /// <summary>Every policy, by instance (what <see cref="ScalingWork"/> evaluates).</summary>
    internal static Task<IReadOnlyList<PolicyRow>> AllAsync(IDatabase db, CancellationToken ct) =>
        db.QueryAsync<PolicyRow>($"SELECT {Columns} FROM scaling_policies ORDER BY instance_id", null, ct);

    /// <summary>Records that the policy was evaluated at <paramref name="now"/> and did nothing.</summary>
    internal static Task MarkEvaluatedAsync(IDatabase db, string instanceId, long now, CancellationToken ct) =>
        db.WriteAsync<bool>(async tx =>
        {
            await tx.ExecuteAsync("UPDATE scaling_policies SET last_evaluated_at = @Now WHERE instance_id = @Id", new { Now = now, Id = instanceId });
            return true;
        }, ct);

    /// <summary>Records what the policy did at <paramref name="now"/> (the start of its cooldown).</summary>
    internal static Task RecordActionAsync(IDatabase db, string instanceId, string summary, long now, CancellationToken ct) =>
        db.WriteAsync<bool>(async tx =>
        {
            await tx.ExecuteAsync(
                "UPDATE scaling_policies SET last_action = @Summary, last_action_at = @Now, last_evaluated_at = @Now WHERE instance_id = @Id",
                new { Summary = summary, Now = now, Id = instanceId });
            return true;
        }, ct);

    private static Error? CheckChange(Caller caller, string instanceId)
    {
        if (!Ids.IsValid(instanceId, Ids.Instance))
        {
            return Error.InvalidId(instanceId, "instance");
        }
        return Tenancy.RequireTenant(caller, Permission.ResourcesConfigure, "Changing scaling policies");
    }
}

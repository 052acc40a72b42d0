using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Contracts;
using Welkin.Core.Data;
using Welkin.Core.Placement;
using Welkin.Core.Security;

namespace Welkin.Core.Instances;

/// <summary>
/// Keeps Welkin's picture of the fabric true. At start (before the job runner resumes jobs) it
/// rebuilds placement from the machines that hold capacity and asks the driver to recover the
/// machines the database knows: those it no longer has go to error ("lost"). While running it
/// reads the driver's events: a failed host is taken out of placement and its machines go to
/// error (machine.failed, and machine.deactivated for those that ran); a crashed machine likewise.
/// </summary>
public sealed class FabricMonitor(
    IDatabase db, IComputeDriver driver, Placer placer, MachineLifecycle lifecycle, AuditLog audit, ILogger<FabricMonitor> logger)
    : BackgroundService, IHostedLifecycleService
{
    private static readonly string[] OnFabric = [MachineStore.Running, MachineStore.Paused, MachineStore.Inactive];

    public Task StartingAsync(CancellationToken cancellationToken) => RecoverAsync(cancellationToken);

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Rebuilds placement and reconciles with the driver; returns the machines found lost.</summary>
    public async Task<int> RecoverAsync(CancellationToken ct)
    {
        var holding = await db.QueryAsync<MachineRow>(
            $"SELECT {MachineStore.MachineColumns} FROM machines WHERE terminated_at IS NULL AND host IS NOT NULL ORDER BY id", null, ct);
        foreach (var m in holding)
        {
            if (placer.Contains(m.Host!))
            {
                placer.Reserve(m.Placement!);
            }
            else
            {
                logger.LogWarning("Machine {Machine} is on host {Host}, which the fabric no longer has", m.Id, m.Host);
            }
        }
        var known = holding
            .Where(m => m.State != MachineStore.Terminated && placer.Contains(m.Host!))
            .Select(m => new KnownMachine(MachineStore.SpecOf(m), MachineStore.DriverStateOf(m.State) ?? DriverMachineState.Error))
            .ToList();
        var found = (await driver.RecoverAsync(known, ct)).ToDictionary(d => d.MachineId, StringComparer.Ordinal);
        var caller = Caller.System("recovery");
        var lost = 0;
        foreach (var m in holding.Where(m => OnFabric.Contains(m.State)))
        {
            // Machines still provisioning or terminating are finished by their jobs, which run next.
            if (!found.TryGetValue(m.Id, out var d))
            {
                lost++;
                await lifecycle.FailAsync(caller, m, "lost: the fabric no longer has this machine", release: false, ct);
            }
            else if (d.State == DriverMachineState.Error)
            {
                await lifecycle.FailAsync(caller, m, d.Error ?? "the fabric reports the machine in error", release: false, ct);
            }
        }
        logger.LogInformation("Recovered {Machines} machines from the database; {Lost} lost", holding.Count, lost);
        return lost;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var e in driver.Events.ReadAllAsync(stoppingToken))
            {
                try
                {
                    await HandleAsync(e, stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    logger.LogError(ex, "Handling fabric event {Kind} on {Host} failed", e.Kind, e.Host);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    internal Task HandleAsync(DriverEvent e, CancellationToken ct) => e.Kind switch
    {
        DriverEvent.HostFailed => HostDownAsync(Caller.System("fabric"), e.Host, true, e.Detail, ct),
        DriverEvent.HostRecovered => HostDownAsync(Caller.System("fabric"), e.Host, false, e.Detail, ct),
        DriverEvent.MachineCrashed when e.MachineId is not null => CrashAsync(e.MachineId, e.Detail, ct),
        DriverEvent.MachineStopped when e.MachineId is not null => GuestStoppedAsync(e.MachineId, ct),
        _ => Task.CompletedTask,
    };

    /// <summary>Idempotent: machines already in error are left as they are, so the event and the operator's request may both arrive.</summary>
    internal async Task<int> HostDownAsync(Caller caller, string host, bool down, string? reason, CancellationToken ct)
    {
        placer.SetDown(host, down);
        if (!down)
        {
            return 0;
        }
        var machines = await db.QueryAsync<MachineRow>(
            $"SELECT {MachineStore.MachineColumns} FROM machines WHERE host = @Host AND terminated_at IS NULL ORDER BY id", new { Host = host }, ct);
        var failed = 0;
        foreach (var m in machines.Where(m => OnFabric.Contains(m.State)))
        {
            if (await lifecycle.FailAsync(caller, m, $"host {host} failed" + (string.IsNullOrEmpty(reason) ? "" : ": " + reason), release: false, ct) is not null)
            {
                failed++;
            }
        }
        return failed;
    }

    private async Task CrashAsync(string machineId, string detail, CancellationToken ct)
    {
        var m = await lifecycle.LoadAsync(machineId, ct);
        if (m is not null && OnFabric.Contains(m.State))
        {
            await lifecycle.FailAsync(Caller.System("fabric"), m, "crashed: " + detail, release: false, ct);
        }
    }

    private async Task GuestStoppedAsync(string machineId, CancellationToken ct)
    {
        var m = await lifecycle.LoadAsync(machineId, ct);
        if (m is not null && (m.State == MachineStore.Running || m.State == MachineStore.Paused))
        {
            await lifecycle.DeactivateAsync(Caller.System("fabric"), m, ct);
        }
    }

    /// <summary>Operators: fail a host or bring it back (failure injection and maintenance).</summary>
    public async Task<Result<HostStatusView>> SetHostStateAsync(Caller caller, string name, HostStateRequest request, CancellationToken ct)
    {
        if (!caller.Can(Permission.FabricWrite))
        {
            return Error.Forbidden("Changing a host's state needs the operator or provider-admin role.");
        }
        if (!placer.Contains(name))
        {
            return Error.NotFound("Host", name);
        }
        if (request.Reason is { Length: > 500 })
        {
            return Error.Validation("reason", "reason is at most 500 characters");
        }
        var changed = await driver.SetHostFailedAsync(name, request.Down, ct);
        if (!changed.IsSuccess)
        {
            return changed.Error!;
        }
        var failed = await HostDownAsync(caller, name, request.Down, request.Reason, ct);
        await audit.AppendAsync(db, caller, new AuditEvent("fabric.host-state", name, AuditEvent.Success, null,
            $"down={request.Down.ToString().ToLowerInvariant()}; machines-failed={failed}" + (request.Reason is null ? "" : $"; reason={request.Reason}")), ct);
        return await HostStatusAsync(caller, name, ct);
    }

    public async Task<Result<HostStatusView>> HostStatusAsync(Caller caller, string name, CancellationToken ct)
    {
        if (!caller.Can(Permission.FabricRead))
        {
            return Error.Forbidden("Reading the fabric needs the operator or provider-admin role.");
        }
        var host = driver.Hosts.FirstOrDefault(h => h.Name == name);
        if (host is null)
        {
            return Error.NotFound("Host", name);
        }
        var machines = await db.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM machines WHERE host = @Host AND terminated_at IS NULL", new { Host = name }, ct);
        var (cpu, memory, disk) = placer.Free(name);
        return new HostStatusView(host.Name, host.Region, host.Jurisdiction, placer.IsDown(name), cpu, memory, disk, (int)machines);
    }
}

/// <summary>Terminating a contract releases its machines: each is destroyed and its unit returned (Table 1: "Terminate Contract").</summary>
public sealed class MachineContractResources(IDatabase db, MachineLifecycle lifecycle, TimeProvider clock) : IContractResources
{
    public string Kind => "machines";

    public async Task<Result<int>> ReleaseContractAsync(Caller caller, string contractId, CancellationToken ct)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        await db.WriteAsync<bool>(async tx =>
        {
            await tx.ExecuteAsync(
                "UPDATE instances SET state = 'terminating', updated_at = @Now, version = version + 1 WHERE contract_id = @Id AND state <> 'terminated' AND state <> 'terminating'",
                new { Now = now, Id = contractId });
            return true;
        }, ct);
        var ids = await db.QueryAsync<string>(
            "SELECT id FROM machines WHERE contract_id = @Id AND state <> @Terminated ORDER BY id", new { Id = contractId, MachineStore.Terminated }, ct);
        var results = await Task.WhenAll(ids.Select(id => lifecycle.DestroyAsync(caller, id, ct)));
        if (results.FirstOrDefault(r => !r.IsSuccess) is { Error: { } error })
        {
            return error;
        }
        await db.WriteAsync<bool>(async tx =>
        {
            await tx.ExecuteAsync(
                "UPDATE instances SET state = 'terminated', terminated_at = @Now, updated_at = @Now, version = version + 1 WHERE contract_id = @Id AND state <> 'terminated'",
                new { Now = clock.GetUtcNow().ToUnixTimeMilliseconds(), Id = contractId });
            return true;
        }, ct);
        return ids.Count;
    }
}

using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Data;
using Welkin.Core.Placement;
using Welkin.Core.Security;

namespace Welkin.Core.Instances;

/// <summary>
/// Keeps Welkin's picture of the fabric true, across every host pool. At start (before the job
/// runner resumes jobs) it rebuilds placement from the machines that hold capacity and asks each
/// pool's driver to recover the machines the database places in that pool: those it no longer has
/// go to error ("lost"). While running it reads every driver's events: a failed host is taken out
/// of placement and its machines go to error (machine.failed, and machine.deactivated for those
/// that ran); a crashed machine likewise. An unreachable host (a peer cloud that is offline) is taken
/// out of placement and its machines become unknown (machine.unreachable): they may still run, so
/// they are neither failed nor billed; when it answers again each takes the state its driver reports.
/// </summary>
public sealed class FabricMonitor(
    IDatabase db, ComputeFabric fabric, Placer placer, MachineLifecycle lifecycle, AuditLog audit, ILogger<FabricMonitor> logger)
    : BackgroundService, IHostedLifecycleService
{
    private static readonly string[] OnFabric = [MachineStore.Running, MachineStore.Paused, MachineStore.Inactive];
    private static readonly string[] Reported = [MachineStore.Running, MachineStore.Paused, MachineStore.Inactive, MachineStore.Unknown];

    public Task StartingAsync(CancellationToken cancellationToken) => RecoverAsync(cancellationToken);

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Rebuilds placement and reconciles with every pool's driver; returns the machines found lost.</summary>
    public async Task<int> RecoverAsync(CancellationToken ct)
    {
        var assigned = await MachineStore.AssignPoolsAsync(db, fabric.Hosts.ToDictionary(h => h.Name, h => h.Pool!, StringComparer.Ordinal), ct);
        if (assigned.Value > 0)
        {
            logger.LogInformation("Recorded the host pool of {Machines} machines made before pools existed", assigned.Value);
        }
        var holding = await MachineStore.HoldingAsync(db, null, ct);
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
        var found = new Dictionary<string, DriverMachine>(StringComparer.Ordinal);
        foreach (var pool in fabric.Pools)
        {
            var known = holding
                .Where(m => m.State != MachineStore.Terminated && m.Pool == pool.Name && placer.Contains(m.Host!))
                .Select(m => new KnownMachine(MachineStore.SpecOf(m), MachineStore.DriverStateOf(m.State) ?? DriverMachineState.Error))
                .ToList();
            foreach (var d in await pool.Driver.RecoverAsync(known, ct))
            {
                found[d.MachineId] = d;
            }
        }
        var caller = Caller.System("recovery");
        var lost = 0;
        foreach (var m in holding.Where(m => Reported.Contains(m.State)))
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
            else if (m.State == MachineStore.Unknown && MachineLifecycle.StateOf(d.State) is { } reported)
            {
                await lifecycle.SetStateAsync(caller, m, reported, ct);
            }
        }
        logger.LogInformation("Recovered {Machines} machines from the database; {Lost} lost", holding.Count, lost);
        return lost;
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(fabric.Pools.Select(p => ReadEventsAsync(p, stoppingToken)));

    private async Task ReadEventsAsync(HostPool pool, CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var e in pool.Driver.Events.ReadAllAsync(stoppingToken))
            {
                try
                {
                    await HandleAsync(e, stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    logger.LogError(ex, "Handling fabric event {Kind} on {Host} of pool {Pool} failed", e.Kind, e.Host, pool.Name);
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
        DriverEvent.HostUnreachable => UnreachableAsync(e.Host, ct),
        DriverEvent.HostReachable => ReachableAsync(e.Host, ct),
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
        var machines = await MachineStore.HoldingAsync(db, host, ct);
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

    /// <summary>Idempotent: machines already unknown stay so.</summary>
    internal async Task<int> UnreachableAsync(string host, CancellationToken ct)
    {
        placer.SetDown(host, true);
        var caller = Caller.System("fabric");
        var marked = 0;
        foreach (var m in (await MachineStore.HoldingAsync(db, host, ct)).Where(m => OnFabric.Contains(m.State)))
        {
            if (await lifecycle.SetStateAsync(caller, m, MachineState.Unknown, ct) is not null)
            {
                marked++;
            }
        }
        if (marked > 0)
        {
            logger.LogWarning("Host {Host} cannot be reached: {Machines} machines are unknown until it answers", host, marked);
        }
        return marked;
    }

    /// <summary>Each unknown machine of the host takes the state its driver reports now; one the driver no longer has is lost.</summary>
    internal async Task<int> ReachableAsync(string host, CancellationToken ct)
    {
        placer.SetDown(host, false);
        var caller = Caller.System("fabric");
        var settled = 0;
        foreach (var m in (await MachineStore.HoldingAsync(db, host, ct)).Where(m => m.State == MachineStore.Unknown))
        {
            if (lifecycle.DriverOf(m) is not { IsSuccess: true } driver)
            {
                continue;
            }
            var d = await driver.Value.InspectAsync(m.Id, ct);
            var done = d switch
            {
                null => await lifecycle.FailAsync(caller, m, "lost: the fabric no longer has this machine", release: false, ct),
                { State: DriverMachineState.Error } => await lifecycle.FailAsync(caller, m, d.Error ?? "the fabric reports the machine in error", release: false, ct),
                _ when MachineLifecycle.StateOf(d.State) is { } reported => await lifecycle.SetStateAsync(caller, m, reported, ct),
                _ => null,
            };
            if (done is not null)
            {
                settled++;
            }
        }
        return settled;
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
        if (fabric.PoolOfHost(name) is not { } pool)
        {
            return Error.NotFound("Host", name);
        }
        if (request.Reason is { Length: > 500 })
        {
            return Error.Validation("reason", "reason is at most 500 characters");
        }
        var changed = await pool.Driver.SetHostFailedAsync(name, request.Down, ct);
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
        var host = fabric.Hosts.FirstOrDefault(h => h.Name == name);
        if (host is null)
        {
            return Error.NotFound("Host", name);
        }
        var machines = await MachineStore.CountOnHostAsync(db, name, ct);
        var (cpu, memory, disk) = placer.Free(name);
        return new HostStatusView(host.Name, host.Region, host.Jurisdiction, placer.IsDown(name), cpu, memory, disk, (int)machines, host.Pool);
    }
}

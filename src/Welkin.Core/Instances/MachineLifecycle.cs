using Microsoft.Extensions.Logging;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Data;
using Welkin.Core.Events;
using Welkin.Core.Placement;
using Welkin.Core.Security;

namespace Welkin.Core.Instances;

/// <summary>
/// Creating and destroying machines on the fabric, shared by the job handlers, contract release and
/// failure handling. Every step is idempotent: it starts from the state the database recorded and
/// the driver's operations are idempotent on the machine id, so a step repeated after a crash
/// finishes what the first attempt began.
/// </summary>
public sealed class MachineLifecycle(
    IDatabase db, ComputeFabric fabric, Placer placer, EventLog events, Configuration.MachineDevices devices, TimeProvider clock, ILogger<MachineLifecycle> logger)
{
    public const string DefaultUser = "welkin";

    internal IDatabase Db => db;

    /// <summary>The driver of the pool the machine was placed in.</summary>
    internal Result<IComputeDriver> DriverOf(MachineRow m) => fabric.DriverOf(m.Pool);

    internal EventLog Events => events;

    /// <summary>
    /// Hands the driver the volumes, networks and properties recorded while the machine could not
    /// take them (attached while it was provisioning or in error), so they are in place when it starts.
    /// </summary>
    internal Task<Result<int>> ApplyPendingDevicesAsync(IComputeDriver driver, string id, CancellationToken ct) => devices.ApplyPendingAsync(driver, id, ct);

    internal long Now => clock.GetUtcNow().ToUnixTimeMilliseconds();

    internal Task<MachineRow?> LoadAsync(string id, CancellationToken ct) => db.ReadAsync(tx => MachineStore.GetMachineAsync(tx, id), ct);

    /// <summary>
    /// Deploys the machine's image on its host and boots it (provisioning → running, access stored,
    /// machine.activated). On a driver failure the machine goes to error with the driver's message
    /// and gives back its capacity and unit. Returns the machine as it ends.
    /// </summary>
    internal async Task<MachineRow?> CreateAsync(Caller caller, string id, IProgress<int>? progress, CancellationToken ct)
    {
        var m = await LoadAsync(id, ct);
        if (m is null || m.State != MachineStore.Provisioning)
        {
            return m;
        }
        var driver = DriverOf(m);
        if (!driver.IsSuccess)
        {
            return await FailAsync(caller, m, driver.Error!.Detail, release: true, ct) ?? await LoadAsync(id, ct);
        }
        var created = await driver.Value.CreateAsync(MachineStore.SpecOf(m), progress, ct);
        if (!created.IsSuccess)
        {
            // Whatever the driver left half-made is removed; destroying a missing machine succeeds.
            await driver.Value.DestroyAsync(id, ct);
            return await FailAsync(caller, m, created.Error!.Detail, release: true, ct) ?? await LoadAsync(id, ct);
        }
        var d = created.Value;
        var config = m.ParsedConfig;
        var access = new StoredAccess(d.Addresses, d.Endpoints, DefaultUser, config.SshPublicKey is null ? null : SshKeys.Fingerprint(config.SshPublicKey));
        var to = StateOf(d.State) ?? MachineState.Running;
        var result = await db.WriteAsync<MachineRow?>(async tx =>
            await MachineStore.TransitionAsync(tx, events, caller, m, to, Now, error: d.Error, access: access), ct);
        if (result.Value is null)
        {
            // Changed meanwhile (the contract was released, or the instance terminated): the machine
            // no longer belongs anywhere, so what was just made is removed again.
            var now = await LoadAsync(id, ct);
            if (now is null || now.State is "terminating" or "terminated")
            {
                await driver.Value.DestroyAsync(id, ct);
            }
            return now;
        }
        return result.Value;
    }

    /// <summary>Destroys the machine on the fabric and marks it terminated, returning its unit and capacity (machine.released).</summary>
    internal async Task<Result<MachineRow?>> DestroyAsync(Caller caller, string id, CancellationToken ct)
    {
        var m = await LoadAsync(id, ct);
        if (m is null || m.State == MachineStore.Terminated)
        {
            return m;
        }
        if (m.State != MachineStore.Terminating)
        {
            var marked = await db.WriteAsync<MachineRow?>(async tx => await MachineStore.TransitionAsync(tx, events, caller, m, MachineState.Terminating, Now), ct);
            if (marked.Value is null)
            {
                return await DestroyAsync(caller, id, ct);
            }
            m = marked.Value;
        }
        var driver = DriverOf(m);
        if (!driver.IsSuccess)
        {
            return driver.Error!;
        }
        var destroyed = await driver.Value.DestroyAsync(id, ct);
        if (!destroyed.IsSuccess)
        {
            return destroyed.Error!;
        }
        var held = m.Holds ? m.Placement : null;
        var done = await db.WriteAsync<MachineRow?>(async tx => await MachineStore.TransitionAsync(tx, events, caller, m, MachineState.Terminated, Now, release: true), ct);
        if (done.Value is null)
        {
            return await DestroyAsync(caller, id, ct);
        }
        if (held is not null)
        {
            placer.Release(held);
        }
        return done.Value;
    }

    /// <summary>Puts a machine in error (machine.failed; machine.deactivated when it ran), optionally giving back its unit and capacity.</summary>
    internal async Task<MachineRow?> FailAsync(Caller caller, MachineRow m, string message, bool release, CancellationToken ct)
    {
        var held = release && m.Holds ? m.Placement : null;
        var result = await db.WriteAsync<MachineRow?>(async tx =>
            await MachineStore.TransitionAsync(tx, events, caller, m, MachineState.Error, Now, error: message, release: release), ct);
        if (result.Value is not null && held is not null)
        {
            placer.Release(held);
        }
        if (result.Value is not null)
        {
            logger.LogWarning("Machine {Machine} went to error: {Message}", m.Id, message);
        }
        return result.Value;
    }

    /// <summary>Records that a machine's guest powered itself off: it is inactive (machine.deactivated), keeping its capacity.</summary>
    internal async Task<MachineRow?> DeactivateAsync(Caller caller, MachineRow m, CancellationToken ct) =>
        (await db.WriteAsync<MachineRow?>(async tx => await MachineStore.TransitionAsync(tx, events, caller, m, MachineState.Inactive, Now), ct)).Value;

    /// <summary>
    /// Moves a machine to <paramref name="to"/> as its driver reports it (a machine whose peer cloud
    /// was unreachable, or answers again); the usual events follow from the states.
    /// </summary>
    internal async Task<MachineRow?> SetStateAsync(Caller caller, MachineRow m, MachineState to, CancellationToken ct) =>
        (await db.WriteAsync<MachineRow?>(async tx => await MachineStore.TransitionAsync(tx, events, caller, m, to, Now), ct)).Value;

    internal static MachineState? StateOf(DriverMachineState state) => state switch
    {
        DriverMachineState.Running => MachineState.Running,
        DriverMachineState.Paused => MachineState.Paused,
        DriverMachineState.Stopped => MachineState.Inactive,
        DriverMachineState.Error => MachineState.Error,
        _ => null,
    };
}

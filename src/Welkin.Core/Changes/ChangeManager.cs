using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Contracts;
using Welkin.Core.Data;
using Welkin.Core.Events;
using Welkin.Core.Instances;
using Welkin.Core.Jobs;
using Welkin.Core.Placement;
using Welkin.Core.Security;

namespace Welkin.Core.Changes;

/// <summary>
/// The Change Manager (Table 1: "Change Resource Capacity"; the white paper's activate,
/// deactivate, resize and scale): scales a virtual system of an instance, starts, stops, pauses,
/// resumes, reboots and destroys machines, resizes them, moves them between the hosts of
/// their pool, and between clouds. Each change is checked and recorded with its job and audit entry in one
/// transaction; the fabric work is done by the job handlers (<see cref="MachineActionJobHandler"/>,
/// <see cref="ResizeJobHandler"/>, <see cref="MigrateJobHandler"/>, <see cref="MoveJobHandler"/>, and the Service Manager's
/// <see cref="InstanceJobHandler"/> for a scale).
/// </summary>
public sealed class ChangeManager(
    IDatabase db, AuditLog audit, EventLog events, JobQueue jobs, MachinePlanner planner, Placer placer, ComputeFabric fabric, TimeProvider clock)
{
    public static class Actions
    {
        public const string Scale = "instance.scale";
        public const string Start = "machine.start";
        public const string Stop = "machine.stop";
        public const string Pause = "machine.pause";
        public const string Resume = "machine.resume";
        public const string Reboot = "machine.reboot";
        public const string Destroy = "machine.destroy";
        public const string Resize = "machine.resize";
        public const string Migrate = "machine.migrate";
        public const string Move = "machine.move";

        public static readonly IReadOnlyList<string> Machine = [Start, Stop, Pause, Resume, Reboot, Destroy];
    }

    private static readonly string ActiveContract = WireNames.Of(ContractState.Active);

    // ---- Scale --------------------------------------------------------------------------------

    /// <summary>Scales one virtual system to a number of machines, within the contract line and the account's limit.</summary>
    public async Task<Result<AcceptedView<InstanceView>>> ScaleAsync(Caller caller, string id, ScaleRequest request, CancellationToken ct)
    {
        if (ServiceManager.CheckChange(caller, id, Ids.Instance, "instance") is { } error)
        {
            return error;
        }
        if (request.Count is < 0 or > ServiceManager.MaxMachinesPerSystem)
        {
            return Error.Validation("count", $"count must be 0-{ServiceManager.MaxMachinesPerSystem}");
        }
        using var held = planner.Hold();
        var result = await db.WriteAsync<AcceptedView<InstanceView>>(async tx =>
        {
            held.ReleaseAll();
            var loaded = await LoadScalableAsync(tx, caller, id, request);
            if (!loaded.IsSuccess)
            {
                return loaded.Error!;
            }
            var (instance, choice) = loaded.Value;
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            var spec = instance.ParsedSpec;
            var systems = spec.VirtualSystems.Select(s => s.VirtualSystem == request.VirtualSystem ? s with { Count = request.Count } : s).ToList();
            if (!await MachineStore.UpdateInstanceSpecAsync(tx, instance, spec with { VirtualSystems = systems }, now))
            {
                return Error.Concurrency("Instance", id);
            }
            var all = await MachineStore.MachinesOfInstanceAsync(tx, id);
            var live = all.Where(m => m.VirtualSystem == request.VirtualSystem && m.Holds && m.State != MachineStore.Terminating).ToList();
            var change = request.Count > live.Count
                ? await GrowAsync(tx, caller, held, instance, choice, all, request.Count - live.Count, now)
                : await ShrinkAsync(tx, caller, live, live.Count - request.Count, now);
            if (!change.IsSuccess)
            {
                return change.Error!;
            }
            var (create, destroy) = change.Value;
            await MachineStore.RefreshInstanceAsync(tx, id, now);
            var job = await jobs.EnqueueAsync(tx, caller, instance.AccountId, Actions.Scale, id, new MachinesJob(id, create, destroy));
            await audit.AppendAsync(tx, caller, new AuditEvent(Actions.Scale, id, AuditEvent.Success, instance.AccountId,
                $"virtualSystem={request.VirtualSystem}; from={live.Count}; to={request.Count}; job={job.Id}"));
            var current = await MachineStore.GetInstanceAsync(tx, id);
            return new AcceptedView<InstanceView>(job, MachineStore.ToView(current!, await MachineStore.IdsOfInstanceAsync(tx, id)));
        }, ct);
        if (result.IsSuccess)
        {
            held.Keep();
            jobs.Wake();
        }
        return result;
    }

    /// <summary>The instance (visible, at the version asked for, in a state that scales, with no job under way) and the virtual system named.</summary>
    private static async Task<Result<(InstanceRow Instance, VirtualSystemChoice Choice)>> LoadScalableAsync(Tx tx, Caller caller, string id, ScaleRequest request)
    {
        var found = await MachineStore.InstanceForChangeAsync(tx, caller, id, request.Version);
        if (!found.IsSuccess)
        {
            return found.Error!;
        }
        var instance = found.Value;
        if (instance.State is not ("active" or "inactive" or "error"))
        {
            return Error.InvalidState($"Instance '{id}' is {instance.State}; it can be scaled when active, inactive or in error.");
        }
        if (await JobQueue.BusyAsync(tx, id))
        {
            return Error.InvalidState($"Instance '{id}' has an operation in progress; wait for its job to finish.");
        }
        var choice = instance.ParsedSpec.VirtualSystems.FirstOrDefault(s => s.VirtualSystem == request.VirtualSystem);
        return choice is null
            ? Error.Validation("virtualSystem", $"virtualSystem: the instance has no virtual system '{request.VirtualSystem}'")
            : (instance, choice);
    }

    /// <summary>Draws the units of <paramref name="add"/> more machines, places and records them (provisioning).</summary>
    private async Task<Result<(List<string> Create, List<string> Destroy)>> GrowAsync(
        Tx tx, Caller caller, PlacementHold held, InstanceRow instance, VirtualSystemChoice choice, List<MachineRow> all, int add, long now)
    {
        var state = await ContractStore.StateAsync(tx, instance.ContractId);
        if (state != ActiveContract)
        {
            return Error.InvalidState($"Contract '{instance.ContractId}' is {state}; only an active contract can be provisioned against.");
        }
        var spec = instance.ParsedSpec;
        if (await Quotas.DrawProvisionedAsync(tx, instance.AccountId, instance.ContractId, (int)instance.Item, spec.LimitUnit, add, "machines") is { } refused)
        {
            return refused;
        }
        var owner = new MachineOwner(instance.Id, instance.AccountId, instance.ContractId, instance.Item, instance.OfferingId, spec);
        var next = all.Count(m => m.VirtualSystem == choice.VirtualSystem) + 1;
        var placed = await planner.PlaceAsync(tx, held, owner, choice, $"{instance.Name}-{choice.VirtualSystem}-", next, add, now);
        if (!placed.IsSuccess)
        {
            return placed.Error!;
        }
        await MachineStore.InsertAsync(tx, events, caller, placed.Value, now);
        return (placed.Value.Select(m => m.Id).ToList(), []);
    }

    /// <summary>Marks the newest <paramref name="remove"/> machines terminating; their job destroys them.</summary>
    private async Task<Result<(List<string> Create, List<string> Destroy)>> ShrinkAsync(Tx tx, Caller caller, List<MachineRow> live, int remove, long now)
    {
        var destroy = new List<string>();
        foreach (var m in live.OrderByDescending(m => m.Id, StringComparer.Ordinal).Take(remove))
        {
            if (m.State == MachineStore.Provisioning)
            {
                return Error.InvalidState($"Machine '{m.Id}' is still provisioning.");
            }
            if (await MachineStore.TransitionAsync(tx, events, caller, m, MachineState.Terminating, now) is null)
            {
                return Error.Concurrency("Machine", m.Id);
            }
            destroy.Add(m.Id);
        }
        return ([], destroy);
    }

    // ---- Machine actions ----------------------------------------------------------------------

    /// <summary>start, stop, pause, resume, reboot, destroy (CIMI machine actions).</summary>
    public async Task<Result<AcceptedView<MachineView>>> MachineActionAsync(
        Caller caller, string id, string action, MachineActionRequest request, CancellationToken ct)
    {
        if (ServiceManager.CheckChange(caller, id, Ids.Machine, "machine") is { } error)
        {
            return error;
        }
        var (allowed, verb) = action switch
        {
            Actions.Start => (new[] { MachineStore.Inactive, MachineStore.Error }, "started"),
            Actions.Stop => ([MachineStore.Running, MachineStore.Paused], "stopped"),
            Actions.Pause => ([MachineStore.Running], "paused"),
            Actions.Resume => ([MachineStore.Paused], "resumed"),
            Actions.Reboot => ([MachineStore.Running], "rebooted"),
            Actions.Destroy => ([MachineStore.Running, MachineStore.Paused, MachineStore.Inactive, MachineStore.Error], "destroyed"),
            _ => throw new ArgumentOutOfRangeException(nameof(action), action, "not a machine action"),
        };
        return await ChangeMachineAsync(caller, id, request.Version, action, m =>
        {
            if (action == Actions.Pause && fabric.Find(m.Pool)?.Driver.Capabilities is { } caps && !caps.HasFlag(DriverCapabilities.Pause))
            {
                return DriverErrors.Unsupported("pausing machines");
            }
            // A machine whose provisioning failed has given its capacity back: it can only be destroyed.
            return !allowed.Contains(m.State) || (action == Actions.Start && !m.Holds)
                ? Error.InvalidState($"Machine '{id}' is {m.State}; it cannot be {verb}.")
                : null;
        },
        async (tx, m, now) =>
        {
            var current = action == Actions.Destroy
                ? await MachineStore.TransitionAsync(tx, events, caller, m, MachineState.Terminating, now)
                : await MachineStore.TouchAsync(tx, m, now);
            return current is null
                ? Error.Concurrency("Machine", id)
                : new MachineChange(current, new MachineJob(id, request.Force), $"job=%job%" + (request.Force ? "; force" : ""));
        }, ct);
    }

    // ---- Resize ------------------------------------------------------------------------------

    /// <summary>New vCPUs and memory within the offering's allowed choices; a running machine is stopped, resized and started.</summary>
    public async Task<Result<AcceptedView<MachineView>>> ResizeAsync(Caller caller, string id, ResizeRequest request, CancellationToken ct)
    {
        if (ServiceManager.CheckChange(caller, id, Ids.Machine, "machine") is { } error)
        {
            return error;
        }
        if (request.Vcpus is null && request.MemoryMiB is null)
        {
            return Error.Validation("vcpus", "give vcpus, memoryMiB or both");
        }
        return await ChangeMachineAsync(caller, id, request.Version, Actions.Resize,
            m => m.State != MachineStore.Running && m.State != MachineStore.Inactive
                ? Error.InvalidState($"Machine '{id}' is {m.State}; only a running or inactive machine can be resized.")
                : null,
            async (tx, m, now) =>
        {
            var size = await NewSizeAsync(tx, m, request);
            if (!size.IsSuccess)
            {
                return size.Error!;
            }
            var (vcpus, memory) = size.Value;
            var (cpuFree, memoryFree, _) = placer.Free(m.Host!);
            if ((vcpus - m.Vcpus) * 1000 > cpuFree || memory - m.MemoryMiB > memoryFree)
            {
                return new Error("insufficient-capacity", ErrorKind.Conflict,
                    $"Host '{m.Host}' has no room to grow machine '{id}' to {vcpus} vCPU and {memory} MiB memory.");
            }
            return await MachineStore.TouchAsync(tx, m, now) is not { } current
                ? Error.Concurrency("Machine", id)
                : new MachineChange(current, new ResizeJob(id, vcpus, memory, m.State == MachineStore.Running), $"from={m.Vcpus}x{m.MemoryMiB}; to={vcpus}x{memory}; job=%job%");
        }, ct);
    }

    // ---- Migrate -----------------------------------------------------------------------------

    /// <summary>
    /// Moves a machine to another host of its pool (a Change Manager operation of the provider's
    /// operators: maintenance, balancing). A running or paused machine moves live, where its pool's
    /// driver can; an inactive one moves cold and starts on the target next time. Runs as a
    /// <c>machine.migrate</c> job.
    /// </summary>
    public async Task<Result<AcceptedView<MachineView>>> MigrateAsync(Caller caller, string id, MigrateRequest request, CancellationToken ct)
    {
        if (!Ids.IsValid(id, Ids.Machine))
        {
            return Error.InvalidId(id, "machine");
        }
        if (Tenancy.RequireProvider(caller, Permission.FabricWrite, "Moving machines between hosts") is { } denied)
        {
            return denied;
        }
        ArgumentNullException.ThrowIfNull(request);
        if (string.IsNullOrWhiteSpace(request.Host) || fabric.PoolOfHost(request.Host) is not { } targetPool)
        {
            return Error.Validation("host", $"host must name a host of the fabric ('{request.Host}' is not one)");
        }
        return await ChangeMachineAsync(caller, id, request.Version, Actions.Migrate, m =>
        {
            if (!MachineStore.CanMigrate(m.State) || !m.Holds)
            {
                return Error.InvalidState($"Machine '{id}' is {m.State}; only a running, paused or inactive machine can move.");
            }
            if (m.Host == request.Host)
            {
                return Error.Validation("host", $"machine '{id}' is already on host '{request.Host}'");
            }
            if (m.Pool != targetPool.Name)
            {
                return FabricErrors.OtherPool(id, m.Pool, request.Host, targetPool.Name);
            }
            var live = m.State != MachineStore.Inactive;
            if (live && !targetPool.Driver.Capabilities.HasFlag(DriverCapabilities.LiveMigration))
            {
                return DriverErrors.Unsupported("live migration; stop the machine to move it");
            }
            return placer.IsDown(request.Host) ? DriverErrors.HostUnavailable(request.Host) : null;
        },
        async (tx, m, now) => await MachineStore.TouchAsync(tx, m, now) is not { } current
            ? Error.Concurrency("Machine", id)
            : new MachineChange(current, new MigrateJob(id, request.Host),
                $"from={m.Host}; to={request.Host}; {(m.State != MachineStore.Inactive ? "live" : "cold")}; job=%job%"), ct);
    }

    // ---- Move between clouds -----------------------------------------------------------------

    /// <summary>
    /// Moves a machine to another host pool across a cloud boundary: from this cloud's pool to a peer's
    /// (available, and within the jurisdictions the machine may run in), or back. Cold: the machine is
    /// stopped, packed as an OVA, carried over and started there if it ran; live (a running machine between
    /// QEMU pools): its disk and memory stream to the peer while it runs (<see cref="LiveMove"/>). Operators
    /// only; runs as a <c>machine.move</c> job (<see cref="MoveJobHandler"/>).
    /// </summary>
    public async Task<Result<AcceptedView<MachineView>>> MoveAsync(Caller caller, string id, MoveRequest request, CancellationToken ct)
    {
        if (!Ids.IsValid(id, Ids.Machine))
        {
            return Error.InvalidId(id, "machine");
        }
        if (Tenancy.RequireProvider(caller, Permission.FabricWrite, "Moving machines between clouds") is { } denied)
        {
            return denied;
        }
        ArgumentNullException.ThrowIfNull(request);
        var found = TargetPool(request);
        if (!found.IsSuccess)
        {
            return found.Error!;
        }
        var target = found.Value;
        var live = request.Mode == MoveMode.Live;
        return await ChangeMachineAsync(caller, id, request.Version, Actions.Move, m => CheckMove(m, target, placer) ?? (live ? LiveMove.Check(m, target, fabric) : null),
            async (tx, m, now) =>
            {
                if (await OutsideJurisdictionsAsync(tx, m, target) is { } outside)
                {
                    return outside;
                }
                // A peer's pool takes none of this cloud's volumes or networks: moving would leave them behind without a word.
                var volumes = await Configuration.VolumeStore.OnMachineAsync(tx, m.Id);
                var networks = await Configuration.NetworkStore.OfMachineAsync(tx, m.Id);
                if (volumes.Count > 0 || networks.Count > 0)
                {
                    return Error.InvalidState(
                        $"Machine '{m.Id}' has {volumes.Count} volume(s) and {networks.Count} tenant network(s) attached, which a peer cloud's pool cannot take; detach them to move it.");
                }
                var peer = (target.Driver as IPeerPool)?.Peer;
                return await MachineStore.TouchAsync(tx, m, now) is not { } current
                    ? Error.Concurrency("Machine", id)
                    : new MachineChange(current, new MoveJob(id, target.Name, m.State == MachineStore.Running, live),
                        $"from={m.Pool}; to={target.Name}{(peer is null ? "" : "; cloud=" + peer)}; {(live ? "live" : "cold")}; job=%job%");
            }, ct);
    }

    /// <summary>The pool a move names, or the pool of the peer cloud it names (one available, when the peer serves several).</summary>
    private Result<HostPool> TargetPool(MoveRequest request)
    {
        if ((request.Pool is null) == (request.Cloud is null))
        {
            return Error.Validation("pool", "give either pool or cloud");
        }
        if (request.Cloud is { } cloud)
        {
            var pools = fabric.Pools.Where(p => p.Driver is IPeerPool peer && string.Equals(peer.Peer, cloud, StringComparison.OrdinalIgnoreCase)).ToList();
            return (pools.FirstOrDefault(p => ((IPeerPool)p.Driver).Status.Available) ?? pools.FirstOrDefault()) is { } pool
                ? pool
                : Error.Validation("cloud", $"cloud must name a peer cloud one of this cloud's host pools is served by ('{cloud}' is not one)");
        }
        return string.IsNullOrWhiteSpace(request.Pool) || fabric.Find(request.Pool) is not { } named
            ? Error.Validation("pool", $"pool must name a host pool of the fabric ('{request.Pool}' is not one)")
            : named;
    }

    /// <summary>
    /// A machine may move to another cloud's pool when it runs or is stopped in one of this cloud's pools with exportable disks, and the peer's pool is
    /// available; and from a peer's pool home to one of this cloud's pools with room for it (<see cref="RepatriateMove"/>).
    /// </summary>
    private static Error? CheckMove(MachineRow m, HostPool target, Placer placer)
    {
        if (!m.Holds || (m.State != MachineStore.Running && m.State != MachineStore.Inactive))
        {
            return Error.InvalidState($"Machine '{m.Id}' is {m.State}; only a running or inactive machine can move to another cloud.");
        }
        if (m.Pool == target.Name)
        {
            return Error.Validation("pool", $"machine '{m.Id}' is already in pool '{target.Name}'");
        }
        if (target.Driver is not IPeerPool)
        {
            return RepatriateMove.Check(m, target, placer);
        }
        if (target.Driver is not IPeerMachineImport || target.Driver is not IPeerPool peer)
        {
            return Error.Validation("pool", $"pool '{target.Name}' cannot take machines from this cloud");
        }
        if (m.Peer is not null)
        {
            return DriverErrors.Unsupported("moving a machine from one peer cloud to another");
        }
        return peer.Status is { Available: false, Reason: var reason }
            ? new Error("peer-unavailable", ErrorKind.Conflict, $"Pool '{target.Name}' of peer '{peer.Peer}' is not available: {reason?.TrimEnd('.')}.")
            : null;
    }

    /// <summary>Refuses a peer pool that may run machines outside the jurisdictions the machine's instance allows (the offering's and the consumer's).</summary>
    private static async Task<Error?> OutsideJurisdictionsAsync(Tx tx, MachineRow m, HostPool target)
    {
        var allowed = (await MachineStore.GetInstanceAsync(tx, m.InstanceId))?.ParsedSpec.Jurisdictions;
        if (allowed is not { Count: > 0 } || target.Driver is not IPeerPool peer)
        {
            return null;
        }
        var where = peer.Status.Jurisdictions.Concat(target.Hosts.Select(h => h.Jurisdiction)).Where(j => !string.IsNullOrEmpty(j)).Distinct().ToList();
        var outside = where.Where(j => !allowed.Contains(j, StringComparer.OrdinalIgnoreCase)).ToList();
        return where.Count == 0 || outside.Count > 0
            ? new Error("outside-jurisdictions", ErrorKind.Conflict,
                $"Pool '{target.Name}' of peer '{peer.Peer}' may run machines in {(where.Count == 0 ? "undeclared jurisdictions" : string.Join(", ", outside))}, " +
                $"outside the jurisdictions {string.Join(", ", allowed)} machine '{m.Id}' may run in.")
            : null;
    }

    // ---- Shared ------------------------------------------------------------------------------

    /// <summary>What a change of one machine records: the machine after it, the job's request, the audit detail (<c>%job%</c> stands for the job's id).</summary>
    private sealed record MachineChange(MachineRow Machine, object Job, string Detail);

    /// <summary>
    /// One change of one machine, in one transaction: the machine visible to the caller, at the
    /// version asked for, in a state <paramref name="check"/> accepts, with no job under way on it or
    /// its instance; then <paramref name="record"/> records the change, and its job and audit entry are added.
    /// </summary>
    private async Task<Result<AcceptedView<MachineView>>> ChangeMachineAsync(
        Caller caller, string id, long? version, string action, Func<MachineRow, Error?> check,
        Func<Tx, MachineRow, long, Task<Result<MachineChange>>> record, CancellationToken ct)
    {
        var result = await db.WriteAsync<AcceptedView<MachineView>>(async tx =>
        {
            var found = await MachineStore.ForChangeAsync(tx, caller, id, version);
            if (!found.IsSuccess)
            {
                return found.Error!;
            }
            var m = found.Value;
            if (check(m) is { } refused)
            {
                return refused;
            }
            if (await JobQueue.BusyAsync(tx, id) || await JobQueue.BusyAsync(tx, m.InstanceId))
            {
                return Error.InvalidState($"Machine '{id}' has an operation in progress; wait for its job to finish.");
            }
            var change = await record(tx, m, clock.GetUtcNow().ToUnixTimeMilliseconds());
            if (!change.IsSuccess)
            {
                return change.Error!;
            }
            var job = await jobs.EnqueueAsync(tx, caller, m.AccountId, action, id, change.Value.Job);
            await audit.AppendAsync(tx, caller, new AuditEvent(action, id, AuditEvent.Success, m.AccountId, change.Value.Detail.Replace("%job%", job.Id, StringComparison.Ordinal)));
            return new AcceptedView<MachineView>(job, MachineStore.ToView(change.Value.Machine));
        }, ct);
        if (result.IsSuccess)
        {
            jobs.Wake();
        }
        return result;
    }

    /// <summary>The size a resize asks for, checked against the choices the machine's template and offering allow.</summary>
    private static async Task<Result<(int Vcpus, long MemoryMiB)>> NewSizeAsync(Tx tx, MachineRow m, ResizeRequest request)
    {
        var instance = (await MachineStore.GetInstanceAsync(tx, m.InstanceId))!;
        var line = await ContractStore.LineAsync(tx, m.ContractId, (int)instance.Item);
        var template = line?.TemplateId is null ? null : await Catalog.TemplateService.FindVersionAsync(tx, line.TemplateId, line.TemplateVersion!.Value);
        var system = template?.Spec.VirtualSystems.FirstOrDefault(s => s.Name == m.VirtualSystem);
        if (system is null)
        {
            return Error.InvalidState($"The template of machine '{m.Id}' no longer describes virtual system '{m.VirtualSystem}'.");
        }
        return TemplateChoices.Resize(system, line!.Choices?.FirstOrDefault(r => r.VirtualSystem == m.VirtualSystem), (int)m.Vcpus, m.MemoryMiB, request.Vcpus, request.MemoryMiB);
    }
}

internal sealed record MachineJob(string MachineId, bool Force);

internal sealed record ResizeJob(string MachineId, int Vcpus, long MemoryMiB, bool WasRunning);

internal sealed record MigrateJob(string MachineId, string Host);

internal sealed record MoveJob(string MachineId, string Pool, bool WasRunning, bool Live = false);

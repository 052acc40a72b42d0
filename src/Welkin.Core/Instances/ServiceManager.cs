using Dapper;
using System.Globalization;
using System.Text.Json;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Catalog;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Data;
using Welkin.Core.Events;
using Welkin.Core.Jobs;
using Welkin.Core.Placement;
using Welkin.Core.Security;

namespace Welkin.Core.Instances;

/// <summary>
/// The Service Manager and Change Manager (Table 1: "Provision Resource", "Deploy Virtual Image",
/// "Change Resource Capacity"). Requests are checked, placed and drawn against the contract and
/// the account here, in the transaction that records the machines and their job; the work on the
/// fabric is done by the job handlers (<see cref="ServiceManagerJobs"/>).
/// </summary>
public sealed class ServiceManager(
    IDatabase db, AuditLog audit, EventLog events, JobQueue jobs, Placer placer, IComputeDriver driver, TimeProvider clock)
{
    public const int MaxMachinesPerSystem = 100;
    public const int MaxMachinesPerRequest = 200;
    public const int MaxNameLength = 63;
    public const int ConsoleBytes = 64 * 1024;

    public static class Actions
    {
        public const string Provision = "instance.provision";
        public const string Scale = "instance.scale";
        public const string Terminate = "instance.terminate";
        public const string Start = "machine.start";
        public const string Stop = "machine.stop";
        public const string Pause = "machine.pause";
        public const string Resume = "machine.resume";
        public const string Reboot = "machine.reboot";
        public const string Destroy = "machine.destroy";
        public const string Resize = "machine.resize";
        public const string Migrate = "machine.migrate";
    }

    private static readonly string ActiveContract = WireNames.Of(ContractState.Active);

    // ---- Provision --------------------------------------------------------------------------

    public async Task<Result<AcceptedView<InstanceView>>> ProvisionAsync(Caller caller, ProvisionRequest request, CancellationToken ct)
    {
        if (!Ids.IsValid(request.ContractId, Ids.Contract))
        {
            return Error.InvalidId(request.ContractId ?? "", "contract");
        }
        if (caller.IsProvider || !(caller.Can(Permission.ContractsRequest) || caller.Can(Permission.ResourcesConfigure)))
        {
            return Error.Forbidden("Provisioning needs the contracts-request or resources-configure permission of the contract's account.");
        }
        var v = new Validator();
        v.Require(request.Name is null || Names.IsValid(request.Name), "name", $"name {Names.Rule}");
        string? fingerprint = null;
        if (request.SshPublicKey is not null)
        {
            fingerprint = SshKeys.Fingerprint(request.SshPublicKey);
            v.Require(fingerprint is not null, "sshPublicKey", "sshPublicKey must be an OpenSSH public key line (ssh-ed25519, ssh-rsa or ecdsa-sha2-*)");
        }
        ValidateConstraints(v, request.Constraints);
        if (v.ToError() is { } invalid)
        {
            return invalid;
        }

        var loaded = await db.ReadAsync(async tx =>
        {
            var contract = await tx.QuerySingleOrDefaultAsync<ContractRow>(
                "SELECT id AS Id, account_id AS AccountId, state AS State, items AS Items, constraints AS Constraints FROM contracts WHERE id = @Id",
                new { Id = request.ContractId });
            if (contract is null || contract.AccountId != caller.AccountId)
            {
                return (null, null, null);
            }
            var lines = JsonSerializer.Deserialize<List<ContractItem>>(contract.Items, WelkinJson.Client) ?? [];
            var line = request.Item is { } item ? lines.FirstOrDefault(l => l.Item == item) : lines.FirstOrDefault(l => l.Kind == OfferingKind.Compute);
            (TemplateState State, TemplateSpec Spec)? template = line is { Kind: OfferingKind.Compute, TemplateId: { } tid, TemplateVersion: { } tv }
                ? await TemplateService.FindVersionAsync(tx, tid, tv)
                : null;
            return ((ContractRow?)contract, line, template);
        }, ct);
        var (contractRow, contractLine, templateVersion) = loaded;
        if (contractRow is null)
        {
            return Error.NotFound("Contract", request.ContractId);
        }
        if (contractRow.State != ActiveContract)
        {
            return Error.InvalidState($"Contract '{contractRow.Id}' is {contractRow.State}; only an active contract can be provisioned against.");
        }
        if (contractLine is null || contractLine.Kind != OfferingKind.Compute)
        {
            return Error.Validation("item", request.Item is null
                ? "the contract has no compute line"
                : $"item {request.Item} is not a compute line of the contract");
        }
        if (templateVersion is null)
        {
            return Error.InvalidState($"The template of contract line {contractLine.Item} no longer exists.");
        }
        var resolved = Resolve(templateVersion.Value.Spec, contractLine.Choices, request.VirtualSystems);
        if (!resolved.IsSuccess)
        {
            return resolved.Error!;
        }
        var systems = resolved.Value;
        var total = systems.Sum(s => s.Choice.Count!.Value);
        if (total < 1 || total > MaxMachinesPerRequest)
        {
            return Error.Validation("virtualSystems", $"a request provisions 1-{MaxMachinesPerRequest} machines (this one {total})");
        }
        var contractConstraints = contractRow.Constraints is null ? null : JsonSerializer.Deserialize<PlacementConstraints>(contractRow.Constraints, WelkinJson.Client);
        var jurisdictions = Intersect(contractLine.Constraints?.Jurisdictions, contractConstraints?.Jurisdictions, request.Constraints?.Jurisdictions);
        var regions = Intersect(contractLine.Constraints?.Regions, contractConstraints?.Regions, request.Constraints?.Regions);

        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var instanceId = Ids.New(Ids.Instance, clock);
        var name = request.Name ?? "instance-" + instanceId[^6..];
        var spec = new InstanceSpec(systems.Select(s => s.Choice).ToList(), request.AntiAffinity, jurisdictions, regions, contractLine.LimitUnit,
            request.SshPublicKey, systems.ToDictionary(s => s.Choice.VirtualSystem, s => s.ImageId, StringComparer.Ordinal));
        var placements = new List<Core.Placement.Placement>();
        try
        {
            var result = await db.WriteAsync<AcceptedView<InstanceView>>(async tx =>
            {
                ReleaseAll(placements);
                var state = await tx.ExecuteScalarAsync<string>("SELECT state FROM contracts WHERE id = @Id", new { Id = contractRow.Id });
                if (state != ActiveContract)
                {
                    return Error.InvalidState($"Contract '{contractRow.Id}' is {state}; only an active contract can be provisioned against.");
                }
                if (await Contracts.Quotas.DrawProvisionedAsync(tx, contractRow.AccountId, contractRow.Id, contractLine.Item, contractLine.LimitUnit, total, "machines") is { } refused)
                {
                    return refused;
                }
                var machines = new List<MachineRow>();
                foreach (var system in systems)
                {
                    var c = system.Choice;
                    for (var i = 0; i < c.Count!.Value; i++)
                    {
                        var group = request.AntiAffinity ? $"{instanceId}/{c.VirtualSystem}" : null;
                        var placed = placer.Place(new PlacementRequest(c.Vcpus!.Value, c.MemoryMiB!.Value, c.DiskGiB!.Value, jurisdictions, regions, group));
                        if (!placed.IsSuccess)
                        {
                            return placed.Error!;
                        }
                        placements.Add(placed.Value);
                        machines.Add(NewMachine(instanceId, contractRow.AccountId, contractRow.Id, contractLine.Item, $"{name}-{c.VirtualSystem}-{i + 1}",
                            c, system.ImageId, request.SshPublicKey, group, placed.Value.Host, now));
                    }
                }
                var instance = new InstanceRow(instanceId, contractRow.AccountId, contractRow.Id, contractLine.Item, contractLine.OfferingId,
                    contractLine.TemplateId!, contractLine.TemplateVersion!.Value, name, WireNames.Of(InstanceState.Provisioning), MachineStore.Serialize(spec),
                    1, now, now, null);
                await InsertInstanceAsync(tx, instance);
                await InsertMachinesAsync(tx, caller, machines, now);
                var job = await jobs.EnqueueAsync(tx, caller, contractRow.AccountId, Actions.Provision, instanceId,
                    new MachinesJob(instanceId, machines.Select(m => m.Id).ToList()));
                await audit.AppendAsync(tx, caller, new AuditEvent(Actions.Provision, instanceId, AuditEvent.Success, contractRow.AccountId,
                    $"contract={contractRow.Id}; item={contractLine.Item}; machines={machines.Count}; job={job.Id}"
                    + (fingerprint is null ? "; access=password" : $"; ssh-key={fingerprint}")));
                return new AcceptedView<InstanceView>(job, MachineStore.ToView(instance, machines.Select(m => m.Id).ToList()));
            }, ct);
            if (!result.IsSuccess)
            {
                ReleaseAll(placements);
                return result.Error!;
            }
            jobs.Wake();
            return result;
        }
        catch
        {
            ReleaseAll(placements);
            throw;
        }
    }

    // ---- Instances ----------------------------------------------------------------------------

    public async Task<Result<InstanceView>> GetInstanceAsync(Caller caller, string id, CancellationToken ct)
    {
        if (CheckRead(caller, id, Ids.Instance, "instance") is { } error)
        {
            return error;
        }
        return await db.ReadAsync<Result<InstanceView>>(async tx =>
        {
            var row = await MachineStore.GetInstanceAsync(tx, id);
            if (row is null || !CanSee(caller, row.AccountId))
            {
                return Error.NotFound("Instance", id);
            }
            return MachineStore.ToView(row, await MachineIdsAsync(tx, id));
        }, ct);
    }

    public async Task<Result<Page<InstanceView>>> ListInstancesAsync(
        Caller caller, string? accountId, string? contractId, string? state, string? after, int limit, CancellationToken ct)
    {
        var scope = Scope(caller, accountId);
        if (!scope.IsSuccess)
        {
            return scope.Error!;
        }
        if ((Filters.Id(after, Ids.Instance, "instance") ?? Filters.Id(contractId, Ids.Contract, "contract") ?? Filters.EnumValue<InstanceState>(state, "state")) is { } invalid)
        {
            return invalid;
        }
        limit = Math.Clamp(limit, 1, 500);
        return await db.ReadAsync<Result<Page<InstanceView>>>(async tx =>
        {
            var rows = (await tx.QueryAsync<InstanceRow>(
                $"""
                SELECT {MachineStore.InstanceColumns} FROM instances
                WHERE id > @After AND (@Scope IS NULL OR account_id = @Scope) AND (@ContractId IS NULL OR contract_id = @ContractId)
                  AND (@State IS NULL OR state = @State)
                ORDER BY id LIMIT @Take
                """,
                new { After = after ?? "", Scope = scope.Value, ContractId = contractId, State = state, Take = limit + 1 })).AsList();
            var items = new List<InstanceView>();
            foreach (var row in rows.Take(limit))
            {
                items.Add(MachineStore.ToView(row, await MachineIdsAsync(tx, row.Id)));
            }
            return new Page<InstanceView>(items, items.Count, rows.Count > limit ? items[^1].Id : null);
        }, ct);
    }

    /// <summary>Change Resource Capacity: scale one virtual system to a number of machines, within the contract line and the account's limit.</summary>
    public async Task<Result<AcceptedView<InstanceView>>> ScaleAsync(Caller caller, string id, ScaleRequest request, CancellationToken ct)
    {
        if (CheckChange(caller, id, Ids.Instance, "instance") is { } error)
        {
            return error;
        }
        if (request.Count is < 0 or > MaxMachinesPerSystem)
        {
            return Error.Validation("count", $"count must be 0-{MaxMachinesPerSystem}");
        }
        var placements = new List<Core.Placement.Placement>();
        var result = await db.WriteAsync<AcceptedView<InstanceView>>(async tx =>
        {
            ReleaseAll(placements);
            var instance = await MachineStore.GetInstanceAsync(tx, id);
            if (instance is null || !CanSee(caller, instance.AccountId))
            {
                return Error.NotFound("Instance", id);
            }
            if (request.Version is { } expected && expected != instance.Version)
            {
                return Error.VersionMismatch("Instance", id, expected, instance.Version);
            }
            if (instance.State is not ("active" or "inactive" or "error"))
            {
                return Error.InvalidState($"Instance '{id}' is {instance.State}; it can be scaled when active, inactive or in error.");
            }
            if (await BusyAsync(tx, id))
            {
                return Error.InvalidState($"Instance '{id}' has an operation in progress; wait for its job to finish.");
            }
            var spec = instance.ParsedSpec;
            var choice = spec.VirtualSystems.FirstOrDefault(s => s.VirtualSystem == request.VirtualSystem);
            if (choice is null)
            {
                return Error.Validation("virtualSystem", $"virtualSystem: the instance has no virtual system '{request.VirtualSystem}'");
            }
            var state = await tx.ExecuteScalarAsync<string>("SELECT state FROM contracts WHERE id = @Id", new { Id = instance.ContractId });
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            var systems = spec.VirtualSystems.Select(s => s.VirtualSystem == request.VirtualSystem ? s with { Count = request.Count } : s).ToList();
            var updated = instance with { Spec = MachineStore.Serialize(spec with { VirtualSystems = systems }), Version = instance.Version + 1, UpdatedAt = now };
            var n = await tx.ExecuteAsync(
                "UPDATE instances SET spec = @Spec, version = @Version, updated_at = @UpdatedAt WHERE id = @Id AND version = @OldVersion",
                new { updated.Spec, updated.Version, updated.UpdatedAt, updated.Id, OldVersion = instance.Version });
            if (n == 0)
            {
                return Error.Concurrency("Instance", id);
            }
            var all = await MachineStore.MachinesOfInstanceAsync(tx, id);
            var live = all.Where(m => m.VirtualSystem == request.VirtualSystem && m.Holds && m.State != MachineStore.Terminating).ToList();
            var create = new List<MachineRow>();
            var destroy = new List<MachineRow>();
            if (request.Count > live.Count)
            {
                if (state != ActiveContract)
                {
                    return Error.InvalidState($"Contract '{instance.ContractId}' is {state}; only an active contract can be provisioned against.");
                }
                var add = request.Count - live.Count;
                if (await Contracts.Quotas.DrawProvisionedAsync(tx, instance.AccountId, instance.ContractId, (int)instance.Item, spec.LimitUnit, add, "machines") is { } refused)
                {
                    return refused;
                }
                var group = spec.AntiAffinity ? $"{id}/{choice.VirtualSystem}" : null;
                var next = all.Count(m => m.VirtualSystem == request.VirtualSystem) + 1;
                for (var i = 0; i < add; i++)
                {
                    var placed = placer.Place(new PlacementRequest(choice.Vcpus!.Value, choice.MemoryMiB!.Value, choice.DiskGiB!.Value, spec.Jurisdictions, spec.Regions, group));
                    if (!placed.IsSuccess)
                    {
                        return placed.Error!;
                    }
                    placements.Add(placed.Value);
                    create.Add(NewMachine(id, instance.AccountId, instance.ContractId, (int)instance.Item, $"{instance.Name}-{choice.VirtualSystem}-{next + i}", choice,
                        spec.Images.GetValueOrDefault(choice.VirtualSystem), spec.SshPublicKey, group, placed.Value.Host, now));
                }
                await InsertMachinesAsync(tx, caller, create, now);
            }
            else
            {
                // The newest machines go first.
                foreach (var m in live.OrderByDescending(m => m.Id, StringComparer.Ordinal).Take(live.Count - request.Count))
                {
                    if (m.State == MachineStore.Provisioning)
                    {
                        return Error.InvalidState($"Machine '{m.Id}' is still provisioning.");
                    }
                    var t = await MachineStore.TransitionAsync(tx, events, caller, m, MachineState.Terminating, now);
                    if (t is null)
                    {
                        return Error.Concurrency("Machine", m.Id);
                    }
                    destroy.Add(t);
                }
            }
            await MachineStore.RefreshInstanceAsync(tx, id, now);
            var job = await jobs.EnqueueAsync(tx, caller, instance.AccountId, Actions.Scale, id,
                new MachinesJob(id, create.Select(m => m.Id).ToList(), destroy.Select(m => m.Id).ToList()));
            await audit.AppendAsync(tx, caller, new AuditEvent(Actions.Scale, id, AuditEvent.Success, instance.AccountId,
                $"virtualSystem={request.VirtualSystem}; from={live.Count}; to={request.Count}; job={job.Id}"));
            var current = await MachineStore.GetInstanceAsync(tx, id);
            return new AcceptedView<InstanceView>(job, MachineStore.ToView(current!, await MachineIdsAsync(tx, id)));
        }, ct);
        if (!result.IsSuccess)
        {
            ReleaseAll(placements);
            return result.Error!;
        }
        jobs.Wake();
        return result;
    }

    /// <summary>Terminates every machine of the instance (their units go back to the contract line and the account).</summary>
    public async Task<Result<AcceptedView<InstanceView>>> TerminateInstanceAsync(Caller caller, string id, MachineActionRequest request, CancellationToken ct)
    {
        if (CheckChange(caller, id, Ids.Instance, "instance") is { } error)
        {
            return error;
        }
        var result = await db.WriteAsync<AcceptedView<InstanceView>>(async tx =>
        {
            var instance = await MachineStore.GetInstanceAsync(tx, id);
            if (instance is null || !CanSee(caller, instance.AccountId))
            {
                return Error.NotFound("Instance", id);
            }
            if (request.Version is { } expected && expected != instance.Version)
            {
                return Error.VersionMismatch("Instance", id, expected, instance.Version);
            }
            if (instance.State is "terminating" or "terminated" or "provisioning")
            {
                return Error.InvalidState($"Instance '{id}' is {instance.State}; it can be terminated once provisioning has finished, and only once.");
            }
            if (await BusyAsync(tx, id))
            {
                return Error.InvalidState($"Instance '{id}' has an operation in progress; wait for its job to finish.");
            }
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            // The instance first: machine changes below then leave its state (terminating) alone.
            var n = await tx.ExecuteAsync(
                "UPDATE instances SET state = 'terminating', version = version + 1, updated_at = @Now WHERE id = @Id AND version = @OldVersion",
                new { Now = now, Id = id, OldVersion = instance.Version });
            if (n == 0)
            {
                return Error.Concurrency("Instance", id);
            }
            var machines = await MachineStore.MachinesOfInstanceAsync(tx, id);
            foreach (var m in machines.Where(m => m.State != MachineStore.Terminated && m.State != MachineStore.Terminating))
            {
                if (m.State == MachineStore.Provisioning || await BusyAsync(tx, m.Id))
                {
                    return Error.InvalidState($"Machine '{m.Id}' has an operation in progress; wait for its job to finish.");
                }
                if (await MachineStore.TransitionAsync(tx, events, caller, m, MachineState.Terminating, now) is null)
                {
                    return Error.Concurrency("Machine", m.Id);
                }
            }
            var job = await jobs.EnqueueAsync(tx, caller, instance.AccountId, Actions.Terminate, id, new MachinesJob(id, [], machines.Select(m => m.Id).ToList()));
            await audit.AppendAsync(tx, caller, new AuditEvent(Actions.Terminate, id, AuditEvent.Success, instance.AccountId, $"job={job.Id}"));
            var current = await MachineStore.GetInstanceAsync(tx, id);
            return new AcceptedView<InstanceView>(job, MachineStore.ToView(current!, await MachineIdsAsync(tx, id)));
        }, ct);
        if (result.IsSuccess)
        {
            jobs.Wake();
        }
        return result;
    }

    // ---- Machines -----------------------------------------------------------------------------

    public async Task<Result<MachineView>> GetMachineAsync(Caller caller, string id, CancellationToken ct)
    {
        if (CheckRead(caller, id, Ids.Machine, "machine") is { } error)
        {
            return error;
        }
        var row = await db.ReadAsync(tx => MachineStore.GetMachineAsync(tx, id), ct);
        return row is null || !CanSee(caller, row.AccountId) ? Error.NotFound("Machine", id) : MachineStore.ToView(row);
    }

    public async Task<Result<Page<MachineView>>> ListMachinesAsync(
        Caller caller, string? accountId, string? instanceId, string? state, string? after, int limit, CancellationToken ct)
    {
        var scope = Scope(caller, accountId);
        if (!scope.IsSuccess)
        {
            return scope.Error!;
        }
        if ((Filters.Id(after, Ids.Machine, "machine") ?? Filters.Id(instanceId, Ids.Instance, "instance") ?? Filters.EnumValue<MachineState>(state, "state")) is { } invalid)
        {
            return invalid;
        }
        limit = Math.Clamp(limit, 1, 500);
        var rows = await db.QueryAsync<MachineRow>(
            $"""
            SELECT {MachineStore.MachineColumns} FROM machines
            WHERE id > @After AND (@Scope IS NULL OR account_id = @Scope) AND (@InstanceId IS NULL OR instance_id = @InstanceId)
              AND (@State IS NULL OR state = @State)
            ORDER BY id LIMIT @Take
            """,
            new { After = after ?? "", Scope = scope.Value, InstanceId = instanceId, State = state, Take = limit + 1 }, ct);
        var items = rows.Take(limit).Select(r => MachineStore.ToView(r)).ToList();
        return new Page<MachineView>(items, items.Count, rows.Count > limit ? items[^1].Id : null);
    }

    /// <summary>start, stop, pause, resume, reboot, destroy (CIMI machine actions).</summary>
    public async Task<Result<AcceptedView<MachineView>>> MachineActionAsync(
        Caller caller, string id, string action, MachineActionRequest request, CancellationToken ct)
    {
        if (CheckChange(caller, id, Ids.Machine, "machine") is { } error)
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
        if (action == Actions.Pause && !driver.Capabilities.HasFlag(DriverCapabilities.Pause))
        {
            return DriverErrors.Unsupported("pausing machines");
        }
        var result = await db.WriteAsync<AcceptedView<MachineView>>(async tx =>
        {
            var m = await MachineStore.GetMachineAsync(tx, id);
            if (m is null || !CanSee(caller, m.AccountId))
            {
                return Error.NotFound("Machine", id);
            }
            if (request.Version is { } expected && expected != m.Version)
            {
                return Error.VersionMismatch("Machine", id, expected, m.Version);
            }
            // A machine whose provisioning failed has given its capacity back: it can only be destroyed.
            if (!allowed.Contains(m.State) || (action == Actions.Start && !m.Holds))
            {
                return Error.InvalidState($"Machine '{id}' is {m.State}; it cannot be {verb}.");
            }
            if (await BusyAsync(tx, id) || await BusyAsync(tx, m.InstanceId))
            {
                return Error.InvalidState($"Machine '{id}' has an operation in progress; wait for its job to finish.");
            }
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            MachineRow? current;
            if (action == Actions.Destroy)
            {
                current = await MachineStore.TransitionAsync(tx, events, caller, m, MachineState.Terminating, now);
            }
            else
            {
                current = await MachineStore.TouchAsync(tx, m, now);
            }
            if (current is null)
            {
                return Error.Concurrency("Machine", id);
            }
            var job = await jobs.EnqueueAsync(tx, caller, m.AccountId, action, id, new MachineJob(id, request.Force));
            await audit.AppendAsync(tx, caller, new AuditEvent(action, id, AuditEvent.Success, m.AccountId, $"job={job.Id}" + (request.Force ? "; force" : "")));
            return new AcceptedView<MachineView>(job, MachineStore.ToView(current));
        }, ct);
        if (result.IsSuccess)
        {
            jobs.Wake();
        }
        return result;
    }

    /// <summary>Change Resource Capacity: new vCPUs and memory within the offering's allowed choices; a running machine is stopped, resized and started.</summary>
    public async Task<Result<AcceptedView<MachineView>>> ResizeAsync(Caller caller, string id, ResizeRequest request, CancellationToken ct)
    {
        if (CheckChange(caller, id, Ids.Machine, "machine") is { } error)
        {
            return error;
        }
        if (request.Vcpus is null && request.MemoryMiB is null)
        {
            return Error.Validation("vcpus", "give vcpus, memoryMiB or both");
        }
        var result = await db.WriteAsync<AcceptedView<MachineView>>(async tx =>
        {
            var m = await MachineStore.GetMachineAsync(tx, id);
            if (m is null || !CanSee(caller, m.AccountId))
            {
                return Error.NotFound("Machine", id);
            }
            if (request.Version is { } expected && expected != m.Version)
            {
                return Error.VersionMismatch("Machine", id, expected, m.Version);
            }
            if (m.State != MachineStore.Running && m.State != MachineStore.Inactive)
            {
                return Error.InvalidState($"Machine '{id}' is {m.State}; only a running or inactive machine can be resized.");
            }
            if (await BusyAsync(tx, id) || await BusyAsync(tx, m.InstanceId))
            {
                return Error.InvalidState($"Machine '{id}' has an operation in progress; wait for its job to finish.");
            }
            var instance = (await MachineStore.GetInstanceAsync(tx, m.InstanceId))!;
            var line = await ContractLineAsync(tx, m.ContractId, (int)instance.Item);
            var template = line?.TemplateId is null ? null : await TemplateService.FindVersionAsync(tx, line.TemplateId, line.TemplateVersion!.Value);
            var system = template?.Spec.VirtualSystems.FirstOrDefault(s => s.Name == m.VirtualSystem);
            if (system is null)
            {
                return Error.InvalidState($"The template of machine '{id}' no longer describes virtual system '{m.VirtualSystem}'.");
            }
            var restriction = line!.Choices?.FirstOrDefault(r => r.VirtualSystem == m.VirtualSystem);
            var vcpus = request.Vcpus ?? (int)m.Vcpus;
            var memory = request.MemoryMiB ?? m.MemoryMiB;
            var v = new Validator();
            var cpuChoice = restriction?.Vcpus ?? system.Hardware.Vcpus;
            var memoryChoice = restriction?.MemoryMiB ?? system.Hardware.MemoryMiB;
            v.Require(cpuChoice.Allowed.Contains(vcpus), "vcpus", $"vcpus must be one of {string.Join(", ", cpuChoice.Allowed)}");
            v.Require(memoryChoice.Allowed.Contains(memory), "memoryMiB", $"memoryMiB must be one of {string.Join(", ", memoryChoice.Allowed)}");
            if (v.ToError() is { } invalid)
            {
                return invalid;
            }
            if (vcpus == m.Vcpus && memory == m.MemoryMiB)
            {
                return Error.Validation("vcpus", $"the machine already has {vcpus} vCPU and {memory} MiB memory");
            }
            var (cpuFree, memoryFree, _) = placer.Free(m.Host!);
            if ((vcpus - m.Vcpus) * 1000 > cpuFree || memory - m.MemoryMiB > memoryFree)
            {
                return new Error("insufficient-capacity", ErrorKind.Conflict,
                    $"Host '{m.Host}' has no room to grow machine '{id}' to {vcpus} vCPU and {memory} MiB memory.");
            }
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            if (await MachineStore.TouchAsync(tx, m, now) is not { } current)
            {
                return Error.Concurrency("Machine", id);
            }
            var job = await jobs.EnqueueAsync(tx, caller, m.AccountId, Actions.Resize, id,
                new ResizeJob(id, vcpus, memory, m.State == MachineStore.Running));
            await audit.AppendAsync(tx, caller, new AuditEvent(Actions.Resize, id, AuditEvent.Success, m.AccountId,
                $"from={m.Vcpus}x{m.MemoryMiB}; to={vcpus}x{memory}; job={job.Id}"));
            return new AcceptedView<MachineView>(job, MachineStore.ToView(current));
        }, ct);
        if (result.IsSuccess)
        {
            jobs.Wake();
        }
        return result;
    }

    /// <summary>
    /// Moves a machine to another host (a Change Manager operation of the provider's operators:
    /// maintenance, balancing). A running or paused machine moves live, where the fabric can; an
    /// inactive one moves cold and starts on the target next time. Runs as a <c>machine.migrate</c> job.
    /// </summary>
    public async Task<Result<AcceptedView<MachineView>>> MigrateAsync(Caller caller, string id, MigrateRequest request, CancellationToken ct)
    {
        if (!Ids.IsValid(id, Ids.Machine))
        {
            return Error.InvalidId(id, "machine");
        }
        if (!caller.IsProvider || !caller.Can(Permission.FabricWrite))
        {
            return Error.Forbidden("Moving machines between hosts needs the fabric-write permission (operator or provider-admin).");
        }
        ArgumentNullException.ThrowIfNull(request);
        if (string.IsNullOrWhiteSpace(request.Host) || !placer.Contains(request.Host))
        {
            return Error.Validation("host", $"host must name a host of the fabric ('{request.Host}' is not one)");
        }
        var result = await db.WriteAsync<AcceptedView<MachineView>>(async tx =>
        {
            var m = await MachineStore.GetMachineAsync(tx, id);
            if (m is null)
            {
                return Error.NotFound("Machine", id);
            }
            if (request.Version is { } expected && expected != m.Version)
            {
                return Error.VersionMismatch("Machine", id, expected, m.Version);
            }
            if (!MachineStore.CanMigrate(m.State) || !m.Holds)
            {
                return Error.InvalidState($"Machine '{id}' is {m.State}; only a running, paused or inactive machine can move.");
            }
            if (m.Host == request.Host)
            {
                return Error.Validation("host", $"machine '{id}' is already on host '{request.Host}'");
            }
            var live = m.State != MachineStore.Inactive;
            if (live && !driver.Capabilities.HasFlag(DriverCapabilities.LiveMigration))
            {
                return DriverErrors.Unsupported("live migration; stop the machine to move it");
            }
            if (placer.IsDown(request.Host))
            {
                return DriverErrors.HostUnavailable(request.Host);
            }
            if (await BusyAsync(tx, id) || await BusyAsync(tx, m.InstanceId))
            {
                return Error.InvalidState($"Machine '{id}' has an operation in progress; wait for its job to finish.");
            }
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            if (await MachineStore.TouchAsync(tx, m, now) is not { } current)
            {
                return Error.Concurrency("Machine", id);
            }
            var job = await jobs.EnqueueAsync(tx, caller, m.AccountId, Actions.Migrate, id, new MigrateJob(id, request.Host));
            await audit.AppendAsync(tx, caller, new AuditEvent(Actions.Migrate, id, AuditEvent.Success, m.AccountId,
                $"from={m.Host}; to={request.Host}; {(live ? "live" : "cold")}; job={job.Id}"));
            return new AcceptedView<MachineView>(job, MachineStore.ToView(current));
        }, ct);
        if (result.IsSuccess)
        {
            jobs.Wake();
        }
        return result;
    }

    public async Task<Result<string>> ConsoleAsync(Caller caller, string id, CancellationToken ct)
    {
        var machine = await GetMachineAsync(caller, id, ct);
        if (!machine.IsSuccess)
        {
            return machine.Error!;
        }
        if (machine.Value.State is MachineState.Provisioning or MachineState.Terminated)
        {
            return Error.InvalidState($"Machine '{id}' is {WireNames.Of(machine.Value.State)}; it has no console.");
        }
        return await driver.ConsoleLogAsync(id, ConsoleBytes, ct);
    }

    public async Task<Result<MachineMetricsView>> MetricsAsync(Caller caller, string id, CancellationToken ct)
    {
        var machine = await GetMachineAsync(caller, id, ct);
        if (!machine.IsSuccess)
        {
            return machine.Error!;
        }
        if (machine.Value.State is MachineState.Provisioning or MachineState.Terminated)
        {
            return Error.InvalidState($"Machine '{id}' is {WireNames.Of(machine.Value.State)}; it has no metrics.");
        }
        var metrics = await driver.MetricsAsync(id, ct);
        return metrics.Map(x => new MachineMetricsView(id, x.At, x.CpuUtilizationPercent, x.CpuTimeMs, x.MemoryUsedBytes, x.PageFaults,
            x.DiskReadBytes, x.DiskWriteBytes, x.NetworkRxBytes, x.NetworkTxBytes));
    }

    // ---- Jobs -------------------------------------------------------------------------------

    /// <summary>
    /// A job. The first read of a finished provision or scale job by a principal who may configure
    /// the account's resources issues the generated passwords of its machines (those without an
    /// SSH key) and shows them in the result; only their hashes are kept, and later reads show none.
    /// </summary>
    public async Task<Result<JobView>> GetJobAsync(Caller caller, string id, CancellationToken ct)
    {
        var job = await jobs.GetAsync(caller, id, ct);
        if (!job.IsSuccess || job.Value.State != JobState.Succeeded || job.Value.Action is not (Actions.Provision or Actions.Scale)
            || caller.IsProvider || !caller.Can(Permission.ResourcesConfigure) || job.Value.Result is not { } stored)
        {
            return job;
        }
        var result = stored.Deserialize<ProvisionResult>(WelkinJson.Client);
        if (result is null || !result.Machines.Any(m => m.Access is { SshKeyFingerprint: null, Password: null }))
        {
            return job;
        }
        var issued = await db.WriteAsync<JobView?>(async tx =>
        {
            // Marking the job issued is conditional, so of two concurrent reads only one gets the passwords.
            var n = await tx.ExecuteAsync(
                "UPDATE jobs SET passwords_issued_at = @Now, version = version + 1 WHERE id = @Id AND passwords_issued_at IS NULL",
                new { Now = clock.GetUtcNow().ToUnixTimeMilliseconds(), Id = id });
            if (n == 0)
            {
                return (JobView?)null;
            }
            var machines = new List<ProvisionedMachine>();
            foreach (var pm in result.Machines)
            {
                if (pm.Access is not { SshKeyFingerprint: null })
                {
                    machines.Add(pm);
                    continue;
                }
                var m = await MachineStore.GetMachineAsync(tx, pm.Id);
                if (m?.ParsedAccess is not { } access)
                {
                    machines.Add(pm);
                    continue;
                }
                var password = MachinePasswords.New();
                await tx.ExecuteAsync("UPDATE machines SET access = @Access WHERE id = @Id",
                    new { Access = MachineStore.Serialize(access with { PasswordHash = MachinePasswords.Hash(password) }), pm.Id });
                machines.Add(pm with { Access = pm.Access with { Password = password } });
            }
            await audit.AppendAsync(tx, caller, new AuditEvent("machine.password-issue", job.Value.Target, AuditEvent.Success, caller.AccountId,
                $"job={id}; machines={machines.Count(m => m.Access?.Password is not null)}"));
            return job.Value with { Result = JsonSerializer.SerializeToElement(result with { Machines = machines }, WelkinJson.Client) };
        }, ct);
        return issued.Value ?? (await jobs.GetAsync(caller, id, ct));
    }

    // ---- Shared ------------------------------------------------------------------------------

    internal sealed record ContractRow(string Id, string AccountId, string State, string Items, string? Constraints);

    private sealed record ResolvedSystem(VirtualSystemChoice Choice, string? ImageId);

    internal static async Task<ContractItem?> ContractLineAsync(Tx tx, string contractId, int item)
    {
        var items = await tx.ExecuteScalarAsync<string?>("SELECT items FROM contracts WHERE id = @Id", new { Id = contractId });
        return items is null ? null : (JsonSerializer.Deserialize<List<ContractItem>>(items, WelkinJson.Client) ?? []).FirstOrDefault(l => l.Item == item);
    }

    /// <summary>Fills every choice from the request, the offering's restriction and the template's default, and checks each against what is allowed.</summary>
    private static Result<List<ResolvedSystem>> Resolve(TemplateSpec template, IReadOnlyList<VirtualSystemRestriction>? restrictions, IReadOnlyList<VirtualSystemChoice>? requested)
    {
        var v = new Validator();
        var byName = new Dictionary<string, (VirtualSystemChoice Choice, int Index)>(StringComparer.Ordinal);
        for (var i = 0; i < (requested?.Count ?? 0); i++)
        {
            var c = requested![i];
            if (c is null || c.VirtualSystem is null || !template.VirtualSystems.Any(s => s.Name == c.VirtualSystem))
            {
                v.Add($"virtualSystems[{i}].virtualSystem", $"virtualSystems[{i}].virtualSystem names no virtual system of the template ({string.Join(", ", template.VirtualSystems.Select(s => s.Name))})");
            }
            else if (!byName.TryAdd(c.VirtualSystem, (c, i)))
            {
                v.Add($"virtualSystems[{i}].virtualSystem", $"virtualSystems[{i}] chooses '{c.VirtualSystem}' a second time");
            }
        }
        var resolved = new List<ResolvedSystem>();
        foreach (var system in template.VirtualSystems)
        {
            var r = restrictions?.FirstOrDefault(x => x.VirtualSystem == system.Name);
            var (c, index) = byName.TryGetValue(system.Name, out var found) ? found : (new VirtualSystemChoice(system.Name), -1);
            var at = index < 0 ? $"virtualSystems[{system.Name}]" : $"virtualSystems[{index}]";
            var count = c.Count ?? 1;
            v.Require(count is >= 0 and <= MaxMachinesPerSystem, $"{at}.count", $"{at}.count must be 0-{MaxMachinesPerSystem}");
            var vcpus = Pick(v, c.Vcpus, r?.Vcpus ?? system.Hardware.Vcpus, $"{at}.vcpus");
            var memory = Pick(v, c.MemoryMiB, r?.MemoryMiB ?? system.Hardware.MemoryMiB, $"{at}.memoryMiB");
            var disk = Pick(v, c.DiskGiB, r?.DiskGiB ?? system.Hardware.DiskGiB, $"{at}.diskGiB");
            var os = PickOptional(v, c.OperatingSystem, r?.OperatingSystem ?? system.Software?.OperatingSystem, $"{at}.operatingSystem");
            var http = PickOptional(v, c.HttpServer, r?.HttpServer ?? system.Software?.HttpServer, $"{at}.httpServer");
            var dbm = PickOptional(v, c.DatabaseManager, r?.DatabaseManager ?? system.Software?.DatabaseManager, $"{at}.databaseManager");
            var properties = new SortedDictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in system.Properties ?? [])
            {
                if (p.Default is not null)
                {
                    properties[p.Key] = p.Default;
                }
            }
            foreach (var (key, value) in r?.FixedProperties ?? new Dictionary<string, string>())
            {
                properties[key] = value;
            }
            foreach (var (key, value) in c.Properties ?? new Dictionary<string, string>())
            {
                var field = $"{at}.properties.{CatalogRules.Clip(key, 80)}";
                var definition = system.Properties?.FirstOrDefault(p => p.Key == key);
                if (definition is null)
                {
                    v.Add(field, $"{field}: the virtual system has no property '{CatalogRules.Clip(key, 80)}'");
                }
                else if (!definition.UserConfigurable || (r?.FixedProperties?.ContainsKey(key) ?? false))
                {
                    v.Add(field, $"{field} is fixed by the {(definition.UserConfigurable ? "offering" : "template")}");
                }
                else if (!TemplateRules.Accepts(definition, value))
                {
                    v.Add(field, definition.AllowedValues is null
                        ? $"{field} {CatalogRules.TypeRule(definition.Type)}"
                        : $"{field} {CatalogRules.TypeRule(definition.Type)} and one of: {string.Join(", ", definition.AllowedValues)}");
                }
                else
                {
                    properties[key] = value;
                }
            }
            resolved.Add(new ResolvedSystem(
                new VirtualSystemChoice(system.Name, count, vcpus, memory, disk, os, http, dbm, properties), system.ImageId));
        }
        return v.ToError() is { } invalid ? invalid : resolved;
    }

    private static T Pick<T>(Validator v, T? wanted, Choice<T> choice, string field) where T : struct
    {
        if (wanted is { } w)
        {
            v.Require(choice.Allowed.Contains(w), field, $"{field} must be one of {string.Join(", ", choice.Allowed)}");
            return w;
        }
        return choice.Default;
    }

    private static string? PickOptional(Validator v, string? wanted, Choice<string>? choice, string field)
    {
        if (wanted is null)
        {
            return choice?.Default;
        }
        if (choice is null)
        {
            v.Add(field, $"{field}: the template offers no choice here");
            return null;
        }
        v.Require(choice.Allowed.Contains(wanted, StringComparer.Ordinal), field, $"{field} must be one of {string.Join(", ", choice.Allowed)}");
        return wanted;
    }

    private static void ValidateConstraints(Validator v, PlacementConstraints? constraints)
    {
        foreach (var (name, values) in new[] { ("jurisdictions", constraints?.Jurisdictions), ("regions", constraints?.Regions) })
        {
            if (values is null)
            {
                continue;
            }
            v.Require(values.Count <= OfferingRules.MaxConstraintValues && values.All(x => x is { Length: > 0 and <= OfferingRules.MaxConstraintLength }),
                $"constraints.{name}", $"constraints.{name} holds at most {OfferingRules.MaxConstraintValues} values of 1-{OfferingRules.MaxConstraintLength} characters");
        }
    }

    /// <summary>Where a machine may run: every constraint that is set narrows (null = anywhere).</summary>
    internal static IReadOnlyList<string>? Intersect(params IReadOnlyList<string>?[] sets)
    {
        IEnumerable<string>? result = null;
        foreach (var set in sets)
        {
            if (set is not null)
            {
                result = result is null ? set : result.Intersect(set, StringComparer.Ordinal);
            }
        }
        return result?.Distinct(StringComparer.Ordinal).ToList();
    }

    private MachineRow NewMachine(string instanceId, string accountId, string contractId, int item, string name, VirtualSystemChoice c,
        string? imageId, string? sshKey, string? group, string host, long now)
    {
        var software = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (c.HttpServer is not null)
        {
            software["httpServer"] = c.HttpServer;
        }
        if (c.DatabaseManager is not null)
        {
            software["databaseManager"] = c.DatabaseManager;
        }
        var config = new MachineConfig(item, c.OperatingSystem, software, c.Properties ?? new Dictionary<string, string>(), sshKey, group);
        return new MachineRow(Ids.New(Ids.Machine, clock), accountId, instanceId, contractId, c.VirtualSystem, name, MachineStore.Provisioning, host,
            c.Vcpus!.Value, c.MemoryMiB!.Value, c.DiskGiB!.Value, imageId, MachineStore.Serialize(config), null, null, 1, now, now, now, null);
    }

    private static Task InsertInstanceAsync(Tx tx, InstanceRow r) =>
        tx.ExecuteAsync(
            """
            INSERT INTO instances (id, account_id, contract_id, item, offering_id, template_id, template_version, name, state, spec, version, created_at, updated_at)
            VALUES (@Id, @AccountId, @ContractId, @Item, @OfferingId, @TemplateId, @TemplateVersion, @Name, @State, @Spec, @Version, @CreatedAt, @UpdatedAt)
            """, r);

    private async Task InsertMachinesAsync(Tx tx, Caller caller, IReadOnlyList<MachineRow> machines, long now)
    {
        if (machines.Count == 0)
        {
            return;
        }
        await tx.ExecuteAsync(
            """
            INSERT INTO machines (id, account_id, instance_id, contract_id, virtual_system, name, state, host, vcpus, memory_mib, disk_gib, image_id, config,
                access, error, version, created_at, updated_at, state_changed_at)
            VALUES (@Id, @AccountId, @InstanceId, @ContractId, @VirtualSystem, @Name, @State, @Host, @Vcpus, @MemoryMiB, @DiskGiB, @ImageId, @Config,
                @Access, @Error, @Version, @CreatedAt, @UpdatedAt, @StateChangedAt)
            """, machines);
        await events.AppendAsync(tx, caller,
            machines.Select(m => new LifecycleEvent(EventLog.Types.MachineProvisioned, m.Id, m.AccountId, MachineStore.Usage(m))).ToList(),
            DateTimeOffset.FromUnixTimeMilliseconds(now));
    }

    private static async Task<List<string>> MachineIdsAsync(Tx tx, string instanceId) =>
        (await tx.QueryAsync<string>("SELECT id FROM machines WHERE instance_id = @Id ORDER BY id", new { Id = instanceId })).AsList();

    /// <summary>True while a queued or running job works on the resource: one operation at a time per machine or instance.</summary>
    internal static async Task<bool> BusyAsync(Tx tx, string target) =>
        await tx.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM jobs WHERE target = @Target AND state IN ('queued', 'running')", new { Target = target }) > 0;

    private void ReleaseAll(List<Core.Placement.Placement> placements)
    {
        foreach (var p in placements)
        {
            placer.Release(p);
        }
        placements.Clear();
    }

    private static bool CanSee(Caller caller, string accountId) =>
        caller.IsProvider ? caller.Can(Permission.AccountsReadAll) : caller.AccountId == accountId;

    private static Error? CheckRead(Caller caller, string id, string prefix, string kind)
    {
        if (!Ids.IsValid(id, prefix))
        {
            return Error.InvalidId(id, kind);
        }
        return caller.Can(Permission.ResourcesRead) && (!caller.IsProvider || caller.Can(Permission.AccountsReadAll))
            ? null
            : Error.Forbidden($"Reading {kind}s needs the resources-read permission.");
    }

    private static Error? CheckChange(Caller caller, string id, string prefix, string kind)
    {
        if (!Ids.IsValid(id, prefix))
        {
            return Error.InvalidId(id, kind);
        }
        return caller.Can(Permission.ResourcesConfigure) && !caller.IsProvider
            ? null
            : Error.Forbidden($"Changing {kind}s needs the resources-configure permission of their account.");
    }

    private static Result<string?> Scope(Caller caller, string? accountId) =>
        accountId is not null && !Ids.IsValid(accountId, Ids.Account)
            ? Error.InvalidId(accountId, "account")
            : ResourceScope.For(caller, accountId, "Reading resources");
}

/// <summary>The request of instance.provision, instance.scale and instance.terminate jobs: the machines to create and to destroy.</summary>
internal sealed record MachinesJob(string InstanceId, IReadOnlyList<string> Create, IReadOnlyList<string>? Destroy = null);

internal sealed record MachineJob(string MachineId, bool Force);

internal sealed record ResizeJob(string MachineId, int Vcpus, long MemoryMiB, bool WasRunning);

internal sealed record MigrateJob(string MachineId, string Host);

/// <summary>Generated machine passwords: 128 random bits, stored as SHA-256 only (enough entropy that a slow hash adds nothing).</summary>
internal static class MachinePasswords
{
    public static string New() => Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static string Hash(string password) => "sha256$" + Security.ApiTokens.Hash(password);
}

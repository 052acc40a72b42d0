using System.Text.Json;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Catalog;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Contracts;
using Welkin.Core.Data;
using Welkin.Core.Events;
using Welkin.Core.Jobs;
using Welkin.Core.Security;

namespace Welkin.Core.Instances;

/// <summary>
/// The Service Manager (Table 1: "Provision Resource", "Deploy Virtual Image"): provisions
/// instances against a contract line, reads instances and machines, and terminates instances.
/// A request is checked, resolved against the template (<see cref="TemplateChoices"/>), placed
/// (<see cref="MachinePlanner"/>) and drawn against the contract and the account in the transaction
/// that records the machines and their job; the work on the fabric is done by the job handlers
/// (<see cref="InstanceJobHandler"/>). Changes to what runs are the Change Manager's
/// (<see cref="Changes.ChangeManager"/>).
/// </summary>
public sealed class ServiceManager(
    IDatabase db, AuditLog audit, EventLog events, JobQueue jobs, MachinePlanner planner, ComputeFabric fabric, TimeProvider clock)
{
    public const int MaxMachinesPerSystem = TemplateChoices.MaxMachinesPerSystem;
    public const int MaxMachinesPerRequest = 200;
    public const int ConsoleBytes = 64 * 1024;

    public static class Actions
    {
        public const string Provision = "instance.provision";
        public const string Terminate = "instance.terminate";
    }

    private static readonly string ActiveContract = WireNames.Of(ContractState.Active);

    // ---- Provision --------------------------------------------------------------------------

    public Task<Result<AcceptedView<InstanceView>>> ProvisionAsync(Caller caller, ProvisionRequest request, CancellationToken ct) =>
        ProvisionAsync(caller, request, null, ct);

    /// <summary>Accepts a provision; <paramref name="once"/> records the answer under the request's Idempotency-Key in the same transaction.</summary>
    public Task<Result<AcceptedView<InstanceView>>> ProvisionAsync(
        Caller caller, ProvisionRequest request, IdempotentWrite<AcceptedView<InstanceView>>? once, CancellationToken ct) =>
        ProvisionAsync(caller, request, once, Actions.Provision, null, ct);

    /// <summary>
    /// Accepts a provision whose machines are made by the job <paramref name="action"/> (a machine arriving live from a
    /// peer cloud is not created from an image), placed only on <paramref name="hosts"/> when given.
    /// </summary>
    internal async Task<Result<AcceptedView<InstanceView>>> ProvisionAsync(
        Caller caller, ProvisionRequest request, IdempotentWrite<AcceptedView<InstanceView>>? once, string action, IReadOnlySet<string>? hosts, CancellationToken ct)
    {
        var checkedRequest = CheckProvision(caller, request);
        if (!checkedRequest.IsSuccess)
        {
            return checkedRequest.Error!;
        }
        var line = await LoadLineAsync(caller, request, ct);
        if (!line.IsSuccess)
        {
            return line.Error!;
        }
        var (contract, item, template) = line.Value;
        var resolved = TemplateChoices.Resolve(template, item.Choices, request.VirtualSystems);
        if (!resolved.IsSuccess)
        {
            return resolved.Error!;
        }
        var total = resolved.Value.Sum(s => s.Choice.Count!.Value);
        if (total < 1 || total > MaxMachinesPerRequest)
        {
            return Error.Validation("virtualSystems", $"a request provisions 1-{MaxMachinesPerRequest} machines (this one {total})");
        }
        var contractConstraints = contract.Constraints is null ? null : JsonSerializer.Deserialize<PlacementConstraints>(contract.Constraints, WelkinJson.Client);
        var instanceId = Ids.New(Ids.Instance, clock);
        var systems = resolved.Value;
        var spec = new InstanceSpec(systems.Select(s => s.Choice).ToList(), request.AntiAffinity,
            TemplateChoices.Intersect(item.Constraints?.Jurisdictions, contractConstraints?.Jurisdictions, request.Constraints?.Jurisdictions),
            TemplateChoices.Intersect(item.Constraints?.Regions, contractConstraints?.Regions, request.Constraints?.Regions),
            item.LimitUnit, request.SshPublicKey, systems.ToDictionary(s => s.Choice.VirtualSystem, s => s.ImageId, StringComparer.Ordinal),
            systems.Where(s => s.DataDisks is { Count: > 0 })
                .ToDictionary(s => s.Choice.VirtualSystem, s => (IReadOnlyList<DataDisk>)s.DataDisks!, StringComparer.Ordinal),
            Secrets(template));
        var name = request.Name ?? "instance-" + instanceId[^6..];
        var ownImages = systems.Where(s => s.OwnImage).Select(s => s.Choice).ToList();
        return await AcceptProvisionAsync(caller, new NewInstance(instanceId, name, contract, item, spec, total, checkedRequest.Value, ownImages, action, hosts), once, ct);
    }

    private static Dictionary<string, IReadOnlyList<string>>? Secrets(TemplateSpec template)
    {
        var secrets = template.VirtualSystems.Select(s => (s.Name, Keys: SecretProperties.KeysOf(s))).Where(s => s.Keys is not null)
            .ToDictionary(s => s.Name, s => s.Keys!, StringComparer.Ordinal);
        return secrets.Count == 0 ? null : secrets;
    }

    /// <summary>A provision that passed every check outside the database; <paramref name="OwnImages"/> are the systems that boot an image of the account.</summary>
    private sealed record NewInstance(
        string Id, string Name, ContractRow Contract, ContractItem Item, InstanceSpec Spec, int Machines, string? SshFingerprint, IReadOnlyList<VirtualSystemChoice> OwnImages,
        string Action, IReadOnlySet<string>? Hosts);

    /// <summary>
    /// Each image a request names instead of the template's is an available image of the contract's
    /// account (any other answers as a missing one) whose disk fits the disk the contract line allows.
    /// </summary>
    private static async Task<Error?> CheckOwnImagesAsync(Tx tx, NewInstance n)
    {
        foreach (var choice in n.OwnImages)
        {
            var imageId = n.Spec.Images[choice.VirtualSystem]!;
            var field = $"virtualSystems[{choice.VirtualSystem}].imageId";
            var image = await Catalog.Images.AccountImageService.FindOwnAsync(tx, n.Contract.AccountId, imageId);
            if (image is null)
            {
                return Error.Validation(field, $"{field}: '{imageId}' is no available image of the account");
            }
            var disk = choice.DiskGiB!.Value * 1024L * 1024 * 1024;
            if (image.VirtualSizeBytes > disk)
            {
                return Error.Validation(field, $"{field}: image '{imageId}' has a disk of {image.VirtualSizeBytes} bytes; the machine's disk is {choice.DiskGiB} GiB");
            }
        }
        return null;
    }

    /// <summary>The checks that need no database; the SSH key's fingerprint when one was given.</summary>
    private static Result<string?> CheckProvision(Caller caller, ProvisionRequest request)
    {
        if (!Ids.IsValid(request.ContractId, Ids.Contract))
        {
            return Error.InvalidId(request.ContractId ?? "", "contract");
        }
        if (Tenancy.RequireTenant(caller, Permission.ContractsRequest, "Provisioning") is not null
            && Tenancy.RequireTenant(caller, Permission.ResourcesConfigure, "Provisioning") is not null)
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
        TemplateChoices.ValidateConstraints(v, request.Constraints);
        return v.ToError() is { } invalid ? invalid : fingerprint;
    }

    /// <summary>The caller's active contract, the compute line the request names (or the first one) and that line's template version.</summary>
    private async Task<Result<(ContractRow Contract, ContractItem Item, TemplateSpec Template)>> LoadLineAsync(
        Caller caller, ProvisionRequest request, CancellationToken ct)
    {
        var (contract, line, template) = await db.ReadAsync(async tx =>
        {
            var contract = await ContractStore.GetAsync(tx, request.ContractId);
            if (contract is null || contract.AccountId != caller.AccountId)
            {
                return (null, null, null);
            }
            var lines = contract.Lines;
            var line = request.Item is { } item ? lines.FirstOrDefault(l => l.Item == item) : lines.FirstOrDefault(l => l.Kind == OfferingKind.Compute);
            (TemplateState State, TemplateSpec Spec)? template = line is { Kind: OfferingKind.Compute, TemplateId: { } tid, TemplateVersion: { } tv }
                ? await TemplateService.FindVersionAsync(tx, tid, tv)
                : null;
            return ((ContractRow?)contract, line, template);
        }, ct);
        if (contract is null)
        {
            return Error.NotFound("Contract", request.ContractId);
        }
        if (contract.State != ActiveContract)
        {
            return Error.InvalidState($"Contract '{contract.Id}' is {contract.State}; only an active contract can be provisioned against.");
        }
        if (line is null || line.Kind != OfferingKind.Compute)
        {
            return Error.Validation("item", request.Item is null
                ? "the contract has no compute line"
                : $"item {request.Item} is not a compute line of the contract");
        }
        if (template is null)
        {
            return Error.InvalidState($"The template of contract line {line.Item} no longer exists.");
        }
        return (contract, line, template.Value.Spec);
    }

    /// <summary>
    /// In one transaction: the contract is still active, its line and the account have the units,
    /// every machine finds a host; then the instance, its machines, their job and the audit entry are recorded.
    /// </summary>
    private async Task<Result<AcceptedView<InstanceView>>> AcceptProvisionAsync(
        Caller caller, NewInstance n, IdempotentWrite<AcceptedView<InstanceView>>? once, CancellationToken ct)
    {
        using var held = planner.Hold();
        var result = await db.WriteAsync<AcceptedView<InstanceView>>(async tx =>
        {
            held.ReleaseAll();
            var state = await ContractStore.StateAsync(tx, n.Contract.Id);
            if (state != ActiveContract)
            {
                return Error.InvalidState($"Contract '{n.Contract.Id}' is {state}; only an active contract can be provisioned against.");
            }
            if (await CheckOwnImagesAsync(tx, n) is { } badImage)
            {
                return badImage;
            }
            if (await Quotas.DrawProvisionedAsync(tx, n.Contract.AccountId, n.Contract.Id, n.Item.Item, n.Item.LimitUnit, n.Machines, "machines") is { } refused)
            {
                return refused;
            }
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            var owner = new MachineOwner(n.Id, n.Contract.AccountId, n.Contract.Id, n.Item.Item, n.Item.OfferingId, n.Spec);
            var machines = new List<MachineRow>();
            foreach (var choice in n.Spec.VirtualSystems)
            {
                var placed = await planner.PlaceAsync(tx, held, owner, choice, $"{n.Name}-{choice.VirtualSystem}-", 1, choice.Count!.Value, now, n.Hosts);
                if (!placed.IsSuccess)
                {
                    return placed.Error!;
                }
                machines.AddRange(placed.Value);
            }
            var instance = new InstanceRow(n.Id, n.Contract.AccountId, n.Contract.Id, n.Item.Item, n.Item.OfferingId, n.Item.TemplateId!,
                n.Item.TemplateVersion!.Value, n.Name, WireNames.Of(InstanceState.Provisioning), MachineStore.Serialize(n.Spec), 1, now, now, null);
            await MachineStore.InsertInstanceAsync(tx, instance);
            await MachineStore.InsertAsync(tx, events, caller, machines, now);
            var job = await jobs.EnqueueAsync(tx, caller, n.Contract.AccountId, n.Action, n.Id, new MachinesJob(n.Id, machines.Select(m => m.Id).ToList()));
            await audit.AppendAsync(tx, caller, new AuditEvent(n.Action, n.Id, AuditEvent.Success, n.Contract.AccountId,
                $"contract={n.Contract.Id}; item={n.Item.Item}; machines={machines.Count}; job={job.Id}"
                + (n.SshFingerprint is null ? "; access=password" : $"; ssh-key={n.SshFingerprint}")));
            var accepted = new AcceptedView<InstanceView>(job, MachineStore.ToView(instance, machines.Select(m => m.Id).ToList()));
            return once is not null && await once.RecordAsync(tx, accepted) is { } taken ? taken : accepted;
        }, ct);
        if (result.IsSuccess)
        {
            held.Keep();
            jobs.Wake();
        }
        return result;
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
            if (row is null || !Tenancy.Sees(caller, row.AccountId))
            {
                return Error.NotFound("Instance", id);
            }
            return MachineStore.ToView(row, await MachineStore.IdsOfInstanceAsync(tx, id));
        }, ct);
    }

    public async Task<Result<Page<InstanceView>>> ListInstancesAsync(Caller caller, InstanceListQuery query, CancellationToken ct)
    {
        var scope = Tenancy.Scope(caller, Permission.ResourcesRead, query.AccountId, "Reading resources");
        if (!scope.IsSuccess)
        {
            return scope.Error!;
        }
        if ((Filters.Id(query.ContractId, Ids.Contract, "contract") ?? Filters.Page<InstanceState>(query.After, Ids.Instance, "instance", query.State)) is { } invalid)
        {
            return invalid;
        }
        var paging = new Paging(query.Limit);
        var rows = await MachineStore.ListInstancesAsync(db, scope.Value, query.ContractId, query.State, query.After ?? "", paging.Take, ct);
        return paging.Page(rows, r => MachineStore.ToView(r.Instance, r.Machines), i => i.Id);
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
            var found = await MachineStore.InstanceForChangeAsync(tx, caller, id, request.Version);
            if (!found.IsSuccess)
            {
                return found.Error!;
            }
            var instance = found.Value;
            if (instance.State is "terminating" or "terminated" or "provisioning")
            {
                return Error.InvalidState($"Instance '{id}' is {instance.State}; it can be terminated once provisioning has finished, and only once.");
            }
            if (await JobQueue.BusyAsync(tx, id))
            {
                return Error.InvalidState($"Instance '{id}' has an operation in progress; wait for its job to finish.");
            }
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            // The instance first: machine changes below then leave its state (terminating) alone.
            if (!await MachineStore.MarkTerminatingAsync(tx, instance, now))
            {
                return Error.Concurrency("Instance", id);
            }
            var machines = await MachineStore.MachinesOfInstanceAsync(tx, id);
            foreach (var m in machines.Where(m => m.State != MachineStore.Terminated && m.State != MachineStore.Terminating))
            {
                if (m.State == MachineStore.Provisioning || await JobQueue.BusyAsync(tx, m.Id))
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
            return new AcceptedView<InstanceView>(job, MachineStore.ToView(current!, await MachineStore.IdsOfInstanceAsync(tx, id)));
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
        return row is null || !Tenancy.Sees(caller, row.AccountId) ? Error.NotFound("Machine", id) : MachineStore.ToView(row);
    }

    public async Task<Result<Page<MachineView>>> ListMachinesAsync(Caller caller, MachineListQuery query, CancellationToken ct)
    {
        var scope = Tenancy.Scope(caller, Permission.ResourcesRead, query.AccountId, "Reading resources");
        if (!scope.IsSuccess)
        {
            return scope.Error!;
        }
        if ((Filters.Id(query.InstanceId, Ids.Instance, "instance") ?? Filters.Page<MachineState>(query.After, Ids.Machine, "machine", query.State)) is { } invalid)
        {
            return invalid;
        }
        var paging = new Paging(query.Limit);
        var rows = await MachineStore.ListAsync(db, scope.Value, query.InstanceId, query.State, query.After ?? "", paging.Take, ct);
        return paging.Page(rows, r => MachineStore.ToView(r), m => m.Id);
    }

    public async Task<Result<string>> ConsoleAsync(Caller caller, string id, CancellationToken ct)
    {
        var machine = await OnFabricAsync(caller, id, "console", ct);
        return machine.IsSuccess ? await machine.Value.Driver.ConsoleLogAsync(id, ConsoleBytes, ct) : machine.Error!;
    }

    public async Task<Result<MachineMetricsView>> MetricsAsync(Caller caller, string id, CancellationToken ct)
    {
        var machine = await OnFabricAsync(caller, id, "metrics", ct);
        if (!machine.IsSuccess)
        {
            return machine.Error!;
        }
        var metrics = await machine.Value.Driver.MetricsAsync(id, ct);
        return metrics.Map(x => new MachineMetricsView(id, x.At, x.CpuUtilizationPercent, x.CpuTimeMs, x.MemoryUsedBytes, x.PageFaults,
            x.DiskReadBytes, x.DiskWriteBytes, x.NetworkRxBytes, x.NetworkTxBytes));
    }

    /// <summary>A machine the caller may read that exists on the fabric (not provisioning, not terminated), with its pool's driver.</summary>
    private async Task<Result<(MachineView Machine, IComputeDriver Driver)>> OnFabricAsync(Caller caller, string id, string what, CancellationToken ct)
    {
        var machine = await GetMachineAsync(caller, id, ct);
        if (!machine.IsSuccess)
        {
            return machine.Error!;
        }
        if (machine.Value.State is MachineState.Provisioning or MachineState.Terminated)
        {
            return Error.InvalidState($"Machine '{id}' is {WireNames.Of(machine.Value.State)}; it has no {what}.");
        }
        var driver = fabric.DriverOf(machine.Value.Pool);
        return driver.IsSuccess ? (machine.Value, driver.Value) : driver.Error!;
    }

    // ---- Shared ------------------------------------------------------------------------------

    private static Error? CheckRead(Caller caller, string id, string prefix, string kind) =>
        Filters.Id(id, prefix, kind) ?? Tenancy.Require(caller, Permission.ResourcesRead, $"Reading {kind}s");

    internal static Error? CheckChange(Caller caller, string id, string prefix, string kind) =>
        Filters.Id(id, prefix, kind) ?? Tenancy.RequireTenant(caller, Permission.ResourcesConfigure, $"Changing {kind}s");
}

/// <summary>The query of an instance list (<c>GET /api/v1/instances</c>).</summary>
public sealed record InstanceListQuery(string? ContractId = null, string? State = null, string? AccountId = null, string? After = null, int Limit = 100);

/// <summary>The query of a machine list (<c>GET /api/v1/machines</c>).</summary>
public sealed record MachineListQuery(string? InstanceId = null, string? State = null, string? AccountId = null, string? After = null, int Limit = 100);

/// <summary>The request of instance.provision, instance.scale and instance.terminate jobs: the machines to create and to destroy.</summary>
internal sealed record MachinesJob(string InstanceId, IReadOnlyList<string> Create, IReadOnlyList<string>? Destroy = null);

using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Catalog;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Data;
using Welkin.Core.Events;
using Welkin.Core.Instances;
using Welkin.Core.Jobs;
using Welkin.Core.Security;

namespace Welkin.Core.Configuration;

/// <summary>
/// Configurable properties of machines (OVF ProductSection properties): the consumer sets the
/// user-configurable properties of a machine, or of every machine of an instance, within the
/// template's definitions; properties the offering fixes (or the template marks not
/// user-configurable) cannot change. The new values are recorded on the machine with a new
/// version (machine.configured) and handed to the guest by a <c>machine.configure</c> job.
/// </summary>
public sealed class PropertyService(IDatabase db, AuditLog audit, EventLog events, JobQueue jobs, TimeProvider clock)
{
    public const string ConfigureAction = "machine.configure";
    public const string ConfiguredEvent = "machine.configured";

    public async Task<Result<AcceptedView<MachineView>>> ConfigureMachineAsync(Caller caller, string id, ConfigurationRequest request, CancellationToken ct)
    {
        if (Check(caller, request, "Configuring a machine") is { } denied)
        {
            return denied;
        }
        if (!Ids.IsValid(id, Ids.Machine))
        {
            return Error.InvalidId(id, "machine");
        }
        var result = await db.WriteAsync<AcceptedView<MachineView>>(async tx =>
        {
            var found = await MachineStore.ForChangeAsync(tx, caller, id, request.Version);
            if (!found.IsSuccess)
            {
                return found.Error!;
            }
            var machine = found.Value;
            var definitions = await DefinitionsAsync(tx, machine.InstanceId);
            if (!definitions.IsSuccess)
            {
                return definitions.Error!;
            }
            if (Validate(request.Properties, [definitions.Value[machine.VirtualSystem]]) is { } invalid)
            {
                return invalid;
            }
            var configured = await ApplyAsync(tx, caller, machine, request.Properties);
            if (!configured.IsSuccess)
            {
                return configured.Error!;
            }
            var job = await jobs.EnqueueAsync(tx, caller, machine.AccountId, ConfigureAction, id, new ConfigureJob([id]));
            await audit.AppendAsync(tx, caller, new AuditEvent("machine.configure", id, AuditEvent.Success, machine.AccountId, Describe(request.Properties)));
            return new AcceptedView<MachineView>(job, MachineStore.ToView(configured.Value));
        }, ct);
        if (result.IsSuccess)
        {
            jobs.Wake();
        }
        return result;
    }

    /// <summary>
    /// Sets properties on every machine of an instance that defines them. A key must be a property
    /// of at least one of the instance's virtual systems; <see cref="ConfigurationRequest.Version"/> guards the instance.
    /// </summary>
    public async Task<Result<AcceptedView<InstanceView>>> ConfigureInstanceAsync(Caller caller, string id, ConfigurationRequest request, CancellationToken ct)
    {
        if (Check(caller, request, "Configuring an instance") is { } denied)
        {
            return denied;
        }
        if (!Ids.IsValid(id, Ids.Instance))
        {
            return Error.InvalidId(id, "instance");
        }
        var result = await db.WriteAsync<AcceptedView<InstanceView>>(async tx =>
        {
            var found = await MachineStore.InstanceForChangeAsync(tx, caller, id, request.Version);
            if (!found.IsSuccess)
            {
                return found.Error!;
            }
            var instance = found.Value;
            if (instance.State is "terminating" or "terminated")
            {
                return Error.InvalidState($"Instance '{id}' is {instance.State}; it cannot be configured.");
            }
            var definitions = await DefinitionsAsync(tx, id);
            if (!definitions.IsSuccess)
            {
                return definitions.Error!;
            }
            if (Validate(request.Properties, definitions.Value.Values.ToList()) is { } invalid)
            {
                return invalid;
            }
            var machines = (await MachineStore.MachinesOfInstanceAsync(tx, id)).Where(m => m.State is not ("terminating" or "terminated")).ToList();
            var changed = new List<string>();
            foreach (var machine in machines)
            {
                var system = definitions.Value[machine.VirtualSystem];
                var own = request.Properties.Where(p => system.Properties.ContainsKey(p.Key)).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
                if (own.Count == 0)
                {
                    continue;
                }
                var configured = await ApplyAsync(tx, caller, machine, own);
                if (!configured.IsSuccess)
                {
                    return configured.Error!;
                }
                changed.Add(machine.Id);
            }
            await MachineStore.TouchInstanceAsync(tx, id, clock.GetUtcNow().ToUnixTimeMilliseconds());
            var job = await jobs.EnqueueAsync(tx, caller, instance.AccountId, ConfigureAction, id, new ConfigureJob(changed));
            await audit.AppendAsync(tx, caller, new AuditEvent("instance.configure", id, AuditEvent.Success, instance.AccountId,
                $"{Describe(request.Properties)} machines={changed.Count}"));
            var updated = await MachineStore.GetInstanceAsync(tx, id);
            var all = await MachineStore.MachinesOfInstanceAsync(tx, id);
            return new AcceptedView<InstanceView>(job, MachineStore.ToView(updated!, all.Select(m => m.Id).ToList()));
        }, ct);
        if (result.IsSuccess)
        {
            jobs.Wake();
        }
        return result;
    }

    private static Error? Check(Caller caller, ConfigurationRequest request, string what)
    {
        if (Tenancy.RequireTenant(caller, Permission.ResourcesConfigure, what) is { } denied)
        {
            return denied;
        }
        if (request.Properties is null || request.Properties.Count == 0)
        {
            return Error.Validation("properties", "properties must name at least one property");
        }
        return request.Properties.Count > 100 ? Error.Validation("properties", "properties may set at most 100 properties at once") : null;
    }

    /// <summary>Every key must be defined by one of <paramref name="systems"/>, settable there, and have a value of its type.</summary>
    private static Error? Validate(IReadOnlyDictionary<string, string> properties, IReadOnlyList<SystemProperties> systems)
    {
        var v = new Validator();
        foreach (var (key, value) in properties)
        {
            var field = $"properties.{CatalogRules.Clip(key, 80)}";
            var defining = systems.Where(s => s.Properties.ContainsKey(key)).ToList();
            if (defining.Count == 0)
            {
                v.Add(field, $"{field}: the template defines no property '{CatalogRules.Clip(key, 80)}'");
                continue;
            }
            foreach (var system in defining)
            {
                var definition = system.Properties[key];
                if (!TemplateRules.Accepts(definition, value))
                {
                    v.Add(field, definition.AllowedValues is null
                        ? $"{field} {CatalogRules.TypeRule(definition.Type)}"
                        : $"{field} {CatalogRules.TypeRule(definition.Type)} and one of: {string.Join(", ", definition.AllowedValues)}");
                    break;
                }
            }
        }
        if (v.ToError() is { } invalid)
        {
            return invalid;
        }
        foreach (var key in properties.Keys)
        {
            foreach (var system in systems.Where(s => s.Properties.ContainsKey(key)))
            {
                if (!system.Properties[key].UserConfigurable)
                {
                    return new Error("property-fixed", ErrorKind.Conflict, $"Property '{CatalogRules.Clip(key, 80)}' of '{system.Name}' is set by the template and cannot be changed.");
                }
                if (system.Fixed.ContainsKey(key))
                {
                    return new Error("property-fixed", ErrorKind.Conflict, $"Property '{CatalogRules.Clip(key, 80)}' of '{system.Name}' is fixed by the offering and cannot be changed.");
                }
            }
        }
        return null;
    }

    private async Task<Result<MachineRow>> ApplyAsync(Tx tx, Caller caller, MachineRow machine, IReadOnlyDictionary<string, string> changes)
    {
        if (machine.State is "terminating" or "terminated" or "provisioning")
        {
            return Error.InvalidState($"Machine '{machine.Id}' is {machine.State}; it can be configured once it runs or is stopped.");
        }
        var updated = await MachineStore.SetPropertiesAsync(tx, machine, changes, clock.GetUtcNow().ToUnixTimeMilliseconds());
        if (updated is null)
        {
            return Error.Concurrency("Machine", machine.Id);
        }
        var secrets = machine.ParsedConfig.Secrets;
        var data = SecretProperties.Masked(changes, secrets).ToDictionary(c => "property." + c.Key, c => c.Value, StringComparer.Ordinal);
        data["version"] = updated.Version.ToString(System.Globalization.CultureInfo.InvariantCulture);
        data["instanceId"] = machine.InstanceId;
        await events.AppendAsync(tx, caller, new LifecycleEvent(ConfiguredEvent, machine.Id, machine.AccountId, data));
        return updated;
    }

    /// <summary>Per virtual system of the instance's template: its property definitions and what the contract line's offering fixes.</summary>
    private static async Task<Result<Dictionary<string, SystemProperties>>> DefinitionsAsync(Tx tx, string instanceId)
    {
        var instance = await MachineStore.GetInstanceAsync(tx, instanceId) ?? throw new InvalidOperationException($"Instance {instanceId} is missing.");
        var template = await TemplateService.FindVersionAsync(tx, instance.TemplateId, (int)instance.TemplateVersion)
            ?? throw new InvalidOperationException($"Template {instance.TemplateId} v{instance.TemplateVersion} is missing.");
        var line = await Contracts.ContractStore.LineAsync(tx, instance.ContractId, (int)instance.Item);
        return template.Spec.VirtualSystems.ToDictionary(
            s => s.Name,
            s => new SystemProperties(
                s.Name,
                (s.Properties ?? []).ToDictionary(p => p.Key, StringComparer.Ordinal),
                line?.Choices?.FirstOrDefault(c => c.VirtualSystem == s.Name)?.FixedProperties ?? new Dictionary<string, string>()),
            StringComparer.Ordinal);
    }

    private static string Describe(IReadOnlyDictionary<string, string> properties) =>
        "properties=" + CatalogRules.Clip(string.Join(",", properties.Keys.Order(StringComparer.Ordinal)), 200);

    private sealed record SystemProperties(string Name, IReadOnlyDictionary<string, PropertyDefinition> Properties, IReadOnlyDictionary<string, string> Fixed);
}

internal sealed record ConfigureJob(IReadOnlyList<string> MachineIds);

/// <summary>
/// <c>machine.configure</c>: hands each machine its recorded properties. A driver with
/// LiveProperties applies them to a running guest; a stopped machine takes them into its
/// definition for its next boot. Without LiveProperties a running machine keeps its old values
/// until <see cref="MachineDevices.ApplyPendingAsync"/> hands them over before its next start.
/// </summary>
public sealed class MachineConfigureHandler(IDatabase db, ComputeFabric fabric) : IJobHandler
{
    public string Action => PropertyService.ConfigureAction;

    public async Task RunAsync(JobContext context, CancellationToken ct)
    {
        var request = DevicePolicy.Request<ConfigureJob>(context.Job);
        var applied = 0;
        var deferred = 0;
        Error? failed = null;
        foreach (var id in request.MachineIds)
        {
            var machine = await db.ReadAsync(tx => MachineStore.GetMachineAsync(tx, id), ct);
            if (machine is null || machine.State is "terminating" or "terminated" or "provisioning" or "error")
            {
                deferred++;
                continue;
            }
            var driver = fabric.DriverOf(machine.Pool);
            if (!driver.IsSuccess)
            {
                failed = driver.Error;
                break;
            }
            if (machine.State != "inactive" && !driver.Value.Capabilities.HasFlag(DriverCapabilities.LiveProperties))
            {
                deferred++;
                continue;
            }
            var done = await driver.Value.SetPropertiesAsync(id, machine.ParsedConfig.Properties, ct);
            if (!done.IsSuccess)
            {
                failed = done.Error;
                break;
            }
            applied++;
        }
        await db.WriteAsync<bool>(async tx =>
        {
            await (failed is null
                ? context.Queue.SucceedAsync(tx, context.Job.Id, new { applied, deferred }, $"applied to {applied} machine(s), {deferred} at their next start")
                : context.Queue.FailAsync(tx, context.Job.Id, failed));
            return true;
        }, ct);
    }
}

using Welkin.Contracts;
using Welkin.Core.Catalog;
using Welkin.Core.Common;
using Welkin.Core.Compute;

namespace Welkin.Core.Instances;

/// <summary>
/// A virtual system of a request, resolved: every choice filled, the image it boots (the account's own when
/// <paramref name="OwnImage"/>) and the data disks each of its machines gets.
/// </summary>
internal sealed record ResolvedSystem(VirtualSystemChoice Choice, string? ImageId, bool OwnImage = false, IReadOnlyList<DataDisk>? DataDisks = null);

/// <summary>
/// How a provisioning request is resolved against a template version and its offering's
/// restrictions (pure, as <see cref="TemplateRules"/>): every hardware and software choice comes
/// from the request, else the offering's restriction, else the template's default, and must be one
/// the template (narrowed by the offering) allows; properties start from the template's defaults and
/// the offering's fixed values, and the request may set only user-configurable ones. Placement
/// constraints of the contract line, the contract and the request narrow each other.
/// </summary>
internal static class TemplateChoices
{
    public const int MaxMachinesPerSystem = 100;

    /// <summary>Fills every choice from the request, the offering's restriction and the template's default, and checks each against what is allowed.</summary>
    public static Result<List<ResolvedSystem>> Resolve(TemplateSpec template, IReadOnlyList<VirtualSystemRestriction>? restrictions, IReadOnlyList<VirtualSystemChoice>? requested)
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
            v.Require(c.ImageId is null || Ids.IsValid(c.ImageId, Ids.Image), $"{at}.imageId", $"{at}.imageId must be an image id");
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
            var (sizes, dataDisks) = PickDataVolumes(v, system, c.DataVolumes, at);
            resolved.Add(new ResolvedSystem(
                new VirtualSystemChoice(system.Name, count, vcpus, memory, disk, os, http, dbm, properties, DataVolumes: sizes), c.ImageId ?? system.ImageId, c.ImageId is not null,
                dataDisks));
        }
        return v.ToError() is { } invalid ? invalid : resolved;
    }

    /// <summary>
    /// The size of each data volume of the system: the request's, among the allowed sizes, else the default; 0 leaves it
    /// out. The volumes kept become the machines' data disks, on vdb, vdc, … in the template's order.
    /// </summary>
    private static (SortedDictionary<string, long> Sizes, List<DataDisk> Disks) PickDataVolumes(
        Validator v, VirtualSystemSpec system, IReadOnlyDictionary<string, long>? wanted, string at)
    {
        var volumes = system.DataVolumes ?? [];
        foreach (var name in (wanted ?? new Dictionary<string, long>()).Keys.Where(k => !volumes.Any(d => d.Name == k)))
        {
            var field = $"{at}.dataVolumes.{CatalogRules.Clip(name, 80)}";
            v.Add(field, volumes.Count == 0
                ? $"{field}: the virtual system has no data volumes"
                : $"{field}: the virtual system has no data volume '{CatalogRules.Clip(name, 80)}' ({string.Join(", ", volumes.Select(d => d.Name))})");
        }
        var sizes = new SortedDictionary<string, long>(StringComparer.Ordinal);
        var disks = new List<DataDisk>();
        foreach (var volume in volumes)
        {
            var size = Pick(v, wanted?.TryGetValue(volume.Name, out var w) == true ? w : null, volume.SizeGiB, $"{at}.dataVolumes.{volume.Name}");
            sizes[volume.Name] = size;
            if (size > 0)
            {
                disks.Add(new DataDisk(volume.Name, size, volume.ImageId, DataDisks.DeviceAt(disks.Count)));
            }
        }
        v.Require(disks.Count <= DataDisks.Max, $"{at}.dataVolumes", $"{at}.dataVolumes: a machine has at most {DataDisks.Max} data disks");
        return (sizes, disks);
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

    public static void ValidateConstraints(Validator v, PlacementConstraints? constraints)
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
    public static IReadOnlyList<string>? Intersect(params IReadOnlyList<string>?[] sets)
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

    /// <summary>
    /// The size a resize asks for (what it leaves out stays as it is), checked against the
    /// choices the template allows, narrowed by the offering; a resize to the same size is refused.
    /// </summary>
    public static Result<(int Vcpus, long MemoryMiB)> Resize(
        VirtualSystemSpec system, VirtualSystemRestriction? restriction, int currentVcpus, long currentMemoryMiB, int? vcpus, long? memoryMiB)
    {
        var wantedVcpus = vcpus ?? currentVcpus;
        var wantedMemory = memoryMiB ?? currentMemoryMiB;
        var v = new Validator();
        var cpuChoice = restriction?.Vcpus ?? system.Hardware.Vcpus;
        var memoryChoice = restriction?.MemoryMiB ?? system.Hardware.MemoryMiB;
        v.Require(cpuChoice.Allowed.Contains(wantedVcpus), "vcpus", $"vcpus must be one of {string.Join(", ", cpuChoice.Allowed)}");
        v.Require(memoryChoice.Allowed.Contains(wantedMemory), "memoryMiB", $"memoryMiB must be one of {string.Join(", ", memoryChoice.Allowed)}");
        if (v.ToError() is { } invalid)
        {
            return invalid;
        }
        if (wantedVcpus == currentVcpus && wantedMemory == currentMemoryMiB)
        {
            return Error.Validation("vcpus", $"the machine already has {wantedVcpus} vCPU and {wantedMemory} MiB memory");
        }
        return (wantedVcpus, wantedMemory);
    }
}

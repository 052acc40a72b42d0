using System.Text;
using Welkin.Contracts;
using Welkin.Core.Catalog;
using Welkin.Core.Common;

namespace Welkin.Core.Ovf;

/// <summary>
/// Turns a parsed envelope into a template spec: one VirtualSystemSpec per VirtualSystem (a
/// collection's systems, nested ones included, become the tiers), hardware items become choices,
/// ProductSection properties become property definitions. The result passes
/// <see cref="TemplateRules"/> or the mapping fails with its errors.
/// </summary>
public static partial class OvfTemplateMapper
{
    public static Result<TemplateSpec> ToTemplateSpec(OvfEnvelope envelope)
    {
        var (systems, inherited) = envelope.Content switch
        {
            OvfVirtualSystem vs => ([vs], []),
            OvfVirtualSystemCollection vsc => (vsc.VirtualSystems().ToList(), Properties(vsc.Products)),
            _ => (new List<OvfVirtualSystem>(), new List<PropertyDefinition>()),
        };
        if (systems.Count > TemplateRules.MaxVirtualSystems)
        {
            return OvfErrors.Unmappable($"The envelope holds {systems.Count} virtual systems; a template holds at most {TemplateRules.MaxVirtualSystems}.");
        }
        var specs = new List<VirtualSystemSpec>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var system in systems)
        {
            var hardware = Hardware(envelope, system);
            if (!hardware.IsSuccess)
            {
                return hardware.Error!;
            }
            // OVF 2.0 9.5: a system sees the properties of its enclosing collection; its own win on a clash.
            var own = Properties(system.Products.Where(p => p.Class != OvfWriter.SoftwareClass).ToList());
            var properties = own.Concat(inherited.Where(p => own.All(o => o.Key != p.Key))).ToList();
            var software = Software(system.Products.FirstOrDefault(p => p.Class == OvfWriter.SoftwareClass))
                ?? (system.OperatingSystem is { } os
                    ? new SoftwareChoices(OperatingSystem: Fixed(Clip(os.Description ?? os.OsType ?? $"cim-os-{os.Id}", TemplateRules.MaxSoftwareLength)))
                    : null);
            specs.Add(new VirtualSystemSpec(DistinctName(SystemName(system.Id), names), hardware.Value, software, Properties: properties.Count == 0 ? null : properties));
        }
        var content = envelope.Content;
        var spec = new TemplateSpec(
            Clip(content.Name ?? content.Id, CatalogRules.MaxNameLength),
            specs,
            (content.Annotation ?? content.Info) is { } description ? Clip(description, CatalogRules.MaxDescriptionLength) : null);
        if (TemplateRules.Validate(spec).ToError() is { } error)
        {
            return Unmappable(error, systems);
        }
        return spec;
    }

    /// <summary>
    /// A template rule the mapped spec breaks, said of the OVF element it came from: the hardware
    /// item (with its line) for vCPUs, memory and disk, else the virtual system.
    /// </summary>
    private static Error Unmappable(Error error, IReadOnlyList<OvfVirtualSystem> systems)
    {
        var said = new List<string>();
        foreach (var (field, messages) in error.Errors ?? new Dictionary<string, string[]>())
        {
            var m = RuleField().Match(field);
            var rule = string.Join(" ", messages.Select(x => x.TrimEnd('.'))).Trim();
            if (!m.Success || !int.TryParse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture, out var index) || index >= systems.Count)
            {
                said.Add($"{field}: {rule}");
                continue;
            }
            var system = systems[index];
            var item = m.Groups[3].Value switch
            {
                "vcpus" => system.Hardware.FirstOrDefault(i => i.ResourceType == OvfHardwareItem.Processor),
                "memoryMiB" => system.Hardware.FirstOrDefault(i => i.ResourceType == OvfHardwareItem.Memory),
                "diskGiB" => system.Hardware.FirstOrDefault(i => i.IsDisk),
                _ => null,
            };
            said.Add(item is null
                ? $"VirtualSystem '{system.Id}': {rule}"
                : $"VirtualSystem '{system.Id}', Item '{item.InstanceId}' (ResourceType {item.ResourceType}{(item.Line is { } line ? $", line {line}" : "")}): {rule}");
        }
        return OvfErrors.Unmappable(said.Count == 0 ? error.Detail : "The envelope does not fit a Welkin template: " + string.Join("; ", said) + ".") with { Errors = error.Errors };
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^virtualSystems\[(\d+)\]\.?(hardware\.(vcpus|memoryMiB|diskGiB))?", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex RuleField();

    /// <summary><paramref name="name"/>, or with "-2", "-3", … when an earlier system's id normalised to the same name.</summary>
    private static string DistinctName(string name, HashSet<string> taken)
    {
        var candidate = name;
        for (var n = 2; !taken.Add(candidate); n++)
        {
            var suffix = "-" + n.ToString(System.Globalization.CultureInfo.InvariantCulture);
            candidate = Clip(name, Names.MaxLength - suffix.Length) + suffix;
        }
        return candidate;
    }

    private static Result<HardwareChoices> Hardware(OvfEnvelope envelope, OvfVirtualSystem system)
    {
        var cpus = Values(system, OvfHardwareItem.Processor, i => i.VirtualQuantity, envelope.DefaultConfiguration);
        if (cpus is null)
        {
            return OvfErrors.Unmappable($"VirtualSystem '{system.Id}' has no processor item (ResourceType 3) with a VirtualQuantity.");
        }
        var memory = Values(system, OvfHardwareItem.Memory, i =>
            i.VirtualQuantity is { } q && OvfUnits.ToBytes(q, i.AllocationUnits ?? "byte * 2^20") is { } bytes ? CeilDiv(bytes, 1L << 20) : null,
            envelope.DefaultConfiguration);
        if (memory is null)
        {
            return OvfErrors.Unmappable($"VirtualSystem '{system.Id}' has no memory item (ResourceType 4) with a VirtualQuantity in known AllocationUnits.");
        }
        // The disk choice is the system's total disk capacity: every disk drive item's ovf:/disk/ID.
        var diskBytes = 0L;
        foreach (var item in system.Hardware.Where(i => i.IsDisk && i.Configuration is null))
        {
            foreach (var host in item.HostResources)
            {
                var diskId = OvfHardwareItem.DiskId(host);
                if (diskId is null)
                {
                    continue;
                }
                var disk = envelope.Disks.FirstOrDefault(d => d.DiskId == diskId);
                if (disk is null)
                {
                    return OvfErrors.Unmappable($"Item '{item.InstanceId}' of VirtualSystem '{system.Id}' names disk '{diskId}', which DiskSection does not list.");
                }
                diskBytes += disk.CapacityBytes;
            }
        }
        var diskGiB = Math.Max(1, CeilDiv(diskBytes, 1L << 30));
        // A disk item tied to a configuration is an alternative size of the system's disk (as OvfWriter writes them).
        var alternatives = system.Hardware.Where(i => i.IsDisk && i.Configuration is not null)
            .SelectMany(i => i.HostResources)
            .Select(OvfHardwareItem.DiskId)
            .Select(id => envelope.Disks.FirstOrDefault(d => d.DiskId == id))
            .Where(d => d is not null)
            .Select(d => Math.Max(1, CeilDiv(d!.CapacityBytes, 1L << 30)));
        return new HardwareChoices(
            new Choice<int>(cpus.Allowed.Select(c => (int)Math.Min(c, int.MaxValue)).ToList(), (int)Math.Min(cpus.Default, int.MaxValue)),
            memory,
            new Choice<long>(alternatives.Append(diskGiB).Distinct().Order().ToList(), diskGiB));
    }

    // Software choices as OvfWriter writes them: one string property per kind, its ValueMap the allowed values.
    private static SoftwareChoices? Software(OvfProduct? product)
    {
        if (product is null)
        {
            return null;
        }
        Choice<string>? Of(string key) =>
            product.Properties.FirstOrDefault(p => p.Key == key) is { Default: { } value } p
                ? new Choice<string>(AllowedValues(p.Qualifiers, PropertyType.String) ?? [value], value)
                : null;
        return new SoftwareChoices(Of("operatingSystem"), Of("httpServer"), Of("databaseManager"));
    }

    // Items without ovf:configuration apply to every deployment option; items with one are the
    // alternatives (OVF 2.0 9.8). All of them become the allowed values. The default is the value in
    // the default configuration: its own item when it has one (replacing the unconditional item),
    // else the unconditional one.
    private static Choice<long>? Values(OvfVirtualSystem system, int resourceType, Func<OvfHardwareItem, long?> value, string? defaultConfiguration)
    {
        var items = system.Hardware.Where(i => i.ResourceType == resourceType).Select(i => (Item: i, Value: value(i))).Where(x => x.Value is not null).ToList();
        if (items.Count == 0)
        {
            return null;
        }
        var @default = (items.FirstOrDefault(x => x.Item.In(defaultConfiguration)).Value
            ?? items.FirstOrDefault(x => x.Item.Configuration is null).Value
            ?? items[0].Value)!.Value;
        return new Choice<long>(items.Select(x => x.Value!.Value).Distinct().Order().ToList(), @default);
    }

    private static List<PropertyDefinition> Properties(IReadOnlyList<OvfProduct> products) =>
        products.SelectMany(product => product.Properties.Select(p => Property(product, p)))
            .DistinctBy(p => p.Key)
            .ToList();

    private static PropertyDefinition Property(OvfProduct product, OvfProperty p)
    {
        // ovf:password="true" (OVF 2.0 9.5): a secret string. Its default (appliances ship ones like "changeme") is kept
        // for provisioning; Welkin never shows it back, so a list of allowed secrets is not kept either.
        var type = p.Password ? PropertyType.String : p.Type.ToLowerInvariant() switch
        {
            "boolean" => PropertyType.Boolean,
            "uint8" or "sint8" or "uint16" or "sint16" or "uint32" or "sint32" or "uint64" or "sint64" => PropertyType.Int,
            "real32" or "real64" => PropertyType.Real,
            _ => PropertyType.String,
        };
        var allowed = p.Password ? null : AllowedValues(p.Qualifiers, type);
        var value = type == PropertyType.Boolean ? p.Default?.ToLowerInvariant() : p.Default;
        if (!CatalogRules.ParsesAs(type, value) || (allowed is not null && !allowed.Contains(value!)))
        {
            value = null;
        }
        // OVF 2.0 9.5: a property's full name is class.key.instance.
        var key = string.Join('.', new[] { product.Class, p.Key, product.Instance }.Where(s => !string.IsNullOrEmpty(s)));
        return new PropertyDefinition(PropertyKey(key), type, value,
            p.Label is null ? null : Clip(p.Label, TemplateRules.MaxLabelLength),
            p.Description is null ? null : Clip(p.Description, CatalogRules.MaxDescriptionLength),
            allowed, p.UserConfigurable, p.Password);
    }

    // ovf:qualifiers="ValueMap{"a","b"}" (OVF 2.0 9.5, DSP0004 qualifier syntax).
    private static List<string>? AllowedValues(string? qualifiers, PropertyType type)
    {
        if (qualifiers is null)
        {
            return null;
        }
        var start = qualifiers.IndexOf("ValueMap{", StringComparison.Ordinal);
        if (start < 0 || ValueMap(qualifiers, start + 9) is not { } listed)
        {
            return null;
        }
        var values = listed
            .Where(v => CatalogRules.ParsesAs(type, v))
            .Distinct()
            .Take(TemplateRules.MaxPropertyAllowedValues)
            .ToList();
        return values.Count == 0 ? null : values;
    }

    /// <summary>
    /// The values of a DSP0004 ValueMap from just after its '{' to the closing '}': comma-separated,
    /// each quoted ("en_US, UTF-8" is one value; \" and \\ are escapes) or bare. Null when unterminated.
    /// </summary>
    internal static List<string>? ValueMap(string text, int from)
    {
        var values = new List<string>();
        var current = new StringBuilder();
        var quoted = false;
        for (var i = from; i < text.Length; i++)
        {
            var c = text[i];
            if (quoted)
            {
                if (c == '\\' && i + 1 < text.Length)
                {
                    current.Append(text[++i]);
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    current.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c is ',' or '}')
            {
                values.Add(current.ToString().Trim());
                current.Clear();
                if (c == '}')
                {
                    return values;
                }
            }
            else
            {
                current.Append(c);
            }
        }
        return null;
    }

    private static string PropertyKey(string key)
    {
        var sb = new StringBuilder();
        foreach (var c in key)
        {
            sb.Append(char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-' ? c : '_');
        }
        if (sb.Length == 0 || !char.IsAsciiLetter(sb[0]))
        {
            sb.Insert(0, 'p');
        }
        return Clip(sb.ToString(), 80);
    }

    /// <summary>A Welkin name from an ovf:id: lower case, other characters as '-', starting with a letter.</summary>
    public static string SystemName(string id)
    {
        var sb = new StringBuilder();
        foreach (var c in id.ToLowerInvariant())
        {
            sb.Append(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '.' or '_' ? c : '-');
        }
        if (sb.Length == 0 || !char.IsAsciiLetterLower(sb[0]))
        {
            sb.Insert(0, "vs-");
        }
        return Clip(sb.ToString(), Names.MaxLength);
    }

    private static Choice<T> Fixed<T>(T value) => new([value], value);

    private static long CeilDiv(long a, long b) => (a + b - 1) / b;

    private static string Clip(string s, int max) => s.Length <= max ? s : s[..max];
}

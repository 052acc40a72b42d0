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
/// <summary>The disks of one virtual system: its system disk (null when it attaches none) and its data volumes, in order.</summary>
/// <param name="SystemGiB">The system disk's size choice (1 GiB when it has no disk).</param>
public sealed record OvfSystemDisks(OvfMappedDisk? System, Choice<long> SystemGiB, IReadOnlyList<OvfMappedDisk> Data);

/// <summary>A disk of a virtual system as Welkin maps it.</summary>
/// <param name="Name">A data volume's name (from its ovf:diskId); "system" for the system disk.</param>
/// <param name="File">The package file holding its content; null for an empty disk.</param>
/// <param name="Item">The disk item it came from (the first, when several configurations attach it).</param>
public sealed record OvfMappedDisk(string Name, Choice<long> SizeGiB, OvfFile? File, OvfHardwareItem Item);

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
        var layouts = new List<OvfSystemDisks>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var system in systems)
        {
            var disks = Disks(envelope, system);
            if (!disks.IsSuccess)
            {
                return disks.Error!;
            }
            layouts.Add(disks.Value);
            var hardware = Hardware(envelope, system, disks.Value);
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
            var volumes = disks.Value.Data.Select(d => new DataVolumeSpec(d.Name, d.SizeGiB)).ToList();
            specs.Add(new VirtualSystemSpec(DistinctName(SystemName(system.Id), names), hardware.Value, software,
                Properties: properties.Count == 0 ? null : properties, DataVolumes: volumes.Count == 0 ? null : volumes));
        }
        var content = envelope.Content;
        var spec = new TemplateSpec(
            Clip(content.Name ?? content.Id, CatalogRules.MaxNameLength),
            specs,
            (content.Annotation ?? content.Info) is { } description ? Clip(description, CatalogRules.MaxDescriptionLength) : null);
        if (TemplateRules.Validate(spec).ToError() is { } error)
        {
            return Unmappable(error, systems, layouts);
        }
        return spec;
    }

    /// <summary>
    /// A template rule the mapped spec breaks, said of the OVF element it came from: the hardware
    /// item (with its line) for vCPUs, memory, the system disk and each data volume, else the virtual system.
    /// </summary>
    private static Error Unmappable(Error error, IReadOnlyList<OvfVirtualSystem> systems, IReadOnlyList<OvfSystemDisks> layouts)
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
                "diskGiB" => layouts[index].System?.Item ?? system.Hardware.FirstOrDefault(i => i.IsDisk),
                _ => m.Groups[4].Success && int.TryParse(m.Groups[4].Value, System.Globalization.CultureInfo.InvariantCulture, out var j) && j < layouts[index].Data.Count
                    ? layouts[index].Data[j].Item
                    : null,
            };
            if (item is { InstanceId: "" })
            {
                // A disk that no item attaches: say which disk.
                said.Add($"VirtualSystem '{system.Id}', Disk '{OvfHardwareItem.DiskId(item.HostResources[0])}': {rule}");
                continue;
            }
            said.Add(item is null
                ? $"VirtualSystem '{system.Id}': {rule}"
                : $"VirtualSystem '{system.Id}', Item '{item.InstanceId}' (ResourceType {item.ResourceType}{(item.Line is { } line ? $", line {line}" : "")}): {rule}");
        }
        return OvfErrors.Unmappable(said.Count == 0 ? error.Detail : "The envelope does not fit a Welkin template: " + string.Join("; ", said) + ".") with { Errors = error.Errors };
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^virtualSystems\[(\d+)\]\.?(hardware\.(vcpus|memoryMiB|diskGiB)|dataVolumes\[(\d+)\])?", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
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

    private static Result<HardwareChoices> Hardware(OvfEnvelope envelope, OvfVirtualSystem system, OvfSystemDisks disks)
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
        return new HardwareChoices(
            new Choice<int>(cpus.Allowed.Select(c => (int)Math.Min(c, int.MaxValue)).ToList(), (int)Math.Min(cpus.Default, int.MaxValue)),
            memory,
            disks.SystemGiB);
    }

    /// <summary>
    /// The disks of a virtual system as Welkin lays them out (OVF 2.0 9.8, 9.9): each unconditional disk
    /// item is a disk; an item tied to configurations with the InstanceID of an unconditional item is an
    /// alternative size of that disk there; one with an InstanceID of its own is a disk only those
    /// configurations have (0 among its sizes unless every configuration has it; its default size the
    /// default configuration's, else 0). Items of several configurations attaching the same file are one
    /// disk, its sizes theirs. Items tied only to configurations named <c>disk-gib-N</c> are alternative
    /// sizes of the system disk (as Welkin wrote them before data volumes). The system disk is the first
    /// disk every configuration has that the boot order names, else the first such disk with content,
    /// else the first; every other disk is a data volume, in document order. In an envelope of one
    /// system, a disk with content that no item attaches is a data volume left out by default.
    /// </summary>
    public static Result<OvfSystemDisks> Disks(OvfEnvelope envelope, OvfVirtualSystem system)
    {
        var slots = new List<DiskSlot>();
        var legacy = new List<long>();
        var configurations = envelope.Configurations ?? [];
        foreach (var item in system.Hardware.Where(i => i.IsDisk))
        {
            if (item.HostResources.Select(OvfHardwareItem.DiskId).FirstOrDefault(id => id is not null) is not { } diskId)
            {
                continue;
            }
            var disk = envelope.Disks.FirstOrDefault(d => d.DiskId == diskId);
            if (disk is null)
            {
                return OvfErrors.Unmappable($"Item '{item.InstanceId}' of VirtualSystem '{system.Id}' names disk '{diskId}', which DiskSection does not list.");
            }
            OvfFile? file = null;
            if (disk.FileRef is { } fileRef && (file = envelope.Files.FirstOrDefault(f => f.Id == fileRef)) is null)
            {
                return OvfErrors.Unmappable($"Disk '{disk.DiskId}' names file '{fileRef}', which References does not list.");
            }
            var gib = Math.Max(1, CeilDiv(disk.CapacityBytes, 1L << 30));
            if (item.Configuration is null)
            {
                if (slots.Any(s => s.Unconditional && s.Disk.DiskId == disk.DiskId))
                {
                    continue;
                }
                slots.Add(new DiskSlot(item, disk, file, Unconditional: true) { Default = gib, Sizes = { gib } });
                continue;
            }
            var tied = item.Configuration.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (slots.FirstOrDefault(s => s.Unconditional && s.Item.InstanceId == item.InstanceId) is { } replaced)
            {
                if (file is not null && file.Id != replaced.File?.Id)
                {
                    return OvfErrors.Unmappable($"Item '{item.InstanceId}' of VirtualSystem '{system.Id}' (configuration '{item.Configuration}'{(item.Line is { } l ? $", line {l}" : "")}) " +
                        $"replaces disk '{replaced.Disk.DiskId}' with other content (file '{file.Href}'); a Welkin disk has the same content in every configuration.");
                }
                replaced.Sizes.Add(gib);
                if (item.In(envelope.DefaultConfiguration))
                {
                    replaced.Default = gib;
                }
                continue;
            }
            if (tied.Length > 0 && tied.All(c => LegacyDiskConfiguration().IsMatch(c)) && file is null)
            {
                legacy.Add(gib);
                continue;
            }
            var slot = (file is not null ? slots.FirstOrDefault(s => s.File?.Id == file.Id) : null)
                ?? slots.FirstOrDefault(s => !s.Unconditional && s.File is null && file is null && s.Item.InstanceId == item.InstanceId);
            if (slot is null)
            {
                slot = new DiskSlot(item, disk, file, Unconditional: false);
                slots.Add(slot);
            }
            slot.Sizes.Add(gib);
            slot.Configurations.UnionWith(tied);
            if (!slot.Unconditional && item.In(envelope.DefaultConfiguration) && slot.Default == 0)
            {
                slot.Default = gib;
                slot.Named = disk;
            }
        }
        // A disk with content that no item attaches (VMware's vCenter appliance ships one) is kept as a
        // volume left out unless asked, rather than dropped; a system of a collection cannot claim it.
        if (ReferenceEquals(envelope.Content, system))
        {
            var attached = system.Hardware.Where(i => i.IsDisk).SelectMany(i => i.HostResources).Select(OvfHardwareItem.DiskId).OfType<string>().ToHashSet(StringComparer.Ordinal);
            foreach (var disk in envelope.Disks.Where(d => d.FileRef is not null && !attached.Contains(d.DiskId)))
            {
                if (envelope.Files.FirstOrDefault(f => f.Id == disk.FileRef) is not { } file)
                {
                    return OvfErrors.Unmappable($"Disk '{disk.DiskId}' names file '{disk.FileRef}', which References does not list.");
                }
                if (slots.Any(s => s.File?.Id == file.Id))
                {
                    continue;
                }
                var unattached = new DiskSlot(new OvfHardwareItem(OvfHardwareItem.DiskDrive, "", null, null, null, ["ovf:/disk/" + disk.DiskId], [], null, null), disk, file, Unconditional: false);
                unattached.Sizes.Add(Math.Max(1, CeilDiv(disk.CapacityBytes, 1L << 30)));
                slots.Add(unattached);
            }
        }
        foreach (var slot in slots.Where(s => !s.Unconditional))
        {
            slot.Optional = configurations.Count == 0 || !configurations.All(slot.Configurations.Contains);
            if (!slot.Optional && slot.Default == 0)
            {
                slot.Default = slot.Sizes.Min();
            }
        }
        var always = slots.Where(s => !s.Optional).ToList();
        var boot = (system.BootOrder ?? []).Select(id => always.FirstOrDefault(s => s.Item.InstanceId == id)).FirstOrDefault(s => s is not null);
        var systemDisk = boot ?? always.FirstOrDefault(s => s.File is not null) ?? always.FirstOrDefault();
        Choice<long> systemGiB;
        if (systemDisk is null)
        {
            systemGiB = new Choice<long>(legacy.Append(1).Distinct().Order().ToList(), 1);
        }
        else
        {
            systemGiB = new Choice<long>(systemDisk.Sizes.Concat(legacy).Distinct().Order().ToList(), systemDisk.Default);
        }
        var names = new HashSet<string>(StringComparer.Ordinal);
        var data = slots.Where(s => s != systemDisk).Select(s => new OvfMappedDisk(
            DistinctName(WelkinName(s.Named.DiskId, "disk-"), names),
            new Choice<long>((s.Optional ? s.Sizes.Append(0) : s.Sizes).Distinct().Order().ToList(), s.Default),
            s.File,
            s.Item)).ToList();
        return new OvfSystemDisks(
            systemDisk is null ? null : new OvfMappedDisk("system", systemGiB, systemDisk.File, systemDisk.Item),
            systemGiB,
            data);
    }

    private sealed record DiskSlot(OvfHardwareItem Item, OvfDisk Disk, OvfFile? File, bool Unconditional)
    {
        public List<long> Sizes { get; } = [];

        public HashSet<string> Configurations { get; } = new(StringComparer.Ordinal);

        public long Default { get; set; }

        public bool Optional { get; set; }

        /// <summary>The disk whose id names the volume: the default configuration's, else the first.</summary>
        public OvfDisk Named { get; set; } = Disk;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^disk-gib-\d+\z", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex LegacyDiskConfiguration();

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
    public static string SystemName(string id) => WelkinName(id, "vs-");

    /// <summary>A Welkin name from an OVF id: lower case, other characters as '-', <paramref name="prefix"/> first unless it starts with a letter.</summary>
    private static string WelkinName(string id, string prefix)
    {
        var sb = new StringBuilder();
        foreach (var c in id.ToLowerInvariant())
        {
            sb.Append(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '.' or '_' ? c : '-');
        }
        if (sb.Length == 0 || !char.IsAsciiLetterLower(sb[0]))
        {
            sb.Insert(0, prefix);
        }
        return Clip(sb.ToString(), Names.MaxLength);
    }

    private static Choice<T> Fixed<T>(T value) => new([value], value);

    private static long CeilDiv(long a, long b) => (a + b - 1) / b;

    private static string Clip(string s, int max) => s.Length <= max ? s : s[..max];
}

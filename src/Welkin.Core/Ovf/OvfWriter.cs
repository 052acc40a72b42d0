using System.Formats.Tar;
using System.Globalization;
using System.Text;
using System.Xml;
using System.Xml.Linq;
using Welkin.Contracts;

namespace Welkin.Core.Ovf;

/// <param name="FileName">The disk's name inside the package (a streamOptimized vmdk).</param>
/// <param name="CapacityBytes">The disk as the guest sees it once deployed.</param>
public sealed record OvfExportDisk(string FileName, string LocalPath, long SizeBytes, long CapacityBytes);

/// <param name="DataDisks">The content of each of the spec's data volumes, in their order (null for an empty one); null when none has content.</param>
public sealed record OvfExportSystem(VirtualSystemSpec Spec, OvfExportDisk? Disk, IReadOnlyList<OvfExportDisk?>? DataDisks = null);

/// <summary>
/// Writes OVF 2.0 envelopes (DMTF DSP0243 2.0, schema DSP8023) for Welkin templates, machines and
/// instances, and packs them with their disks as an OVA. Choices are written the OVF way (OVF 2.0
/// 9.8): the default value as an unconditional item, every other allowed value as an item with the
/// same InstanceID tied to a DeploymentOptionSection configuration of its own, which replaces the
/// unconditional one there. Data volumes are disks after the system disk; one that may be left out
/// (0 among its sizes) is written as items of configurations only, one per size, the default
/// configuration among them when its default size is not 0. Software choices travel in a
/// ProductSection of class <see cref="SoftwareClass"/> so that they come back as choices, not properties.
/// </summary>
public static class OvfWriter
{
    public const string SoftwareClass = "org.welkin.software";
    /// <summary>The id of the DeploymentOptionSection configuration of the defaults.</summary>
    public const string DefaultConfiguration = "default";

    public const string StreamOptimizedFormat = "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized";

    private static readonly XNamespace Ovf = OvfReader.Ovf2Namespace;
    private static readonly XNamespace Rasd = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData";
    private static readonly XNamespace Vssd = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData";
    private static readonly XNamespace Xsi = "http://www.w3.org/2001/XMLSchema-instance";

    /// <param name="collection">A VirtualSystemCollection even for a single system (instances are written so).</param>
    public static byte[] Envelope(string name, string? description, IReadOnlyList<OvfExportSystem> systems, bool collection)
    {
        var references = new XElement(Ovf + "References");
        var disks = new XElement(Ovf + "DiskSection", new XElement(Ovf + "Info", "Virtual disks"));
        var options = new List<(string Id, string Label)>();
        var contents = new List<XElement>();
        var n = 0;
        foreach (var system in systems)
        {
            contents.Add(SystemElement(system, ++n, references, disks, options, collection ? null : description));
        }
        var sections = new List<XElement>();
        if (disks.Elements(Ovf + "Disk").Any())
        {
            sections.Add(disks);
        }
        if (options.Count > 0)
        {
            // OVF 2.0 9.9: the configurations items may be tied to; the first one, without conditional items, is the default.
            var deployment = new XElement(Ovf + "DeploymentOptionSection", new XElement(Ovf + "Info", "Alternative hardware sizes"),
                new XElement(Ovf + "Configuration", new XAttribute(Ovf + "id", DefaultConfiguration), new XAttribute(Ovf + "default", "true"),
                    new XElement(Ovf + "Label", "Default"), new XElement(Ovf + "Description", "The template's default sizes")));
            foreach (var (id, label) in options.DistinctBy(o => o.Id))
            {
                deployment.Add(new XElement(Ovf + "Configuration", new XAttribute(Ovf + "id", id),
                    new XElement(Ovf + "Label", label), new XElement(Ovf + "Description", label)));
            }
            sections.Add(deployment);
        }
        XElement content;
        if (collection)
        {
            content = new XElement(Ovf + "VirtualSystemCollection", new XAttribute(Ovf + "id", OvfTemplateMapper.SystemName(name)),
                new XElement(Ovf + "Info", description ?? ""), new XElement(Ovf + "Name", name), contents);
        }
        else
        {
            content = contents.Single();
            content.Element(Ovf + "Info")!.AddAfterSelf(new XElement(Ovf + "Name", name));
        }
        var envelope = new XElement(Ovf + "Envelope",
            new XAttribute(XNamespace.Xmlns + "ovf", Ovf),
            new XAttribute(XNamespace.Xmlns + "rasd", Rasd),
            new XAttribute(XNamespace.Xmlns + "vssd", Vssd),
            new XAttribute(XNamespace.Xmlns + "xsi", Xsi),
            references, sections, content);
        var settings = new XmlWriterSettings { Encoding = new UTF8Encoding(false), Indent = true };
        using var buffer = new MemoryStream();
        using (var writer = XmlWriter.Create(buffer, settings))
        {
            new XDocument(new XDeclaration("1.0", "UTF-8", null), envelope).Save(writer);
        }
        return buffer.ToArray();
    }

    private static XElement SystemElement(OvfExportSystem system, int n, XElement references, XElement disks, List<(string, string)> options, string? description)
    {
        var spec = system.Spec;
        var hardware = new XElement(Ovf + "VirtualHardwareSection", new XElement(Ovf + "Info", "Virtual hardware"),
            new XElement(Ovf + "System",
                new XElement(Vssd + "ElementName", "Virtual hardware family"),
                new XElement(Vssd + "InstanceID", "0"),
                new XElement(Vssd + "VirtualSystemIdentifier", spec.Name),
                new XElement(Vssd + "VirtualSystemType", "welkin-kvm")));
        var instance = 0;
        void Choice<T>(Choice<T> choice, string kind, string label, Func<T, string> quantity, int resourceType, string? units)
        {
            var unconditional = ++instance;
            hardware.Add(Item(unconditional, $"{label}", resourceType, quantity(choice.Default), units, null));
            foreach (var value in choice.Allowed.Where(v => !EqualityComparer<T>.Default.Equals(v, choice.Default)))
            {
                var id = $"{kind}-{quantity(value)}";
                options.Add((id, $"{label}: {quantity(value)}"));
                hardware.Add(Item(unconditional, label, resourceType, quantity(value), units, id));
            }
        }
        Choice(spec.Hardware.Vcpus, "vcpus", "Virtual CPUs", v => v.ToString(CultureInfo.InvariantCulture), OvfHardwareItem.Processor, null);
        Choice(spec.Hardware.MemoryMiB, "memory-mib", "Memory (MiB)", v => v.ToString(CultureInfo.InvariantCulture), OvfHardwareItem.Memory, "byte * 2^20");

        var controller = ++instance;
        hardware.Add(new XElement(Ovf + "Item",
            new XElement(Rasd + "ElementName", "SCSI controller"),
            new XElement(Rasd + "InstanceID", controller.ToString(CultureInfo.InvariantCulture)),
            new XElement(Rasd + "ResourceSubType", "VirtualSCSI"),
            new XElement(Rasd + "ResourceType", "6")));
        var diskIds = disks.Elements(Ovf + "Disk").Select(d => (string)d.Attribute(Ovf + "diskId")!).ToHashSet(StringComparer.Ordinal);
        void Disk(string diskId, long gib, string? fileRef, long fileCapacity, int address, int instanceId, string? configuration)
        {
            var capacity = Math.Max(gib << 30, fileRef is null ? 0 : fileCapacity);
            if (diskIds.Add(diskId))
            {
                var disk = new XElement(Ovf + "Disk", new XAttribute(Ovf + "diskId", diskId), new XAttribute(Ovf + "capacity", capacity.ToString(CultureInfo.InvariantCulture)),
                    new XAttribute(Ovf + "capacityAllocationUnits", "byte"));
                if (fileRef is not null)
                {
                    disk.Add(new XAttribute(Ovf + "fileRef", fileRef), new XAttribute(Ovf + "format", StreamOptimizedFormat));
                }
                disks.Add(disk);
            }
            var item = new XElement(Ovf + "Item",
                new XElement(Rasd + "AddressOnParent", address.ToString(CultureInfo.InvariantCulture)),
                new XElement(Rasd + "ElementName", address == 0 ? "Disk" : $"Disk {address + 1}"),
                new XElement(Rasd + "HostResource", "ovf:/disk/" + diskId),
                new XElement(Rasd + "InstanceID", instanceId.ToString(CultureInfo.InvariantCulture)),
                new XElement(Rasd + "Parent", controller.ToString(CultureInfo.InvariantCulture)),
                new XElement(Rasd + "ResourceType", OvfHardwareItem.DiskDrive.ToString(CultureInfo.InvariantCulture)));
            if (configuration is not null)
            {
                item.Add(new XAttribute(Ovf + "configuration", configuration));
            }
            hardware.Add(item);
        }
        string? File(OvfExportDisk? content, string id)
        {
            if (content is null)
            {
                return null;
            }
            references.Add(new XElement(Ovf + "File", new XAttribute(Ovf + "id", id), new XAttribute(Ovf + "href", content.FileName),
                new XAttribute(Ovf + "size", content.SizeBytes.ToString(CultureInfo.InvariantCulture))));
            return id;
        }
        string Unique(string diskId)
        {
            var candidate = diskId;
            for (var k = 2; diskIds.Contains(candidate); k++)
            {
                candidate = $"{diskId}-{k.ToString(CultureInfo.InvariantCulture)}";
            }
            return candidate;
        }

        // The system disk: its other sizes are the same item (same InstanceID) in configurations of their own.
        var diskGiB = spec.Hardware.DiskGiB;
        var systemFile = File(system.Disk, $"file{n}");
        var systemItem = ++instance;
        var systemDiskId = Unique($"vmdisk{n}");
        Disk(systemDiskId, diskGiB.Default, systemFile, system.Disk?.CapacityBytes ?? 0, 0, systemItem, null);
        foreach (var gib in diskGiB.Allowed.Where(g => g != diskGiB.Default))
        {
            var id = $"disk-gib-{gib}";
            options.Add((id, $"Disk (GiB): {gib}"));
            Disk(Unique($"{systemDiskId}-{gib.ToString(CultureInfo.InvariantCulture)}"), gib, systemFile, system.Disk?.CapacityBytes ?? 0, 0, systemItem, id);
        }

        // Data volumes, after the system disk, named by their ovf:diskId.
        var volumes = spec.DataVolumes ?? [];
        for (var j = 0; j < volumes.Count; j++)
        {
            var volume = volumes[j];
            var content = system.DataDisks is { } dataDisks && j < dataDisks.Count ? dataDisks[j] : null;
            var fileRef = File(content, $"file{n}-{j + 1}");
            var diskId = Unique(diskIds.Contains(volume.Name) ? $"{spec.Name}-{volume.Name}" : volume.Name);
            var item = ++instance;
            var sizes = volume.SizeGiB;
            var capacity = content?.CapacityBytes ?? 0;
            // The first size written (the default's, when it is not 0) has the volume's own disk id, which names it on import.
            string SizeDisk(long gib) => !diskIds.Contains(diskId) ? diskId : Unique($"{diskId}-{gib.ToString(CultureInfo.InvariantCulture)}");
            if (!sizes.Allowed.Contains(0))
            {
                Disk(diskId, sizes.Default, fileRef, capacity, j + 1, item, null);
                foreach (var gib in sizes.Allowed.Where(g => g != sizes.Default))
                {
                    var id = $"volume-{diskId}-gib-{gib}";
                    options.Add((id, $"Data volume {volume.Name} (GiB): {gib}"));
                    Disk(SizeDisk(gib), gib, fileRef, capacity, j + 1, item, id);
                }
                continue;
            }
            // A volume that may be left out: only configurations have it; one of them has none, so that
            // 0 stays among its sizes even when the default configuration has it.
            options.Add(($"volume-{diskId}-gib-0", $"Data volume {volume.Name}: left out"));
            foreach (var gib in sizes.Allowed.Where(g => g != 0).OrderBy(g => g == sizes.Default ? 0 : 1))
            {
                var id = $"volume-{diskId}-gib-{gib}";
                options.Add((id, $"Data volume {volume.Name} (GiB): {gib}"));
                Disk(SizeDisk(gib), gib, fileRef, capacity, j + 1, item, gib == sizes.Default ? $"{DefaultConfiguration} {id}" : id);
            }
        }

        var element = new XElement(Ovf + "VirtualSystem", new XAttribute(Ovf + "id", spec.Name), new XElement(Ovf + "Info", description ?? ""));
        if (spec.Software is { } software)
        {
            if (software.OperatingSystem is { } os)
            {
                // CIM_OperatingSystem.OsType 1 = "Other": Welkin knows its systems by name, not by CIM number.
                element.Add(new XElement(Ovf + "OperatingSystemSection", new XAttribute(Ovf + "id", "1"),
                    new XElement(Ovf + "Info", "Guest operating system"), new XElement(Ovf + "Description", os.Default)));
            }
            var choices = new[] { ("operatingSystem", software.OperatingSystem), ("httpServer", software.HttpServer), ("databaseManager", software.DatabaseManager) }
                .Where(c => c.Item2 is not null).ToList();
            if (choices.Count > 0)
            {
                element.Add(new XElement(Ovf + "ProductSection", new XAttribute(Ovf + "class", SoftwareClass),
                    new XElement(Ovf + "Info", "Software choices"),
                    choices.Select(c => Property(c.Item1, "string", c.Item2!.Default, ValueMap(c.Item2.Allowed), true, null, null))));
            }
        }
        if (spec.Properties is { Count: > 0 } properties)
        {
            element.Add(new XElement(Ovf + "ProductSection", new XElement(Ovf + "Info", "Configuration properties"),
                properties.Select(p => p.Password
                    // OVF 2.0 9.5: ovf:password marks a secret; Welkin writes the mark, never the value (default or a machine's).
                    ? Property(p.Key, "string", null, null, p.UserConfigurable, p.Label, p.Description, password: true)
                    : Property(p.Key, OvfType(p.Type), p.Default, p.AllowedValues is { Count: > 0 } a ? ValueMap(a) : null, p.UserConfigurable, p.Label, p.Description))));
        }
        element.Add(hardware);
        return element;
    }

    private static XElement Item(int instance, string name, int resourceType, string quantity, string? units, string? configuration)
    {
        var item = new XElement(Ovf + "Item");
        if (units is not null)
        {
            item.Add(new XElement(Rasd + "AllocationUnits", units));
        }
        item.Add(new XElement(Rasd + "ElementName", name),
            new XElement(Rasd + "InstanceID", instance.ToString(CultureInfo.InvariantCulture)),
            new XElement(Rasd + "ResourceType", resourceType.ToString(CultureInfo.InvariantCulture)),
            new XElement(Rasd + "VirtualQuantity", quantity));
        if (configuration is not null)
        {
            item.Add(new XAttribute(Ovf + "configuration", configuration));
        }
        return item;
    }

    private static XElement Property(string key, string type, string? value, string? qualifiers, bool userConfigurable, string? label, string? description, bool password = false)
    {
        var property = new XElement(Ovf + "Property", new XAttribute(Ovf + "key", key), new XAttribute(Ovf + "type", type),
            new XAttribute(Ovf + "userConfigurable", userConfigurable ? "true" : "false"));
        if (password)
        {
            property.Add(new XAttribute(Ovf + "password", "true"));
        }
        if (value is not null)
        {
            property.Add(new XAttribute(Ovf + "value", value));
        }
        if (qualifiers is not null)
        {
            property.Add(new XAttribute(Ovf + "qualifiers", qualifiers));
        }
        if (label is not null)
        {
            property.Add(new XElement(Ovf + "Label", label));
        }
        if (description is not null)
        {
            property.Add(new XElement(Ovf + "Description", description));
        }
        return property;
    }

    // DSP0004 qualifier syntax, as OVF 2.0 9.5 uses it for a property's allowed values.
    private static string ValueMap(IEnumerable<string> values) => "ValueMap{" + string.Join(",", values.Select(v => "\"" + v.Replace("\"", "", StringComparison.Ordinal) + "\"")) + "}";

    private static string OvfType(PropertyType type) => type switch
    {
        PropertyType.Boolean => "boolean",
        PropertyType.Int => "sint64",
        PropertyType.Real => "real64",
        _ => "string",
    };

    /// <summary>
    /// Writes an OVA (OVF 2.0 5.3): the descriptor first, then the manifest with SHA-256 digests
    /// (OVF 2.0 5.1), then the disks, as a POSIX tar.
    /// </summary>
    public static async Task WriteOvaAsync(Stream output, string descriptorName, byte[] envelope, IReadOnlyList<OvfExportDisk> disks, CancellationToken ct)
    {
        var manifest = new StringBuilder();
        manifest.Append(CultureInfo.InvariantCulture, $"SHA256({descriptorName})= {Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(envelope))}\n");
        foreach (var disk in disks)
        {
            await using var file = File.OpenRead(disk.LocalPath);
            var digests = await OvfManifest.DigestAsync(file, ct);
            manifest.Append(CultureInfo.InvariantCulture, $"SHA256({disk.FileName})= {digests.Sha256}\n");
        }
        var manifestName = Path.ChangeExtension(descriptorName, ".mf");
        await using var tar = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
        await tar.WriteEntryAsync(Entry(descriptorName, new MemoryStream(envelope)), ct);
        await tar.WriteEntryAsync(Entry(manifestName, new MemoryStream(Encoding.ASCII.GetBytes(manifest.ToString()))), ct);
        foreach (var disk in disks)
        {
            await using var file = File.OpenRead(disk.LocalPath);
            await tar.WriteEntryAsync(Entry(disk.FileName, file), ct);
        }
    }

    private static PaxTarEntry Entry(string name, Stream data) => new(TarEntryType.RegularFile, name)
    {
        DataStream = data,
        Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
    };
}

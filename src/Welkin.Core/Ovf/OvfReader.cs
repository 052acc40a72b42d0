using System.Globalization;
using System.Text;
using System.Xml;
using System.Xml.Linq;
using Welkin.Core.Common;

namespace Welkin.Core.Ovf;

/// <summary>
/// Reads OVF 1.x and 2.x envelopes (DMTF DSP0243). Envelopes come from users, so the XML reader
/// never processes DTDs or resolves external entities, and the document's size is bounded.
/// </summary>
public static partial class OvfReader
{
    public const string Ovf1Namespace = "http://schemas.dmtf.org/ovf/envelope/1";
    public const string Ovf2Namespace = "http://schemas.dmtf.org/ovf/envelope/2";

    /// <summary>Envelopes are descriptors, not disks: a few hundred KB covers large multi-tier ones.</summary>
    public const long DefaultMaxBytes = 4 * 1024 * 1024;

    /// <summary>
    /// How deep elements may nest. Real descriptors stay far below (eight collections of a few levels
    /// each); the bound keeps parsing linear in the document's size.
    /// </summary>
    public const int MaxElementDepth = 100;

    public static Result<OvfEnvelope> Read(Stream stream, long maxBytes = DefaultMaxBytes)
    {
        var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int n;
        while ((n = stream.Read(chunk, 0, chunk.Length)) > 0)
        {
            if (buffer.Length + n > maxBytes)
            {
                return OvfErrors.TooLarge("The OVF envelope", maxBytes);
            }
            buffer.Write(chunk, 0, n);
        }
        return Read(buffer.ToArray());
    }

    public static Result<OvfEnvelope> Read(byte[] document, long maxBytes = DefaultMaxBytes)
    {
        if (document.LongLength > maxBytes)
        {
            return OvfErrors.TooLarge("The OVF envelope", maxBytes);
        }
        var settings = new XmlReaderSettings
        {
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            MaxCharactersFromEntities = 0,
            MaxCharactersInDocument = maxBytes,
            IgnoreComments = true,
            IgnoreProcessingInstructions = true,
        };
        XDocument xml;
        try
        {
            if (TooDeep(document, settings) is { } line)
            {
                return OvfErrors.TooDeep(MaxElementDepth, line);
            }
            using var reader = Open(document, settings);
            xml = XDocument.Load(reader, LoadOptions.SetLineInfo);
        }
        catch (XmlException e)
        {
            // Prohibit makes any <!DOCTYPE> an XmlException; report it as what it is.
            if (HasDoctype(document))
            {
                return OvfErrors.DtdProhibited();
            }
            return OvfErrors.Malformed($"The OVF envelope is not well-formed XML (line {e.LineNumber}, position {e.LinePosition}).");
        }
        return Parse(xml.Root!);
    }

    /// <summary>The line of the first element nested deeper than <see cref="MaxElementDepth"/>, in one streaming pass.</summary>
    private static int? TooDeep(byte[] document, XmlReaderSettings settings)
    {
        using var scan = Open(document, settings);
        while (scan.Read())
        {
            if (scan.NodeType == XmlNodeType.Element && scan.Depth >= MaxElementDepth)
            {
                return ((IXmlLineInfo)scan).LineNumber;
            }
        }
        return null;
    }

    /// <summary>
    /// A reader over the document. XenCenter writes UTF-8 bytes with <c>encoding="utf-16"</c> in the
    /// declaration and no byte-order mark; such a document is read as the UTF-8 it is (its bytes
    /// could not be UTF-16: the declaration's ASCII would be one character per byte pair).
    /// </summary>
    private static XmlReader Open(byte[] document, XmlReaderSettings settings)
    {
        if (Bom(document) == 0 && document is [(byte)'<', not 0, ..] && DeclaresUtf16(document))
        {
            return XmlReader.Create(new StringReader(Encoding.UTF8.GetString(document)), settings);
        }
        return XmlReader.Create(new MemoryStream(document, writable: false), settings);
    }

    private static bool DeclaresUtf16(byte[] document)
    {
        var head = Encoding.ASCII.GetString(document, 0, Math.Min(document.Length, 200));
        var end = head.IndexOf("?>", StringComparison.Ordinal);
        return head.StartsWith("<?xml", StringComparison.Ordinal) && end > 0
            && Utf16Declaration().IsMatch(head[..end]);
    }

    [System.Text.RegularExpressions.GeneratedRegex("""encoding\s*=\s*["'](utf-16|unicode)[a-z-]*["']""", System.Text.RegularExpressions.RegexOptions.IgnoreCase | System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex Utf16Declaration();

    private static int Bom(byte[] d) => d switch
    {
        [0xEF, 0xBB, 0xBF, ..] => 3,
        [0xFF, 0xFE, 0, 0, ..] or [0, 0, 0xFE, 0xFF, ..] => 4,
        [0xFF, 0xFE, ..] or [0xFE, 0xFF, ..] => 2,
        _ => 0,
    };

    /// <summary>The document's text in the encoding it is in (byte-order mark, or UTF-16 recognised by its first '&lt;'), for the DTD check.</summary>
    private static string Decode(byte[] d)
    {
        var encoding = d switch
        {
            [0xFF, 0xFE, 0, 0, ..] => new UTF32Encoding(bigEndian: false, byteOrderMark: true),
            [0, 0, 0xFE, 0xFF, ..] => new UTF32Encoding(bigEndian: true, byteOrderMark: true),
            [0xFF, 0xFE, ..] or [(byte)'<', 0, ..] => Encoding.Unicode,
            [0xFE, 0xFF, ..] or [0, (byte)'<', ..] => Encoding.BigEndianUnicode,
            _ => Encoding.UTF8,
        };
        var skip = Bom(d);
        return encoding.GetString(d, skip, (int)Math.Min(d.LongLength - skip, 256 * 1024));
    }

    private static bool HasDoctype(byte[] document) => Decode(document).Contains("<!DOCTYPE", StringComparison.Ordinal);

    private static Result<OvfEnvelope> Parse(XElement root)
    {
        var ns = root.Name.Namespace.NamespaceName;
        if (ns is not (Ovf1Namespace or Ovf2Namespace))
        {
            return OvfErrors.UnknownNamespace(root.Name.LocalName, ns, ForeignFormatHint(ns));
        }
        if (root.Name.LocalName != "Envelope")
        {
            return OvfErrors.Missing($"The root element is <{root.Name.LocalName}>, not <Envelope>.");
        }
        var ctx = new Context(root.Name.Namespace);

        var files = new List<OvfFile>();
        foreach (var file in root.Elements(ctx.Ovf + "References").Elements(ctx.Ovf + "File"))
        {
            var id = ctx.Attr(file, "id");
            var href = ctx.Attr(file, "href");
            if (id is null || href is null)
            {
                return OvfErrors.Missing($"References/File{At(file)} needs ovf:id and ovf:href.");
            }
            long? size = null;
            if (ctx.Attr(file, "size") is { } s)
            {
                if (!long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
                {
                    return OvfErrors.Missing($"File '{id}'{At(file)} has ovf:size '{s}', not a byte count.");
                }
                size = parsed;
            }
            long? chunkSize = null;
            if (ctx.Attr(file, "chunkSize") is { } c)
            {
                if (!long.TryParse(c, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) || parsed <= 0)
                {
                    return OvfErrors.Missing($"File '{id}'{At(file)} has ovf:chunkSize '{c}', not a positive byte count.");
                }
                chunkSize = parsed;
            }
            files.Add(new OvfFile(id, href, size, ctx.Attr(file, "compression"), chunkSize));
        }

        // OVF 2.0 9.3: a capacity may be "${key}", a ProductSection property; Welkin takes its default value.
        var propertyDefaults = root.Descendants(ctx.Ovf + "Property")
            .Select(p => (Key: ctx.Attr(p, "key"), Value: ctx.Attr(p, "value")))
            .Where(p => p.Key is not null && p.Value is not null)
            .DistinctBy(p => p.Key)
            .ToDictionary(p => p.Key!, p => p.Value!, StringComparer.Ordinal);
        var disks = new List<OvfDisk>();
        foreach (var disk in root.Elements(ctx.Ovf + "DiskSection").Elements(ctx.Ovf + "Disk"))
        {
            var id = ctx.Attr(disk, "diskId");
            var capacity = ctx.Attr(disk, "capacity");
            if (id is null || capacity is null)
            {
                return OvfErrors.Missing($"DiskSection/Disk{At(disk)} needs ovf:diskId and ovf:capacity.");
            }
            // OVF 2.0 9.3: capacity may be a ${property} reference resolved at deployment; Welkin needs a number.
            var resolved = capacity is ['$', '{', .. var key, '}'] && propertyDefaults.TryGetValue(key, out var value) ? value : capacity;
            if (!long.TryParse(resolved, NumberStyles.None, CultureInfo.InvariantCulture, out var quantity))
            {
                return OvfErrors.Missing($"Disk '{id}'{At(disk)} has ovf:capacity '{capacity}', not a whole number{(resolved != capacity ? $" ('{resolved}')" : "")}.");
            }
            var units = ctx.Attr(disk, "capacityAllocationUnits");
            if (OvfUnits.ToBytes(quantity, units) is not { } bytes)
            {
                return OvfErrors.Missing($"Disk '{id}'{At(disk)} has ovf:capacityAllocationUnits '{units}', which is not a known unit.");
            }
            // ova-compose writes ovf:fileRef="" for an empty disk.
            var fileRef = ctx.Attr(disk, "fileRef") is { Length: > 0 } f ? f : null;
            if (fileRef is not null && files.All(f => f.Id != fileRef))
            {
                return OvfErrors.Missing($"Disk '{id}'{At(disk)} refers to file '{fileRef}', which References does not list.");
            }
            long? populated = long.TryParse(ctx.Attr(disk, "populatedSize"), NumberStyles.None, CultureInfo.InvariantCulture, out var p) ? p : null;
            disks.Add(new OvfDisk(id, fileRef, bytes, ctx.Attr(disk, "format"), populated));
        }

        var networks = root.Elements(ctx.Ovf + "NetworkSection").Elements(ctx.Ovf + "Network")
            .Select(e => new OvfNetwork(ctx.Attr(e, "name") ?? "", Text(e.Element(ctx.Ovf + "Description"))))
            .ToList();
        if (networks.FirstOrDefault(nw => nw.Name.Length == 0) is not null)
        {
            return OvfErrors.Missing("NetworkSection/Network needs ovf:name.");
        }

        var contents = root.Elements().Where(e => e.Name == ctx.Ovf + "VirtualSystem" || e.Name == ctx.Ovf + "VirtualSystemCollection").ToList();
        if (contents.Count != 1)
        {
            return OvfErrors.Missing($"An envelope holds exactly one VirtualSystem or VirtualSystemCollection; this one holds {contents.Count}.");
        }
        var content = ParseContent(ctx, contents[0], depth: 0);
        if (!content.IsSuccess)
        {
            return content.Error!;
        }
        // OVF 2.0 9.9: the default configuration is the one marked ovf:default="true", else the first.
        var configurations = root.Elements(ctx.Ovf + "DeploymentOptionSection").Elements(ctx.Ovf + "Configuration").ToList();
        var defaultConfiguration = configurations.FirstOrDefault(c => string.Equals(ctx.Attr(c, "default"), "true", StringComparison.OrdinalIgnoreCase)) ?? configurations.FirstOrDefault();
        return new OvfEnvelope(ctx.Ovf == Ovf2Namespace ? OvfVersion.V2 : OvfVersion.V1, files, disks, networks, content.Value,
            defaultConfiguration is null ? null : ctx.Attr(defaultConfiguration, "id"),
            configurations.Select(c => ctx.Attr(c, "id")).OfType<string>().Where(c => c.Length > 0).Distinct(StringComparer.Ordinal).ToList());
    }

    /// <summary>What a root namespace that is almost OVF's actually is, and what to do about it.</summary>
    private static string? ForeignFormatHint(string ns) => ns switch
    {
        "http://www.vmware.com/schema/ovf/1/envelope" or "http://www.vmware.com/schema/ovf/0.9/envelope" =>
            "This is OVF 0.9, VMware's draft before the DMTF standard; convert it to OVF 1.0 or 2.0 (for example with ovftool) and import that.",
        "http://schemas.dmtf.org/ovf/envelope/1/" =>
            "This looks like oVirt's (RHV's) own OVF dialect, written for its export domains, not a DMTF OVF envelope; export the machine from oVirt as an OVA instead.",
        "" => "The Envelope element is in no namespace: an OVF envelope's root is {http://schemas.dmtf.org/ovf/envelope/1 or /2}Envelope.",
        _ => null,
    };

    private const int MaxDepth = 8;

    private static Result<OvfContent> ParseContent(Context ctx, XElement element, int depth)
    {
        var kind = element.Name.LocalName;
        var id = ctx.Attr(element, "id");
        if (string.IsNullOrEmpty(id))
        {
            return OvfErrors.Missing($"{kind}{At(element)} needs ovf:id.");
        }
        if (depth > MaxDepth)
        {
            return OvfErrors.Missing($"{kind} '{id}'{At(element)} is nested more than {MaxDepth} collections deep.");
        }
        var name = Text(element.Element(ctx.Ovf + "Name"));
        var info = Text(element.Element(ctx.Ovf + "Info"));
        var annotation = Text(element.Element(ctx.Ovf + "AnnotationSection")?.Element(ctx.Ovf + "Annotation"));
        var products = element.Elements(ctx.Ovf + "ProductSection").Select(p => ParseProduct(ctx, p)).ToList();
        if (products.SelectMany(p => p.Properties).FirstOrDefault(p => p.Key.Length == 0) is not null)
        {
            return OvfErrors.Missing($"A ProductSection/Property of {kind} '{id}' has no ovf:key.");
        }

        if (kind == "VirtualSystemCollection")
        {
            var children = new List<OvfContent>();
            foreach (var child in element.Elements().Where(e => e.Name == ctx.Ovf + "VirtualSystem" || e.Name == ctx.Ovf + "VirtualSystemCollection"))
            {
                var parsed = ParseContent(ctx, child, depth + 1);
                if (!parsed.IsSuccess)
                {
                    return parsed;
                }
                children.Add(parsed.Value);
            }
            if (children.Count == 0)
            {
                return OvfErrors.Missing($"VirtualSystemCollection '{id}'{At(element)} holds no VirtualSystem.");
            }
            return new OvfVirtualSystemCollection(id, name, info, annotation, products, children);
        }

        // OVF 2.0 9.8: several VirtualHardwareSections may describe one system for different
        // virtualization platforms; Welkin reads the first.
        var hardwareSection = element.Element(ctx.Ovf + "VirtualHardwareSection");
        if (hardwareSection is null)
        {
            return OvfErrors.Missing($"VirtualSystem '{id}'{At(element)} has no VirtualHardwareSection.");
        }
        var items = new List<OvfHardwareItem>();
        foreach (var item in hardwareSection.Elements().Where(e => e.Name.Namespace == ctx.Ovf && e.Name.LocalName is "Item" or "StorageItem" or "EthernetPortItem"))
        {
            var typeText = Child(item, "ResourceType");
            var instance = Child(item, "InstanceID") ?? Child(item, "InstanceId");
            if (typeText is null || instance is null || !int.TryParse(typeText, NumberStyles.None, CultureInfo.InvariantCulture, out var type))
            {
                return OvfErrors.Missing($"VirtualHardwareSection/{item.Name.LocalName}{At(item)} of VirtualSystem '{id}' needs a numeric ResourceType and an InstanceID.");
            }
            long? quantity = null;
            if (Child(item, "VirtualQuantity") is { } q)
            {
                if (!long.TryParse(q, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
                {
                    return OvfErrors.Missing($"Item '{instance}'{At(item)} of VirtualSystem '{id}' has VirtualQuantity '{q}', not a whole number.");
                }
                quantity = parsed;
            }
            items.Add(new OvfHardwareItem(type, instance, Child(item, "ElementName"), quantity, Child(item, "AllocationUnits"),
                Children(item, "HostResource"), Children(item, "Connection"), Child(item, "ResourceSubType"), ctx.Attr(item, "configuration"), LineOf(item)));
        }

        OvfOperatingSystem? os = null;
        if (element.Element(ctx.Ovf + "OperatingSystemSection") is { } osSection)
        {
            if (!int.TryParse(ctx.Attr(osSection, "id"), NumberStyles.None, CultureInfo.InvariantCulture, out var osId))
            {
                return OvfErrors.Missing($"OperatingSystemSection{At(osSection)} of VirtualSystem '{id}' needs a numeric ovf:id.");
            }
            var osType = osSection.Attributes().FirstOrDefault(a => a.Name.LocalName == "osType")?.Value
                ?? osSection.Elements().FirstOrDefault(e => e.Name.LocalName == "OSType")?.Value;
            os = new OvfOperatingSystem(osId, Text(osSection.Element(ctx.Ovf + "Description")), osType, ctx.Attr(osSection, "version"));
        }
        var systemType = Text(hardwareSection.Element(ctx.Ovf + "System")?.Elements().FirstOrDefault(e => e.Name.LocalName == "VirtualSystemType"));
        return new OvfVirtualSystem(id, name, info, annotation, products, items, os, systemType, BootOrder(ctx, element));
    }

    /// <summary>
    /// The InstanceIDs a system boots from, in order: OVF 2.0 9.12 BootDeviceSection's
    /// CIM_BootSourceSetting/StructuredBootString (its last ':'-separated part, as in "CIM:Hard-Disk:5"),
    /// then VMware's vmw:BootOrderSection vmw:instanceId (a space-separated list).
    /// </summary>
    private static List<string> BootOrder(Context ctx, XElement system)
    {
        var order = new List<string>();
        foreach (var section in system.Elements(ctx.Ovf + "BootDeviceSection"))
        {
            order.AddRange(section.Descendants().Where(e => e.Name.LocalName == "StructuredBootString")
                .Select(e => e.Value.Trim())
                .Select(s => s[(s.LastIndexOf(':') + 1)..].Trim())
                .Where(s => s.Length > 0));
        }
        foreach (var section in system.Elements().Where(e => e.Name.LocalName == "BootOrderSection"))
        {
            if (section.Attributes().FirstOrDefault(a => a.Name.LocalName == "instanceId") is { } ids)
            {
                order.AddRange(ids.Value.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
            }
        }
        return order;
    }

    private static OvfProduct ParseProduct(Context ctx, XElement section)
    {
        var properties = section.Elements(ctx.Ovf + "Property").Select(p => new OvfProperty(
            ctx.Attr(p, "key") ?? "",
            ctx.Attr(p, "type") ?? "string",
            ctx.Attr(p, "value"),
            string.Equals(ctx.Attr(p, "userConfigurable"), "true", StringComparison.OrdinalIgnoreCase),
            Text(p.Element(ctx.Ovf + "Label")),
            Text(p.Element(ctx.Ovf + "Description")),
            ctx.Attr(p, "qualifiers"),
            string.Equals(ctx.Attr(p, "password"), "true", StringComparison.OrdinalIgnoreCase))).ToList();
        return new OvfProduct(ctx.Attr(section, "class"), ctx.Attr(section, "instance"), Text(section.Element(ctx.Ovf + "Product")),
            Text(section.Element(ctx.Ovf + "Vendor")), Text(section.Element(ctx.Ovf + "Version")), properties);
    }

    // RASD children live in the CIM namespaces (rasd:, sasd:, epasd:), which differ between item kinds.
    private static string? Child(XElement item, string localName) =>
        Text(item.Elements().FirstOrDefault(e => e.Name.LocalName == localName));

    private static List<string> Children(XElement item, string localName) =>
        item.Elements().Where(e => e.Name.LocalName == localName).Select(e => e.Value.Trim()).Where(v => v.Length > 0).ToList();

    private static string? Text(XElement? e) => e is null ? null : e.Value.Trim() is { Length: > 0 } v ? v : null;

    private static int? LineOf(XObject o) => o is IXmlLineInfo li && li.HasLineInfo() ? li.LineNumber : null;

    private static string At(XObject o) => o is IXmlLineInfo li && li.HasLineInfo() ? $" (line {li.LineNumber})" : "";

    private sealed class Context(XNamespace ovf)
    {
        public XNamespace Ovf { get; } = ovf;

        // OVF attributes are ovf:-qualified; some writers leave the prefix off.
        public string? Attr(XElement e, string name) => (e.Attribute(Ovf + name) ?? e.Attribute(name))?.Value;
    }
}

/// <summary>Programmatic units (DMTF DSP0004 Annex C) as OVF uses them for capacities and memory.</summary>
public static class OvfUnits
{
    public static long? ToBytes(long quantity, string? units)
    {
        var factor = Factor(units);
        if (factor is null)
        {
            return null;
        }
        try
        {
            return checked(quantity * factor.Value);
        }
        catch (OverflowException)
        {
            return null;
        }
    }

    public static long? Factor(string? units)
    {
        if (string.IsNullOrWhiteSpace(units))
        {
            return 1;
        }
        var u = units.Replace(" ", "", StringComparison.Ordinal).ToLowerInvariant();
        switch (u)
        {
            case "byte" or "bytes" or "b":
                return 1;
            case "kilobytes" or "kb" or "kib":
                return 1L << 10;
            case "megabytes" or "mb" or "mib":
                return 1L << 20;
            case "gigabytes" or "gb" or "gib":
                return 1L << 30;
            case "terabytes" or "tb" or "tib":
                return 1L << 40;
        }
        // "byte * 2^20", "byte*10^9"
        if (u.StartsWith("byte*", StringComparison.Ordinal) && u[5..].Split('^') is [var b, var e]
            && int.TryParse(e, NumberStyles.None, CultureInfo.InvariantCulture, out var exp) && b is "2" or "10")
        {
            var radix = b == "2" ? 2L : 10L;
            long f = 1;
            for (var i = 0; i < exp; i++)
            {
                if (f > long.MaxValue / radix)
                {
                    return null;
                }
                f *= radix;
            }
            return f;
        }
        return null;
    }
}

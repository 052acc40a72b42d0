using System.Text.Json;
using System.Xml;
using System.Xml.Schema;
using Welkin.Contracts;
using Welkin.Core.Ovf;

namespace Welkin.Core.Tests.Ovf;

public sealed class OvfWriterTests
{
    internal static readonly TemplateSpec MultiTier = new("Shop", [
        new VirtualSystemSpec("web",
            new HardwareChoices(new Choice<int>([1, 2, 4], 2), new Choice<long>([2048, 4096], 4096), new Choice<long>([20, 100], 20)),
            new SoftwareChoices(new Choice<string>(["debian", "rhel"], "debian"), new Choice<string>(["nginx"], "nginx")),
            Properties:
            [
                new PropertyDefinition("admin.email", PropertyType.String, "ops@example.com", "Administrator e-mail", "Where alerts go"),
                new PropertyDefinition("workers", PropertyType.Int, "4", AllowedValues: ["2", "4", "8"]),
                new PropertyDefinition("backup.enabled", PropertyType.Boolean, "true", UserConfigurable: false),
                new PropertyDefinition("ratio", PropertyType.Real, "0.5"),
            ]),
        new VirtualSystemSpec("db",
            new HardwareChoices(new Choice<int>([4], 4), new Choice<long>([8192], 8192), new Choice<long>([200], 200)),
            new SoftwareChoices(new Choice<string>(["debian"], "debian"), DatabaseManager: new Choice<string>(["postgresql", "mysql"], "postgresql"))),
    ], "A two-tier shop");

    // The first system with a disk file, the others with an empty disk (no image), as exports write them.
    private static OvfExportSystem[] Systems(TemplateSpec spec) =>
        spec.VirtualSystems.Select((vs, i) => new OvfExportSystem(vs, i == 0 ? new OvfExportDisk($"{vs.Name}-disk1.vmdk", "/nonexistent", 1000, 1L << 30) : null)).ToArray();

    /// <summary>
    /// DSP8023 2.0.1 and every schema it imports, all from test data. The set has no resolver, so
    /// nothing is fetched: each import is satisfied by the copy added here. The W3C schemas carry
    /// an internal DTD subset (entities only), which is why they are read with DTD parsing on.
    /// </summary>
    internal static XmlSchemaSet Schemas()
    {
        var set = new XmlSchemaSet { XmlResolver = null };
        var reading = new XmlReaderSettings { DtdProcessing = DtdProcessing.Parse, XmlResolver = null };
        foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Ovf", "Data", "schema"), "*.xsd"))
        {
            using var reader = XmlReader.Create(file, reading);
            set.Add(XmlSchema.Read(reader, null)!);
        }
        set.Compile();
        return set;
    }

    internal static List<string> Validate(byte[] envelope)
    {
        var errors = new List<string>();
        var settings = new XmlReaderSettings { ValidationType = ValidationType.Schema, Schemas = Schemas(), DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null };
        settings.ValidationFlags |= XmlSchemaValidationFlags.ReportValidationWarnings;
        settings.ValidationEventHandler += (_, e) => errors.Add($"{e.Severity} line {e.Exception.LineNumber}: {e.Message}");
        using var reader = XmlReader.Create(new MemoryStream(envelope), settings);
        while (reader.Read())
        {
        }
        return errors;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Envelope_ValidatesAgainstTheOvf2Schema(bool collection)
    {
        var spec = collection ? MultiTier : MultiTier with { VirtualSystems = [MultiTier.VirtualSystems[0]] };
        var envelope = OvfWriter.Envelope(spec.Name, spec.Description, Systems(spec), collection);

        Validate(envelope).ShouldBeEmpty();
    }

    [Fact]
    public void SchemaCheck_WhenRequiredRasdElementMissing_ReportsIt()
    {
        var envelope = System.Text.Encoding.UTF8.GetString(OvfWriter.Envelope("x", null, Systems(MultiTier), collection: true));
        var broken = envelope.Replace("<rasd:ElementName>Virtual CPUs</rasd:ElementName>", "", StringComparison.Ordinal);

        Validate(System.Text.Encoding.UTF8.GetBytes(broken)).ShouldNotBeEmpty();
    }

    [Fact]
    public void Envelope_ReadAndMappedBack_GivesTheSameTemplate()
    {
        var envelope = OvfWriter.Envelope(MultiTier.Name, MultiTier.Description, Systems(MultiTier), collection: true);

        var read = OvfReader.Read(envelope);
        read.IsSuccess.ShouldBeTrue(read.Error?.Detail);
        read.Value.Version.ShouldBe(OvfVersion.V2);
        var mapped = OvfTemplateMapper.ToTemplateSpec(read.Value);
        mapped.IsSuccess.ShouldBeTrue(mapped.Error?.Detail);

        JsonSerializer.Serialize(mapped.Value, WelkinJson.Client).ShouldBe(JsonSerializer.Serialize(MultiTier, WelkinJson.Client));
    }

    /// <summary>A system disk with alternative sizes, an image-backed volume, an empty one, and two that may be left out.</summary>
    internal static readonly TemplateSpec WithVolumes = new("Store", [
        new VirtualSystemSpec("app",
            new HardwareChoices(new Choice<int>([1, 2], 1), new Choice<long>([1024, 2048], 1024), new Choice<long>([10, 20, 40], 20)),
            DataVolumes:
            [
                new DataVolumeSpec("seeded", new Choice<long>([4, 8], 4)),
                new DataVolumeSpec("scratch", new Choice<long>([16], 16)),
                new DataVolumeSpec("disk", new Choice<long>([0, 5, 50], 0)),
                new DataVolumeSpec("cache", new Choice<long>([0, 3], 3)),
            ]),
    ], "Data volumes of every kind");

    private static OvfExportSystem[] SystemsWithVolumes() =>
    [
        new OvfExportSystem(WithVolumes.VirtualSystems[0], new OvfExportDisk("app-disk1.vmdk", "/nonexistent", 1000, 1L << 30),
            [new OvfExportDisk("app-seeded.vmdk", "/nonexistent", 500, 1L << 30), null, null, null]),
    ];

    [Fact]
    public void Envelope_WithDataVolumes_ValidatesAndMapsBackToTheSameTemplate()
    {
        var envelope = OvfWriter.Envelope(WithVolumes.Name, WithVolumes.Description, SystemsWithVolumes(), collection: false);

        Validate(envelope).ShouldBeEmpty();
        var read = OvfReader.Read(envelope);
        read.IsSuccess.ShouldBeTrue(read.Error?.Detail);
        var mapped = OvfTemplateMapper.ToTemplateSpec(read.Value);
        mapped.IsSuccess.ShouldBeTrue(mapped.Error?.Detail);
        JsonSerializer.Serialize(mapped.Value, WelkinJson.Client).ShouldBe(JsonSerializer.Serialize(WithVolumes, WelkinJson.Client));
        var disks = Welkin.Core.Catalog.OvfPackages.PackageDisks(read.Value).Value.ShouldHaveSingleItem();
        disks.System!.File!.Href.ShouldBe("app-disk1.vmdk");
        disks.Data.Select(d => d.File?.Href).ShouldBe(["app-seeded.vmdk", null, null, null]);
    }

    [Fact]
    public void Envelope_AlternativesAreTheUnconditionalItemsInstanceIdInConfigurations()
    {
        var envelope = System.Xml.Linq.XDocument.Parse(System.Text.Encoding.UTF8.GetString(OvfWriter.Envelope(WithVolumes.Name, WithVolumes.Description, SystemsWithVolumes(), collection: false)));
        var ovf = (System.Xml.Linq.XNamespace)OvfReader.Ovf2Namespace;
        var rasd = (System.Xml.Linq.XNamespace)"http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData";
        var items = envelope.Descendants(ovf + "Item")
            .Select(i => (Type: (string)i.Element(rasd + "ResourceType")!, Id: (string)i.Element(rasd + "InstanceID")!, Config: (string?)i.Attribute(ovf + "configuration"),
                Disk: (string?)i.Element(rasd + "HostResource")))
            .ToList();

        foreach (var type in new[] { "3", "4" })
        {
            var ofType = items.Where(i => i.Type == type).ToList();
            ofType.Select(i => i.Id).Distinct().ShouldHaveSingleItem($"ResourceType {type}: one InstanceID for the value and its alternatives");
            ofType.Count(i => i.Config is null).ShouldBe(1);
        }
        var system = items.Where(i => i.Type == "17" && i.Disk!.StartsWith("ovf:/disk/vmdisk1", StringComparison.Ordinal)).ToList();
        system.Select(i => i.Id).Distinct().ShouldHaveSingleItem();
        system.Select(i => i.Config).ShouldBe([null, "disk-gib-10", "disk-gib-40"]);
        var seeded = items.Where(i => i.Type == "17" && i.Disk!.StartsWith("ovf:/disk/seeded", StringComparison.Ordinal)).ToList();
        seeded.Select(i => i.Config).ShouldBe([null, "volume-seeded-gib-8"]);
        seeded.Select(i => i.Id).Distinct().ShouldHaveSingleItem();
        var cache = items.Where(i => i.Type == "17" && i.Disk!.StartsWith("ovf:/disk/cache", StringComparison.Ordinal)).ToList();
        cache.ShouldHaveSingleItem().Config.ShouldBe("default volume-cache-gib-3", "an optional volume whose default is not 0 is in the default configuration");
        items.Where(i => i.Type == "17" && i.Disk!.StartsWith("ovf:/disk/disk", StringComparison.Ordinal)).Select(i => i.Config)
            .ShouldBe(["volume-disk-gib-5", "volume-disk-gib-50"], "a volume left out by default is in no default configuration");
        envelope.Descendants(ovf + "Configuration").Select(c => (string)c.Attribute(ovf + "id")!).ShouldContain("volume-cache-gib-0");
    }
}

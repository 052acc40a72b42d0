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
}

using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Welkin.Contracts;
using Welkin.Core.Catalog;
using Welkin.Core.Ovf;

namespace Welkin.Core.Tests.Ovf;

/// <summary>
/// Password properties (OVF 2.0 9.5 ovf:password): imported as secret strings that keep their default, exported with
/// the mark and without any value, masked in views. The end-to-end path (provision, views, audit, events, exports)
/// is in the server's SecretPropertyTests.
/// </summary>
public sealed class SecretPropertyTests
{
    private static readonly string Corpus = Path.Combine(AppContext.BaseDirectory, "Ovf", "Data", "corpus");

    private static OvfEnvelope Read(byte[] xml)
    {
        var read = OvfReader.Read(xml);
        read.IsSuccess.ShouldBeTrue(read.Error?.Detail);
        return read.Value;
    }

    private static TemplateSpec Map(byte[] xml)
    {
        var mapped = OvfTemplateMapper.ToTemplateSpec(Read(xml));
        mapped.IsSuccess.ShouldBeTrue(mapped.Error?.Detail);
        return mapped.Value;
    }

    private static byte[] Export(TemplateSpec spec) =>
        OvfWriter.Envelope(spec.Name, spec.Description, spec.VirtualSystems.Select(vs => new OvfExportSystem(vs, null)).ToList(), spec.VirtualSystems.Count > 1);

    [Fact]
    public void Map_RealNsxDescriptor_MakesEachPasswordPropertyASecretString()
    {
        // VMware NSX unified appliance 9.1 (vmware/govmomi fixtures, Apache-2.0): six ovf:password properties.
        var xml = File.ReadAllBytes(Path.Combine(Corpus, "vmware-nsx-9.1.ovf"));
        var marked = Regex.Count(Encoding.UTF8.GetString(xml), "ovf:password=\"true\"");

        var system = Map(xml).VirtualSystems.ShouldHaveSingleItem();

        marked.ShouldBe(6);
        var secrets = system.Properties!.Where(p => p.Password).ToList();
        secrets.Select(p => p.Key).ShouldBe(SecretProperties.KeysOf(system)!);
        secrets.Count.ShouldBe(marked);
        secrets.ShouldContain(p => p.Key == "nsx_passwd_0" && p.Label == "System Root User Password");
        secrets.ShouldAllBe(p => p.Type == PropertyType.String && p.AllowedValues == null);
        system.Properties!.Where(p => !p.Password).ShouldNotBeEmpty();
        TemplateRules.Validate(new TemplateSpec("nsx", [system])).ToError().ShouldBeNull();
    }

    [Fact]
    public void Export_RealNsxTemplate_MarksThePasswordsAndReadsBackEqual()
    {
        var spec = Map(File.ReadAllBytes(Path.Combine(Corpus, "vmware-nsx-9.1.ovf")));

        var back = Map(Export(spec));

        // The NSX descriptor gives its passwords no defaults, so nothing is lost on the way.
        spec.VirtualSystems[0].Properties!.Where(p => p.Password).ShouldAllBe(p => p.Default == null);
        JsonSerializer.Serialize(back.VirtualSystems[0].Properties, WelkinJson.Client)
            .ShouldBe(JsonSerializer.Serialize(spec.VirtualSystems[0].Properties, WelkinJson.Client));
    }

    [Fact]
    public void Export_PasswordWithADefault_WritesTheMarkAndNeverTheValue()
    {
        var system = new VirtualSystemSpec("appliance", new HardwareChoices(new([1], 1), new([512], 512), new([1], 1)), Properties:
        [
            new PropertyDefinition("root_password", PropertyType.String, "changeme-4b1e", "Root password", Password: true),
            new PropertyDefinition("hostname", PropertyType.String, "appliance-host"),
        ]);

        var xml = Export(new TemplateSpec("secret", [system]));

        var text = Encoding.UTF8.GetString(xml);
        text.ShouldNotContain("changeme-4b1e");
        text.ShouldContain("appliance-host");
        var read = Read(xml).Content.ShouldBeOfType<OvfVirtualSystem>().Products.SelectMany(p => p.Properties).ToDictionary(p => p.Key);
        read["root_password"].Password.ShouldBeTrue();
        read["root_password"].Default.ShouldBeNull();
        read["hostname"].Password.ShouldBeFalse();
        var back = Map(xml).VirtualSystems[0].Properties!;
        back[0].ShouldBe(new PropertyDefinition("root_password", PropertyType.String, null, "Root password", Password: true));
        back[1].ShouldBe(system.Properties![1]);
    }

    [Fact]
    public void Map_PasswordOnANonStringType_BecomesAString()
    {
        var xml = Encoding.UTF8.GetString(File.ReadAllBytes(Path.Combine(Corpus, "vmware-nsx-9.1.ovf")))
            .Replace("<Property ovf:key=\"nsx_grub_passwd\" ovf:type=\"string\"", "<Property ovf:key=\"nsx_grub_passwd\" ovf:type=\"uint32\" ovf:value=\"1234\"", StringComparison.Ordinal);

        var property = Map(Encoding.UTF8.GetBytes(xml)).VirtualSystems[0].Properties!.Single(p => p.Key == "nsx_grub_passwd");

        property.ShouldBe(property with { Type = PropertyType.String, Default = "1234", Password = true });
    }

    [Theory]
    [InlineData(PropertyType.Int, null, "spec.virtualSystems[0].properties[0].type")]
    [InlineData(PropertyType.String, "a", "spec.virtualSystems[0].properties[0].allowedValues")]
    public void Validate_PasswordPropertyThatIsNotFreeText_IsRefused(PropertyType type, string? allowed, string field)
    {
        var system = new VirtualSystemSpec("vm", new HardwareChoices(new([1], 1), new([512], 512), new([1], 1)),
            Properties: [new PropertyDefinition("pin", type, AllowedValues: allowed is null ? null : [allowed], Password: true)]);

        var error = TemplateRules.Validate(new TemplateSpec("t", [system]), "spec.").ToError();

        error.ShouldNotBeNull();
        error.Errors!.Keys.ShouldContain(field);
    }

    [Fact]
    public void Masked_ReplacesOnlyTheSecretsValues()
    {
        var values = new Dictionary<string, string> { ["root_password"] = "hunter2", ["hostname"] = "web" };

        var masked = SecretProperties.Masked(values, ["root_password"]);

        masked.ShouldBe(new Dictionary<string, string> { ["hostname"] = "web", ["root_password"] = SecretProperties.Mask });
        SecretProperties.Masked(values, null).ShouldBeSameAs(values);
    }

    [Fact]
    public void WithoutSecretDefaults_ShowsAPasswordsDefaultAsNullAndKeepsTheRest()
    {
        var system = new VirtualSystemSpec("vm", new HardwareChoices(new([1], 1), new([512], 512), new([1], 1)), Properties:
        [
            new PropertyDefinition("root_password", PropertyType.String, "changeme", Password: true),
            new PropertyDefinition("port", PropertyType.Int, "8080"),
        ]);

        var shown = SecretProperties.WithoutSecretDefaults([system]).ShouldHaveSingleItem();

        shown.Properties!.ShouldBe([system.Properties![0] with { Default = null }, system.Properties[1]]);
        system.Properties[0].Default.ShouldBe("changeme");
    }

    [Fact]
    public void KeepStoredDefaults_APasswordSentWithoutADefault_KeepsTheStoredOne_ANewOneReplacesIt()
    {
        static VirtualSystemSpec System(string name, params PropertyDefinition[] properties) =>
            new(name, new HardwareChoices(new([1], 1), new([512], 512), new([1], 1)), Properties: properties);
        var stored = new TemplateSpec("t", [System("web", new PropertyDefinition("root", PropertyType.String, "changeme", Password: true),
            new PropertyDefinition("proxy", PropertyType.String, "old", Password: true))]);
        var sent = new TemplateSpec("t", [System("web", new PropertyDefinition("root", PropertyType.String, Password: true),
            new PropertyDefinition("proxy", PropertyType.String, "new", Password: true)), System("db", new PropertyDefinition("root", PropertyType.String, Password: true))]);

        var kept = SecretProperties.KeepStoredDefaults(sent, stored);

        kept.VirtualSystems[0].Properties!.Select(p => p.Default).ShouldBe(["changeme", "new"]);
        kept.VirtualSystems[1].Properties!.Single().Default.ShouldBeNull();
    }
}

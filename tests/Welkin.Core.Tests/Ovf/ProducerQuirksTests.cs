using System.Text;
using Welkin.Contracts;
using Welkin.Core.Catalog;
using Welkin.Core.Ovf;

namespace Welkin.Core.Tests.Ovf;

/// <summary>What real producers write that the plain reading of DSP0243 misses: encodings, disk items, ValueMaps, ids, rules and foreign formats.</summary>
public sealed class ProducerQuirksTests
{
    private const string Ns = "xmlns=\"http://schemas.dmtf.org/ovf/envelope/1\" xmlns:ovf=\"http://schemas.dmtf.org/ovf/envelope/1\" " +
        "xmlns:rasd=\"http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData\"";

    private static string Vs(string id, string memory = "512", string extraItems = "") => $"""
        <VirtualSystem ovf:id="{id}"><Info>x</Info>
          <VirtualHardwareSection><Info>hw</Info>
            <Item><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>1</rasd:VirtualQuantity></Item>
            <Item><rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>{memory}</rasd:VirtualQuantity><rasd:AllocationUnits>MegaBytes</rasd:AllocationUnits></Item>
            {extraItems}
          </VirtualHardwareSection>
        </VirtualSystem>
        """;

    private static string Envelope(string content, string references = "<References/>", string disks = "") =>
        $"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Envelope {Ns}>\n{references}\n{disks}\n{content}\n</Envelope>\n";

    private static Welkin.Core.Common.Result<Welkin.Contracts.TemplateSpec> Map(string xml)
    {
        var read = OvfReader.Read(Encoding.UTF8.GetBytes(xml));
        read.IsSuccess.ShouldBeTrue(read.Error?.Detail);
        return OvfTemplateMapper.ToTemplateSpec(read.Value);
    }

    // ---- Encodings -----------------------------------------------------------------------

    [Fact]
    public void Read_Utf8BytesLabelledUtf16WithoutBom_AsXenCenterWrites_IsRead()
    {
        var xml = Envelope(Vs("xen-vm")).Replace("encoding=\"UTF-8\"", "encoding=\"utf-16\"", StringComparison.Ordinal)
            .Replace("<Info>x</Info>", "<Info>Débian ✓</Info>", StringComparison.Ordinal);

        var read = OvfReader.Read(Encoding.UTF8.GetBytes(xml));

        read.IsSuccess.ShouldBeTrue(read.Error?.Detail);
        read.Value.Content.Info.ShouldBe("Débian ✓");
    }

    [Theory]
    [InlineData("utf-16", true)]
    [InlineData("utf-16", false)]
    [InlineData("utf-16BE", true)]
    public void Read_RealUtf16_IsRead(string label, bool bom)
    {
        var encoding = label == "utf-16BE" ? new UnicodeEncoding(bigEndian: true, byteOrderMark: bom) : new UnicodeEncoding(bigEndian: false, byteOrderMark: bom);
        var xml = Envelope(Vs("vm")).Replace("encoding=\"UTF-8\"", $"encoding=\"{label}\"", StringComparison.Ordinal);

        var read = OvfReader.Read([.. encoding.GetPreamble(), .. encoding.GetBytes(xml)]);

        read.IsSuccess.ShouldBeTrue(read.Error?.Detail);
    }

    [Theory]
    [InlineData("utf-16LE-bom")]
    [InlineData("utf-16LE")]
    [InlineData("utf-16BE-bom")]
    [InlineData("utf-32-bom")]
    [InlineData("utf-8-labelled-utf-16")]
    public void Read_DtdInAnyEncoding_IsDtdProhibited(string form)
    {
        var xml = "<?xml version=\"1.0\" encoding=\"ENC\"?><!DOCTYPE Envelope [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>"
            + Envelope(Vs("vm")).Replace("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "", StringComparison.Ordinal).Replace("<Info>x</Info>", "<Info>&e;</Info>", StringComparison.Ordinal);
        byte[] bytes = form switch
        {
            "utf-16LE-bom" => [.. Encoding.Unicode.GetPreamble(), .. Encoding.Unicode.GetBytes(xml.Replace("ENC", "utf-16", StringComparison.Ordinal))],
            "utf-16LE" => Encoding.Unicode.GetBytes(xml.Replace("ENC", "utf-16", StringComparison.Ordinal)),
            "utf-16BE-bom" => [.. Encoding.BigEndianUnicode.GetPreamble(), .. Encoding.BigEndianUnicode.GetBytes(xml.Replace("ENC", "utf-16", StringComparison.Ordinal))],
            "utf-32-bom" => [.. Encoding.UTF32.GetPreamble(), .. Encoding.UTF32.GetBytes(xml.Replace("ENC", "utf-32", StringComparison.Ordinal))],
            _ => Encoding.UTF8.GetBytes(xml.Replace("ENC", "utf-16", StringComparison.Ordinal)),
        };

        OvfReader.Read(bytes).Error!.Code.ShouldBe("ovf-dtd-prohibited");
    }

    // ---- Disk items ----------------------------------------------------------------------

    private const string OneDisk = """<DiskSection><Info>d</Info><Disk ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:capacity="10" ovf:capacityAllocationUnits="byte * 2^30"/></DiskSection>""";

    private const string OneFile = """<References><File ovf:id="file1" ovf:href="disk1.vmdk"/></References>""";

    [Theory]
    [InlineData(17)]
    [InlineData(19)]
    [InlineData(31)]
    public void Map_DiskItemOfEveryDiskResourceType_IsTheSystemsDisk(int resourceType)
    {
        var item = $"<Item><rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource><rasd:InstanceID>9</rasd:InstanceID><rasd:ResourceType>{resourceType}</rasd:ResourceType></Item>";
        var read = OvfReader.Read(Encoding.UTF8.GetBytes(Envelope(Vs("vm", extraItems: item), OneFile, OneDisk))).Value;

        var spec = OvfTemplateMapper.ToTemplateSpec(read);
        var files = OvfPackages.PackageDisks(read);

        spec.Value.VirtualSystems[0].Hardware.DiskGiB.Default.ShouldBe(10);
        OvfPackages.Files(files.Value).ShouldHaveSingleItem().Href.ShouldBe("disk1.vmdk");
    }

    [Fact]
    public void Map_StorageExtentWithoutADiskHostResource_IsNotADisk()
    {
        var item = "<Item><rasd:HostResource>ovf:/file/file1</rasd:HostResource><rasd:InstanceID>9</rasd:InstanceID><rasd:ResourceType>19</rasd:ResourceType></Item>";

        new OvfHardwareItem(19, "9", null, null, null, ["ovf:/file/file1"], [], null, null).IsDisk.ShouldBeFalse();
        Map(Envelope(Vs("vm", extraItems: item))).Value.VirtualSystems[0].Hardware.DiskGiB.Default.ShouldBe(1);
    }

    [Fact]
    public void Package_DiskWithContentThatNoItemAttaches_IsKeptAsAVolumeLeftOutByDefault()
    {
        var read = OvfReader.Read(Encoding.UTF8.GetBytes(Envelope(Vs("vm"), OneFile, OneDisk))).Value;

        var vs = OvfTemplateMapper.ToTemplateSpec(read).Value.VirtualSystems.ShouldHaveSingleItem();
        var disks = OvfPackages.PackageDisks(read).Value.ShouldHaveSingleItem();

        var volume = vs.DataVolumes.ShouldHaveSingleItem();
        (volume.Name, string.Join(",", volume.SizeGiB.Allowed), volume.SizeGiB.Default).ShouldBe(("vmdisk1", "0,10", 0L));
        disks.Data.ShouldHaveSingleItem().File!.Href.ShouldBe("disk1.vmdk");
    }

    [Fact]
    public void Package_DiskWithContentThatNoSystemOfACollectionAttaches_IsRefusedNotDropped()
    {
        var collection = $"<VirtualSystemCollection ovf:id=\"pair\"><Info>c</Info>{Vs("a")}{Vs("b")}</VirtualSystemCollection>";
        var read = OvfReader.Read(Encoding.UTF8.GetBytes(Envelope(collection, OneFile, OneDisk))).Value;

        var error = OvfPackages.PackageDisks(read).Error!;

        error.Code.ShouldBe("ovf-unmappable");
        error.Detail.ShouldContain("'vmdisk1'");
        error.Detail.ShouldContain("disk1.vmdk");
    }

    [Fact]
    public void Read_EmptyFileRef_AsOvaComposeWritesForAnEmptyDisk_IsADiskWithoutContent()
    {
        var disks = """<DiskSection><Info>d</Info><Disk ovf:diskId="data" ovf:fileRef="" ovf:capacity="4" ovf:capacityAllocationUnits="byte * 2^30"/></DiskSection>""";

        var read = OvfReader.Read(Encoding.UTF8.GetBytes(Envelope(Vs("vm"), disks: disks)));

        read.IsSuccess.ShouldBeTrue(read.Error?.Detail);
        read.Value.Disks.ShouldHaveSingleItem().FileRef.ShouldBeNull();
    }

    [Fact]
    public void Read_CapacityNamingAProperty_TakesThePropertysDefault()
    {
        var disks = """<DiskSection><Info>d</Info><Disk ovf:diskId="data" ovf:capacity="${data_size}" ovf:capacityAllocationUnits="byte * 2^30"/></DiskSection>""";
        var product = """<ProductSection><Info>p</Info><Property ovf:key="data_size" ovf:type="uint32" ovf:value="20"/></ProductSection>""";
        var xml = Envelope(Vs("vm").Replace("<VirtualHardwareSection>", product + "<VirtualHardwareSection>", StringComparison.Ordinal), disks: disks);

        var read = OvfReader.Read(Encoding.UTF8.GetBytes(xml));

        read.IsSuccess.ShouldBeTrue(read.Error?.Detail);
        read.Value.Disks.ShouldHaveSingleItem().CapacityBytes.ShouldBe(20L << 30);
        OvfReader.Read(Encoding.UTF8.GetBytes(xml.Replace("${data_size}", "${nowhere}", StringComparison.Ordinal))).Error!.Detail.ShouldContain("${nowhere}");
    }

    // ---- ValueMaps and names -------------------------------------------------------------

    [Fact]
    public void Map_ValueMapWithQuotedCommas_GivesOneValueEach()
    {
        var product = """<ProductSection><Info>p</Info><Property ovf:key="locale" ovf:type="string" ovf:value="en_US, UTF-8" ovf:qualifiers='ValueMap{"en_US, UTF-8", "de_DE, UTF-8","fr_FR"}'/></ProductSection>""";
        var xml = Envelope(Vs("vm").Replace("<VirtualHardwareSection>", product + "<VirtualHardwareSection>", StringComparison.Ordinal));

        var property = Map(xml).Value.VirtualSystems[0].Properties!.ShouldHaveSingleItem();

        property.AllowedValues.ShouldBe(["en_US, UTF-8", "de_DE, UTF-8", "fr_FR"]);
        property.Default.ShouldBe("en_US, UTF-8");
    }

    [Theory]
    [InlineData("""ValueMap{"a", "b}", "c"}""", new[] { "a", "b}", "c" })]
    [InlineData("""ValueMap{"say \"hi\"", plain }""", new[] { "say \"hi\"", "plain" })]
    [InlineData("ValueMap{1,2,3}", new[] { "1", "2", "3" })]
    public void ValueMap_IsParsedAsDsp0004Says(string qualifiers, string[] values) =>
        OvfTemplateMapper.ValueMap(qualifiers, qualifiers.IndexOf('{', StringComparison.Ordinal) + 1).ShouldBe(values);

    [Fact]
    public void ValueMap_Unterminated_IsNoValueMap() => OvfTemplateMapper.ValueMap("ValueMap{\"a\", \"b", 9).ShouldBeNull();

    [Fact]
    public void Map_SystemIdsThatCollideAfterNormalising_GetDistinctNames()
    {
        var xml = Envelope($"""<VirtualSystemCollection ovf:id="app"><Info>c</Info>{Vs("Web Server")}{Vs("web-server")}{Vs("WEB_SERVER")}</VirtualSystemCollection>""");

        var names = Map(xml).Value.VirtualSystems.Select(v => v.Name).ToList();

        names.ShouldBe(["web-server", "web-server-2", "web_server"]);
        names.Distinct().Count().ShouldBe(3);
    }

    // ---- Errors --------------------------------------------------------------------------

    [Fact]
    public void Map_MemoryUnderTheFloor_IsUnmappableNamingTheItemAndLine()
    {
        var xml = Envelope(Vs("tiny", memory: "48"));
        var line = xml.Split('\n').ToList().FindIndex(l => l.Contains(">48<", StringComparison.Ordinal)) + 1;

        var error = Map(xml).Error!;

        error.Code.ShouldBe("ovf-unmappable");
        error.Detail.ShouldContain("VirtualSystem 'tiny', Item '2' (ResourceType 4, line " + line.ToString(System.Globalization.CultureInfo.InvariantCulture) + ")");
        error.Detail.ShouldContain("64");
    }

    [Fact]
    public void Read_OversizedDescriptor_IsTooLarge()
    {
        var big = Envelope(Vs("vm")).Replace("<Info>x</Info>", "<Info>" + new string('x', (int)OvfReader.DefaultMaxBytes) + "</Info>", StringComparison.Ordinal);

        OvfReader.Read(Encoding.UTF8.GetBytes(big)).Error!.Code.ShouldBe("ovf-too-large");
        OvfReader.Read(new MemoryStream(Encoding.UTF8.GetBytes(big))).Error!.Code.ShouldBe("ovf-too-large");
    }

    [Theory]
    [InlineData("http://www.vmware.com/schema/ovf/1/envelope", "OVF 0.9")]
    [InlineData("http://schemas.dmtf.org/ovf/envelope/1/", "oVirt")]
    public void Read_OtherFormats_GetAHint(string ns, string hint)
    {
        var xml = $"<ovf:Envelope xmlns:ovf=\"{ns}\" ovf:version=\"0.9\"><References/><Content ovf:id=\"vm\"/></ovf:Envelope>";

        var error = OvfReader.Read(Encoding.UTF8.GetBytes(xml)).Error!;

        error.Code.ShouldBe("ovf-unknown-namespace");
        error.Detail.ShouldContain(hint);
    }

    [Fact]
    public void Map_PasswordProperty_IsASecretStringThatKeepsItsDefault()
    {
        var product = """<ProductSection><Info>p</Info><Property ovf:key="root_password" ovf:type="string" ovf:password="true" ovf:value="s3cret-default" ovf:qualifiers="ValueMap{&quot;a&quot;,&quot;s3cret-default&quot;}"/></ProductSection>""";
        var xml = Envelope(Vs("vm").Replace("<VirtualHardwareSection>", product + "<VirtualHardwareSection>", StringComparison.Ordinal));

        var spec = Map(xml).Value;

        // Kept server-side for provisioning; views and exports never show it (SecretPropertyTests).
        spec.VirtualSystems[0].Properties!.ShouldHaveSingleItem().ShouldBe(new PropertyDefinition("root_password", PropertyType.String, "s3cret-default", UserConfigurable: false, Password: true));
        TemplateRules.Validate(spec).ToError().ShouldBeNull();
    }

    [Theory]
    [InlineData("ovf:default=\"true\"", "", 4, 8192)]
    [InlineData("", "", 2, 4096)]
    [InlineData("", "ovf:default=\"true\"", 8, 16384)]
    public void Map_DeploymentOptions_TheDefaultConfigurationsItemsAreTheDefaults(string smallDefault, string largeDefault, int vcpus, long memoryMiB)
    {
        var options = $"""
            <DeploymentOptionSection><Info>sizes</Info>
              <Configuration ovf:id="small"><Label>S</Label><Description>S</Description></Configuration>
              <Configuration ovf:id="medium" {smallDefault}><Label>M</Label><Description>M</Description></Configuration>
              <Configuration ovf:id="large" {largeDefault}><Label>L</Label><Description>L</Description></Configuration>
            </DeploymentOptionSection>
            """;
        var items = """
            <Item ovf:configuration="medium"><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>4</rasd:VirtualQuantity></Item>
            <Item ovf:configuration="large"><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>8</rasd:VirtualQuantity></Item>
            <Item ovf:configuration="medium"><rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>8192</rasd:VirtualQuantity><rasd:AllocationUnits>MegaBytes</rasd:AllocationUnits></Item>
            <Item ovf:configuration="large xlarge"><rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>16384</rasd:VirtualQuantity><rasd:AllocationUnits>MegaBytes</rasd:AllocationUnits></Item>
            """;
        // The unconditional items (2 vCPUs, 4096 MiB) are the small configuration's, the first one.
        var xml = Envelope(Vs("vm", memory: "4096", extraItems: items).Replace("<rasd:VirtualQuantity>1</rasd:VirtualQuantity>", "<rasd:VirtualQuantity>2</rasd:VirtualQuantity>", StringComparison.Ordinal), disks: options);

        var hardware = Map(xml).Value.VirtualSystems[0].Hardware;

        hardware.Vcpus.Allowed.ShouldBe([2, 4, 8]);
        hardware.Vcpus.Default.ShouldBe(vcpus);
        hardware.MemoryMiB.Allowed.ShouldBe([4096, 8192, 16384]);
        hardware.MemoryMiB.Default.ShouldBe(memoryMiB);
    }
}

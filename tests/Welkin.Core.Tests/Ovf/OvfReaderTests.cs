using System.Text;
using Welkin.Core.Ovf;

namespace Welkin.Core.Tests.Ovf;

public sealed class OvfReaderTests
{
    internal static OvfEnvelope Load(string name)
    {
        var result = OvfReader.Read(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Ovf", "Data", name)));
        result.IsSuccess.ShouldBeTrue(result.Error?.Detail);
        return result.Value;
    }

    private static Welkin.Core.Common.Error Refused(string xml, long max = OvfReader.DefaultMaxBytes)
    {
        var result = OvfReader.Read(Encoding.UTF8.GetBytes(xml), max);
        result.IsSuccess.ShouldBeFalse();
        return result.Error!;
    }

    private const string Minimal = """
        <Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData">
          <References/>
          <VirtualSystem ovf:id="vm"><Info>x</Info>
            <VirtualHardwareSection><Info>hw</Info>
              <Item><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>1</rasd:VirtualQuantity></Item>
              <Item><rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>512</rasd:VirtualQuantity><rasd:AllocationUnits>MegaBytes</rasd:AllocationUnits></Item>
            </VirtualHardwareSection>
          </VirtualSystem>
        </Envelope>
        """;

    private static string Nested(int depth) =>
        "<Envelope xmlns=\"http://schemas.dmtf.org/ovf/envelope/1\"><References/>"
        + string.Concat(Enumerable.Repeat("<a>", depth)) + string.Concat(Enumerable.Repeat("</a>", depth)) + "</Envelope>";

    [Fact]
    public void Read_When100000NestedElements_RefusesNamingTheDepthLimit()
    {
        var error = Refused(Nested(100_000));

        error.Code.ShouldBe("ovf-too-deep");
        error.Detail.ShouldContain(OvfReader.MaxElementDepth.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Read_WhenNestedJustWithinTheLimit_IsNotRefusedForDepth()
    {
        var result = OvfReader.Read(Encoding.UTF8.GetBytes(Nested(OvfReader.MaxElementDepth - 1)));

        result.Error?.Code.ShouldNotBe("ovf-too-deep");
        OvfReader.Read(Encoding.UTF8.GetBytes(Minimal)).IsSuccess.ShouldBeTrue();
    }

    [Fact]
    public void Read_VirtualBoxEnvelope_ReadsDisksHardwareAndOperatingSystem()
    {
        var envelope = Load("virtualbox.ovf");

        envelope.Version.ShouldBe(OvfVersion.V1);
        envelope.Files.ShouldHaveSingleItem().ShouldBe(new OvfFile("file1", "debian12-disk001.vmdk", null, null));
        var disk = envelope.Disks.ShouldHaveSingleItem();
        disk.CapacityBytes.ShouldBe(21_474_836_480);
        disk.FileRef.ShouldBe("file1");
        disk.Format!.ShouldEndWith("#streamOptimized");
        envelope.Networks.ShouldHaveSingleItem().Name.ShouldBe("NAT");
        var vs = envelope.Content.ShouldBeOfType<OvfVirtualSystem>();
        vs.Id.ShouldBe("debian12");
        vs.Annotation.ShouldBe("Debian 12 base system");
        vs.VirtualSystemType.ShouldBe("virtualbox-2.2");
        vs.OperatingSystem.ShouldBe(new OvfOperatingSystem(96, "Debian_64", "Debian_64", null));
        vs.Hardware.Select(i => i.ResourceType).ShouldBe([3, 4, 20, 10, 17]);
        vs.Hardware.Single(i => i.ResourceType == 4).AllocationUnits.ShouldBe("MegaBytes");
        vs.Hardware.Single(i => i.ResourceType == 10).Connections.ShouldBe(["NAT"]);
        vs.Hardware.Single(i => i.ResourceType == 17).HostResources.ShouldBe(["/disk/vmdisk1"]);
        vs.Products.ShouldHaveSingleItem().Vendor.ShouldBe("Debian Project");
    }

    [Fact]
    public void Read_OvftoolEnvelope_ReadsUnitsVmwareExtrasAndProductProperties()
    {
        var envelope = Load("ovftool.ovf");

        envelope.Files.ShouldHaveSingleItem().Size.ShouldBe(1_043_968);
        envelope.Disks.ShouldHaveSingleItem().CapacityBytes.ShouldBe(16L << 30);
        envelope.Disks[0].PopulatedSizeBytes.ShouldBe(2_147_483_648);
        var vs = envelope.Content.ShouldBeOfType<OvfVirtualSystem>();
        vs.Name.ShouldBe("Web Appliance");
        vs.OperatingSystem!.OsType.ShouldBe("other3xLinux64Guest");
        vs.Hardware.Count.ShouldBe(5);
        vs.Products.Count.ShouldBe(2);
        vs.Products[0].Class.ShouldBe("vami");
        vs.Products[0].Instance.ShouldBe("Web-Appliance");
        var port = vs.Products[1].Properties[0];
        port.ShouldBe(new OvfProperty("http_port", "uint16", "8080", true, "HTTP port", "The port the web server listens on.", null, false));
        vs.Products[1].Properties.Single(p => p.Key == "root_password").Password.ShouldBeTrue();
        vs.Products[1].Properties.Single(p => p.Key == "build").UserConfigurable.ShouldBeFalse();
        vs.Products[1].Properties.Single(p => p.Key == "log_level").Qualifiers.ShouldBe("ValueMap{\"debug\",\"info\",\"warn\"}");
    }

    [Fact]
    public void Read_Ovf2Envelope_ReadsStorageAndEthernetPortItemsAndConfigurations()
    {
        var envelope = Load("ovf2.ovf");

        envelope.Version.ShouldBe(OvfVersion.V2);
        envelope.Disks.Select(d => d.CapacityBytes).ShouldBe([10L << 30, 5L << 30]);
        var vs = envelope.Content.ShouldBeOfType<OvfVirtualSystem>();
        vs.Hardware.Where(i => i.ResourceType == 17).SelectMany(i => i.HostResources).ShouldBe(["ovf:/disk/root", "ovf:/disk/data"]);
        vs.Hardware.Single(i => i.ResourceType == 10).ResourceSubType.ShouldBe("virtio");
        vs.Hardware.Single(i => i.InstanceId == "11").Configuration.ShouldBe("large");
        vs.OperatingSystem.ShouldBe(new OvfOperatingSystem(36, "Linux 2.6.x", null, "6"));
    }

    [Fact]
    public void Read_VirtualSystemCollection_ReadsNestedSystems()
    {
        var collection = Load("multitier.ovf").Content.ShouldBeOfType<OvfVirtualSystemCollection>();

        collection.Name.ShouldBe("Web shop");
        collection.Children.Count.ShouldBe(2);
        collection.Children[1].ShouldBeOfType<OvfVirtualSystemCollection>().Id.ShouldBe("Data");
        collection.VirtualSystems().Select(v => v.Id).ShouldBe(["Web", "DB"]);
        collection.Products.ShouldHaveSingleItem().Properties.ShouldHaveSingleItem().Key.ShouldBe("domain");
    }

    [Fact]
    public void Read_MinimalEnvelope_Succeeds() =>
        OvfReader.Read(Encoding.UTF8.GetBytes(Minimal)).IsSuccess.ShouldBeTrue();

    [Fact]
    public void Read_WhenDtdPresent_RefusesDtd() =>
        Refused("<?xml version=\"1.0\"?><!DOCTYPE Envelope [<!ELEMENT Envelope ANY>]>" + Minimal).Code.ShouldBe("ovf-dtd-prohibited");

    [Fact]
    public void Read_WhenExternalEntityDeclared_RefusesWithoutResolvingIt()
    {
        var xml = "<?xml version=\"1.0\"?><!DOCTYPE Envelope [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>"
            + Minimal.Replace("<Info>x</Info>", "<Info>&xxe;</Info>", StringComparison.Ordinal);
        var error = Refused(xml);
        error.Code.ShouldBe("ovf-dtd-prohibited");
        error.Detail.ShouldNotContain("root:");
    }

    [Fact]
    public void Read_WhenBillionLaughs_RefusesDtd()
    {
        var entities = new StringBuilder("<!ENTITY lol \"lol\">");
        for (var i = 1; i <= 9; i++)
        {
            entities.Append($"<!ENTITY lol{i} \"{string.Concat(Enumerable.Repeat($"&lol{(i == 1 ? "" : i - 1)};", 10))}\">");
        }
        var xml = $"<?xml version=\"1.0\"?><!DOCTYPE Envelope [{entities}]>" + Minimal.Replace("<Info>x</Info>", "<Info>&lol9;</Info>", StringComparison.Ordinal);
        Refused(xml).Code.ShouldBe("ovf-dtd-prohibited");
    }

    [Fact]
    public void Read_WhenOversized_RefusesBeforeParsing()
    {
        var error = Refused(Minimal, max: 100);
        error.Code.ShouldBe("ovf-too-large");
        error.Kind.ShouldBe(Welkin.Core.Common.ErrorKind.PayloadTooLarge);
        using var stream = new MemoryStream(new byte[200]);
        OvfReader.Read(stream, maxBytes: 100).Error!.Code.ShouldBe("ovf-too-large");
    }

    [Fact]
    public void Read_WhenMalformed_NamesTheLine()
    {
        var error = Refused(Minimal.Replace("</Envelope>", "", StringComparison.Ordinal));
        error.Code.ShouldBe("ovf-malformed");
        error.Detail.ShouldContain("line");
    }

    [Fact]
    public void Read_WhenUnknownNamespace_NamesIt()
    {
        var error = Refused(Minimal.Replace("xmlns=\"http://schemas.dmtf.org/ovf/envelope/1\"", "xmlns=\"urn:example:not-ovf\"", StringComparison.Ordinal));
        error.Code.ShouldBe("ovf-unknown-namespace");
        error.Detail.ShouldContain("urn:example:not-ovf");
    }

    [Theory]
    [InlineData("<VirtualHardwareSection><Info>hw</Info>", "<Other>", "VirtualHardwareSection")]
    [InlineData("<VirtualSystem ovf:id=\"vm\">", "<VirtualSystem>", "ovf:id")]
    [InlineData("<rasd:ResourceType>3</rasd:ResourceType>", "", "ResourceType")]
    [InlineData("<References/>", "<References><File ovf:id=\"f\"/></References>", "ovf:href")]
    [InlineData("<References/>", "<References/><DiskSection><Info>d</Info><Disk ovf:diskId=\"d\" ovf:capacity=\"1\" ovf:fileRef=\"nope\"/></DiskSection>", "nope")]
    [InlineData("<References/>", "<References/><DiskSection><Info>d</Info><Disk ovf:diskId=\"d\" ovf:capacity=\"1\" ovf:capacityAllocationUnits=\"furlongs\"/></DiskSection>", "furlongs")]
    public void Read_WhenRequiredPartMissing_NamesTheElement(string from, string to, string named)
    {
        var xml = Minimal.Replace(from, to, StringComparison.Ordinal);
        if (from.StartsWith("<VirtualHardwareSection", StringComparison.Ordinal))
        {
            xml = xml.Replace("</VirtualHardwareSection>", "</Other>", StringComparison.Ordinal);
        }
        var error = Refused(xml);
        error.Code.ShouldBe("ovf-invalid");
        error.Detail.ShouldContain(named);
    }

    [Fact]
    public void Read_WhenNoContent_Refuses() =>
        Refused("""<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/2"><References/></Envelope>""").Detail.ShouldContain("exactly one VirtualSystem");

    [Theory]
    [InlineData("byte", 1L)]
    [InlineData("byte * 2^20", 1L << 20)]
    [InlineData("byte*2^30", 1L << 30)]
    [InlineData("byte * 10^9", 1_000_000_000L)]
    [InlineData("MegaBytes", 1L << 20)]
    [InlineData("GigaBytes", 1L << 30)]
    public void Factor_KnownUnits_AreBytes(string units, long factor) => OvfUnits.Factor(units).ShouldBe(factor);

    [Fact]
    public void ToBytes_WhenOverflowing_IsNull() => OvfUnits.ToBytes(long.MaxValue / 2, "byte * 2^20").ShouldBeNull();
}

using Welkin.Contracts;
using Welkin.Core.Catalog;
using Welkin.Core.Ovf;

namespace Welkin.Core.Tests.Ovf;

public sealed class OvfTemplateMapperTests
{
    private static TemplateSpec Map(string file)
    {
        var result = OvfTemplateMapper.ToTemplateSpec(OvfReaderTests.Load(file));
        result.IsSuccess.ShouldBeTrue(result.Error?.Detail);
        TemplateRules.Validate(result.Value).IsValid.ShouldBeTrue();
        return result.Value;
    }

    [Fact]
    public void ToTemplateSpec_VirtualBox_FixesHardwareFromItemsAndDisks()
    {
        var spec = Map("virtualbox.ovf");

        spec.Name.ShouldBe("debian12");
        spec.Description.ShouldBe("Debian 12 base system");
        var vs = spec.VirtualSystems.ShouldHaveSingleItem();
        vs.Name.ShouldBe("debian12");
        vs.Hardware.Vcpus.ShouldBe(new Choice<int>([2], 2), new ChoiceComparer<int>());
        vs.Hardware.MemoryMiB.Allowed.ShouldBe([2048L]);
        vs.Hardware.DiskGiB.Default.ShouldBe(20);
        vs.Software!.OperatingSystem!.Default.ShouldBe("Debian_64");
        vs.Properties.ShouldBeNull();
    }

    [Fact]
    public void ToTemplateSpec_Ovftool_MapsProductPropertiesWithTypesAndClasses()
    {
        var vs = Map("ovftool.ovf").VirtualSystems.ShouldHaveSingleItem();

        vs.Name.ShouldBe("web-appliance");
        vs.Hardware.Vcpus.Default.ShouldBe(4);
        vs.Hardware.MemoryMiB.Default.ShouldBe(8192);
        vs.Hardware.DiskGiB.Default.ShouldBe(16);
        vs.Software!.OperatingSystem!.Default.ShouldBe("other3xLinux64Guest");
        var properties = vs.Properties!.ToDictionary(p => p.Key);
        properties.Keys.ShouldBe(["vami.ip0.Web-Appliance", "vami.netmask0.Web-Appliance", "http_port", "enable_ssh", "log_level", "root_password", "build"]);
        properties["vami.netmask0.Web-Appliance"].Default.ShouldBe("255.255.255.0");
        properties["http_port"].ShouldBe(new PropertyDefinition("http_port", PropertyType.Int, "8080", "HTTP port", "The port the web server listens on."));
        properties["enable_ssh"].Type.ShouldBe(PropertyType.Boolean);
        properties["enable_ssh"].Default.ShouldBe("false");
        properties["log_level"].AllowedValues.ShouldBe(["debug", "info", "warn"]);
        properties["log_level"].Default.ShouldBe("info");
        properties["build"].UserConfigurable.ShouldBeFalse();
    }

    [Fact]
    public void ToTemplateSpec_Ovf2_TurnsDeploymentOptionsIntoChoicesAndTheSecondDiskIntoADataVolume()
    {
        var vs = Map("ovf2.ovf").VirtualSystems.ShouldHaveSingleItem();

        vs.Name.ShouldBe("cache");
        vs.Hardware.Vcpus.Allowed.ShouldBe([1, 4]);
        vs.Hardware.Vcpus.Default.ShouldBe(1);
        vs.Hardware.MemoryMiB.Default.ShouldBe(1024);
        vs.Hardware.DiskGiB.Default.ShouldBe(10);
        var data = vs.DataVolumes.ShouldHaveSingleItem();
        (data.Name, data.SizeGiB.Allowed.Single(), data.SizeGiB.Default).ShouldBe(("data", 5L, 5L));
        vs.Properties.ShouldHaveSingleItem().ShouldBe(new PropertyDefinition("max_memory_ratio", PropertyType.Real, "0.75", "Memory ratio"));
    }

    [Fact]
    public void ToTemplateSpec_Collection_MakesOneTierPerVirtualSystemWithInheritedProperties()
    {
        var spec = Map("multitier.ovf");

        spec.Name.ShouldBe("Web shop");
        spec.VirtualSystems.Select(v => v.Name).ShouldBe(["web", "db"]);
        var (web, db) = (spec.VirtualSystems[0], spec.VirtualSystems[1]);
        (web.Hardware.Vcpus.Default, web.Hardware.MemoryMiB.Default, web.Hardware.DiskGiB.Default).ShouldBe((2, 1024L, 8L));
        (db.Hardware.Vcpus.Default, db.Hardware.MemoryMiB.Default, db.Hardware.DiskGiB.Default).ShouldBe((4, 8192L, 40L));
        web.Properties.ShouldHaveSingleItem().Default.ShouldBe("shop.example");
        db.Properties!.Select(p => (p.Key, p.Default)).ShouldBe([("pool_size", "20"), ("domain", "db.shop.example")]);
    }

    [Fact]
    public void ToTemplateSpec_WhenNoMemoryItem_Refuses()
    {
        var envelope = OvfReaderTests.Load("virtualbox.ovf");
        var vs = (OvfVirtualSystem)envelope.Content;
        var stripped = envelope with { Content = vs with { Hardware = vs.Hardware.Where(i => i.ResourceType != 4).ToList() } };

        var error = OvfTemplateMapper.ToTemplateSpec(stripped).Error!;
        error.Code.ShouldBe("ovf-unmappable");
        error.Detail.ShouldContain("ResourceType 4");
    }

    [Fact]
    public void ToTemplateSpec_WhenMemoryBelowWelkinMinimum_ReportsTheTemplateRule()
    {
        var envelope = OvfReaderTests.Load("virtualbox.ovf");
        var vs = (OvfVirtualSystem)envelope.Content;
        var tiny = envelope with { Content = vs with { Hardware = vs.Hardware.Select(i => i.ResourceType == 4 ? i with { VirtualQuantity = 16 } : i).ToList() } };

        var error = OvfTemplateMapper.ToTemplateSpec(tiny).Error!;
        error.Code.ShouldBe("ovf-unmappable");
        error.Detail.ShouldContain("Item '");
        error.Errors!.Keys.ShouldContain("virtualSystems[0].hardware.memoryMiB.allowed[0]");
    }

    [Theory]
    [InlineData("Web-Appliance", "web-appliance")]
    [InlineData("1st VM", "vs-1st-vm")]
    [InlineData("db.primary", "db.primary")]
    public void SystemName_MakesWelkinNames(string id, string name) => OvfTemplateMapper.SystemName(id).ShouldBe(name);

    private sealed class ChoiceComparer<T> : IEqualityComparer<Choice<T>>
    {
        public bool Equals(Choice<T>? x, Choice<T>? y) =>
            x is not null && y is not null && x.Allowed.SequenceEqual(y.Allowed) && EqualityComparer<T>.Default.Equals(x.Default, y.Default);

        public int GetHashCode(Choice<T> obj) => 0;
    }
}

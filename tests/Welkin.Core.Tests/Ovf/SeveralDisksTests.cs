using System.Text;
using Welkin.Contracts;
using Welkin.Core.Catalog;
using Welkin.Core.Ovf;

namespace Welkin.Core.Tests.Ovf;

/// <summary>
/// Several disks per virtual system and deployment options (DSP0243 2.0 9.8, 9.9): which disk is the
/// system disk, which become data volumes, and what a configuration's items mean for them.
/// </summary>
public sealed class SeveralDisksTests
{
    private const string Ns = "xmlns=\"http://schemas.dmtf.org/ovf/envelope/1\" xmlns:ovf=\"http://schemas.dmtf.org/ovf/envelope/1\" " +
        "xmlns:rasd=\"http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData\" xmlns:vmw=\"http://www.vmware.com/schema/ovf\"";

    /// <summary>A disk of the DiskSection: id, GiB, and the file holding its content (null: empty).</summary>
    private sealed record D(string Id, int GiB, string? File = null);

    /// <summary>A disk item: the disk it attaches, its InstanceID and the configurations it is tied to.</summary>
    private sealed record I(string Disk, string Instance, string? Configuration = null);

    private static string Envelope(D[] disks, I[] items, string[]? configurations = null, string? defaultConfiguration = null, string extra = "")
    {
        var files = disks.Where(d => d.File is not null).Select(d => d.File).Distinct()
            .Select(f => $"<File ovf:id=\"{f}\" ovf:href=\"{f}.vmdk\"/>");
        var diskSection = disks.Select(d =>
            $"<Disk ovf:diskId=\"{d.Id}\" ovf:capacity=\"{d.GiB}\" ovf:capacityAllocationUnits=\"byte * 2^30\"{(d.File is null ? "" : $" ovf:fileRef=\"{d.File}\"")}/>");
        var options = configurations is null ? "" :
            "<DeploymentOptionSection><Info>o</Info>" + string.Concat(configurations.Select(c =>
                $"<Configuration ovf:id=\"{c}\"{(c == defaultConfiguration ? " ovf:default=\"true\"" : "")}><Label>{c}</Label><Description>{c}</Description></Configuration>")) +
            "</DeploymentOptionSection>";
        var diskItems = items.Select(i =>
            $"<Item{(i.Configuration is null ? "" : $" ovf:configuration=\"{i.Configuration}\"")}><rasd:HostResource>ovf:/disk/{i.Disk}</rasd:HostResource>" +
            $"<rasd:InstanceID>{i.Instance}</rasd:InstanceID><rasd:ResourceType>17</rasd:ResourceType></Item>");
        return $"""
            <?xml version="1.0" encoding="UTF-8"?>
            <Envelope {Ns}>
              <References>{string.Concat(files)}</References>
              <DiskSection><Info>d</Info>{string.Concat(diskSection)}</DiskSection>
              {options}
              <VirtualSystem ovf:id="vm"><Info>x</Info>
                <VirtualHardwareSection><Info>hw</Info>
                  <Item><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>1</rasd:VirtualQuantity></Item>
                  <Item><rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>512</rasd:VirtualQuantity></Item>
                  {string.Concat(diskItems)}
                </VirtualHardwareSection>
                {extra}
              </VirtualSystem>
            </Envelope>
            """;
    }

    private static (VirtualSystemSpec System, OvfSystemDisks Disks) Map(string xml)
    {
        var read = OvfReader.Read(Encoding.UTF8.GetBytes(xml));
        read.IsSuccess.ShouldBeTrue(read.Error?.Detail);
        var mapped = OvfTemplateMapper.ToTemplateSpec(read.Value);
        mapped.IsSuccess.ShouldBeTrue(mapped.Error?.Detail);
        var disks = OvfPackages.PackageDisks(read.Value);
        disks.IsSuccess.ShouldBeTrue(disks.Error?.Detail);
        return (mapped.Value.VirtualSystems.ShouldHaveSingleItem(), disks.Value.ShouldHaveSingleItem());
    }

    private static string Sizes(Choice<long> c) => $"[{string.Join(",", c.Allowed)}] {c.Default}";

    private static string Volumes(VirtualSystemSpec vs) =>
        string.Join("; ", (vs.DataVolumes ?? []).Select(d => $"{d.Name} {Sizes(d.SizeGiB)}"));

    [Fact]
    public void SeveralDisks_TheFirstWithContentIsTheSystemDisk_TheOthersDataVolumesInOrder()
    {
        var (vs, disks) = Map(Envelope(
            [new D("scratch", 2), new D("root", 10, "root"), new D("Data Disk", 30, "data"), new D("logs", 5)],
            [new I("scratch", "10"), new I("root", "11"), new I("Data Disk", "12"), new I("logs", "13")]));

        Sizes(vs.Hardware.DiskGiB).ShouldBe("[10] 10", "the system disk's own capacity, not the sum");
        Volumes(vs).ShouldBe("scratch [2] 2; data-disk [30] 30; logs [5] 5");
        disks.System!.File!.Href.ShouldBe("root.vmdk");
        disks.Data.Select(d => d.File?.Href).ShouldBe([null, "data.vmdk", null]);
    }

    [Fact]
    public void SeveralDisks_WithoutContent_TheFirstDiskItemIsTheSystemDisk()
    {
        var (vs, disks) = Map(Envelope([new D("a", 3), new D("b", 4)], [new I("b", "10"), new I("a", "11")]));

        Sizes(vs.Hardware.DiskGiB).ShouldBe("[4] 4");
        Volumes(vs).ShouldBe("a [3] 3");
        disks.System!.File.ShouldBeNull();
    }

    [Theory]
    [InlineData("<vmw:BootOrderSection vmw:instanceId=\"12\" vmw:type=\"disk\"><Info>boot</Info></vmw:BootOrderSection>")]
    [InlineData("""
        <BootDeviceSection xmlns:bootc="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_BootConfigSetting" xmlns:boots="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_BootSourceSetting">
          <Info>boot</Info>
          <bootc:CIM_BootConfigSetting><bootc:InstanceID>boot</bootc:InstanceID>
            <boots:CIM_BootSourceSetting><boots:StructuredBootString>CIM:Network:99</boots:StructuredBootString></boots:CIM_BootSourceSetting>
            <boots:CIM_BootSourceSetting><boots:StructuredBootString>CIM:Hard-Disk:12</boots:StructuredBootString></boots:CIM_BootSourceSetting>
          </bootc:CIM_BootConfigSetting>
        </BootDeviceSection>
        """)]
    public void SeveralDisks_TheBootOrderNamesTheSystemDisk(string bootSection)
    {
        var (vs, disks) = Map(Envelope(
            [new D("tools", 1, "tools"), new D("root", 10, "root")],
            [new I("tools", "11"), new I("root", "12")], extra: bootSection));

        Sizes(vs.Hardware.DiskGiB).ShouldBe("[10] 10");
        disks.System!.File!.Href.ShouldBe("root.vmdk");
        Volumes(vs).ShouldBe("tools [1] 1");
        disks.Data.ShouldHaveSingleItem().File!.Href.ShouldBe("tools.vmdk");
    }

    [Fact]
    public void DeploymentOptions_SameInstanceId_IsAnAlternativeSizeOfThatDisk()
    {
        var (vs, _) = Map(Envelope(
            [new D("root", 10, "root"), new D("data", 20), new D("data-big", 80), new D("root-big", 40)],
            [new I("root", "10"), new I("data", "11"), new I("data-big", "11", "large"), new I("root-big", "10", "large huge")],
            ["small", "large", "huge"], "small"));

        Sizes(vs.Hardware.DiskGiB).ShouldBe("[10,40] 10");
        Volumes(vs).ShouldBe("data [20,80] 20");
    }

    [Fact]
    public void DeploymentOptions_TheDefaultConfigurationsReplacement_IsTheDefaultSize()
    {
        var (vs, _) = Map(Envelope(
            [new D("root", 10, "root"), new D("root-big", 40)],
            [new I("root", "10"), new I("root-big", "10", "large")],
            ["small", "large"], "large"));

        Sizes(vs.Hardware.DiskGiB).ShouldBe("[10,40] 40");
    }

    [Fact]
    public void DeploymentOptions_OwnInstanceId_IsADataVolumeOfThoseConfigurationsOnly()
    {
        var (vs, disks) = Map(Envelope(
            [new D("root", 10, "root"), new D("cache", 8), new D("archive", 100, "archive")],
            [new I("root", "10"), new I("cache", "20", "small large"), new I("archive", "21", "large")],
            ["small", "large", "none"], "small"));

        Sizes(vs.Hardware.DiskGiB).ShouldBe("[10] 10", "a disk of some configurations is not an alternative size of the system disk");
        Volumes(vs).ShouldBe("cache [0,8] 8; archive [0,100] 0");
        disks.Data.Select(d => d.File?.Href).ShouldBe([null, "archive.vmdk"], "a configuration's disk with its own file keeps it");
    }

    [Fact]
    public void DeploymentOptions_AFileInEveryConfiguration_IsOneDiskWithTheirSizes()
    {
        // As ovftool's multiple-disks fixture writes it: no unconditional disk item; each configuration
        // attaches the same files at its own capacities.
        var (vs, disks) = Map(Envelope(
            [new D("system_small", 30, "system"), new D("data_small", 30, "data"), new D("system_large", 40, "system"), new D("data_large", 50, "data"), new D("extra_large", 100, "extra")],
            [new I("system_small", "4", "small"), new I("data_small", "5", "small"), new I("system_large", "7", "large"), new I("data_large", "8", "large"), new I("extra_large", "9", "large")],
            ["small", "large"], "large"));

        Sizes(vs.Hardware.DiskGiB).ShouldBe("[30,40] 40");
        Volumes(vs).ShouldBe("data_large [30,50] 50; extra_large [0,100] 100");
        disks.System!.File!.Href.ShouldBe("system.vmdk");
        disks.Data.Select(d => d.File!.Href).ShouldBe(["data.vmdk", "extra.vmdk"]);
    }

    [Fact]
    public void DeploymentOptions_AsWelkinWroteThemBefore_AreAlternativeSizesOfTheSystemDisk()
    {
        // Exports before data volumes: alternative disks with InstanceIDs of their own, in configurations disk-gib-N.
        var (vs, _) = Map(Envelope(
            [new D("vmdisk1", 20, "file1"), new D("vmdisk1-50", 50), new D("vmdisk1-100", 100)],
            [new I("vmdisk1", "4"), new I("vmdisk1-50", "5", "disk-gib-50"), new I("vmdisk1-100", "6", "disk-gib-100")],
            ["default", "disk-gib-50", "disk-gib-100"], "default"));

        Sizes(vs.Hardware.DiskGiB).ShouldBe("[20,50,100] 20");
        vs.DataVolumes.ShouldBeNull();
    }

    [Fact]
    public void DeploymentOptions_ReplacingADiskWithOtherContent_IsRefused()
    {
        var xml = Envelope([new D("root", 10, "root"), new D("other", 10, "other")], [new I("root", "10"), new I("other", "10", "alt")], ["main", "alt"], "main");

        var error = OvfTemplateMapper.ToTemplateSpec(OvfReader.Read(Encoding.UTF8.GetBytes(xml)).Value).Error!;

        error.Code.ShouldBe("ovf-unmappable");
        error.Detail.ShouldContain("other content");
        error.Detail.ShouldContain("other.vmdk");
    }

    [Fact]
    public void DataVolumeNames_ThatCollideAfterNormalising_AreMadeDistinct()
    {
        var (vs, _) = Map(Envelope(
            [new D("root", 1, "root"), new D("Data", 1), new D("data", 2), new D("7", 3)],
            [new I("root", "1"), new I("Data", "2"), new I("data", "3"), new I("7", "4")]));

        vs.DataVolumes!.Select(d => d.Name).ShouldBe(["data", "data-2", "disk-7"]);
    }

    [Fact]
    public void DataVolumeOverTheDiskMaximum_IsUnmappableNamingItsItemAndLine()
    {
        var xml = Envelope([new D("root", 10, "root"), new D("huge", 70_000)], [new I("root", "10"), new I("huge", "11")]);

        var error = OvfTemplateMapper.ToTemplateSpec(OvfReader.Read(Encoding.UTF8.GetBytes(xml)).Value).Error!;

        error.Code.ShouldBe("ovf-unmappable");
        error.Detail.ShouldContain("VirtualSystem 'vm', Item '11' (ResourceType 17, line ");
        error.Errors!.Keys.ShouldContain("virtualSystems[0].dataVolumes[0].sizeGiB.allowed[0]");
    }

    [Fact]
    public void MoreThanSixteenDataVolumes_IsUnmappableNamingTheRule()
    {
        var disks = Enumerable.Range(0, 18).Select(i => new D($"d{i}", 1, i == 0 ? "root" : null)).ToArray();
        var xml = Envelope(disks, disks.Select((d, i) => new I(d.Id, (10 + i).ToString(System.Globalization.CultureInfo.InvariantCulture))).ToArray());

        var error = OvfTemplateMapper.ToTemplateSpec(OvfReader.Read(Encoding.UTF8.GetBytes(xml)).Value).Error!;

        error.Code.ShouldBe("ovf-unmappable");
        error.Detail.ShouldContain("at most 16 data volumes");
    }

    [Fact]
    public void RealDescriptor_OvftoolMultipleDisks_MapsItsConfigurationsDisks()
    {
        // ovftool 4.0's multiple-disks descriptor (corpus): refused as it is, for its small configuration's
        // 32 MiB of memory; with the memory raised to Welkin's floor, its disks map as its configurations say.
        var envelope = OvfReaderTests.Load(Path.Combine("corpus", "ovftool40-multiple-disks.ovf"));
        var vs = (OvfVirtualSystem)envelope.Content;
        var raised = envelope with { Content = vs with { Hardware = vs.Hardware.Select(i => i.ResourceType == 4 ? i with { VirtualQuantity = Math.Max(64, i.VirtualQuantity ?? 0) } : i).ToList() } };

        OvfTemplateMapper.ToTemplateSpec(envelope).Error!.Detail.ShouldContain("memoryMiB");
        var mapped = OvfTemplateMapper.ToTemplateSpec(raised);
        mapped.IsSuccess.ShouldBeTrue(mapped.Error?.Detail);
        var disks = OvfPackages.PackageDisks(raised).Value.ShouldHaveSingleItem();

        var system = mapped.Value.VirtualSystems.ShouldHaveSingleItem();
        Sizes(system.Hardware.DiskGiB).ShouldBe("[30,40] 40", "the system file at the small and the large (default) configuration's capacity");
        Volumes(system).ShouldBe("data_large [30,50] 50; scratch_small [0,10] 0; extra_data_large [0,100] 100; scratch_large [0,20] 20");
        disks.System!.File!.Href.ShouldBe("disk0.vmdk");
        disks.Data.Select(d => d.File?.Href).ShouldBe(["disk1.vmdk", null, "disk2.vmdk", null]);
    }
}

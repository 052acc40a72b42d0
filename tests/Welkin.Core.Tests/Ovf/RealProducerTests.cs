using Welkin.Contracts;
using Welkin.Core.Catalog;
using Welkin.Core.Ovf;

namespace Welkin.Core.Tests.Ovf;

/// <summary>
/// What descriptors of the corpus written by producers other than VMware map to, beyond the counts
/// CorpusTests compares: deployment options and properties of Cisco appliances, Xen Orchestra's
/// textual InstanceIDs and VM names, image-builder's and coreos-assembler's units and properties,
/// VirtualBox's OVF 2.0 envelope (Data/public/README.md says where each file comes from).
/// </summary>
public sealed class RealProducerTests
{
    private static TemplateSpec Map(string file)
    {
        var read = OvfReader.Read(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Ovf", "Data", "corpus", file)));
        read.IsSuccess.ShouldBeTrue(read.Error?.Detail);
        var mapped = OvfTemplateMapper.ToTemplateSpec(read.Value);
        mapped.IsSuccess.ShouldBeTrue(mapped.Error?.Detail);
        TemplateRules.Validate(mapped.Value).IsValid.ShouldBeTrue();
        OvfPackages.PackageDisks(read.Value).IsSuccess.ShouldBeTrue();
        return mapped.Value;
    }

    private static PropertyDefinition Property(VirtualSystemSpec vs, string key) => (vs.Properties ?? []).Single(p => p.Key == key);

    [Theory]
    [InlineData("cisco-csr1000v.ovf")]
    [InlineData("cisco-csr1000v-2017.ovf")]
    public void Map_CiscoCsr1000v_ChoicesAreItsFourConfigurationsValues_DefaultsThoseOfTheDefaultOne(string file)
    {
        // 1CPU-4GB (default), 2CPU-4GB, 4CPU-4GB, 4CPU-8GB.
        var vs = Map(file).VirtualSystems.ShouldHaveSingleItem();

        vs.Hardware.Vcpus.Allowed.ShouldBe([1, 2, 4]);
        vs.Hardware.Vcpus.Default.ShouldBe(1);
        vs.Hardware.MemoryMiB.Allowed.ShouldBe([4096L, 8192L]);
        vs.Hardware.MemoryMiB.Default.ShouldBe(4096);
    }

    [Fact]
    public void Map_CiscoCsr1000v_PropertiesAreKeyedByClassKeyAndInstance_WithTheirTypesAndDefaults()
    {
        var vs = Map("cisco-csr1000v.ovf").VirtualSystems.ShouldHaveSingleItem();

        var version = Property(vs, "com.cisco.csr1000v.config-version.1");
        version.Type.ShouldBe(PropertyType.String);
        version.Default.ShouldBe("1.0");
        version.UserConfigurable.ShouldBeFalse();
        var ssh = Property(vs, "com.cisco.csr1000v.enable-ssh-server.1");
        ssh.Type.ShouldBe(PropertyType.Boolean);
        ssh.Default.ShouldBe("false");
        ssh.UserConfigurable.ShouldBeTrue();
        Property(vs, "com.cisco.csr1000v.mgmt-interface.1").Default.ShouldBe("GigabitEthernet1");
    }

    [Fact]
    public void Map_CiscoIosv_MemoryChoicesAreItsConfigurations()
    {
        var vs = Map("cisco-iosv.ovf").VirtualSystems.ShouldHaveSingleItem();

        vs.Hardware.Vcpus.Default.ShouldBe(1);
        vs.Hardware.MemoryMiB.Allowed.ShouldBe([384L, 1024L, 3072L]);
        vs.Hardware.MemoryMiB.Default.ShouldBe(384);
    }

    [Fact]
    public void Map_XenOrchestraExport_TextualInstanceIdsAndAVmNameWithSpaces_GiveTheVmsHardware()
    {
        // Xen Orchestra writes InstanceIDs "vmdisk1" and "nic0", Network elements without a Description,
        // and the VM's name label as ovf:id.
        var spec = Map("xen-orchestra-debian12.ovf");

        spec.Name.ShouldBe("Debian Bookworm 12");
        var vs = spec.VirtualSystems.ShouldHaveSingleItem();
        vs.Name.ShouldBe("debian-bookworm-12");
        (vs.Hardware.Vcpus.Default, vs.Hardware.MemoryMiB.Default, vs.Hardware.DiskGiB.Default).ShouldBe((2, 2048L, 10L));
    }

    [Fact]
    public void Map_ImageBuilderOva_DiskInMebibytes_AndItsBuildFactsAsFixedProperties()
    {
        var vs = Map("image-builder-ubuntu-2204.ovf").VirtualSystems.ShouldHaveSingleItem();

        vs.Name.ShouldBe("ubuntu-2204-kube-v1.31.4");
        (vs.Hardware.Vcpus.Default, vs.Hardware.MemoryMiB.Default, vs.Hardware.DiskGiB.Default).ShouldBe((2, 2048L, 20L)); // 20480 × 2^20 bytes
        var kubernetes = Property(vs, "KUBERNETES_SEMVER");
        kubernetes.Default.ShouldBe("v1.31.4");
        (vs.Properties ?? []).ShouldAllBe(p => !p.UserConfigurable);
    }

    [Fact]
    public void Map_CoreosAssemblerVmwareOva_DiskInBytes_AndItsIgnitionPropertiesForTheUser()
    {
        var vs = Map("coreos-assembler-vmware.ovf").VirtualSystems.ShouldHaveSingleItem();

        (vs.Hardware.Vcpus.Default, vs.Hardware.MemoryMiB.Default, vs.Hardware.DiskGiB.Default).ShouldBe((2, 4096L, 10L));
        var ignition = Property(vs, "guestinfo.ignition.config.data");
        ignition.Type.ShouldBe(PropertyType.String);
        ignition.UserConfigurable.ShouldBeTrue();
        Property(vs, "guestinfo.ignition.config.data.encoding").UserConfigurable.ShouldBeTrue();
    }

    [Fact]
    public void Map_VirtualBoxOvf20Export_IsReadInTheOvf2Namespace()
    {
        var vs = Map("virtualbox-ovf20-ubuntu.ovf").VirtualSystems.ShouldHaveSingleItem();

        vs.Name.ShouldBe("ubuntu");
        (vs.Hardware.Vcpus.Default, vs.Hardware.MemoryMiB.Default, vs.Hardware.DiskGiB.Default).ShouldBe((1, 512L, 8L));
    }
}

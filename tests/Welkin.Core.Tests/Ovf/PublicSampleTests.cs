using Welkin.Core.Catalog;
using Welkin.Core.Ovf;

namespace Welkin.Core.Tests.Ovf;

/// <summary>Descriptors written by real tools (VirtualBox, VMware ovftool, vCloud Director); Data/public/README.md says where each comes from.</summary>
public sealed class PublicSampleTests
{
    public static TheoryData<string> Samples() => new(Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Ovf", "Data", "public"), "*.ovf").Select(Path.GetFileName)!);

    [Theory]
    [MemberData(nameof(Samples))]
    public void ReadAndMap_PublicSample_GivesAValidTemplate(string file)
    {
        var read = OvfReader.Read(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Ovf", "Data", "public", file)));
        read.IsSuccess.ShouldBeTrue(read.Error?.Detail);

        var mapped = OvfTemplateMapper.ToTemplateSpec(read.Value);

        mapped.IsSuccess.ShouldBeTrue(mapped.Error?.Detail);
        TemplateRules.Validate(mapped.Value).IsValid.ShouldBeTrue();
        mapped.Value.VirtualSystems.Count.ShouldBe(read.Value.Content is OvfVirtualSystemCollection c ? c.VirtualSystems().Count() : 1);
        mapped.Value.VirtualSystems.ShouldAllBe(vs => vs.Hardware.Vcpus.Default >= 1 && vs.Hardware.MemoryMiB.Default >= 64);
    }
}

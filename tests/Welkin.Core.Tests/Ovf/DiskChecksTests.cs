using Welkin.Contracts;
using Welkin.Core.Ovf;
using Welkin.Testing;
using Welkin.Testing.Images;

namespace Welkin.Core.Tests.Ovf;

/// <summary>Disk checks on files made by the real qemu-img.</summary>
public sealed class DiskChecksTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("welkin-disk-checks-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Make(string name, params string[] args)
    {
        var path = Path.Combine(_dir, name);
        ExternalTools.QemuImg([.. args.Select(a => a.Replace("{path}", path, StringComparison.Ordinal).Replace("{dir}", _dir, StringComparison.Ordinal))]);
        return path;
    }

    private static byte[] Head(string path)
    {
        var head = new byte[DiskChecks.HeadLength];
        using var file = File.OpenRead(path);
        var n = file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        return head[..n];
    }

    private static byte[] Tail(string path)
    {
        var bytes = File.ReadAllBytes(path);
        return bytes.Length >= 1024 ? bytes[^512..] : [];
    }

    private static Welkin.Core.Common.Result<DiskFormat> Classify(string path) => DiskChecks.Classify(Path.GetFileName(path), Head(path), Tail(path));

    [Fact]
    public void Classify_PlainQcow2_IsQcow2()
    {
        var path = Make("a.qcow2", "create", "-f", "qcow2", "{path}", "1M");

        Classify(path).Value.ShouldBe(DiskFormat.Qcow2);
    }

    [Fact]
    public void Classify_Qcow2WithBackingFile_IsRefusedFromTheHeader()
    {
        var raw = Make("base.raw", "create", "-f", "raw", "{path}", "1M");
        var path = Make("b.qcow2", "create", "-f", "qcow2", "-b", raw, "-F", "raw", "{path}");

        Classify(path).Error!.Detail.ShouldContain("backing file");
    }

    [Fact]
    public void Classify_Qcow2WithExternalDataFile_IsRefusedFromTheHeader()
    {
        var path = Make("c.qcow2", "create", "-f", "qcow2", "-o", "data_file={dir}/c.data", "{path}", "1M");

        Classify(path).Error!.Detail.ShouldContain("external data file");
    }

    [Theory]
    [InlineData("monolithicFlat")]
    [InlineData("twoGbMaxExtentSparse")]
    public void Classify_VmdkDescriptorNamingExtents_IsRefused(string subformat)
    {
        var path = Make("d.vmdk", "create", "-f", "vmdk", "-o", "subformat=" + subformat, "{path}", "1M");

        Classify(path).Error!.Code.ShouldBe("ovf-disk-refused");
    }

    [Theory]
    [InlineData("monolithicSparse")]
    [InlineData("streamOptimized")]
    public async Task ClassifyAndVerify_SelfContainedVmdk_IsAccepted(string subformat)
    {
        var path = Make("e.vmdk", "create", "-f", "vmdk", "-o", "subformat=" + subformat, "{path}", "1M");

        Classify(path).Value.ShouldBe(DiskFormat.Vmdk);
        var info = await new QemuImg(new QemuImgOptions()).InfoAsync(path, ImageFormat.Vmdk, TestContext.Current.CancellationToken);
        DiskChecks.Verify("e.vmdk", path, info.Value, 1L << 30).ShouldBeNull();
        info.Value.VirtualSize.ShouldBe(1L << 20);
    }

    [Fact]
    public async Task Verify_WhenVirtualSizeOverTheLimit_IsTooLarge()
    {
        var path = Make("f.qcow2", "create", "-f", "qcow2", "{path}", "2M");
        var info = await new QemuImg(new QemuImgOptions()).InfoAsync(path, ImageFormat.Qcow2, TestContext.Current.CancellationToken);

        DiskChecks.Verify("f.qcow2", path, info.Value, 1L << 20)!.Kind.ShouldBe(Welkin.Core.Common.ErrorKind.PayloadTooLarge);
    }

    [Fact]
    public async Task Run_WhenTheTimeoutHasPassed_StopsQemuImgAndSaysSo()
    {
        // A zero timeout has expired before qemu-img can finish: deterministic, no clock involved.
        var path = Make("g.qcow2", "create", "-f", "qcow2", "{path}", "1M");
        var qemuImg = new QemuImg(new QemuImgOptions { InfoTimeout = TimeSpan.Zero });

        var info = await qemuImg.InfoAsync(path, ImageFormat.Qcow2, TestContext.Current.CancellationToken);

        info.Error!.Code.ShouldBe("disk-timeout");
    }

    [Theory]
    [InlineData("vpc", "dynamic", DiskFormat.Vpc)]
    [InlineData("vpc", "fixed", DiskFormat.Vpc)]
    [InlineData("vhdx", "dynamic", DiskFormat.Vhdx)]
    [InlineData("vhdx", "fixed", DiskFormat.Vhdx)]
    public async Task ClassifyAndVerify_VhdAndVhdx_AreTheirFormatNeverRaw(string format, string subformat, DiskFormat expected)
    {
        var path = Make($"h-{format}-{subformat}.img", "create", "-f", format, "-o", $"subformat={subformat}", "{path}", "2M");

        Classify(path).Value.ShouldBe(expected);
        var info = await new QemuImg(new QemuImgOptions()).InfoAsync(path, expected, TestContext.Current.CancellationToken);
        DiskChecks.Verify("h", path, info.Value, 1L << 30).ShouldBeNull();
        info.Value.Format.ShouldBe(format);
    }

    [Fact]
    public void Classify_FixedVhdWithTheOld511ByteFooter_IsVhd()
    {
        // Virtual PC before 2004 wrote the footer without its last (reserved, zero) byte.
        var path = Make("j.vhd", "create", "-f", "vpc", "-o", "subformat=fixed", "{path}", "2M");
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^1]);

        Classify(path).Value.ShouldBe(DiskFormat.Vpc);
    }

    [Fact]
    public void Classify_DynamicVhdCutShort_IsRefusedAsTruncated()
    {
        var path = Make("k.vhd", "create", "-f", "vpc", "-o", "subformat=dynamic", "{path}", "8M");
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^600]);

        var error = Classify(path).Error!;

        error.Code.ShouldBe("ovf-disk-refused");
        error.Detail.ShouldContain("cut short");
    }

    [Fact]
    public void Classify_DifferencingVhd_IsRefusedNamingItsParent()
    {
        var path = Make("l.vhd", "create", "-f", "vpc", "-o", "subformat=dynamic", "{path}", "2M");
        File.WriteAllBytes(path, VhdFiles.Differencing(File.ReadAllBytes(path), "parent.vhd"));

        var error = Classify(path).Error!;

        error.Code.ShouldBe("ovf-disk-refused");
        error.Detail.ShouldContain("differencing VHD");
    }

    [Fact]
    public async Task CheckVhdx_WithAParent_IsRefused_AndWithoutOne_Passes()
    {
        var path = Make("m.vhdx", "create", "-f", "vhdx", "{path}", "2M");
        var differencing = Path.Combine(_dir, "m-child.vhdx");
        File.WriteAllBytes(differencing, VhdFiles.DifferencingVhdx(File.ReadAllBytes(path)));

        await using (var plain = File.OpenRead(path))
        {
            (await DiskChecks.CheckVhdxAsync("m.vhdx", plain, TestContext.Current.CancellationToken)).ShouldBeNull();
        }
        await using var child = File.OpenRead(differencing);
        var error = (await DiskChecks.CheckVhdxAsync("m-child.vhdx", child, TestContext.Current.CancellationToken))!;
        error.Code.ShouldBe("ovf-disk-refused");
        error.Detail.ShouldContain("differencing VHDX");
    }

    [Fact]
    public void Classify_RawDisk_IsRaw()
    {
        var path = Make("i.raw", "create", "-f", "raw", "{path}", "2M");

        Classify(path).Value.ShouldBe(DiskFormat.Raw);
    }
}

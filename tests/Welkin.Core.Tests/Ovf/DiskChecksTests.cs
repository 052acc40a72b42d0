using Welkin.Contracts;
using Welkin.Core.Ovf;
using Welkin.Testing;

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
        var head = new byte[512];
        using var file = File.OpenRead(path);
        var n = file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        return head[..n];
    }

    [Fact]
    public void Classify_PlainQcow2_IsQcow2()
    {
        var path = Make("a.qcow2", "create", "-f", "qcow2", "{path}", "1M");

        DiskChecks.Classify("a.qcow2", Head(path)).Value.ShouldBe(ImageFormat.Qcow2);
    }

    [Fact]
    public void Classify_Qcow2WithBackingFile_IsRefusedFromTheHeader()
    {
        var raw = Make("base.raw", "create", "-f", "raw", "{path}", "1M");
        var path = Make("b.qcow2", "create", "-f", "qcow2", "-b", raw, "-F", "raw", "{path}");

        DiskChecks.Classify("b.qcow2", Head(path)).Error!.Detail.ShouldContain("backing file");
    }

    [Fact]
    public void Classify_Qcow2WithExternalDataFile_IsRefusedFromTheHeader()
    {
        var path = Make("c.qcow2", "create", "-f", "qcow2", "-o", "data_file={dir}/c.data", "{path}", "1M");

        DiskChecks.Classify("c.qcow2", Head(path)).Error!.Detail.ShouldContain("external data file");
    }

    [Theory]
    [InlineData("monolithicFlat")]
    [InlineData("twoGbMaxExtentSparse")]
    public void Classify_VmdkDescriptorNamingExtents_IsRefused(string subformat)
    {
        var path = Make("d.vmdk", "create", "-f", "vmdk", "-o", "subformat=" + subformat, "{path}", "1M");

        DiskChecks.Classify("d.vmdk", Head(path)).Error!.Code.ShouldBe("ovf-disk-refused");
    }

    [Theory]
    [InlineData("monolithicSparse")]
    [InlineData("streamOptimized")]
    public async Task ClassifyAndVerify_SelfContainedVmdk_IsAccepted(string subformat)
    {
        var path = Make("e.vmdk", "create", "-f", "vmdk", "-o", "subformat=" + subformat, "{path}", "1M");

        DiskChecks.Classify("e.vmdk", Head(path)).Value.ShouldBe(ImageFormat.Vmdk);
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
    [InlineData("vpc", "dynamic", "VHD")]
    [InlineData("vpc", "fixed", "VHD")]
    [InlineData("vhdx", "dynamic", "VHDX")]
    public void Classify_VhdAndVhdx_AreRefusedNeverTakenForRaw(string format, string subformat, string named)
    {
        var path = Make($"h-{format}-{subformat}.img", "create", "-f", format, "-o", $"subformat={subformat}", "{path}", "2M");
        var bytes = File.ReadAllBytes(path);

        var classified = DiskChecks.Classify("h", Head(path));
        var error = classified.IsSuccess ? DiskChecks.CheckTail("h", bytes.AsSpan(bytes.Length - 512)) : classified.Error;

        error.ShouldNotBeNull();
        error.Code.ShouldBe("ovf-disk-refused");
        error.Detail.ShouldContain($"a {named} ");
        if (subformat == "fixed")
        {
            classified.Value.ShouldBe(ImageFormat.Raw); // its first bytes are the guest's: only the footer tells
        }
    }

    [Fact]
    public void CheckTail_RawDisk_IsNotRefused()
    {
        var path = Make("i.raw", "create", "-f", "raw", "{path}", "2M");
        var bytes = File.ReadAllBytes(path);

        DiskChecks.CheckTail("i.raw", bytes.AsSpan(bytes.Length - 512)).ShouldBeNull();
    }
}

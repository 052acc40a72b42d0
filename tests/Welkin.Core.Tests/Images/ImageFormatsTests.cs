using System.Text;
using Welkin.Contracts;
using Welkin.Core.Catalog.Images;
using Welkin.Testing.Images;

namespace Welkin.Core.Tests.Images;

public sealed class ImageFormatsTests
{
    [Fact]
    public void Detect_WhenQcow2Header_ReturnsQcow2() =>
        ImageFormats.Detect(DiskHeaders.Qcow2(64L << 20).AsSpan(0, BlobHead.Length)).ShouldBe(ImageFormat.Qcow2);

    [Fact]
    public void Detect_WhenQcow2Version2Header_ReturnsQcow2()
    {
        var head = DiskHeaders.Qcow2(1L << 30, 512);
        head[7] = 2;
        ImageFormats.Detect(head).ShouldBe(ImageFormat.Qcow2);
    }

    [Fact]
    public void Detect_WhenLegacyQcowVersion1_ReturnsRaw()
    {
        var head = DiskHeaders.Qcow2(1L << 30, 512);
        head[7] = 1;
        ImageFormats.Detect(head).ShouldBe(ImageFormat.Raw);
    }

    [Fact]
    public void Detect_WhenVmdkSparseExtent_ReturnsVmdk() =>
        ImageFormats.Detect(DiskHeaders.VmdkSparse(131_072).AsSpan(0, BlobHead.Length)).ShouldBe(ImageFormat.Vmdk);

    [Fact]
    public void Detect_WhenVmdkTextDescriptor_ReturnsVmdk() =>
        ImageFormats.Detect(DiskHeaders.VmdkDescriptor(2048)).ShouldBe(ImageFormat.Vmdk);

    [Fact]
    public void Detect_WhenBootSectorOrText_ReturnsRaw()
    {
        ImageFormats.Detect(DiskHeaders.Raw(512, 1)).ShouldBe(ImageFormat.Raw);
        ImageFormats.Detect(Encoding.ASCII.GetBytes("# Disk Descriptor, but not VMDK's")).ShouldBe(ImageFormat.Raw);
    }

    [Fact]
    public void Detect_WhenShorterThanAnyMagic_ReturnsRaw()
    {
        ImageFormats.Detect([]).ShouldBe(ImageFormat.Raw);
        ImageFormats.Detect("QFI"u8).ShouldBe(ImageFormat.Raw);
        ImageFormats.Detect("KDM"u8).ShouldBe(ImageFormat.Raw);
    }

    [Fact]
    public void Detect_WhenMagicIsNotAtTheStart_ReturnsRaw()
    {
        var head = new byte[512];
        DiskHeaders.Qcow2(64L << 20, 256).CopyTo(head, 1);
        ImageFormats.Detect(head).ShouldBe(ImageFormat.Raw);
    }
}

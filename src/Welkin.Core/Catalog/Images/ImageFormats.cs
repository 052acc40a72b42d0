using System.Buffers.Binary;
using Welkin.Contracts;

namespace Welkin.Core.Catalog.Images;

/// <summary>
/// Tells a disk image's format from its first bytes. The format is decided once, at upload, and
/// recorded, so that drivers pass it explicitly: probing the format of a raw disk a guest has
/// written to lets the guest pose as qcow2 with a host file as backing file (CVE-2008-2004).
/// </summary>
public static class ImageFormats
{
    private static ReadOnlySpan<byte> Qcow2Magic => [(byte)'Q', (byte)'F', (byte)'I', 0xfb];

    // VMDK 5.0 "Hosted Sparse Extent Header": magicNumber 0x564d444b ('VMDK'), stored little-endian.
    private const uint VmdkSparseMagic = 0x564d444b;

    private static ReadOnlySpan<byte> VmdkDescriptor => "# Disk DescriptorFile"u8;

    public static ImageFormat Detect(ReadOnlySpan<byte> head)
    {
        // qcow2 (docs/interop/qcow2.txt): magic "QFI\xfb", then a big-endian version, 2 or 3.
        // Version 1 is the older qcow format, which Welkin does not offer.
        if (head.Length >= 8 && head.StartsWith(Qcow2Magic) && BinaryPrimitives.ReadUInt32BigEndian(head[4..]) is 2 or 3)
        {
            return ImageFormat.Qcow2;
        }
        if (head.Length >= 4 && BinaryPrimitives.ReadUInt32LittleEndian(head) == VmdkSparseMagic)
        {
            return ImageFormat.Vmdk;
        }
        if (head.StartsWith(VmdkDescriptor))
        {
            return ImageFormat.Vmdk;
        }
        return ImageFormat.Raw;
    }

    // Virtual Hard Disk Image Format Specification (Microsoft, 2006): every VHD ends with a 512-byte
    // footer, cookie "conectix" (511 bytes before Virtual PC 2004); a dynamic or differencing VHD
    // also starts with a copy of it. VHDX (MS-VHDX 2.2.1) starts with its file type identifier.
    private static ReadOnlySpan<byte> VhdCookie => "conectix"u8;

    public static bool IsDynamicVhd(ReadOnlySpan<byte> head) => head.StartsWith(VhdCookie);

    public static bool IsVhdx(ReadOnlySpan<byte> head) => head.StartsWith("vhdxfile"u8);

    /// <summary>Where a VHD footer starts in a disk's last 512 bytes (0, or 1 for the 511-byte footer), or -1 when there is none.</summary>
    public static int VhdFooterAt(ReadOnlySpan<byte> tail) =>
        tail.Length < 512 ? -1 : tail.StartsWith(VhdCookie) ? 0 : tail[1..].StartsWith(VhdCookie) ? 1 : -1;

    /// <summary>
    /// "VHD" or "VHDX" when the disk is one, from its first and last 512 bytes, else null. Welkin
    /// converts such disks where it converts disks (OVF packages, account images) and stores neither.
    /// </summary>
    public static string? ConvertOnly(ReadOnlySpan<byte> head, ReadOnlySpan<byte> tail) =>
        IsVhdx(head) ? "VHDX" : IsDynamicVhd(head) || VhdFooterAt(tail) >= 0 ? "VHD" : null;

    /// <summary>The file name extension downloads carry.</summary>
    public static string Extension(ImageFormat format) => format switch
    {
        ImageFormat.Qcow2 => "qcow2",
        ImageFormat.Vmdk => "vmdk",
        _ => "raw",
    };
}

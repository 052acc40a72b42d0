using System.Buffers.Binary;
using System.Text;

namespace Welkin.Testing.Images;

/// <summary>
/// VHD files qemu-img cannot write, made from ones it can, field by field after the Virtual Hard
/// Disk Image Format Specification (Microsoft, 2006).
/// </summary>
public static class VhdFiles
{
    private const int FooterLength = 512;
    private const int HeaderLength = 1024;

    /// <summary>
    /// A dynamic VHD (as <c>qemu-img create -f vpc -o subformat=dynamic</c> writes it) made into a
    /// differencing one whose parent is <paramref name="parent"/>: disk type 4 in both footers, the
    /// parent's name in the dynamic header and a relative ("W2ru") parent locator whose data, the
    /// name in UTF-16LE, sits before the closing footer; checksums recomputed. qemu-img can read
    /// such disks but cannot create them.
    /// </summary>
    public static byte[] Differencing(byte[] dynamicVhd, string parent)
    {
        var body = dynamicVhd[..^FooterLength];
        var footer = dynamicVhd[..FooterLength];
        BinaryPrimitives.WriteUInt32BigEndian(footer.AsSpan(60), 4);
        Checksum(footer, 64);

        var locator = new byte[FooterLength];
        var relative = Encoding.Unicode.GetBytes(".\\" + parent);
        relative.CopyTo(locator, 0);
        var locatorOffset = body.Length;

        var headerOffset = (int)BinaryPrimitives.ReadUInt64BigEndian(footer.AsSpan(16));
        var header = body.AsSpan(headerOffset, HeaderLength);
        Guid.NewGuid().TryWriteBytes(header[40..56]);                                  // parent unique id
        Encoding.BigEndianUnicode.GetBytes(parent).CopyTo(header[64..]);               // parent unicode name
        BinaryPrimitives.WriteUInt32BigEndian(header[576..], 0x57327275);               // "W2ru": relative Windows path
        BinaryPrimitives.WriteUInt32BigEndian(header[580..], FooterLength);             // platform data space
        BinaryPrimitives.WriteUInt32BigEndian(header[584..], (uint)relative.Length);    // platform data length
        BinaryPrimitives.WriteUInt64BigEndian(header[592..], (ulong)locatorOffset);     // platform data offset
        var headerCopy = header.ToArray();
        Checksum(headerCopy, 36);
        headerCopy.CopyTo(header);

        return [.. footer, .. body[FooterLength..], .. locator, .. footer];
    }

    /// <summary>
    /// A VHDX (as <c>qemu-img create -f vhdx</c> writes it) whose file parameters say HasParent
    /// (MS-VHDX 2.6.2.1), as a differencing disk's do; the metadata region has no checksum to redo.
    /// </summary>
    public static byte[] DifferencingVhdx(byte[] vhdx)
    {
        var b = vhdx.ToArray();
        const int regions = 192 * 1024;
        var metadataRegion = new Guid("8B7CA206-4790-4B9A-B8FE-575F050F886E");
        var fileParameters = new Guid("CAA16737-FA36-4D43-B3B6-33F0AA44E76B");
        var count = BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(regions + 8));
        var metadata = Enumerable.Range(0, count).Select(i => regions + 16 + (32 * i))
            .Where(e => new Guid(b.AsSpan(e, 16)) == metadataRegion)
            .Select(e => (int)BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(e + 16))).Single();
        var items = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(metadata + 10));
        var parameters = Enumerable.Range(0, items).Select(i => metadata + 32 + (32 * i))
            .Where(e => new Guid(b.AsSpan(e, 16)) == fileParameters)
            .Select(e => metadata + BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(e + 16))).Single();
        var flags = BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(parameters + 4));
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(parameters + 4), flags | 2);
        return b;
    }

    // "One's complement of the sum of all the bytes" of the structure, its checksum field taken as zero.
    private static void Checksum(byte[] structure, int at)
    {
        BinaryPrimitives.WriteUInt32BigEndian(structure.AsSpan(at), 0);
        uint sum = 0;
        foreach (var b in structure)
        {
            sum += b;
        }
        BinaryPrimitives.WriteUInt32BigEndian(structure.AsSpan(at), ~sum);
    }
}

using System.Buffers.Binary;
using System.Text;

namespace Welkin.Testing.Images;

/// <summary>
/// The first bytes of real disk images, built field by field from the published formats (they
/// equal what <c>qemu-img create</c> writes for the same sizes), so tests need no QEMU.
/// </summary>
public static class DiskHeaders
{
    /// <summary>A qcow2 version 3 header (docs/interop/qcow2.txt) with 64 KiB clusters, followed by zeros up to <paramref name="length"/>.</summary>
    public static byte[] Qcow2(long virtualSize, int length = 196_616)
    {
        var b = new byte[length];
        var s = b.AsSpan();
        "QFI"u8.CopyTo(s);
        s[3] = 0xfb;
        BinaryPrimitives.WriteUInt32BigEndian(s[4..], 3);           // version
        BinaryPrimitives.WriteUInt64BigEndian(s[8..], 0);           // backing_file_offset
        BinaryPrimitives.WriteUInt32BigEndian(s[16..], 0);          // backing_file_size
        BinaryPrimitives.WriteUInt32BigEndian(s[20..], 16);         // cluster_bits
        BinaryPrimitives.WriteUInt64BigEndian(s[24..], (ulong)virtualSize);
        BinaryPrimitives.WriteUInt32BigEndian(s[32..], 0);          // crypt_method
        var perL2 = 65536L / 8 * 65536;
        BinaryPrimitives.WriteUInt32BigEndian(s[36..], (uint)((virtualSize + perL2 - 1) / perL2)); // l1_size
        BinaryPrimitives.WriteUInt64BigEndian(s[40..], 0x30000);    // l1_table_offset
        BinaryPrimitives.WriteUInt64BigEndian(s[48..], 0x10000);    // refcount_table_offset
        BinaryPrimitives.WriteUInt32BigEndian(s[56..], 1);          // refcount_table_clusters
        BinaryPrimitives.WriteUInt32BigEndian(s[60..], 0);          // nb_snapshots
        BinaryPrimitives.WriteUInt64BigEndian(s[64..], 0);          // snapshots_offset
        BinaryPrimitives.WriteUInt64BigEndian(s[72..], 0);          // incompatible_features
        BinaryPrimitives.WriteUInt64BigEndian(s[80..], 0);          // compatible_features
        BinaryPrimitives.WriteUInt64BigEndian(s[88..], 0);          // autoclear_features
        BinaryPrimitives.WriteUInt32BigEndian(s[96..], 4);          // refcount_order
        BinaryPrimitives.WriteUInt32BigEndian(s[100..], 112);       // header_length
        return b;
    }

    /// <summary>
    /// A VMDK hosted sparse extent (VMware Virtual Disk Format 5.0, SparseExtentHeader, little-endian)
    /// with its embedded descriptor in sector 1, followed by zeros up to <paramref name="length"/>.
    /// </summary>
    public static byte[] VmdkSparse(long capacitySectors, int length = 65_536)
    {
        var b = new byte[length];
        var s = b.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(s, 0x564d444b);    // magicNumber 'VMDK'
        BinaryPrimitives.WriteUInt32LittleEndian(s[4..], 1);        // version
        BinaryPrimitives.WriteUInt32LittleEndian(s[8..], 3);        // flags: valid newline test, redundant grain table
        BinaryPrimitives.WriteUInt64LittleEndian(s[12..], (ulong)capacitySectors);
        BinaryPrimitives.WriteUInt64LittleEndian(s[20..], 128);     // grainSize (sectors)
        BinaryPrimitives.WriteUInt64LittleEndian(s[28..], 1);       // descriptorOffset
        BinaryPrimitives.WriteUInt64LittleEndian(s[36..], 20);      // descriptorSize
        BinaryPrimitives.WriteUInt32LittleEndian(s[44..], 512);     // numGTEsPerGT
        BinaryPrimitives.WriteUInt64LittleEndian(s[48..], 21);      // rgdOffset
        BinaryPrimitives.WriteUInt64LittleEndian(s[56..], 30);      // gdOffset
        BinaryPrimitives.WriteUInt64LittleEndian(s[64..], 128);     // overHead
        s[72] = 0;                                                  // uncleanShutdown
        s[73] = (byte)'\n';                                         // singleEndLineChar
        s[74] = (byte)' ';                                          // nonEndLineChar
        s[75] = (byte)'\r';                                         // doubleEndLineChar1
        s[76] = (byte)'\n';                                         // doubleEndLineChar2
        Encoding.ASCII.GetBytes(Descriptor("monolithicSparse", $"RW {capacitySectors} SPARSE \"disk.vmdk\"")).CopyTo(s[512..]);
        return b;
    }

    /// <summary>A VMDK text descriptor, as for a monolithicFlat disk whose data sits in a separate extent file.</summary>
    public static byte[] VmdkDescriptor(long capacitySectors) =>
        Encoding.ASCII.GetBytes(Descriptor("monolithicFlat", $"RW {capacitySectors} FLAT \"disk-flat.vmdk\" 0"));

    private static string Descriptor(string createType, string extent) =>
        $"""
        # Disk DescriptorFile
        version=1
        CID=de7dabc
        parentCID=ffffffff
        createType="{createType}"

        # Extent description
        {extent}

        # The Disk Data Base
        #DDB

        ddb.virtualHWVersion = "4"
        ddb.geometry.cylinders = "2"
        ddb.geometry.heads = "16"
        ddb.geometry.sectors = "63"
        ddb.adapterType = "ide"

        """.ReplaceLineEndings("\n");

    /// <summary>Pseudo-random bytes that match no image magic.</summary>
    public static byte[] Raw(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        b[0] = 0xeb; // an x86 boot sector's jump, as raw disks begin
        return b;
    }
}

using System.Buffers.Binary;
using System.Diagnostics;
using System.Text.Json;
using Welkin.Contracts;
using Welkin.Core.Catalog.Images;
using Welkin.Core.Common;

namespace Welkin.Core.Ovf;

public sealed class QemuImgOptions
{
    public string Path { get; init; } = "qemu-img";

    /// <summary>For <c>info</c> and <c>compare</c>-like quick calls.</summary>
    public TimeSpan InfoTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>For <c>convert</c>: large disks take minutes.</summary>
    public TimeSpan ConvertTimeout { get; init; } = TimeSpan.FromMinutes(30);
}

/// <summary>
/// The format of a disk file from outside, as qemu-img is told it with <c>-f</c>. Wider than
/// <see cref="ImageFormat"/>, the formats Welkin stores: VHD (qemu-img's <c>vpc</c>) and VHDX disks
/// are only ever read, to be converted.
/// </summary>
public enum DiskFormat
{
    Raw,
    Qcow2,
    Vmdk,
    Vpc,
    Vhdx,
}

/// <summary>What <c>qemu-img info --output=json</c> says of a disk that matters for import.</summary>
public sealed record DiskInfo(string Format, long VirtualSize, long ActualSize, string? BackingFile, string? DataFile, IReadOnlyList<string> Extents);

/// <summary>
/// Runs qemu-img on disks that come from users. The format is always given with <c>-f</c>:
/// letting qemu-img probe lets a raw disk pose as qcow2 with a host file as its backing file
/// (CVE-2008-2004). Every run has a timeout, after which the process is killed.
/// </summary>
public sealed class QemuImg(QemuImgOptions options)
{
    public Task<Result<DiskInfo>> InfoAsync(string path, ImageFormat format, CancellationToken ct) => InfoAsync(path, Of(format), ct);

    public async Task<Result<DiskInfo>> InfoAsync(string path, DiskFormat format, CancellationToken ct)
    {
        var run = await RunAsync(["info", "--output=json", "-f", Name(format), path], options.InfoTimeout, ct);
        if (!run.IsSuccess)
        {
            return run.Error!;
        }
        try
        {
            using var json = JsonDocument.Parse(run.Value);
            var root = json.RootElement;
            string? Str(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            long Num(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt64() : 0;
            var extents = new List<string>();
            string? dataFile = null;
            if (root.TryGetProperty("format-specific", out var specific) && specific.TryGetProperty("data", out var data))
            {
                dataFile = Str(data, "data-file");
                if (data.TryGetProperty("extents", out var list) && list.ValueKind == JsonValueKind.Array)
                {
                    extents.AddRange(list.EnumerateArray().Select(x => Str(x, "filename") ?? ""));
                }
            }
            return new DiskInfo(Str(root, "format") ?? "", Num(root, "virtual-size"), Num(root, "actual-size"),
                Str(root, "backing-filename") ?? Str(root, "full-backing-filename"), dataFile, extents);
        }
        catch (JsonException)
        {
            return OvfErrors.BadDisk(System.IO.Path.GetFileName(path), "qemu-img could not describe it");
        }
    }

    /// <summary>Converts <paramref name="source"/> to <paramref name="target"/>; <paramref name="outputOptions"/> go to <c>-o</c>.</summary>
    public Task<Result<bool>> ConvertAsync(string source, ImageFormat from, string target, string to, string? outputOptions, CancellationToken ct) =>
        ConvertAsync(source, Of(from), target, to, outputOptions, ct);

    /// <summary>Converts <paramref name="source"/> to <paramref name="target"/>; <paramref name="outputOptions"/> go to <c>-o</c>.</summary>
    public async Task<Result<bool>> ConvertAsync(string source, DiskFormat from, string target, string to, string? outputOptions, CancellationToken ct)
    {
        List<string> args = ["convert", "-f", Name(from), "-O", to];
        if (outputOptions is not null)
        {
            args.AddRange(["-o", outputOptions]);
        }
        args.AddRange([source, target]);
        var run = await RunAsync(args, options.ConvertTimeout, ct);
        return run.IsSuccess ? true : run.Error!;
    }

    public static DiskFormat Of(ImageFormat format) => format switch
    {
        ImageFormat.Qcow2 => DiskFormat.Qcow2,
        ImageFormat.Vmdk => DiskFormat.Vmdk,
        _ => DiskFormat.Raw,
    };

    public static string Name(DiskFormat format) => format switch
    {
        DiskFormat.Qcow2 => "qcow2",
        DiskFormat.Vmdk => "vmdk",
        DiskFormat.Vpc => "vpc",
        DiskFormat.Vhdx => "vhdx",
        _ => "raw",
    };

    private async Task<Result<string>> RunAsync(IReadOnlyList<string> args, TimeSpan timeout, CancellationToken ct)
    {
        var start = new ProcessStartInfo(options.Path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException("qemu-img did not start.");
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        if (timeout > TimeSpan.Zero)
        {
            limit.CancelAfter(timeout);
        }
        else
        {
            limit.Cancel();
        }
        var stdout = process.StandardOutput.ReadToEndAsync(limit.Token);
        var stderr = process.StandardError.ReadToEndAsync(limit.Token);
        try
        {
            await process.WaitForExitAsync(limit.Token);
            var output = await stdout;
            var errors = await stderr;
            if (process.ExitCode != 0)
            {
                // Name the files as the user knows them, not where this host keeps them.
                foreach (var file in args.Where(System.IO.Path.IsPathRooted))
                {
                    errors = errors.Replace(file, System.IO.Path.GetFileName(file), StringComparison.Ordinal);
                }
                return new Error("disk-unreadable", ErrorKind.Validation,
                    $"qemu-img {args[0]} failed: {Clip(errors.Trim())}");
            }
            return output;
        }
        catch (OperationCanceledException)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Exited meanwhile.
            }
            await process.WaitForExitAsync(CancellationToken.None);
            ct.ThrowIfCancellationRequested();
            return new Error("disk-timeout", ErrorKind.Validation, $"qemu-img {args[0]} took longer than {timeout.TotalSeconds:0} s and was stopped.");
        }
    }

    // Keep qemu-img's last two lines (the cause, such as a truncated VHDX's, often comes before the
    // final "Could not open") and no more than a line's worth.
    private static string Clip(string s)
    {
        var lines = s.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var kept = string.Join(" ", lines.TakeLast(2));
        return kept.Length <= 300 ? kept : kept[..300] + "…";
    }
}

/// <summary>
/// Checks on a disk file from a package before qemu-img opens it for conversion: only formats
/// whose every byte is in the one file are accepted, so a disk cannot make qemu-img read other
/// files of the host.
/// </summary>
public static class DiskChecks
{
    private static ReadOnlySpan<byte> Qcow2Magic => [(byte)'Q', (byte)'F', (byte)'I', 0xfb];

    private static ReadOnlySpan<byte> VmdkSparseMagic => "KDMV"u8;


    /// <summary>How many first bytes of a disk <see cref="Classify"/> looks at: a dynamic VHD's header follows its first 512.</summary>
    public const int HeadLength = 4096;

    /// <summary>
    /// The disk's format from its first bytes (<see cref="HeadLength"/> or fewer) and its last 512
    /// (empty when the disk is shorter than 1 KiB), or an error for a disk Welkin refuses.
    /// </summary>
    public static Result<DiskFormat> Classify(string name, ReadOnlySpan<byte> head, ReadOnlySpan<byte> tail)
    {
        if (head.StartsWith(Qcow2Magic))
        {
            if (head.Length < 104 || BinaryPrimitives.ReadUInt32BigEndian(head[4..]) is not (2 or 3))
            {
                return OvfErrors.BadDisk(name, "it is a qcow2 file of an unknown version");
            }
            // qcow2 header (docs/interop/qcow2.txt): backing_file_offset at 8; incompatible_features at 72, bit 2 = external data file.
            if (BinaryPrimitives.ReadUInt64BigEndian(head[8..]) != 0)
            {
                return OvfErrors.BadDisk(name, "a qcow2 disk with a backing file is not self-contained");
            }
            if (BinaryPrimitives.ReadUInt32BigEndian(head[4..]) == 3 && (BinaryPrimitives.ReadUInt64BigEndian(head[72..]) & 4) != 0)
            {
                return OvfErrors.BadDisk(name, "a qcow2 disk with an external data file is not self-contained");
            }
            return DiskFormat.Qcow2;
        }
        if (head.StartsWith(VmdkSparseMagic))
        {
            // Monolithic sparse and streamOptimized: one file holding its grains and an embedded descriptor.
            return DiskFormat.Vmdk;
        }
        if (head.StartsWith("# Disk DescriptorFile"u8) || head.IndexOf("createType"u8) >= 0)
        {
            return OvfErrors.BadDisk(name, "a VMDK descriptor names extent files; only monolithic sparse or streamOptimized VMDK (one file) is accepted");
        }
        if (head.StartsWith("COWD"u8))
        {
            return OvfErrors.BadDisk(name, "ESX sparse VMDK extents are not accepted");
        }
        // Neither VHD nor VHDX is raw: storing one as raw would hand a guest a disk of headers and block tables.
        if (ImageFormats.IsVhdx(head))
        {
            return DiskFormat.Vhdx;
        }
        if (ImageFormats.IsDynamicVhd(head))
        {
            return DynamicVhd(name, head, tail);
        }
        if (ImageFormats.VhdFooterAt(tail) is >= 0 and var at)
        {
            // A fixed VHD is the guest's bytes then the footer: it opens as raw too, but only vpc leaves the footer out.
            var type = BinaryPrimitives.ReadUInt32BigEndian(tail[(at + VhdDiskType)..]);
            return type == VhdFixed ? DiskFormat.Vpc
                : OvfErrors.BadDisk(name, $"it ends with a VHD footer of disk type {type} but does not start with one; only a fixed VHD (type 2) keeps its footer at the end alone");
        }
        return DiskFormat.Raw;
    }

    // Virtual Hard Disk Image Format Specification (Microsoft, 2006): the footer's disk type (at 60)
    // is 2 fixed, 3 dynamic, 4 differencing; a dynamic disk starts with a copy of its footer, whose
    // data offset (at 16) points to the dynamic disk header ("cxsparse"), which holds eight parent
    // locator entries of 24 bytes from 576, all zero unless the disk has a parent.
    private const int VhdDataOffset = 16;
    private const int VhdDiskType = 60;
    private const uint VhdFixed = 2;
    private const uint VhdDynamic = 3;
    private const uint VhdDifferencing = 4;
    private const int VhdHeaderLength = 1024;
    private const int VhdParentLocators = 576;

    private const string Differencing = "it is a differencing VHD, whose content depends on a parent disk named in its parent locators; only fixed and dynamic VHDs are self-contained";

    private static Result<DiskFormat> DynamicVhd(string name, ReadOnlySpan<byte> head, ReadOnlySpan<byte> tail)
    {
        if (head.Length < 512)
        {
            return OvfErrors.BadDisk(name, "it is a VHD cut short within its first footer");
        }
        var type = BinaryPrimitives.ReadUInt32BigEndian(head[VhdDiskType..]);
        if (type == VhdDifferencing)
        {
            return OvfErrors.BadDisk(name, Differencing);
        }
        if (type != VhdDynamic)
        {
            return OvfErrors.BadDisk(name, $"it starts with a VHD footer of disk type {type}; a VHD that starts with its footer is dynamic (type 3)");
        }
        if (ImageFormats.VhdFooterAt(tail) < 0)
        {
            return OvfErrors.BadDisk(name, "it is a dynamic VHD cut short: the footer that ends every VHD is missing");
        }
        var offset = BinaryPrimitives.ReadUInt64BigEndian(head[VhdDataOffset..]);
        if (offset <= (ulong)(head.Length - VhdHeaderLength))
        {
            var header = head.Slice((int)offset, VhdHeaderLength);
            if (!header.StartsWith("cxsparse"u8))
            {
                return OvfErrors.BadDisk(name, "it is a dynamic VHD without its dynamic disk header ('cxsparse') where its footer says");
            }
            for (var i = 0; i < 8; i++)
            {
                if (BinaryPrimitives.ReadUInt32BigEndian(header[(VhdParentLocators + (24 * i))..]) != 0)
                {
                    return OvfErrors.BadDisk(name, Differencing);
                }
            }
        }
        return DiskFormat.Vpc;
    }

    // MS-VHDX 2.2 and 2.6: the region table at 192 KiB ("regi", then 32-byte entries from 16: GUID,
    // file offset, length, flags) locates the metadata region; its table ("metadata", entry count at
    // 10, 32-byte entries from 32: item GUID, offset in the region) locates the file parameters,
    // whose flags (at 4) have HasParent in bit 1, and a differencing disk's parent locator item.
    private const long VhdxRegionTable = 192 * 1024;
    private static readonly Guid VhdxMetadataRegion = new("8B7CA206-4790-4B9A-B8FE-575F050F886E");
    private static readonly Guid VhdxFileParameters = new("CAA16737-FA36-4D43-B3B6-33F0AA44E76B");
    private static readonly Guid VhdxParentLocator = new("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C");

    /// <summary>
    /// A VHDX with a parent (a differencing disk) refused by name, before qemu-img, which refuses it
    /// without saying why. A VHDX too damaged to tell passes here and is left to qemu-img.
    /// </summary>
    public static async Task<Error?> CheckVhdxAsync(string name, Stream file, CancellationToken ct)
    {
        var regions = await ReadAtAsync(file, VhdxRegionTable, 16 + (32 * 2047), ct);
        if (regions.Length < 16 || !regions.AsSpan().StartsWith("regi"u8))
        {
            return null;
        }
        var count = Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(regions.AsSpan(8)), (uint)((regions.Length - 16) / 32));
        long? metadata = null;
        for (var i = 0; i < count; i++)
        {
            var entry = regions.AsSpan(16 + (32 * i), 32);
            if (new Guid(entry[..16]) == VhdxMetadataRegion)
            {
                metadata = (long)BinaryPrimitives.ReadUInt64LittleEndian(entry[16..]);
            }
        }
        if (metadata is not { } at || at < 0)
        {
            return null;
        }
        var table = await ReadAtAsync(file, at, 64 * 1024, ct);
        if (table.Length < 32 || !table.AsSpan().StartsWith("metadata"u8))
        {
            return null;
        }
        var items = Math.Min(BinaryPrimitives.ReadUInt16LittleEndian(table.AsSpan(10)), (table.Length - 32) / 32);
        for (var i = 0; i < items; i++)
        {
            var entry = table.AsSpan(32 + (32 * i), 32);
            var item = new Guid(entry[..16]);
            if (item == VhdxParentLocator)
            {
                return OvfErrors.BadDisk(name, DifferencingVhdx);
            }
            if (item == VhdxFileParameters)
            {
                var parameters = await ReadAtAsync(file, at + BinaryPrimitives.ReadUInt32LittleEndian(entry[16..]), 8, ct);
                if (parameters.Length == 8 && (BinaryPrimitives.ReadUInt32LittleEndian(parameters.AsSpan(4)) & 2) != 0)
                {
                    return OvfErrors.BadDisk(name, DifferencingVhdx);
                }
            }
        }
        return null;
    }

    private const string DifferencingVhdx = "it is a differencing VHDX, whose content depends on a parent disk; only a VHDX without a parent is self-contained";

    private static async Task<byte[]> ReadAtAsync(Stream file, long offset, int length, CancellationToken ct)
    {
        if (offset >= file.Length)
        {
            return [];
        }
        file.Position = offset;
        var buffer = new byte[(int)Math.Min(length, file.Length - offset)];
        var read = await file.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, ct);
        return buffer[..read];
    }

    /// <summary>What qemu-img reports must agree: no backing file, no data file, no extent but the file itself.</summary>
    public static Error? Verify(string name, string path, DiskInfo info, long maxVirtualBytes)
    {
        if (info.BackingFile is not null)
        {
            return OvfErrors.BadDisk(name, "it names a backing file");
        }
        if (info.DataFile is not null)
        {
            return OvfErrors.BadDisk(name, "it names an external data file");
        }
        var full = System.IO.Path.GetFullPath(path);
        if (info.Extents.Count > 1 || info.Extents.Any(e => System.IO.Path.GetFullPath(e, System.IO.Path.GetDirectoryName(full)!) != full))
        {
            return OvfErrors.BadDisk(name, "it names extent files besides itself");
        }
        if (info.VirtualSize <= 0)
        {
            return OvfErrors.BadDisk(name, "its virtual size is zero");
        }
        if (info.VirtualSize > maxVirtualBytes)
        {
            return OvfErrors.TooLarge($"The virtual size of disk '{name}' ({info.VirtualSize} bytes)", maxVirtualBytes);
        }
        return null;
    }
}

using System.Buffers.Binary;
using System.Diagnostics;
using System.Text.Json;
using Welkin.Contracts;
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

/// <summary>What <c>qemu-img info --output=json</c> says of a disk that matters for import.</summary>
public sealed record DiskInfo(string Format, long VirtualSize, long ActualSize, string? BackingFile, string? DataFile, IReadOnlyList<string> Extents);

/// <summary>
/// Runs qemu-img on disks that come from users. The format is always given with <c>-f</c>:
/// letting qemu-img probe lets a raw disk pose as qcow2 with a host file as its backing file
/// (CVE-2008-2004). Every run has a timeout, after which the process is killed.
/// </summary>
public sealed class QemuImg(QemuImgOptions options)
{
    public async Task<Result<DiskInfo>> InfoAsync(string path, ImageFormat format, CancellationToken ct)
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
    public async Task<Result<bool>> ConvertAsync(string source, ImageFormat from, string target, string to, string? outputOptions, CancellationToken ct)
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

    public static string Name(ImageFormat format) => format switch
    {
        ImageFormat.Qcow2 => "qcow2",
        ImageFormat.Vmdk => "vmdk",
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

    // qemu-img names the files it was given; keep only the last line and no more than a line's worth.
    private static string Clip(string s)
    {
        var line = s.Split('\n').LastOrDefault()?.Trim() ?? "";
        return line.Length <= 300 ? line : line[..300] + "…";
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

    /// <summary>The disk's format from its first bytes, or an error for a format Welkin refuses.</summary>
    public static Result<ImageFormat> Classify(string name, ReadOnlySpan<byte> head)
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
            return ImageFormat.Qcow2;
        }
        if (head.StartsWith(VmdkSparseMagic))
        {
            // Monolithic sparse and streamOptimized: one file holding its grains and an embedded descriptor.
            return ImageFormat.Vmdk;
        }
        if (head.StartsWith("# Disk DescriptorFile"u8) || head.IndexOf("createType"u8) >= 0)
        {
            return OvfErrors.BadDisk(name, "a VMDK descriptor names extent files; only monolithic sparse or streamOptimized VMDK (one file) is accepted");
        }
        if (head.StartsWith("COWD"u8))
        {
            return OvfErrors.BadDisk(name, "ESX sparse VMDK extents are not accepted");
        }
        // A dynamic or differencing VHD starts with a copy of its footer; VHDX with its file type identifier.
        // Neither is raw: storing one as raw would hand a guest a disk of headers and block tables.
        if (head.StartsWith(VhdCookie))
        {
            return OvfErrors.BadDisk(name, VhdRefused);
        }
        if (head.StartsWith("vhdxfile"u8))
        {
            return OvfErrors.BadDisk(name, "it is a VHDX disk, which Welkin does not convert yet; convert it to VMDK or qcow2 first");
        }
        return ImageFormat.Raw;
    }

    /// <summary>
    /// A disk <see cref="Classify"/> took for raw, checked at its end: a fixed VHD is raw data with a
    /// 512-byte footer (cookie <c>conectix</c>), which must not be taken for part of the disk.
    /// </summary>
    public static Error? CheckTail(string name, ReadOnlySpan<byte> last512) =>
        last512.StartsWith(VhdCookie) ? OvfErrors.BadDisk(name, VhdRefused) : null;

    private static ReadOnlySpan<byte> VhdCookie => "conectix"u8;

    private const string VhdRefused = "it is a VHD (Virtual PC, Hyper-V) disk, which Welkin does not convert yet; convert it to VMDK or qcow2 first";

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

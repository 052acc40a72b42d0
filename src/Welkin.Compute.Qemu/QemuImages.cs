using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Welkin.Compute.Qemu;

/// <summary>What <c>qemu-img info</c> says about a disk file.</summary>
public sealed record DiskInfo(string Format, long VirtualSize, string? BackingFile, bool HasDataFile);

/// <summary>
/// Disk files through <c>qemu-img</c>: content-addressed base images shared by every machine made
/// from them, and per-machine qcow2 overlays on top. The format is always passed explicitly (never
/// probed), and a base with a backing or data file of its own is refused: either would let an
/// image's author point QEMU at a file of the host.
/// </summary>
public sealed class QemuImages(string root, string tool) : IDisposable
{
    private readonly SemaphoreSlim _bases = new(1, 1);

    public string BaseDirectory => Path.Combine(root, "bases");

    public string VolumeDirectory => Path.Combine(root, "volumes");

    /// <summary>
    /// The driver's copy of a file named by its SHA-256: a hard link to <paramref name="source"/>
    /// (a copy when linking fails), which outlives the catalog's blob. Disks that are neither qcow2
    /// nor raw are converted to qcow2 once.
    /// </summary>
    public async Task<(string Path, string Format)> BaseAsync(string source, string sha256, string format, CancellationToken ct)
    {
        var targetFormat = format is "qcow2" or "raw" ? format : "qcow2";
        var target = Path.Combine(BaseDirectory, $"{sha256}.{targetFormat}");
        await _bases.WaitAsync(ct);
        try
        {
            if (File.Exists(target))
            {
                return (target, targetFormat);
            }
            Directory.CreateDirectory(BaseDirectory);
            var temp = target + ".tmp";
            File.Delete(temp);
            if (targetFormat == format)
            {
                if (Link(source, temp) != 0)
                {
                    File.Copy(source, temp);
                }
            }
            else
            {
                await RunAsync(ct, "convert", "-q", "-f", format, "-O", "qcow2", source, temp);
            }
            if (targetFormat == "qcow2")
            {
                var info = await InfoAsync(temp, "qcow2", ct);
                if (info.BackingFile is not null || info.HasDataFile)
                {
                    File.Delete(temp);
                    throw new InvalidDataException("The image is a qcow2 with a backing or data file of its own; Welkin only boots self-contained images.");
                }
            }
            File.Move(temp, target);
            return (target, targetFormat);
        }
        finally
        {
            _bases.Release();
        }
    }

    /// <summary>A file kept under its SHA-256 (a kernel or ramdisk): linked or copied once.</summary>
    public async Task<string> KeepAsync(string source, string sha256, string suffix, CancellationToken ct)
    {
        var target = Path.Combine(BaseDirectory, $"{sha256}.{suffix}");
        await _bases.WaitAsync(ct);
        try
        {
            if (!File.Exists(target))
            {
                Directory.CreateDirectory(BaseDirectory);
                var temp = target + ".tmp";
                File.Delete(temp);
                if (Link(source, temp) != 0)
                {
                    File.Copy(source, temp);
                }
                File.Move(temp, target);
            }
            return target;
        }
        finally
        {
            _bases.Release();
        }
    }

    /// <summary>A qcow2 overlay on <paramref name="basePath"/> of at least <paramref name="sizeGiB"/> (never smaller than the base).</summary>
    public async Task CreateOverlayAsync(string path, string basePath, string baseFormat, long sizeGiB, CancellationToken ct)
    {
        var info = await InfoAsync(basePath, baseFormat, ct);
        var size = Math.Max(info.VirtualSize, sizeGiB * 1024L * 1024 * 1024);
        await RunAsync(ct, "create", "-q", "-f", "qcow2", "-F", baseFormat, "-b", basePath, path, size.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>An empty qcow2 disk (a machine with no image, or a volume).</summary>
    public Task CreateEmptyAsync(string path, long sizeGiB, CancellationToken ct) =>
        RunAsync(ct, "create", "-q", "-f", "qcow2", path, (sizeGiB * 1024L * 1024 * 1024).ToString(CultureInfo.InvariantCulture));

    public string VolumePath(string volumeId) => Path.Combine(VolumeDirectory, volumeId + ".qcow2");

    /// <summary>The volume's disk file, made empty on first use.</summary>
    public async Task<string> VolumeAsync(string volumeId, long sizeGiB, CancellationToken ct)
    {
        Directory.CreateDirectory(VolumeDirectory);
        var path = VolumePath(volumeId);
        if (!File.Exists(path))
        {
            var temp = path + ".tmp";
            File.Delete(temp);
            await CreateEmptyAsync(temp, sizeGiB, ct);
            File.Move(temp, path);
        }
        return path;
    }

    /// <summary>Flattens a disk (its backing chain included) into one standalone qcow2 file.</summary>
    public Task FlattenAsync(string source, string destination, CancellationToken ct) =>
        RunAsync(ct, "convert", "-q", "-f", "qcow2", "-O", "qcow2", source, destination);

    public async Task<DiskInfo> InfoAsync(string path, string format, CancellationToken ct)
    {
        var json = await RunAsync(ct, "info", "--output=json", "-f", format, path);
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        var hasDataFile = root.TryGetProperty("format-specific", out var specific)
            && specific.TryGetProperty("data", out var data)
            && data.TryGetProperty("data-file", out _);
        return new DiskInfo(
            root.GetProperty("format").GetString() ?? format,
            root.GetProperty("virtual-size").GetInt64(),
            root.TryGetProperty("backing-filename", out var backing) ? backing.GetString() : null,
            hasDataFile);
    }

    /// <summary>Runs qemu-img; a non-zero exit raises <see cref="IOException"/> with its message.</summary>
    public async Task<string> RunAsync(CancellationToken ct, params string[] arguments)
    {
        var startInfo = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }
        using var process = Process.Start(startInfo) ?? throw new IOException($"{tool} did not start.");
        var output = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var error = process.StandardError.ReadToEndAsync(CancellationToken.None);
        try
        {
            await process.WaitForExitAsync(ct);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        if (process.ExitCode != 0)
        {
            throw new IOException($"{tool} {arguments[0]} failed: {(await error).Trim()}");
        }
        return await output;
    }

    public void Dispose() => _bases.Dispose();

    [DllImport("libc", EntryPoint = "link", SetLastError = true)]
    private static extern int Link(string oldPath, string newPath);
}

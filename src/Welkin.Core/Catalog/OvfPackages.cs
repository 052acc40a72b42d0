using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Catalog.Images;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Data;
using Welkin.Core.Instances;
using Welkin.Core.Ovf;
using Welkin.Core.Security;

namespace Welkin.Core.Catalog;

public sealed class OvfPackageOptions
{
    /// <summary>Where packages are unpacked and disks converted (the server uses <c>&lt;data-dir&gt;/ovf-work</c>).</summary>
    public required string WorkDirectory { get; init; }

    /// <summary>The largest OVA accepted for import: the body limit of the import endpoint.</summary>
    public long MaxPackageBytes { get; init; } = 64L * 1024 * 1024 * 1024;
}

/// <summary>Where an exported machine's disk came from, as the export's response says.</summary>
public static class OvfDiskSource
{
    /// <summary>The machine's own disk, copied by the compute driver (<see cref="IMachineDiskExport"/>).</summary>
    public const string MachineDisk = "machine-disk";

    /// <summary>The image the machine was made from: the driver cannot copy disks (the simulated fabric has no disk contents).</summary>
    public const string Image = "image";

    /// <summary>No disk content: the machine or template has no image.</summary>
    public const string None = "none";
}

/// <summary>An OVA ready to be written: its descriptor and converted disks in a work directory, deleted on dispose.</summary>
public sealed class OvfExport(string workDirectory, string fileName, byte[] envelope, IReadOnlyList<OvfExportDisk> disks, string diskSource) : IAsyncDisposable
{
    public string FileName => fileName;

    public string DiskSource => diskSource;

    public byte[] Envelope => envelope;

    public Task WriteAsync(Stream output, CancellationToken ct) =>
        OvfWriter.WriteOvaAsync(output, Path.ChangeExtension(fileName, ".ovf"), envelope, disks, ct);

    public ValueTask DisposeAsync()
    {
        OvfPackages.DeleteDirectory(workDirectory);
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// OVF packages in and out of Welkin. Import turns an OVA into a draft template and one qcow2
/// image per disk in one transaction (audited as <c>template.import</c>), so a refused or failed
/// import leaves neither template nor images. Export writes templates, machines and instances as
/// OVF 2.0 OVAs with streamOptimized VMDK disks.
/// </summary>
/// <summary>A disk checked, converted to qcow2 and staged; <paramref name="Source"/> is what was uploaded ("ova", "raw", "qcow2", "vmdk", "vhd", "vhdx").</summary>
internal sealed record StagedDisk(IStagedBlob Blob, long VirtualSize, string Source);

public sealed class OvfPackages(
    IDatabase db, AuditLog audit, TemplateService templates, ImageService images, IBlobStore blobs, QemuImg qemuImg,
    ServiceManager serviceManager, ComputeFabric fabric, OvfPackageOptions options)
{
    public long MaxPackageBytes => options.MaxPackageBytes;

    /// <summary>Whether the caller may import at all, so that a refusal comes before any byte is read.</summary>
    public static Error? CheckImport(Caller caller) =>
        Tenancy.RequireProvider(caller, Permission.TemplatesWrite, "Importing an OVF package")
        ?? Tenancy.RequireProvider(caller, Permission.ImagesWrite, "Importing an OVF package");

    public Error TooLarge() => OvfErrors.TooLarge("The OVF package", options.MaxPackageBytes);

    public async Task<Result<OvfImportResult>> ImportAsync(Caller caller, Stream ova, CancellationToken ct)
    {
        if (CheckImport(caller) is { } denied)
        {
            return denied;
        }
        var work = NewWorkDirectory();
        var staged = new List<IStagedBlob>();
        try
        {
            var package = await ReadPackageAsync(ova, work, ct);
            if (!package.IsSuccess)
            {
                return package.Error!;
            }
            var (envelope, spec) = package.Value;
            var layouts = PackageDisks(envelope);
            if (!layouts.IsSuccess)
            {
                return layouts.Error!;
            }
            var converted = await ConvertFilesAsync(work, Files(layouts.Value), staged, ct);
            if (!converted.IsSuccess)
            {
                return converted.Error!;
            }
            return await RecordImportAsync(caller, envelope, spec, layouts.Value, converted.Value, ct);
        }
        finally
        {
            foreach (var blob in staged)
            {
                await blob.DisposeAsync();
            }
            DeleteDirectory(work);
        }
    }

    /// <summary>Reads the OVA into <paramref name="work"/> (manifest checked) and maps its envelope to a template.</summary>
    private async Task<Result<(OvfEnvelope Envelope, TemplateSpec Spec)>> ReadPackageAsync(Stream ova, string work, CancellationToken ct)
    {
        var package = await OvaReader.ReadAsync(ova, work, new OvaLimits(MaxEntryBytes: images.MaxBytes, MaxTotalBytes: options.MaxPackageBytes), ct);
        if (!package.IsSuccess)
        {
            return package.Error!;
        }
        var envelope = package.Value.Envelope;
        var mapped = OvfTemplateMapper.ToTemplateSpec(envelope);
        return mapped.IsSuccess ? (envelope, mapped.Value) : mapped.Error!;
    }

    /// <summary>
    /// The disks of each virtual system, in the template's order (<see cref="OvfTemplateMapper.Disks"/>):
    /// its system disk and data volumes, each with the package file holding its content, if any.
    /// A disk with content that no item attaches is refused rather than dropped.
    /// </summary>
    internal static Result<List<OvfSystemDisks>> PackageDisks(OvfEnvelope envelope)
    {
        var systems = envelope.Content switch
        {
            OvfVirtualSystem vs => [vs],
            OvfVirtualSystemCollection vsc => vsc.VirtualSystems().ToList(),
            _ => new List<OvfVirtualSystem>(),
        };
        var layouts = new List<OvfSystemDisks>();
        foreach (var system in systems)
        {
            var disks = OvfTemplateMapper.Disks(envelope, system);
            if (!disks.IsSuccess)
            {
                return disks.Error!;
            }
            layouts.Add(disks.Value);
        }
        var files = Files(layouts);
        if (files.FirstOrDefault(f => f.Compression is { Length: > 0 } c && c != "gzip") is { } compressed)
        {
            return OvfErrors.BadDisk(compressed.Href, $"ovf:compression=\"{compressed.Compression}\" is not supported; OVF defines gzip");
        }
        // A disk with content that no virtual system has (no item of a collection's systems attaches it) would be lost: refuse rather than drop it.
        var kept = files.Select(f => f.Id).ToHashSet(StringComparer.Ordinal);
        if (envelope.Disks.FirstOrDefault(d => d.FileRef is not null && !kept.Contains(d.FileRef)) is { } dropped)
        {
            return OvfErrors.Unmappable($"Disk '{dropped.DiskId}' (file '{envelope.Files.First(f => f.Id == dropped.FileRef).Href}') has content, but no virtual system attaches it with a disk item; Welkin would lose it.");
        }
        return layouts;
    }

    /// <summary>The distinct package files the disks of <paramref name="layouts"/> hold, in order.</summary>
    internal static List<OvfFile> Files(IEnumerable<OvfSystemDisks> layouts) =>
        layouts.SelectMany(l => (l.System is { } s ? [s] : Array.Empty<OvfMappedDisk>()).Concat(l.Data))
            .Select(d => d.File).OfType<OvfFile>().DistinctBy(f => f.Id).ToList();

    /// <summary>Converts each distinct disk file to a staged qcow2 blob (added to <paramref name="staged"/> for disposal), by file id.</summary>
    private async Task<Result<Dictionary<string, (IStagedBlob Blob, string Name)>>> ConvertFilesAsync(
        string work, List<OvfFile> files, List<IStagedBlob> staged, CancellationToken ct)
    {
        var converted = new Dictionary<string, (IStagedBlob Blob, string Name)>(StringComparer.Ordinal);
        foreach (var file in files)
        {
            var blob = await ConvertAsync(work, file.Href, file.Compression == "gzip", ct);
            if (!blob.IsSuccess)
            {
                return blob.Error!;
            }
            staged.Add(blob.Value);
            converted[file.Id] = (blob.Value, file.Href);
        }
        return converted;
    }

    /// <summary>
    /// In one transaction: an image per converted disk, the draft template naming them (a system's
    /// system disk and data volumes), and the audit entry.
    /// </summary>
    private Task<Result<OvfImportResult>> RecordImportAsync(
        Caller caller, OvfEnvelope envelope, TemplateSpec spec, List<OvfSystemDisks> layouts, Dictionary<string, (IStagedBlob Blob, string Name)> converted,
        CancellationToken ct) =>
        db.WriteAsync<OvfImportResult>(async tx =>
        {
            var made = new Dictionary<string, ImageView>(StringComparer.Ordinal);
            foreach (var (fileId, (blob, href)) in converted)
            {
                var name = Clip($"{spec.Name} / {href}", ImageService.MaxNameLength);
                made[fileId] = await images.InsertStagedAsync(tx, caller, blob, name, $"Imported from OVF package file '{Clip(href, 200)}'.", ImageFormat.Qcow2);
            }
            var withImages = spec with
            {
                VirtualSystems = spec.VirtualSystems.Select((vs, i) => vs with
                {
                    ImageId = layouts[i].System?.File is { } f ? made[f.Id].Id : null,
                    DataVolumes = vs.DataVolumes?.Select((d, j) => layouts[i].Data[j].File is { } df ? d with { ImageId = made[df.Id].Id } : d).ToList(),
                }).ToList(),
            };
            var template = await templates.InsertDraftAsync(tx, caller, withImages);
            await audit.AppendAsync(tx, caller, new AuditEvent("template.import", template.Id, AuditEvent.Success, null,
                $"ovf={(envelope.Version == OvfVersion.V2 ? "2" : "1")}; systems={withImages.VirtualSystems.Count}; images={string.Join(",", made.Values.Select(m => m.Id))}"));
            return new OvfImportResult(template, made.Values.ToList());
        }, ct);

    /// <summary>Checks one disk of a package, converts it to qcow2 and stages it in the blob store.</summary>
    private async Task<Result<IStagedBlob>> ConvertAsync(string work, string href, bool gzip, CancellationToken ct)
    {
        var path = Path.Combine(work, href);
        if (gzip)
        {
            var inflated = await InflateAsync(path, href, ct);
            if (!inflated.IsSuccess)
            {
                return inflated.Error!;
            }
            path = inflated.Value;
        }
        var disk = await StageDiskAsync(work, path, href, deleteSource: true, ct);
        return disk.IsSuccess ? new Result<IStagedBlob>(disk.Value.Blob) : disk.Error!;
    }

    /// <summary>
    /// Checks a disk file from a user (format from its first bytes, then qemu-img with that format:
    /// no backing file, no external data file or extents, a bounded size), converts it to qcow2 in
    /// <paramref name="work"/> and stages that in the blob store.
    /// </summary>
    private async Task<Result<StagedDisk>> StageDiskAsync(string work, string path, string name, bool deleteSource, CancellationToken ct)
    {
        var head = new byte[DiskChecks.HeadLength];
        var tail = new byte[512];
        int read;
        var tailRead = 0;
        await using (var file = File.OpenRead(path))
        {
            read = await file.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, ct);
            if (file.Length >= 1024)
            {
                file.Position = file.Length - tail.Length;
                tailRead = await file.ReadAtLeastAsync(tail, tail.Length, throwOnEndOfStream: false, ct);
            }
        }
        if (read == 0)
        {
            return OvfErrors.BadDisk(name, "it is empty");
        }
        var format = DiskChecks.Classify(name, head.AsSpan(0, read), tail.AsSpan(0, tailRead));
        if (!format.IsSuccess)
        {
            return format.Error!;
        }
        if (format.Value == DiskFormat.Vhdx)
        {
            await using var file = File.OpenRead(path);
            if (await DiskChecks.CheckVhdxAsync(name, file, ct) is { } parent)
            {
                return parent;
            }
        }
        var info = await qemuImg.InfoAsync(path, format.Value, ct);
        if (!info.IsSuccess)
        {
            return OvfErrors.BadDisk(name, info.Error!.Detail);
        }
        if (DiskChecks.Verify(name, path, info.Value, images.MaxBytes) is { } refused)
        {
            return refused;
        }
        var target = Path.Combine(work, Guid.NewGuid().ToString("n") + ".qcow2");
        var convert = await qemuImg.ConvertAsync(path, format.Value, target, "qcow2", null, ct);
        if (!convert.IsSuccess)
        {
            return OvfErrors.BadDisk(name, convert.Error!.Detail);
        }
        if (deleteSource)
        {
            File.Delete(path);
        }
        await using var converted = File.OpenRead(target);
        var staged = await blobs.StageAsync(converted, images.MaxBytes, ct);
        if (!staged.IsSuccess)
        {
            return staged.Error!.Kind != ErrorKind.PayloadTooLarge ? staged.Error : images.TooLarge();
        }
        return new StagedDisk(staged.Value, info.Value.VirtualSize, format.Value == DiskFormat.Vpc ? "vhd" : WireNames.Of(format.Value));
    }

    /// <summary>
    /// The disk of an uploaded file, staged as a qcow2 blob (disposed by the caller): an OVA as Welkin
    /// exports a machine (manifest checked, exactly one disk), else a plain disk (raw, qcow2, vmdk, VHD or VHDX).
    /// The file itself is left as it is.
    /// </summary>
    internal async Task<Result<StagedDisk>> StageUploadedDiskAsync(string path, CancellationToken ct)
    {
        var work = NewWorkDirectory();
        try
        {
            if (!await IsOvaAsync(path, ct))
            {
                return await StageDiskAsync(work, path, "disk", deleteSource: false, ct);
            }
            OvfEnvelope envelope;
            await using (var ova = File.OpenRead(path))
            {
                var package = await ReadPackageAsync(ova, work, ct);
                if (!package.IsSuccess)
                {
                    return package.Error!;
                }
                envelope = package.Value.Envelope;
            }
            var layouts = PackageDisks(envelope);
            if (!layouts.IsSuccess)
            {
                return layouts.Error!;
            }
            var disks = Files(layouts.Value);
            if (disks.Count != 1)
            {
                return OvfErrors.Unmappable($"An OVA becomes an image of the account when it has exactly one disk; this one has {disks.Count}.");
            }
            var disk = disks[0];
            var diskPath = Path.Combine(work, disk.Href);
            if (disk.Compression == "gzip")
            {
                var inflated = await InflateAsync(diskPath, disk.Href, ct);
                if (!inflated.IsSuccess)
                {
                    return inflated.Error!;
                }
                diskPath = inflated.Value;
            }
            var staged = await StageDiskAsync(work, diskPath, disk.Href, deleteSource: true, ct);
            return staged.IsSuccess ? staged.Value with { Source = "ova" } : staged;
        }
        finally
        {
            DeleteDirectory(work);
        }
    }

    // An OVA is a ustar archive (OVF, DSP0243 5.3) whose first entry is the .ovf descriptor; a pax
    // archive (as Welkin writes) puts an extended header before it, which TarReader folds in.
    private static async Task<bool> IsOvaAsync(string path, CancellationToken ct)
    {
        var head = new byte[512];
        await using var file = File.OpenRead(path);
        if (await file.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, ct) < head.Length || !head.AsSpan(257, 5).SequenceEqual("ustar"u8))
        {
            return false;
        }
        file.Position = 0;
        try
        {
            await using var tar = new System.Formats.Tar.TarReader(file, leaveOpen: true);
            var first = await tar.GetNextEntryAsync(copyData: false, ct);
            return first?.Name.EndsWith(".ovf", StringComparison.OrdinalIgnoreCase) ?? false;
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException)
        {
            return false;
        }
    }

    // OVF (DSP0243) File/@ovf:compression="gzip": the file in the package is the disk, gzip'd. The
    // inflated size is capped like a disk file, so a small package cannot fill the work directory.
    private async Task<Result<string>> InflateAsync(string path, string href, CancellationToken ct)
    {
        var target = path + ".inflated";
        try
        {
            await using var source = File.OpenRead(path);
            await using var gzip = new System.IO.Compression.GZipStream(source, System.IO.Compression.CompressionMode.Decompress);
            await using var output = File.Create(target);
            var buffer = new byte[81920];
            long total = 0;
            int n;
            while ((n = await gzip.ReadAsync(buffer, ct)) > 0)
            {
                total += n;
                if (total > images.MaxBytes)
                {
                    return OvfErrors.TooLarge($"Disk '{href}', inflated,", images.MaxBytes);
                }
                await output.WriteAsync(buffer.AsMemory(0, n), ct);
            }
        }
        catch (InvalidDataException)
        {
            return OvfErrors.BadDisk(href, "ovf:compression says gzip, but the file is not gzip data");
        }
        File.Delete(path);
        return target;
    }

    // ---- Export -----------------------------------------------------------------------------

    public async Task<Result<OvfExport>> ExportTemplateAsync(Caller caller, string id, int? templateVersion, CancellationToken ct)
    {
        if (Tenancy.RequireProvider(caller, Permission.ImagesRead, "Exporting a template") is { } denied)
        {
            return denied;
        }
        var template = await templates.GetAsync(caller, id, templateVersion, ct);
        if (!template.IsSuccess)
        {
            return template.Error!;
        }
        var work = NewWorkDirectory();
        var kept = false;
        try
        {
            var systems = new List<OvfExportSystem>();
            foreach (var vs in template.Value.VirtualSystems)
            {
                OvfExportDisk? disk = null;
                if (vs.ImageId is { } imageId)
                {
                    var image = await images.GetAsync(caller, imageId, ct);
                    if (!image.IsSuccess || image.Value.State != ImageState.Available)
                    {
                        return Error.InvalidState($"Image '{imageId}' of virtual system '{vs.Name}' is no longer available; the template cannot be exported.");
                    }
                    var made = await ImageDiskAsync(work, image.Value, vs.Name, ct);
                    if (!made.IsSuccess)
                    {
                        return made.Error!;
                    }
                    disk = made.Value;
                }
                // Each image-backed data volume is a disk file of its own, written after the system disk.
                var dataDisks = new List<OvfExportDisk?>();
                foreach (var volume in vs.DataVolumes ?? [])
                {
                    if (volume.ImageId is not { } volumeImageId)
                    {
                        dataDisks.Add(null);
                        continue;
                    }
                    var image = await images.GetAsync(caller, volumeImageId, ct);
                    if (!image.IsSuccess || image.Value.State != ImageState.Available)
                    {
                        return Error.InvalidState($"Image '{volumeImageId}' of data volume '{volume.Name}' of virtual system '{vs.Name}' is no longer available; the template cannot be exported.");
                    }
                    var made = await ImageDiskAsync(work, image.Value, vs.Name, ct, $"{vs.Name}-{volume.Name}.vmdk");
                    if (!made.IsSuccess)
                    {
                        return made.Error!;
                    }
                    dataDisks.Add(made.Value);
                }
                systems.Add(new OvfExportSystem(vs, disk, dataDisks.Any(d => d is not null) ? dataDisks : null));
            }
            var envelope = OvfWriter.Envelope(template.Value.Name, template.Value.Description, systems, collection: systems.Count > 1);
            await audit.AppendAsync(db, caller, new AuditEvent("template.export", id, AuditEvent.Success, null, $"templateVersion={template.Value.TemplateVersion}"), ct);
            kept = true;
            var files = systems.SelectMany(s => new[] { s.Disk }.Concat(s.DataDisks ?? [])).OfType<OvfExportDisk>().ToList();
            var source = files.Count > 0 ? OvfDiskSource.Image : OvfDiskSource.None;
            return new OvfExport(work, $"{id}-v{template.Value.TemplateVersion}.ova", envelope, files, source);
        }
        finally
        {
            if (!kept)
            {
                DeleteDirectory(work);
            }
        }
    }

    /// <summary>
    /// An export hands out the machine's disk, its data included, so reading the machine is not
    /// enough: the account's principals who may change its resources (account-admin, engineer)
    /// and the provider's operators may; viewers and auditors may not.
    /// </summary>
    internal static Error? CheckExport(Caller caller) =>
        caller.IsProvider
            ? Tenancy.RequireProvider(caller, Permission.FabricWrite, "Exporting a machine (its disks included)")
            : Tenancy.RequireTenant(caller, Permission.ResourcesConfigure, "Exporting a machine (its disks included)");

    public async Task<Result<OvfExport>> ExportMachineAsync(Caller caller, string id, CancellationToken ct)
    {
        if (CheckExport(caller) is { } denied)
        {
            return denied;
        }
        var machine = await serviceManager.GetMachineAsync(caller, id, ct);
        if (!machine.IsSuccess)
        {
            return machine.Error!;
        }
        return await ExportMachinesAsync(caller, machine.Value.Name, null, [machine.Value], collection: false, "machine.export", id, machine.Value.AccountId, ct);
    }

    /// <summary>An instance as a VirtualSystemCollection: one VirtualSystem per machine that is not terminated.</summary>
    public async Task<Result<OvfExport>> ExportInstanceAsync(Caller caller, string id, CancellationToken ct)
    {
        if (CheckExport(caller) is { } denied)
        {
            return denied;
        }
        var instance = await serviceManager.GetInstanceAsync(caller, id, ct);
        if (!instance.IsSuccess)
        {
            return instance.Error!;
        }
        var machines = new List<MachineView>();
        foreach (var machineId in instance.Value.Machines)
        {
            var machine = await serviceManager.GetMachineAsync(caller, machineId, ct);
            if (machine.IsSuccess && machine.Value.State is not (MachineState.Terminated or MachineState.Terminating or MachineState.Provisioning))
            {
                machines.Add(machine.Value);
            }
        }
        if (machines.Count == 0)
        {
            return Error.InvalidState($"Instance '{id}' has no machine to export.");
        }
        return await ExportMachinesAsync(caller, instance.Value.Name, $"Service instance {instance.Value.Name} of template {instance.Value.TemplateId} version {instance.Value.TemplateVersion}",
            machines, collection: true, "instance.export", id, instance.Value.AccountId, ct);
    }

    private async Task<Result<OvfExport>> ExportMachinesAsync(
        Caller caller, string name, string? description, IReadOnlyList<MachineView> machines, bool collection, string action, string target, string accountId, CancellationToken ct)
    {
        if (machines.FirstOrDefault(m => m.State is MachineState.Terminated or MachineState.Terminating or MachineState.Provisioning) is { } gone)
        {
            return Error.InvalidState($"Machine '{gone.Id}' is {WireNames.Of(gone.State)}; it cannot be exported.");
        }
        var work = NewWorkDirectory();
        var kept = false;
        try
        {
            var systems = new List<OvfExportSystem>();
            var sources = new HashSet<string>(StringComparer.Ordinal);
            foreach (var m in machines)
            {
                var systemName = OvfTemplateMapper.SystemName(m.Name);
                OvfExportDisk? disk = null;
                if (fabric.Find(m.Pool)?.Driver is IMachineDiskExport exporter)
                {
                    var copy = Path.Combine(work, Guid.NewGuid().ToString("n") + ".qcow2");
                    var exported = await exporter.ExportDiskAsync(m.Id, copy, ct);
                    if (!exported.IsSuccess)
                    {
                        return exported.Error!;
                    }
                    var made = await VmdkAsync(work, copy, ImageFormat.Qcow2, systemName, ct);
                    if (!made.IsSuccess)
                    {
                        return made.Error!;
                    }
                    disk = made.Value;
                    sources.Add(OvfDiskSource.MachineDisk);
                }
                else if (m.ImageId is { } imageId && await images.FindAvailableAsync(imageId, ct) is { } image)
                {
                    // The caller may see the machine, so it may see what the machine's disk was made from.
                    var made = await ImageDiskAsync(work, image, systemName, ct);
                    if (!made.IsSuccess)
                    {
                        return made.Error!;
                    }
                    disk = made.Value;
                    sources.Add(OvfDiskSource.Image);
                }
                else
                {
                    sources.Add(OvfDiskSource.None);
                }
                var software = m.OperatingSystem is null && m.Software.Count == 0
                    ? null
                    : new SoftwareChoices(
                        m.OperatingSystem is { } os ? Fixed(os) : null,
                        m.Software.TryGetValue("httpServer", out var http) ? Fixed(http) : null,
                        m.Software.TryGetValue("databaseManager", out var dbm) ? Fixed(dbm) : null);
                // The view masks password values; the row says which they are, so that the export marks them and writes no value.
                var secrets = (await MachineStore.GetMachineAsync(db, m.Id, ct))?.ParsedConfig.Secrets ?? [];
                var properties = m.Properties.Select(p => secrets.Contains(p.Key)
                    ? new PropertyDefinition(p.Key, PropertyType.String, Password: true)
                    : new PropertyDefinition(p.Key, PropertyType.String, p.Value)).ToList();
                var dataDisks = await DataDisksAsync(work, m, systemName, ct);
                if (!dataDisks.IsSuccess)
                {
                    return dataDisks.Error!;
                }
                var volumes = (m.DataDisks ?? []).Select(d => new DataVolumeSpec(d.Name, Fixed(d.SizeGiB))).ToList();
                var spec = new VirtualSystemSpec(systemName, new HardwareChoices(Fixed(m.Vcpus), Fixed(m.MemoryMiB), Fixed(m.DiskGiB)),
                    software, null, properties.Count == 0 ? null : properties, volumes.Count == 0 ? null : volumes);
                systems.Add(new OvfExportSystem(spec, disk, dataDisks.Value.Any(d => d is not null) ? dataDisks.Value : null));
            }
            var envelope = OvfWriter.Envelope(name, description, systems, collection);
            var source = sources.Contains(OvfDiskSource.MachineDisk) ? OvfDiskSource.MachineDisk
                : sources.Contains(OvfDiskSource.Image) ? OvfDiskSource.Image : OvfDiskSource.None;
            await audit.AppendAsync(db, caller, new AuditEvent(action, target, AuditEvent.Success, accountId, $"disks={source}; machines={machines.Count}"), ct);
            kept = true;
            var files = systems.SelectMany(s => new[] { s.Disk }.Concat(s.DataDisks ?? [])).OfType<OvfExportDisk>().ToList();
            return new OvfExport(work, $"{target}.ova", envelope, files, source);
        }
        finally
        {
            if (!kept)
            {
                DeleteDirectory(work);
            }
        }
    }

    /// <summary>
    /// The files of a machine's data disks, each converted to streamOptimized VMDK as its system disk is: the driver's
    /// copy of the disk where it can copy disks, else the image the disk started from; a disk with neither is left empty.
    /// </summary>
    private async Task<Result<List<OvfExportDisk?>>> DataDisksAsync(string work, MachineView m, string systemName, CancellationToken ct)
    {
        var files = new List<OvfExportDisk?>();
        var exporter = fabric.Find(m.Pool)?.Driver as IMachineDiskExport;
        var number = 1;
        foreach (var d in m.DataDisks ?? [])
        {
            number++;
            Result<OvfExportDisk>? made = null;
            if (exporter is not null)
            {
                var copy = Path.Combine(work, Guid.NewGuid().ToString("n") + ".qcow2");
                var exported = await exporter.ExportDataDiskAsync(m.Id, d.Device, copy, ct);
                if (!exported.IsSuccess)
                {
                    return exported.Error!;
                }
                made = await VmdkAsync(work, copy, ImageFormat.Qcow2, systemName, ct, DiskFile(systemName, number));
            }
            else if (d.ImageId is { } imageId && await images.FindAvailableAsync(imageId, ct) is { } image)
            {
                made = await ImageDiskAsync(work, image, systemName, ct, DiskFile(systemName, number));
            }
            if (made is { } result && !result.IsSuccess)
            {
                return result.Error!;
            }
            files.Add(made?.Value);
        }
        return files;
    }

    private static string DiskFile(string systemName, int number) =>
        $"{systemName}-disk{number.ToString(System.Globalization.CultureInfo.InvariantCulture)}.vmdk";

    private async Task<Result<OvfExportDisk>> ImageDiskAsync(string work, ImageView image, string systemName, CancellationToken ct, string? fileName = null)
    {
        await using var content = blobs.OpenRead(image.Sha256)
            ?? throw new InvalidOperationException($"Blob {image.Sha256} of available image {image.Id} is missing from the blob store.");
        var path = (content as FileStream)?.Name;
        if (path is null)
        {
            // A store that is not on this file system: qemu-img needs a file.
            path = Path.Combine(work, Guid.NewGuid().ToString("n") + ".src");
            await using var copy = File.Create(path);
            await content.CopyToAsync(copy, ct);
        }
        return await VmdkAsync(work, path, image.Format, systemName, ct, fileName);
    }

    // OVF 2.0 5.3 and the tools that read OVAs (VMware, VirtualBox) expect streamOptimized VMDK.
    private async Task<Result<OvfExportDisk>> VmdkAsync(string work, string source, ImageFormat format, string systemName, CancellationToken ct, string? fileName = null)
    {
        fileName ??= $"{systemName}-disk1.vmdk";
        var target = Path.Combine(work, fileName);
        var converted = await qemuImg.ConvertAsync(source, format, target, "vmdk", "subformat=streamOptimized", ct);
        if (!converted.IsSuccess)
        {
            throw new InvalidOperationException($"Converting a stored disk to VMDK failed: {converted.Error!.Detail}");
        }
        var info = await qemuImg.InfoAsync(target, ImageFormat.Vmdk, ct);
        if (!info.IsSuccess)
        {
            throw new InvalidOperationException($"qemu-img cannot read the VMDK it wrote: {info.Error!.Detail}");
        }
        return new OvfExportDisk(fileName, target, new FileInfo(target).Length, info.Value.VirtualSize);
    }

    private string NewWorkDirectory()
    {
        var path = Path.Combine(options.WorkDirectory, Guid.NewGuid().ToString("n"));
        Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    internal static void DeleteDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    private static Choice<T> Fixed<T>(T value) => new([value], value);

    private static string Clip(string s, int max) => s.Length <= max ? s : s[..max];
}

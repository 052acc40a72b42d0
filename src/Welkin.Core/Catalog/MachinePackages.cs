using System.Collections.Concurrent;
using System.Security.Cryptography;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Instances;
using Welkin.Core.Security;

namespace Welkin.Core.Catalog;

public sealed class MachinePackageOptions
{
    /// <summary>Where packages are kept (the server uses <c>&lt;data-dir&gt;/packages</c>).</summary>
    public required string Directory { get; init; }

    /// <summary>How long a package is kept after it was written.</summary>
    public TimeSpan Expiry { get; init; } = TimeSpan.FromHours(24);
}

/// <summary>
/// A machine's OVA written once into a file with its SHA-256, so that a consumer can download it in ranges and
/// resume after a cut (a cloud bringing home a machine it ran here). The streamed export
/// (<see cref="OvfPackages.ExportMachineAsync"/>) is generated on the fly and cannot be resumed: two runs differ
/// in their bytes (timestamps, VMDK layout). One package per machine: asking again while the machine is at the
/// version it was written from returns the same package (a retry resumes it); a changed machine gets a new one
/// under a new entity tag, so no download splices two. The same principals may as may export the machine.
/// </summary>
public sealed class MachinePackageService(IDatabase db, AuditLog audit, TimeProvider clock, OvfPackages packages, ServiceManager serviceManager, MachinePackageOptions options)
{
    private const int BufferSize = 1 << 16;

    private const string Columns =
        "machine_id AS MachineId, account_id AS AccountId, machine_version AS MachineVersion, size_bytes AS SizeBytes, sha256 AS Sha256, "
        + "disk_source AS DiskSource, file_name AS FileName, expires_at AS ExpiresAt, created_at AS CreatedAt";

    // One package written per machine at a time in this process: a second request waits and gets the first's.
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _writers = new(StringComparer.Ordinal);

    /// <summary>The machine's package as it is now: the kept one when the machine has not changed since, else a new one (<c>Created</c> true).</summary>
    public async Task<Result<(MachinePackageView Package, bool Created)>> CreateAsync(Caller caller, string machineId, CancellationToken ct)
    {
        var machine = await MachineAsync(caller, machineId, ct);
        if (!machine.IsSuccess)
        {
            return machine.Error!;
        }
        var writer = _writers.GetOrAdd(machineId, _ => new SemaphoreSlim(1, 1));
        await writer.WaitAsync(ct);
        try
        {
            var kept = await FindAsync(machineId, ct);
            if (kept is not null && kept.MachineVersion == machine.Value.Version && File.Exists(PathOf(kept.FileName)))
            {
                return (ToView(kept), false);
            }
            var written = await WriteAsync(caller, machine.Value, ct);
            if (!written.IsSuccess)
            {
                return written.Error!;
            }
            if (kept is not null && kept.FileName != written.Value.FileName)
            {
                File.Delete(PathOf(kept.FileName));
            }
            return (ToView(written.Value), true);
        }
        finally
        {
            writer.Release();
        }
    }

    public async Task<Result<MachinePackageView>> GetAsync(Caller caller, string machineId, CancellationToken ct)
    {
        var found = await OpenAsync(caller, machineId, ct);
        return found.IsSuccess ? found.Value.Package : found.Error!;
    }

    /// <summary>The package and the file that holds it, for a download.</summary>
    public async Task<Result<(MachinePackageView Package, string Path)>> OpenAsync(Caller caller, string machineId, CancellationToken ct)
    {
        var machine = await MachineAsync(caller, machineId, ct);
        if (!machine.IsSuccess)
        {
            return machine.Error!;
        }
        var row = await FindAsync(machineId, ct);
        return row is null || !File.Exists(PathOf(row.FileName)) ? Missing(machineId) : (ToView(row), PathOf(row.FileName));
    }

    public async Task<Result<MachinePackageView>> DeleteAsync(Caller caller, string machineId, CancellationToken ct)
    {
        var found = await OpenAsync(caller, machineId, ct);
        if (!found.IsSuccess)
        {
            return found.Error!;
        }
        var row = (await FindAsync(machineId, ct))!;
        var deleted = await db.WriteAsync<bool>(async tx =>
        {
            await tx.ExecuteAsync("DELETE FROM machine_packages WHERE machine_id = @MachineId AND file_name = @FileName", new { row.MachineId, row.FileName });
            await audit.AppendAsync(tx, caller, new AuditEvent("machine.package-delete", machineId, AuditEvent.Success, row.AccountId, $"sha256={row.Sha256}"));
            return true;
        }, ct);
        if (deleted.IsSuccess)
        {
            File.Delete(PathOf(row.FileName));
        }
        return deleted.IsSuccess ? found.Value.Package : deleted.Error!;
    }

    /// <summary>Deletes packages past their expiry and their files; returns how many.</summary>
    public async Task<int> ExpireAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var expired = await db.QueryAsync<PackageRow>($"SELECT {Columns} FROM machine_packages WHERE expires_at <= @Now", new { Now = now }, ct);
        foreach (var row in expired)
        {
            await db.WriteAsync<bool>(async tx =>
                await tx.ExecuteAsync("DELETE FROM machine_packages WHERE machine_id = @MachineId AND file_name = @FileName", new { row.MachineId, row.FileName }) == 1, ct);
            File.Delete(PathOf(row.FileName));
        }
        return expired.Count;
    }

    private async Task<Result<MachineView>> MachineAsync(Caller caller, string machineId, CancellationToken ct)
    {
        if (OvfPackages.CheckExport(caller) is { } denied)
        {
            return denied;
        }
        return await serviceManager.GetMachineAsync(caller, machineId, ct);
    }

    /// <summary>Exports the machine into a new file named by its digest and records it in place of the kept one.</summary>
    private async Task<Result<PackageRow>> WriteAsync(Caller caller, MachineView machine, CancellationToken ct)
    {
        var export = await packages.ExportMachineAsync(caller, machine.Id, ct);
        if (!export.IsSuccess)
        {
            return export.Error!;
        }
        var temp = PathOf($"{machine.Id}.{Guid.NewGuid():n}.tmp");
        string sha256;
        long size;
        try
        {
            await using (var ova = export.Value)
            {
                Directory.CreateDirectory(options.Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                await using var file = new FileStream(temp, new FileStreamOptions
                {
                    Mode = FileMode.CreateNew,
                    Access = FileAccess.ReadWrite,
                    Options = FileOptions.Asynchronous,
                    BufferSize = BufferSize,
                    UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
                });
                await ova.WriteAsync(file, ct);
                file.Position = 0;
                sha256 = Convert.ToHexStringLower(await SHA256.HashDataAsync(file, ct));
                size = file.Length;
                file.Flush(flushToDisk: true);
            }
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            var row = new PackageRow(machine.Id, machine.AccountId, machine.Version, size, sha256, export.Value.DiskSource,
                $"{machine.Id}.{sha256[..16]}.{machine.Version}.ova", now + (long)options.Expiry.TotalMilliseconds, now);
            File.Move(temp, PathOf(row.FileName), overwrite: true);
            var recorded = await db.WriteAsync<PackageRow>(async tx =>
            {
                await tx.ExecuteAsync("DELETE FROM machine_packages WHERE machine_id = @MachineId", new { row.MachineId });
                await tx.ExecuteAsync(
                    """
                    INSERT INTO machine_packages (machine_id, account_id, machine_version, size_bytes, sha256, disk_source, file_name, expires_at, created_at)
                    VALUES (@MachineId, @AccountId, @MachineVersion, @SizeBytes, @Sha256, @DiskSource, @FileName, @ExpiresAt, @CreatedAt)
                    """, row);
                await audit.AppendAsync(tx, caller, new AuditEvent("machine.package", machine.Id, AuditEvent.Success, machine.AccountId,
                    $"version={row.MachineVersion}; size={row.SizeBytes}; sha256={row.Sha256}; disks={row.DiskSource}"));
                return row;
            }, ct);
            if (!recorded.IsSuccess)
            {
                File.Delete(PathOf(row.FileName));
            }
            return recorded;
        }
        finally
        {
            if (File.Exists(temp))
            {
                File.Delete(temp);
            }
        }
    }

    private Task<PackageRow?> FindAsync(string machineId, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<PackageRow>($"SELECT {Columns} FROM machine_packages WHERE machine_id = @Id AND expires_at > @Now",
            new { Id = machineId, Now = clock.GetUtcNow().ToUnixTimeMilliseconds() }, ct);

    private string PathOf(string fileName) => Path.Combine(options.Directory, fileName);

    private static Error Missing(string machineId) =>
        new("package-not-found", ErrorKind.NotFound, $"Machine '{machineId}' has no package; make one with POST /api/v1/machines/{machineId}/package.");

    private static MachinePackageView ToView(PackageRow r) =>
        new(r.MachineId, r.AccountId, r.MachineVersion, r.SizeBytes, r.Sha256, r.DiskSource, DbTime.FromDb(r.CreatedAt), DbTime.FromDb(r.ExpiresAt));

    internal sealed record PackageRow(
        string MachineId, string AccountId, long MachineVersion, long SizeBytes, string Sha256, string DiskSource, string FileName, long ExpiresAt, long CreatedAt);
}

/// <summary>Deletes expired machine packages and their files.</summary>
public sealed class MachinePackageExpirySweeper(MachinePackageService packages) : IPeriodicWork
{
    public string Name => "machine-package-expiry";

    public TimeSpan Interval => TimeSpan.FromMinutes(5);

    public Task RunAsync(DateTimeOffset now, CancellationToken ct) => packages.ExpireAsync(ct);
}

using System.Globalization;
using Microsoft.Extensions.Logging;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Contracts;
using Welkin.Core.Data;
using Welkin.Core.Events;
using Welkin.Core.Jobs;
using Welkin.Core.Security;

namespace Welkin.Core.Configuration;

/// <summary>The query of <c>GET /api/v1/volumes</c>: filters and the page.</summary>
public sealed record VolumeListQuery(
    string? AccountId = null, string? ContractId = null, string? MachineId = null, string? State = null, string? After = null, int Limit = 100);

/// <summary>
/// Volumes (Table 1, "Provision Resource": storage): block volumes cut from a storage line of an
/// active contract in whole increments of the line (100 GB in the white paper). A volume holds
/// one unit of the line and of the account's quota per increment from creation to deletion.
/// Attaching and detaching are jobs that ask the compute driver; a machine that is not running,
/// or a driver without hot-plug, gets the change at the machine's next start.
/// </summary>
public sealed class VolumeService(IDatabase db, AuditLog audit, EventLog events, JobQueue jobs, ComputeFabric fabric, TimeProvider clock, ILogger<VolumeService> logger)
{
    public const string AttachAction = "volume.attach";
    public const string DetachAction = "volume.detach";

    private static readonly string Available = VolumeStore.Available;
    private static readonly string Attaching = VolumeStore.Attaching;
    private static readonly string Attached = VolumeStore.Attached;
    private static readonly string Detaching = VolumeStore.Detaching;
    private static readonly string Deleted = VolumeStore.Deleted;

    /// <summary>Guest devices in the order they are given: vdb, vdc, ... (vda is the machine's own disk).</summary>
    private static readonly IReadOnlyList<string> Devices = Enumerable.Range('b', 25).Select(c => "vd" + (char)c).ToList();

    public Task<Result<VolumeView>> CreateAsync(Caller caller, CreateVolumeRequest request, CancellationToken ct) =>
        CreateAsync(caller, request, null, ct);

    /// <summary>Creates a volume; <paramref name="once"/> records the answer under the request's Idempotency-Key in the same transaction.</summary>
    public async Task<Result<VolumeView>> CreateAsync(Caller caller, CreateVolumeRequest request, IdempotentWrite<VolumeView>? once, CancellationToken ct)
    {
        if (Tenancy.RequireTenant(caller, Permission.ResourcesConfigure, "Creating a volume") is { } denied)
        {
            return denied;
        }
        if (StorageLines.Check(request.ContractId, request.SizeGiB, request.Name, request.Item, "sizeGiB") is { } invalid)
        {
            return invalid;
        }
        var accountId = caller.AccountId!;
        return await db.WriteAsync<VolumeView>(async tx =>
        {
            var drawn = await StorageLines.DrawAsync(tx, caller, accountId, request.ContractId, request.Item, request.SizeGiB, "volumes", "sizeGiB");
            if (!drawn.IsSuccess)
            {
                return drawn.Error!;
            }
            var (line, units) = drawn.Value;
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            var id = Ids.New(Ids.Volume, clock);
            var row = new VolumeRow(id, accountId, request.ContractId, line.Item, line.LimitUnit, units, request.Name ?? id, request.SizeGiB,
                Available, null, null, 0, 1, now, now, null);
            await VolumeStore.InsertAsync(tx, row);
            await events.AppendAsync(tx, caller, new LifecycleEvent(EventLog.Types.VolumeProvisioned, id, accountId, UsageData(row)));
            await audit.AppendAsync(tx, caller, new AuditEvent("volume.create", id, AuditEvent.Success, accountId,
                $"contract={request.ContractId} item={line.Item} sizeGiB={request.SizeGiB.ToString(CultureInfo.InvariantCulture)}"));
            var view = ToView(row);
            return once is not null && await once.RecordAsync(tx, view) is { } taken ? taken : view;
        }, ct);
    }

    public async Task<Result<VolumeView>> GetAsync(Caller caller, string id, CancellationToken ct)
    {
        if (Tenancy.Require(caller, Permission.ResourcesRead, "Reading volumes") is { } denied)
        {
            return denied;
        }
        if (!Ids.IsValid(id, Ids.Volume))
        {
            return Error.InvalidId(id, "volume");
        }
        var row = await VolumeStore.GetAsync(db, id, ct);
        return row is null || !Tenancy.Sees(caller, row.AccountId) ? Error.NotFound("Volume", id) : ToView(row);
    }

    /// <summary>Volumes of the caller's account (provider readers: of any account), oldest first; deleted ones only when asked for by state.</summary>
    public async Task<Result<Page<VolumeView>>> ListAsync(Caller caller, VolumeListQuery query, CancellationToken ct)
    {
        var scope = Tenancy.Scope(caller, Permission.ResourcesRead, query.AccountId, "Listing volumes");
        if (!scope.IsSuccess)
        {
            return scope.Error!;
        }
        if (Filters.Page<VolumeState>(query.After, Ids.Volume, "volume", query.State) is { } invalid)
        {
            return invalid;
        }
        var paging = new Paging(query.Limit);
        var rows = await VolumeStore.ListAsync(db, scope.Value, query.ContractId, query.MachineId, query.State, query.After ?? "", paging.Take, ct);
        return paging.Page(rows, ToView, v => v.Id);
    }

    /// <summary>Attaches a volume to a machine of the same account; the driver work runs as a <c>volume.attach</c> job.</summary>
    public async Task<Result<AcceptedView<VolumeView>>> AttachAsync(Caller caller, string id, AttachVolumeRequest request, CancellationToken ct)
    {
        if (Check(caller, id, "Attaching a volume") is { } error)
        {
            return error;
        }
        var result = await db.WriteAsync<AcceptedView<VolumeView>>(async tx =>
        {
            var found = await FindAsync(tx, caller, id, request.Version);
            if (!found.IsSuccess)
            {
                return found.Error!;
            }
            var row = found.Value;
            if (row.State != Available)
            {
                return Error.InvalidState($"Volume '{id}' is {row.State}; only an available volume can be attached.");
            }
            var machine = await Resources.MachineAsync(tx, request.MachineId, row.AccountId);
            if (!machine.IsSuccess)
            {
                return machine.Error!;
            }
            if (machine.Value.IsGone)
            {
                return Error.InvalidState($"Machine '{request.MachineId}' is {machine.Value.State}; volumes attach to machines that exist.");
            }
            // A volume's data lives in the storage of the pool it was first attached in.
            if (row.Pool is { } pool && machine.Value.Pool is { } machinePool && pool != machinePool)
            {
                return Error.InvalidState($"Volume '{id}' keeps its data in host pool '{pool}'; machine '{request.MachineId}' runs in pool '{machinePool}'.");
            }
            await Instances.MachineStore.LockAsync(tx, request.MachineId);
            var used = await VolumeStore.DevicesOfAsync(tx, request.MachineId);
            // The machine's data disks hold the first devices after its system disk (vdb, vdc, …); volumes take the next free ones.
            var dataDisks = machine.Value.DataDiskDevices ?? [];
            var device = Devices.FirstOrDefault(d => !used.Contains(d) && !dataDisks.Contains(d, StringComparer.Ordinal));
            if (device is null)
            {
                return Error.InvalidState(
                    $"Machine '{request.MachineId}' has no free device for another volume ({Devices.Count} at most, its {dataDisks.Count} data disks among them).");
            }
            var updated = row with
            {
                State = Attaching, MachineId = request.MachineId, Device = device, Applied = 0, Version = row.Version + 1, Pool = row.Pool ?? machine.Value.Pool,
                UpdatedAt = clock.GetUtcNow().ToUnixTimeMilliseconds(),
            };
            if (await VolumeStore.UpdateAsync(tx, updated, row.Version) == 0)
            {
                return Error.Concurrency("Volume", id);
            }
            var job = await jobs.EnqueueAsync(tx, caller, row.AccountId, AttachAction, id, new VolumeJob(id, request.MachineId, device, FirstAttach: row.Pool is null));
            await audit.AppendAsync(tx, caller, new AuditEvent("volume.attach", id, AuditEvent.Success, row.AccountId, $"machine={request.MachineId} device={device}"));
            return new AcceptedView<VolumeView>(job, ToView(updated));
        }, ct);
        Wake(result);
        return result;
    }

    /// <summary>Detaches a volume from its machine; the driver work runs as a <c>volume.detach</c> job.</summary>
    public async Task<Result<AcceptedView<VolumeView>>> DetachAsync(Caller caller, string id, DetachVolumeRequest request, CancellationToken ct)
    {
        if (Check(caller, id, "Detaching a volume") is { } error)
        {
            return error;
        }
        var result = await db.WriteAsync<AcceptedView<VolumeView>>(async tx =>
        {
            var found = await FindAsync(tx, caller, id, request.Version);
            if (!found.IsSuccess)
            {
                return found.Error!;
            }
            var row = found.Value;
            if (row.State != Attached)
            {
                return Error.InvalidState($"Volume '{id}' is {row.State}; only an attached volume can be detached.");
            }
            var updated = row with { State = Detaching, Version = row.Version + 1, UpdatedAt = clock.GetUtcNow().ToUnixTimeMilliseconds() };
            if (await VolumeStore.UpdateAsync(tx, updated, row.Version) == 0)
            {
                return Error.Concurrency("Volume", id);
            }
            var job = await jobs.EnqueueAsync(tx, caller, row.AccountId, DetachAction, id, new VolumeJob(id, row.MachineId!, row.Device!));
            await audit.AppendAsync(tx, caller, new AuditEvent("volume.detach", id, AuditEvent.Success, row.AccountId, $"machine={row.MachineId}"));
            return new AcceptedView<VolumeView>(job, ToView(updated));
        }, ct);
        Wake(result);
        return result;
    }

    /// <summary>Deletes a detached volume and returns its increments to the contract line and the account.</summary>
    public async Task<Result<VolumeView>> DeleteAsync(Caller caller, string id, DeleteVolumeRequest request, CancellationToken ct)
    {
        if (Check(caller, id, "Deleting a volume") is { } error)
        {
            return error;
        }
        string? pool = null;
        var result = await db.WriteAsync<VolumeView>(async tx =>
        {
            var found = await FindAsync(tx, caller, id, request.Version);
            if (!found.IsSuccess)
            {
                return found.Error!;
            }
            var row = found.Value;
            pool = row.Pool;
            if (row.State != Available)
            {
                return Error.InvalidState($"Volume '{id}' is {row.State}; detach it before deleting it.");
            }
            var deleted = await MarkDeletedAsync(tx, caller, row);
            return deleted is null ? Error.Concurrency("Volume", id) : ToView(deleted);
        }, ct);
        if (result.IsSuccess)
        {
            await DeleteStorageAsync(id, pool, ct);
        }
        return result;
    }

    /// <summary>
    /// Removes the fabric's copy of a deleted volume, after its row is committed as deleted (the
    /// other order could lose the data of a volume whose deletion did not commit). Should this
    /// fail, or Welkin stop in between, the file stays behind, unreachable: it is logged.
    /// </summary>
    internal async Task DeleteStorageAsync(string volumeId, string? pool, CancellationToken ct)
    {
        var removed = await fabric.DeleteVolumeAsync(volumeId, pool, ct);
        if (!removed.IsSuccess)
        {
            logger.LogWarning("Volume {Volume} is deleted but the fabric kept its storage: {Detail}", volumeId, removed.Error!.Detail);
        }
    }

    /// <summary>Deletes the row and returns its units, in the caller's transaction; null when another change came first.</summary>
    internal async Task<VolumeRow?> MarkDeletedAsync(Tx tx, Caller caller, VolumeRow row)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var deleted = row with { State = Deleted, MachineId = null, Device = null, Applied = 0, Version = row.Version + 1, UpdatedAt = now, DeletedAt = now };
        if (await VolumeStore.UpdateAsync(tx, deleted, row.Version) == 0)
        {
            return null;
        }
        await Quotas.ReturnProvisionedAsync(tx, row.AccountId, row.ContractId, (int)row.Item, row.LimitUnit, row.Units);
        await events.AppendAsync(tx, caller, new LifecycleEvent(EventLog.Types.VolumeReleased, row.Id, row.AccountId, UsageData(row)));
        await audit.AppendAsync(tx, caller, new AuditEvent("volume.delete", row.Id, AuditEvent.Success, row.AccountId,
            $"contract={row.ContractId} item={row.Item} sizeGiB={row.SizeGiB.ToString(CultureInfo.InvariantCulture)}"));
        return deleted;
    }

    internal static VolumeView ToView(VolumeRow r) =>
        new(r.Id, r.AccountId, r.ContractId, (int)r.Item, r.Name, r.SizeGiB, WireNames.Parse<VolumeState>(r.State), r.MachineId, r.Device, r.Applied != 0,
            r.Version, DbTime.FromDb(r.CreatedAt), DbTime.FromDb(r.UpdatedAt), DbTime.FromDb(r.DeletedAt));

    private static Dictionary<string, string> UsageData(VolumeRow row) => new()
    {
        ["sizeGiB"] = row.SizeGiB.ToString(CultureInfo.InvariantCulture),
        ["contractId"] = row.ContractId,
        ["item"] = row.Item.ToString(CultureInfo.InvariantCulture),
        ["units"] = row.Units.ToString(CultureInfo.InvariantCulture),
    };

    private static Error? Check(Caller caller, string id, string what) =>
        Tenancy.RequireTenant(caller, Permission.ResourcesConfigure, what) ?? (Ids.IsValid(id, Ids.Volume) ? null : Error.InvalidId(id, "volume"));

    private static async Task<Result<VolumeRow>> FindAsync(Tx tx, Caller caller, string id, long? expectedVersion)
    {
        var row = await VolumeStore.GetAsync(tx, id);
        if (row is null || !Tenancy.Sees(caller, row.AccountId))
        {
            return Error.NotFound("Volume", id);
        }
        if (expectedVersion is { } expected && expected != row.Version)
        {
            return Error.VersionMismatch("Volume", id, expected, row.Version);
        }
        return row;
    }

    private void Wake<T>(Result<T> result)
    {
        if (result.IsSuccess)
        {
            jobs.Wake();
        }
    }
}

/// <summary>What a volume job works on: fixed when the job is accepted.</summary>
/// <param name="FirstAttach">The attach chose the pool the volume keeps its data in (it had none): a failed one gives the choice back.</param>
internal sealed record VolumeJob(string VolumeId, string MachineId, string Device, bool FirstAttach = false);


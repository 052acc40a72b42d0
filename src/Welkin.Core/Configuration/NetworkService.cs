using System.Globalization;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Jobs;
using Welkin.Core.Security;

namespace Welkin.Core.Configuration;

/// <summary>The query of <c>GET /api/v1/networks</c>: filters and the page.</summary>
public sealed record NetworkListQuery(string? AccountId = null, string? State = null, string? After = null, int Limit = 100);

/// <summary>
/// Tenant networks (Table 1, "Provision Resource": network): private IPv4 networks of one
/// account. Connecting a machine gives it the lowest free host address and a MAC derived from
/// the two ids; the driver work runs as a job. Machines of one account never join another
/// account's network: such a network answers exactly like a missing one.
/// </summary>
public sealed class NetworkService(IDatabase db, AuditLog audit, JobQueue jobs, TimeProvider clock)
{
    public const string ConnectAction = "network.connect";
    public const string DisconnectAction = "network.disconnect";

    private static readonly string Available = NetworkStore.Available;
    private static readonly string Deleted = NetworkStore.Deleted;
    private static readonly string Connecting = NetworkStore.Connecting;
    private static readonly string Connected = NetworkStore.Connected;

    /// <summary>Attempts at inserting an address before giving up; each failed one means another connect took that address.</summary>
    private const int AllocationAttempts = 64;

    public Task<Result<NetworkView>> CreateAsync(Caller caller, CreateNetworkRequest request, CancellationToken ct) =>
        CreateAsync(caller, request, null, ct);

    /// <summary>Creates a tenant network; <paramref name="once"/> records the answer under the request's Idempotency-Key in the same transaction.</summary>
    public async Task<Result<NetworkView>> CreateAsync(Caller caller, CreateNetworkRequest request, IdempotentWrite<NetworkView>? once, CancellationToken ct)
    {
        if (Tenancy.RequireTenant(caller, Permission.ResourcesConfigure, "Creating a network") is { } denied)
        {
            return denied;
        }
        var v = new Validator();
        v.Require(Names.IsValid(request.Name), "name", $"name {Names.Rule}");
        Ipv4Network network = default;
        if (!Ipv4Network.TryParse(request.Cidr ?? Ipv4Network.Default, out network, out var problem))
        {
            v.Add("cidr", problem);
        }
        if (v.ToError() is { } invalid)
        {
            return invalid;
        }
        var accountId = caller.AccountId!;
        return await db.WriteAsync<NetworkView>(async tx =>
        {
            // Serialises network creation per account (PostgreSQL row lock; SQLite writers are
            // serialised anyway) so two overlapping networks cannot both pass the check below.
            await Accounts.AccountStore.LockAsync(tx, accountId);
            var others = await NetworkStore.AvailableOfAccountAsync(tx, accountId);
            if (others.FirstOrDefault(o => o.Name == request.Name) is { } same)
            {
                return new Error("name-taken", ErrorKind.Conflict, $"The account already has a network named '{same.Name}'.");
            }
            if (others.FirstOrDefault(o => Range(o).Overlaps(network)) is { } overlap)
            {
                return new Error("network-overlap", ErrorKind.Conflict, $"{network} overlaps network '{overlap.Name}' ({overlap.Cidr}) of the account.");
            }
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            var row = new NetworkRow(Ids.New(Ids.Network, clock), accountId, request.Name, network.ToString(), network.First, network.PrefixLength,
                Available, 1, now, now, null);
            await NetworkStore.InsertAsync(tx, row);
            await audit.AppendAsync(tx, caller, new AuditEvent("network.create", row.Id, AuditEvent.Success, accountId, $"name={row.Name} cidr={row.Cidr}"));
            var view = ToView(row, []);
            return once is not null && await once.RecordAsync(tx, view) is { } taken ? taken : view;
        }, ct);
    }

    public async Task<Result<NetworkView>> GetAsync(Caller caller, string id, CancellationToken ct)
    {
        if (Tenancy.Require(caller, Permission.ResourcesRead, "Reading networks") is { } denied)
        {
            return denied;
        }
        if (!Ids.IsValid(id, Ids.Network))
        {
            return Error.InvalidId(id, "network");
        }
        return await db.ReadAsync<Result<NetworkView>>(async tx =>
        {
            var row = await NetworkStore.GetAsync(tx, id);
            if (row is null || !Tenancy.Sees(caller, row.AccountId))
            {
                return Error.NotFound("Network", id);
            }
            return ToView(row, await NetworkStore.AttachmentsAsync(tx, id));
        }, ct);
    }

    /// <summary>Networks of the caller's account (provider readers: of any account), oldest first; deleted ones only when asked for by state.</summary>
    public async Task<Result<Page<NetworkView>>> ListAsync(Caller caller, NetworkListQuery query, CancellationToken ct)
    {
        var scope = Tenancy.Scope(caller, Permission.ResourcesRead, query.AccountId, "Listing networks");
        if (!scope.IsSuccess)
        {
            return scope.Error!;
        }
        if (Filters.Page<NetworkState>(query.After, Ids.Network, "network", query.State) is { } invalid)
        {
            return invalid;
        }
        var paging = new Paging(query.Limit);
        return await db.ReadAsync<Result<Page<NetworkView>>>(async tx =>
        {
            var rows = await NetworkStore.ListAsync(tx, scope.Value, query.State, query.After ?? "", paging.Take);
            var attachments = new Dictionary<string, IReadOnlyList<AttachmentRow>>(StringComparer.Ordinal);
            foreach (var row in paging.Rows(rows))
            {
                attachments[row.Id] = await NetworkStore.AttachmentsAsync(tx, row.Id);
            }
            return paging.Page(rows, r => ToView(r, attachments[r.Id]), v => v.Id);
        }, ct);
    }

    /// <summary>Connects a machine of the network's account: allocates its address and MAC and runs a <c>network.connect</c> job.</summary>
    public async Task<Result<AcceptedView<NetworkView>>> ConnectAsync(Caller caller, string id, ConnectNetworkRequest request, CancellationToken ct)
    {
        if (Check(caller, id, "Connecting a machine to a network") is { } error)
        {
            return error;
        }
        var result = await db.WriteAsync<AcceptedView<NetworkView>>(async tx =>
        {
            var found = await LockAsync(tx, caller, id, request.Version);
            if (!found.IsSuccess)
            {
                return found.Error!;
            }
            var row = found.Value;
            var machine = await Resources.MachineAsync(tx, request.MachineId, row.AccountId);
            if (!machine.IsSuccess)
            {
                return machine.Error!;
            }
            if (machine.Value.IsGone)
            {
                return Error.InvalidState($"Machine '{request.MachineId}' is {machine.Value.State}; only machines that exist can be connected.");
            }
            var range = Range(row);
            var mac = Ipv4Network.Mac(id, request.MachineId);
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            AttachmentRow? attachment = null;
            for (var attempt = 0; attempt < AllocationAttempts && attachment is null; attempt++)
            {
                var taken = await NetworkStore.TakenAsync(tx, id);
                if (taken.Any(a => a.MachineId == request.MachineId))
                {
                    return Error.InvalidState($"Machine '{request.MachineId}' is already connected to network '{id}'.");
                }
                var index = LowestFree(taken.Select(a => a.HostIndex), range.HostCount);
                if (index is null)
                {
                    return new Error("network-full", ErrorKind.Conflict, $"Network '{id}' ({row.Cidr}) has no free address.");
                }
                var candidate = new AttachmentRow(id, request.MachineId, row.AccountId, Ipv4Network.Format(range.HostAddress(index.Value)), index.Value, mac,
                    Connecting, 0, now, now);
                // The unique indexes decide: a connect that committed the same address (or the
                // same machine) in the meantime makes this insert do nothing, and we look again.
                attachment = await NetworkStore.TryAttachAsync(tx, candidate) ? candidate : null;
            }
            if (attachment is null)
            {
                return Error.Concurrency("Network", id);
            }
            var job = await jobs.EnqueueAsync(tx, caller, row.AccountId, ConnectAction, id, new NetworkJob(id, request.MachineId));
            await audit.AppendAsync(tx, caller, new AuditEvent("network.connect", id, AuditEvent.Success, row.AccountId,
                $"machine={request.MachineId} address={attachment.Address} mac={attachment.Mac}"));
            return new AcceptedView<NetworkView>(job, ToView(row, await NetworkStore.AttachmentsAsync(tx, id)));
        }, ct);
        Wake(result);
        return result;
    }

    /// <summary>Disconnects a machine; its address is free again once the <c>network.disconnect</c> job has removed the NIC.</summary>
    public async Task<Result<AcceptedView<NetworkView>>> DisconnectAsync(Caller caller, string id, DisconnectNetworkRequest request, CancellationToken ct)
    {
        if (Check(caller, id, "Disconnecting a machine from a network") is { } error)
        {
            return error;
        }
        if (!Ids.IsValid(request.MachineId, Ids.Machine))
        {
            return Error.InvalidId(request.MachineId, "machine");
        }
        var result = await db.WriteAsync<AcceptedView<NetworkView>>(async tx =>
        {
            var found = await LockAsync(tx, caller, id, request.Version);
            if (!found.IsSuccess)
            {
                return found.Error!;
            }
            var row = found.Value;
            var attachment = await NetworkStore.AttachmentAsync(tx, id, request.MachineId);
            if (attachment is null)
            {
                // Another account's machine is never attached here, so this leaks nothing.
                return Error.NotFound("Attachment of machine", request.MachineId);
            }
            if (attachment.State != Connected)
            {
                return Error.InvalidState($"Machine '{request.MachineId}' is {attachment.State} on network '{id}'; only a connected machine can be disconnected.");
            }
            await NetworkStore.MarkDisconnectingAsync(tx, id, request.MachineId, clock.GetUtcNow().ToUnixTimeMilliseconds());
            var job = await jobs.EnqueueAsync(tx, caller, row.AccountId, DisconnectAction, id, new NetworkJob(id, request.MachineId));
            await audit.AppendAsync(tx, caller, new AuditEvent("network.disconnect", id, AuditEvent.Success, row.AccountId,
                $"machine={request.MachineId} address={attachment.Address}"));
            return new AcceptedView<NetworkView>(job, ToView(row, await NetworkStore.AttachmentsAsync(tx, id)));
        }, ct);
        Wake(result);
        return result;
    }

    /// <summary>Deletes a network no machine is connected to (or connecting to or disconnecting from).</summary>
    public async Task<Result<NetworkView>> DeleteAsync(Caller caller, string id, long? version, CancellationToken ct)
    {
        if (Check(caller, id, "Deleting a network") is { } error)
        {
            return error;
        }
        return await db.WriteAsync<NetworkView>(async tx =>
        {
            var found = await LockAsync(tx, caller, id, version);
            if (!found.IsSuccess)
            {
                return found.Error!;
            }
            var row = found.Value;
            var attached = await NetworkStore.CountAttachedAsync(tx, id);
            if (attached > 0)
            {
                return Error.InvalidState($"Network '{id}' has {attached.ToString(CultureInfo.InvariantCulture)} machine(s) connected; disconnect them first.");
            }
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            await NetworkStore.MarkDeletedAsync(tx, id, now);
            await audit.AppendAsync(tx, caller, new AuditEvent("network.delete", id, AuditEvent.Success, row.AccountId, $"name={row.Name} cidr={row.Cidr}"));
            return ToView(row with { State = Deleted, UpdatedAt = now, DeletedAt = now }, []);
        }, ct);
    }

    /// <summary>The lowest host index not in <paramref name="taken"/>, or null when all <paramref name="hostCount"/> are.</summary>
    internal static long? LowestFree(IEnumerable<long> taken, long hostCount)
    {
        var used = taken.ToHashSet();
        for (long i = 0; i < hostCount; i++)
        {
            if (!used.Contains(i))
            {
                return i;
            }
        }
        return null;
    }

    internal static Ipv4Network Range(NetworkRow row) => new((uint)row.FirstAddress, (int)row.PrefixLength);

    internal static NetworkView ToView(NetworkRow r, IReadOnlyList<AttachmentRow> attachments) =>
        new(r.Id, r.AccountId, r.Name, r.Cidr, Ipv4Network.Format(Range(r).Gateway), WireNames.Parse<NetworkState>(r.State),
            attachments.Select(a => new NetworkAttachmentView(a.MachineId, a.Address, a.Mac, WireNames.Parse<NetworkAttachmentState>(a.State), a.Applied != 0,
                DbTime.FromDb(a.CreatedAt))).ToList(),
            r.Version, DbTime.FromDb(r.CreatedAt), DbTime.FromDb(r.UpdatedAt));

    private static Error? Check(Caller caller, string id, string what) =>
        Tenancy.RequireTenant(caller, Permission.ResourcesConfigure, what) ?? (Ids.IsValid(id, Ids.Network) ? null : Error.InvalidId(id, "network"));

    /// <summary>
    /// Reads the network and bumps its version in one step that also takes its row lock, so
    /// connects, disconnects and the delete of one network run one after the other.
    /// </summary>
    private async Task<Result<NetworkRow>> LockAsync(Tx tx, Caller caller, string id, long? expectedVersion)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var n = await NetworkStore.BumpAsync(tx, id, now);
        var row = await NetworkStore.GetAsync(tx, id);
        if (row is null || !Tenancy.Sees(caller, row.AccountId))
        {
            return Error.NotFound("Network", id);
        }
        if (n == 0)
        {
            return Error.InvalidState($"Network '{id}' is {row.State}.");
        }
        if (expectedVersion is { } expected && expected != row.Version - 1)
        {
            return Error.VersionMismatch("Network", id, expected, row.Version - 1);
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

/// <summary>What a network job works on.</summary>
internal sealed record NetworkJob(string NetworkId, string MachineId);


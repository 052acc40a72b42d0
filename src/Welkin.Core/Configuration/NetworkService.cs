using System.Globalization;
using Dapper;
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

    internal const string Columns =
        "id AS Id, account_id AS AccountId, name AS Name, cidr AS Cidr, first_address AS FirstAddress, prefix_length AS PrefixLength, " +
        "state AS State, version AS Version, created_at AS CreatedAt, updated_at AS UpdatedAt, deleted_at AS DeletedAt";

    internal const string AttachmentColumns =
        "network_id AS NetworkId, machine_id AS MachineId, account_id AS AccountId, address AS Address, host_index AS HostIndex, mac AS Mac, " +
        "state AS State, applied AS Applied, created_at AS CreatedAt, updated_at AS UpdatedAt";

    internal static readonly string Available = WireNames.Of(NetworkState.Available);
    internal static readonly string Deleted = WireNames.Of(NetworkState.Deleted);
    internal static readonly string Connecting = WireNames.Of(NetworkAttachmentState.Connecting);
    internal static readonly string Connected = WireNames.Of(NetworkAttachmentState.Connected);
    internal static readonly string Disconnecting = WireNames.Of(NetworkAttachmentState.Disconnecting);

    /// <summary>Attempts at inserting an address before giving up; each failed one means another connect took that address.</summary>
    private const int AllocationAttempts = 64;

    public async Task<Result<NetworkView>> CreateAsync(Caller caller, CreateNetworkRequest request, CancellationToken ct)
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
            await tx.ExecuteAsync("UPDATE accounts SET version = version WHERE id = @Id", new { Id = accountId });
            var others = await tx.QueryAsync<NetworkRow>(
                $"SELECT {Columns} FROM networks WHERE account_id = @AccountId AND state = @Available", new { AccountId = accountId, Available });
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
            await tx.ExecuteAsync(
                """
                INSERT INTO networks (id, account_id, name, live_name, cidr, first_address, prefix_length, state, version, created_at, updated_at)
                VALUES (@Id, @AccountId, @Name, @Name, @Cidr, @FirstAddress, @PrefixLength, @State, @Version, @CreatedAt, @UpdatedAt)
                """, row);
            await audit.AppendAsync(tx, caller, new AuditEvent("network.create", row.Id, AuditEvent.Success, accountId, $"name={row.Name} cidr={row.Cidr}"));
            return ToView(row, []);
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
            var row = await tx.QuerySingleOrDefaultAsync<NetworkRow>($"SELECT {Columns} FROM networks WHERE id = @Id", new { Id = id });
            if (row is null || !Tenancy.Sees(caller, row.AccountId))
            {
                return Error.NotFound("Network", id);
            }
            return ToView(row, await AttachmentsAsync(tx, id));
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
            var rows = (await tx.QueryAsync<NetworkRow>(
                $"""
                SELECT {Columns} FROM networks
                WHERE id > @After AND (@Scope IS NULL OR account_id = @Scope) AND ((@State IS NULL AND state <> @Deleted) OR state = @State)
                ORDER BY id LIMIT @Take
                """,
                new { After = query.After ?? "", Scope = scope.Value, query.State, Deleted, paging.Take })).AsList();
            var attachments = new Dictionary<string, IReadOnlyList<AttachmentRow>>(StringComparer.Ordinal);
            foreach (var row in paging.Rows(rows))
            {
                attachments[row.Id] = await AttachmentsAsync(tx, row.Id);
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
                var taken = (await tx.QueryAsync<AttachmentRow>($"SELECT {AttachmentColumns} FROM network_attachments WHERE network_id = @Id", new { Id = id })).AsList();
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
                var inserted = await tx.ExecuteAsync(
                    """
                    INSERT INTO network_attachments (network_id, machine_id, account_id, address, host_index, mac, state, applied, created_at, updated_at)
                    VALUES (@NetworkId, @MachineId, @AccountId, @Address, @HostIndex, @Mac, @State, @Applied, @CreatedAt, @UpdatedAt)
                    ON CONFLICT DO NOTHING
                    """, candidate);
                attachment = inserted == 1 ? candidate : null;
            }
            if (attachment is null)
            {
                return Error.Concurrency("Network", id);
            }
            var job = await jobs.EnqueueAsync(tx, caller, row.AccountId, ConnectAction, id, new NetworkJob(id, request.MachineId));
            await audit.AppendAsync(tx, caller, new AuditEvent("network.connect", id, AuditEvent.Success, row.AccountId,
                $"machine={request.MachineId} address={attachment.Address} mac={attachment.Mac}"));
            return new AcceptedView<NetworkView>(job, ToView(row, await AttachmentsAsync(tx, id)));
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
            var attachment = await tx.QuerySingleOrDefaultAsync<AttachmentRow>(
                $"SELECT {AttachmentColumns} FROM network_attachments WHERE network_id = @Id AND machine_id = @MachineId", new { Id = id, request.MachineId });
            if (attachment is null)
            {
                // Another account's machine is never attached here, so this leaks nothing.
                return Error.NotFound("Attachment of machine", request.MachineId);
            }
            if (attachment.State != Connected)
            {
                return Error.InvalidState($"Machine '{request.MachineId}' is {attachment.State} on network '{id}'; only a connected machine can be disconnected.");
            }
            await tx.ExecuteAsync(
                "UPDATE network_attachments SET state = @Disconnecting, updated_at = @Now WHERE network_id = @Id AND machine_id = @MachineId",
                new { Disconnecting, Now = clock.GetUtcNow().ToUnixTimeMilliseconds(), Id = id, request.MachineId });
            var job = await jobs.EnqueueAsync(tx, caller, row.AccountId, DisconnectAction, id, new NetworkJob(id, request.MachineId));
            await audit.AppendAsync(tx, caller, new AuditEvent("network.disconnect", id, AuditEvent.Success, row.AccountId,
                $"machine={request.MachineId} address={attachment.Address}"));
            return new AcceptedView<NetworkView>(job, ToView(row, await AttachmentsAsync(tx, id)));
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
            var attached = await tx.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM network_attachments WHERE network_id = @Id", new { Id = id });
            if (attached > 0)
            {
                return Error.InvalidState($"Network '{id}' has {attached.ToString(CultureInfo.InvariantCulture)} machine(s) connected; disconnect them first.");
            }
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            await tx.ExecuteAsync(
                "UPDATE networks SET state = @Deleted, live_name = NULL, deleted_at = @Now, updated_at = @Now WHERE id = @Id",
                new { Deleted, Now = now, Id = id });
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

    internal static async Task<IReadOnlyList<AttachmentRow>> AttachmentsAsync(Tx tx, string networkId) =>
        (await tx.QueryAsync<AttachmentRow>($"SELECT {AttachmentColumns} FROM network_attachments WHERE network_id = @Id ORDER BY host_index", new { Id = networkId })).AsList();

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
        var n = await tx.ExecuteAsync("UPDATE networks SET version = version + 1, updated_at = @Now WHERE id = @Id AND state = @Available",
            new { Now = now, Id = id, Available });
        var row = await tx.QuerySingleOrDefaultAsync<NetworkRow>($"SELECT {Columns} FROM networks WHERE id = @Id", new { Id = id });
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

internal sealed record NetworkRow(
    string Id, string AccountId, string Name, string Cidr, long FirstAddress, long PrefixLength, string State, long Version, long CreatedAt, long UpdatedAt,
    long? DeletedAt);

internal sealed record AttachmentRow(
    string NetworkId, string MachineId, string AccountId, string Address, long HostIndex, string Mac, string State, long Applied, long CreatedAt, long UpdatedAt);

using Dapper;
using Welkin.Contracts;
using Welkin.Core.Data;

namespace Welkin.Core.Configuration;

/// <summary>
/// The owner of the <c>networks</c> and <c>network_attachments</c> tables: every write to them goes
/// through here, in the caller's transaction, and so do the reads other rooms need (a machine's
/// NICs). The unique indexes on <c>(network_id, address)</c> and <c>(network_id, machine_id)</c>
/// decide between connects that race (<see cref="TryAttachAsync"/>).
/// </summary>
internal static class NetworkStore
{
    public const string Columns =
        "id AS Id, account_id AS AccountId, name AS Name, cidr AS Cidr, first_address AS FirstAddress, prefix_length AS PrefixLength, " +
        "state AS State, version AS Version, created_at AS CreatedAt, updated_at AS UpdatedAt, deleted_at AS DeletedAt";

    public const string AttachmentColumns =
        "network_id AS NetworkId, machine_id AS MachineId, account_id AS AccountId, address AS Address, host_index AS HostIndex, mac AS Mac, " +
        "state AS State, applied AS Applied, created_at AS CreatedAt, updated_at AS UpdatedAt";

    public static readonly string Available = WireNames.Of(NetworkState.Available);
    public static readonly string Deleted = WireNames.Of(NetworkState.Deleted);
    public static readonly string Connecting = WireNames.Of(NetworkAttachmentState.Connecting);
    public static readonly string Connected = WireNames.Of(NetworkAttachmentState.Connected);
    public static readonly string Disconnecting = WireNames.Of(NetworkAttachmentState.Disconnecting);

    // ---- networks -------------------------------------------------------------------------------

    public static Task InsertAsync(Tx tx, NetworkRow row) =>
        tx.ExecuteAsync(
            """
            INSERT INTO networks (id, account_id, name, live_name, cidr, first_address, prefix_length, state, version, created_at, updated_at)
            VALUES (@Id, @AccountId, @Name, @Name, @Cidr, @FirstAddress, @PrefixLength, @State, @Version, @CreatedAt, @UpdatedAt)
            """, row);

    public static Task<NetworkRow?> GetAsync(Tx tx, string id) =>
        tx.QuerySingleOrDefaultAsync<NetworkRow>($"SELECT {Columns} FROM networks WHERE id = @Id", new { Id = id });

    /// <summary>The account's networks that are not deleted.</summary>
    public static Task<IEnumerable<NetworkRow>> AvailableOfAccountAsync(Tx tx, string accountId) =>
        tx.QueryAsync<NetworkRow>($"SELECT {Columns} FROM networks WHERE account_id = @AccountId AND state = @Available", new { AccountId = accountId, Available });

    /// <summary>A page of networks (ordered by id) after <paramref name="after"/>; deleted ones only when <paramref name="state"/> asks for them.</summary>
    public static async Task<List<NetworkRow>> ListAsync(Tx tx, string? accountId, string? state, string after, int take) =>
        (await tx.QueryAsync<NetworkRow>(
            $"""
            SELECT {Columns} FROM networks
            WHERE id > @After AND (@Scope IS NULL OR account_id = @Scope) AND ((@State IS NULL AND state <> @Deleted) OR state = @State)
            ORDER BY id LIMIT @Take
            """,
            new { After = after, Scope = accountId, State = state, Deleted, Take = take })).AsList();

    /// <summary>
    /// Bumps the network's version, which takes its row lock, when it is available; 0 when it is
    /// not (or does not exist). Connects, disconnects and the delete of one network so run one
    /// after the other.
    /// </summary>
    public static Task<int> BumpAsync(Tx tx, string id, long now) =>
        tx.ExecuteAsync("UPDATE networks SET version = version + 1, updated_at = @Now WHERE id = @Id AND state = @Available",
            new { Now = now, Id = id, Available });

    public static Task MarkDeletedAsync(Tx tx, string id, long now) =>
        tx.ExecuteAsync(
            "UPDATE networks SET state = @Deleted, live_name = NULL, deleted_at = @Now, updated_at = @Now WHERE id = @Id",
            new { Deleted, Now = now, Id = id });

    // ---- attachments ----------------------------------------------------------------------------

    /// <summary>
    /// Records an attachment unless its address or machine is already taken on the network
    /// (ON CONFLICT DO NOTHING: the unique indexes decide); false when it is.
    /// </summary>
    public static async Task<bool> TryAttachAsync(Tx tx, AttachmentRow row) =>
        await tx.ExecuteAsync(
            """
            INSERT INTO network_attachments (network_id, machine_id, account_id, address, host_index, mac, state, applied, created_at, updated_at)
            VALUES (@NetworkId, @MachineId, @AccountId, @Address, @HostIndex, @Mac, @State, @Applied, @CreatedAt, @UpdatedAt)
            ON CONFLICT DO NOTHING
            """, row) == 1;

    /// <summary>The network's attachments in no particular order (for choosing a free address).</summary>
    public static async Task<List<AttachmentRow>> TakenAsync(Tx tx, string networkId) =>
        (await tx.QueryAsync<AttachmentRow>($"SELECT {AttachmentColumns} FROM network_attachments WHERE network_id = @Id", new { Id = networkId })).AsList();

    /// <summary>The network's attachments by address.</summary>
    public static async Task<IReadOnlyList<AttachmentRow>> AttachmentsAsync(Tx tx, string networkId) =>
        (await tx.QueryAsync<AttachmentRow>($"SELECT {AttachmentColumns} FROM network_attachments WHERE network_id = @Id ORDER BY host_index", new { Id = networkId })).AsList();

    /// <summary>The machine's attachments by network.</summary>
    public static async Task<List<AttachmentRow>> OfMachineAsync(Tx tx, string machineId) =>
        (await tx.QueryAsync<AttachmentRow>(
            $"SELECT {AttachmentColumns} FROM network_attachments WHERE machine_id = @Id ORDER BY network_id", new { Id = machineId })).AsList();

    public static Task<AttachmentRow?> AttachmentAsync(Tx tx, string networkId, string machineId) =>
        tx.QuerySingleOrDefaultAsync<AttachmentRow>(
            $"SELECT {AttachmentColumns} FROM network_attachments WHERE network_id = @NetworkId AND machine_id = @MachineId",
            new { NetworkId = networkId, MachineId = machineId });

    public static Task<AttachmentRow?> AttachmentAsync(IDatabase db, string networkId, string machineId, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<AttachmentRow>(
            $"SELECT {AttachmentColumns} FROM network_attachments WHERE network_id = @NetworkId AND machine_id = @MachineId",
            new { NetworkId = networkId, MachineId = machineId }, ct);

    public static Task<long> CountAttachedAsync(Tx tx, string networkId) =>
        tx.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM network_attachments WHERE network_id = @Id", new { Id = networkId });

    public static Task MarkDisconnectingAsync(Tx tx, string networkId, string machineId, long now) =>
        tx.ExecuteAsync(
            "UPDATE network_attachments SET state = @Disconnecting, updated_at = @Now WHERE network_id = @Id AND machine_id = @MachineId",
            new { Disconnecting, Now = now, Id = networkId, MachineId = machineId });

    /// <summary>The driver has the NIC (<paramref name="applied"/>) or will get it at the machine's next start.</summary>
    public static Task MarkConnectedAsync(Tx tx, string networkId, string machineId, bool applied, long now) =>
        tx.ExecuteAsync(
            "UPDATE network_attachments SET state = @Connected, applied = @Applied, updated_at = @Now WHERE network_id = @NetworkId AND machine_id = @MachineId",
            new { Connected, Applied = applied ? 1 : 0, Now = now, NetworkId = networkId, MachineId = machineId });

    /// <summary>A disconnect that failed: the attachment is connected again.</summary>
    public static Task RevertDisconnectAsync(Tx tx, string networkId, string machineId, long now) =>
        tx.ExecuteAsync(
            "UPDATE network_attachments SET state = @Connected, updated_at = @Now WHERE network_id = @NetworkId AND machine_id = @MachineId AND state = @Disconnecting",
            new { Connected, Disconnecting, Now = now, NetworkId = networkId, MachineId = machineId });

    /// <summary>Records that the driver has the NIC on the machine.</summary>
    public static Task MarkAppliedAsync(Tx tx, string networkId, string machineId, long now) =>
        tx.ExecuteAsync("UPDATE network_attachments SET applied = 1, updated_at = @Now WHERE network_id = @NetworkId AND machine_id = @MachineId",
            new { Now = now, NetworkId = networkId, MachineId = machineId });

    /// <summary>A connect that failed: its address goes back to the pool.</summary>
    public static Task RemoveConnectingAsync(Tx tx, string networkId, string machineId) =>
        tx.ExecuteAsync("DELETE FROM network_attachments WHERE network_id = @NetworkId AND machine_id = @MachineId AND state = @Connecting",
            new { NetworkId = networkId, MachineId = machineId, Connecting });

    public static Task RemoveAsync(Tx tx, string networkId, string machineId) =>
        tx.ExecuteAsync("DELETE FROM network_attachments WHERE network_id = @NetworkId AND machine_id = @MachineId",
            new { NetworkId = networkId, MachineId = machineId });

    /// <summary>A terminated machine's addresses become free.</summary>
    public static Task ReleaseMachineAsync(Tx tx, string machineId) =>
        tx.ExecuteAsync("DELETE FROM network_attachments WHERE machine_id = @Id", new { Id = machineId });
}

internal sealed record NetworkRow(
    string Id, string AccountId, string Name, string Cidr, long FirstAddress, long PrefixLength, string State, long Version, long CreatedAt, long UpdatedAt,
    long? DeletedAt);

internal sealed record AttachmentRow(
    string NetworkId, string MachineId, string AccountId, string Address, long HostIndex, string Mac, string State, long Applied, long CreatedAt, long UpdatedAt);

using Dapper;
using Welkin.Contracts;
using Welkin.Core.Data;

namespace Welkin.Core.Configuration;

/// <summary>
/// The owner of the <c>volumes</c> table: every write to it goes through here, in the caller's
/// transaction, and so do the reads other rooms need (a machine's volumes, a contract's, the units
/// a volume holds for metering).
/// </summary>
internal static class VolumeStore
{
    public const string Columns =
        "id AS Id, account_id AS AccountId, contract_id AS ContractId, item AS Item, limit_unit AS LimitUnit, units AS Units, name AS Name, " +
        "size_gib AS SizeGiB, state AS State, machine_id AS MachineId, device AS Device, applied AS Applied, version AS Version, " +
        "created_at AS CreatedAt, updated_at AS UpdatedAt, deleted_at AS DeletedAt, pool AS Pool";

    public static readonly string Available = WireNames.Of(VolumeState.Available);
    public static readonly string Attaching = WireNames.Of(VolumeState.Attaching);
    public static readonly string Attached = WireNames.Of(VolumeState.Attached);
    public static readonly string Detaching = WireNames.Of(VolumeState.Detaching);
    public static readonly string Deleting = WireNames.Of(VolumeState.Deleting);
    public static readonly string Deleted = WireNames.Of(VolumeState.Deleted);

    public static Task InsertAsync(Tx tx, VolumeRow row) =>
        tx.ExecuteAsync(
            """
            INSERT INTO volumes (id, account_id, contract_id, item, limit_unit, units, name, size_gib, state, applied, version, created_at, updated_at)
            VALUES (@Id, @AccountId, @ContractId, @Item, @LimitUnit, @Units, @Name, @SizeGiB, @State, @Applied, @Version, @CreatedAt, @UpdatedAt)
            """, row);

    public static Task<VolumeRow?> GetAsync(Tx tx, string id) =>
        tx.QuerySingleOrDefaultAsync<VolumeRow>($"SELECT {Columns} FROM volumes WHERE id = @Id", new { Id = id });

    public static Task<VolumeRow?> GetAsync(IDatabase db, string id, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<VolumeRow>($"SELECT {Columns} FROM volumes WHERE id = @Id", new { Id = id }, ct);

    /// <summary>A page of volumes (ordered by id) after <paramref name="after"/>; deleted ones only when <paramref name="state"/> asks for them.</summary>
    public static Task<IReadOnlyList<VolumeRow>> ListAsync(
        IDatabase db, string? accountId, string? contractId, string? machineId, string? state, string after, int take, CancellationToken ct) =>
        db.QueryAsync<VolumeRow>(
            $"""
            SELECT {Columns} FROM volumes
            WHERE id > @After AND (@Scope IS NULL OR account_id = @Scope)
              AND (@ContractId IS NULL OR contract_id = @ContractId) AND (@MachineId IS NULL OR machine_id = @MachineId)
              AND ((@State IS NULL AND state <> @Deleted) OR state = @State)
            ORDER BY id LIMIT @Take
            """,
            new { After = after, Scope = accountId, ContractId = contractId, MachineId = machineId, State = state, Deleted, Take = take }, ct);

    /// <summary>Writes <paramref name="row"/> conditional on <paramref name="oldVersion"/>; 0 when another change came first.</summary>
    public static Task<int> UpdateAsync(Tx tx, VolumeRow row, long oldVersion) =>
        tx.ExecuteAsync(
            """
            UPDATE volumes SET state = @State, machine_id = @MachineId, device = @Device, applied = @Applied, version = @Version,
                updated_at = @UpdatedAt, deleted_at = @DeletedAt, pool = @Pool
            WHERE id = @Id AND version = @OldVersion
            """,
            new { row.State, row.MachineId, row.Device, row.Applied, row.Version, row.UpdatedAt, row.DeletedAt, row.Pool, row.Id, OldVersion = oldVersion });

    /// <summary>The guest devices the machine's volumes use (call it holding the machine row's lock).</summary>
    public static async Task<HashSet<string>> DevicesOfAsync(Tx tx, string machineId) =>
        (await tx.QueryAsync<string>("SELECT device FROM volumes WHERE machine_id = @MachineId", new { MachineId = machineId })).ToHashSet(StringComparer.Ordinal);

    /// <summary>Volumes attached or attaching to the machine, by device.</summary>
    public static async Task<List<VolumeRow>> OnMachineAsync(Tx tx, string machineId) =>
        (await tx.QueryAsync<VolumeRow>(
            $"SELECT {Columns} FROM volumes WHERE machine_id = @Id AND (state = @Attached OR state = @Attaching) ORDER BY device",
            new { Id = machineId, Attached, Attaching })).AsList();

    /// <summary>Volumes attached to the machine that the driver has not been given yet.</summary>
    public static async Task<List<VolumeRow>> PendingOnMachineAsync(Tx tx, string machineId) =>
        (await tx.QueryAsync<VolumeRow>(
            $"SELECT {Columns} FROM volumes WHERE machine_id = @Id AND state = @Attached AND applied = 0",
            new { Id = machineId, Attached })).AsList();

    /// <summary>Records that the driver has the volume on the machine.</summary>
    public static Task MarkAppliedAsync(Tx tx, string id, string machineId, long now) =>
        tx.ExecuteAsync("UPDATE volumes SET applied = 1, updated_at = @Now WHERE id = @Id AND machine_id = @MachineId",
            new { Now = now, Id = id, MachineId = machineId });

    /// <summary>A terminated machine's volumes become available again (those being deleted stay so).</summary>
    public static Task ReleaseMachineAsync(Tx tx, string machineId, long now) =>
        tx.ExecuteAsync(
            """
            UPDATE volumes SET state = @Available, machine_id = NULL, device = NULL, applied = 0, version = version + 1, updated_at = @Now
            WHERE machine_id = @Id AND state <> @Deleting
            """, new { Available, Deleting, Now = now, Id = machineId });

    /// <summary>Marks every volume of the contract that is not deleted deleting (nothing attaches it any more).</summary>
    public static Task<int> MarkContractDeletingAsync(Tx tx, string contractId, long now) =>
        tx.ExecuteAsync(
            "UPDATE volumes SET state = @Deleting, version = version + 1, updated_at = @Now WHERE contract_id = @ContractId AND state <> @Deleted AND state <> @Deleting",
            new { Deleting, Deleted, Now = now, ContractId = contractId });

    public static Task<IReadOnlyList<VolumeRow>> DeletingOfContractAsync(IDatabase db, string contractId, CancellationToken ct) =>
        db.QueryAsync<VolumeRow>(
            $"SELECT {Columns} FROM volumes WHERE contract_id = @ContractId AND state = @Deleting ORDER BY id",
            new { ContractId = contractId, Deleting }, ct);

    /// <summary>The units a volume holds (for usage events written before they carried it).</summary>
    public static Task<long> UnitsAsync(Tx tx, string id) =>
        tx.ExecuteScalarAsync<long>("SELECT units FROM volumes WHERE id = @Id", new { Id = id });

    /// <summary>The units each volume of the account holds, by volume id.</summary>
    public static async Task<Dictionary<string, long>> UnitsOfAccountAsync(Tx tx, string accountId) =>
        (await tx.QueryAsync<(string Id, long Units)>("SELECT id AS Id, units AS Units FROM volumes WHERE account_id = @Account", new { Account = accountId }))
        .ToDictionary(v => v.Id, v => v.Units, StringComparer.Ordinal);

    /// <summary>Ids of every volume the contract ever had.</summary>
    public static async Task<List<string>> IdsOfContractAsync(Tx tx, string contractId) =>
        (await tx.QueryAsync<string>("SELECT id FROM volumes WHERE contract_id = @Contract", new { Contract = contractId })).AsList();
}

internal sealed record VolumeRow(
    string Id, string AccountId, string ContractId, long Item, string LimitUnit, long Units, string Name, long SizeGiB, string State,
    string? MachineId, string? Device, long Applied, long Version, long CreatedAt, long UpdatedAt, long? DeletedAt, string? Pool = null);

using Dapper;
using Welkin.Contracts;
using Welkin.Core.Data;

namespace Welkin.Core.Vault;

/// <summary>
/// The owner of the <c>vaults</c>, <c>vault_classes</c>, <c>vault_records</c>, <c>vault_holds</c> and
/// <c>vault_certificates</c> tables: every write to them goes through here, in the caller's transaction.
/// </summary>
internal static class VaultStore
{
    public const string VaultColumns =
        "id AS Id, account_id AS AccountId, contract_id AS ContractId, item AS Item, limit_unit AS LimitUnit, units AS Units, name AS Name, " +
        "capacity_gib AS CapacityGiB, stored_bytes AS StoredBytes, records AS Records, object_lock AS ObjectLock, state AS State, version AS Version, " +
        "created_at AS CreatedAt, updated_at AS UpdatedAt, deleted_at AS DeletedAt, default_mode AS DefaultMode, default_period AS DefaultPeriod";

    public const string RecordColumns =
        "id AS Id, vault_id AS VaultId, account_id AS AccountId, record_key AS Key, sha256 AS Sha256, size_bytes AS SizeBytes, class_name AS ClassName, " +
        "mode AS Mode, retain_until AS RetainUntil, auto_delete AS AutoDelete, sanitization AS Sanitization, state AS State, version AS Version, " +
        "created_at AS CreatedAt, updated_at AS UpdatedAt, shredded_at AS ShreddedAt";

    private const string ClassColumns =
        "vault_id AS VaultId, name AS Name, period AS Period, mode AS Mode, auto_delete AS AutoDelete, sanitization AS Sanitization, created_at AS CreatedAt";

    internal const string CertificateColumns =
        "record_id AS RecordId, vault_id AS VaultId, account_id AS AccountId, statement AS Statement, signature AS Signature, key_id AS KeyId, issued_at AS IssuedAt";

    public static readonly string Active = WireNames.Of(VaultState.Active);
    public static readonly string Deleted = WireNames.Of(VaultState.Deleted);
    public static readonly string Stored = WireNames.Of(VaultRecordState.Stored);
    public static readonly string Shredding = WireNames.Of(VaultRecordState.Shredding);
    public static readonly string Shredded = WireNames.Of(VaultRecordState.Shredded);

    public static Task InsertVaultAsync(Tx tx, VaultRow row) =>
        tx.ExecuteAsync(
            """
            INSERT INTO vaults (id, account_id, contract_id, item, limit_unit, units, name, capacity_gib, stored_bytes, records, object_lock, state, version, created_at, updated_at)
            VALUES (@Id, @AccountId, @ContractId, @Item, @LimitUnit, @Units, @Name, @CapacityGiB, @StoredBytes, @Records, @ObjectLock, @State, @Version, @CreatedAt, @UpdatedAt)
            """, row);

    public static Task<VaultRow?> GetVaultAsync(Tx tx, string id) =>
        tx.QuerySingleOrDefaultAsync<VaultRow>($"SELECT {VaultColumns} FROM vaults WHERE id = @Id", new { Id = id });

    public static Task<VaultRow?> GetVaultAsync(IDatabase db, string id, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<VaultRow>($"SELECT {VaultColumns} FROM vaults WHERE id = @Id", new { Id = id }, ct);

    public static Task<IReadOnlyList<VaultRow>> ListVaultsAsync(IDatabase db, string? accountId, string? contractId, bool deleted, string after, int take, CancellationToken ct) =>
        db.QueryAsync<VaultRow>(
            $"""
            SELECT {VaultColumns} FROM vaults
            WHERE id > @After AND (@Scope IS NULL OR account_id = @Scope) AND (@ContractId IS NULL OR contract_id = @ContractId)
              AND (state = @Active OR @Deleted = 1)
            ORDER BY id LIMIT @Take
            """, new { After = after, Scope = accountId, ContractId = contractId, Active, Deleted = deleted ? 1 : 0, Take = take }, ct);

    /// <summary>The account's vaults created by <paramref name="end"/> and not deleted before <paramref name="start"/>, oldest first.</summary>
    public static Task<IReadOnlyList<VaultRow>> VaultsInPeriodAsync(IDatabase db, string accountId, long start, long end, CancellationToken ct) =>
        db.QueryAsync<VaultRow>(
            $"""
            SELECT {VaultColumns} FROM vaults
            WHERE account_id = @AccountId AND created_at <= @End AND (deleted_at IS NULL OR deleted_at >= @Start)
            ORDER BY created_at, id
            """, new { AccountId = accountId, Start = start, End = end }, ct);

    /// <summary>A vault's stored records whose key starts with <paramref name="keyPrefix"/> (any when null), of <paramref name="className"/> when given.</summary>
    public static Task<IReadOnlyList<RecordRow>> StoredRecordsAsync(IDatabase db, string vaultId, string? keyPrefix, string? className, CancellationToken ct) =>
        db.QueryAsync<RecordRow>(
            $"""
            SELECT {RecordColumns} FROM vault_records
            WHERE vault_id = @VaultId AND state = @Stored
              AND (@Prefix IS NULL OR substr(record_key, 1, @PrefixLength) = @Prefix) AND (@ClassName IS NULL OR class_name = @ClassName)
            ORDER BY id
            """, new { VaultId = vaultId, Stored, Prefix = keyPrefix, PrefixLength = keyPrefix?.Length ?? 0, ClassName = className }, ct);

    /// <summary>Writes the vault's lock, default retention, state and times conditional on <paramref name="oldVersion"/>; 0 when another change came first.</summary>
    public static Task<int> UpdateVaultAsync(Tx tx, VaultRow row, long oldVersion) =>
        tx.ExecuteAsync(
            """
            UPDATE vaults SET object_lock = @ObjectLock, default_mode = @DefaultMode, default_period = @DefaultPeriod, state = @State, version = @Version,
                updated_at = @UpdatedAt, deleted_at = @DeletedAt
            WHERE id = @Id AND version = @OldVersion
            """,
            new { row.ObjectLock, row.DefaultMode, row.DefaultPeriod, row.State, row.Version, row.UpdatedAt, row.DeletedAt, row.Id, OldVersion = oldVersion });

    /// <summary>
    /// Draws <paramref name="bytes"/> of the vault's capacity for a new record, in one conditional
    /// UPDATE (as Quotas draws units): concurrent writes can never pass the capacity. False when the
    /// vault is not active or the bytes do not fit (null); else the vault's stored bytes after the draw,
    /// read under the row's lock.
    /// </summary>
    public static Task<long?> DrawBytesAsync(Tx tx, string vaultId, long bytes, long now) =>
        tx.QuerySingleOrDefaultAsync<long?>(
            """
            UPDATE vaults SET stored_bytes = stored_bytes + @Bytes, records = records + 1, version = version + 1, updated_at = @Now
            WHERE id = @Id AND state = @Active AND stored_bytes + @Bytes <= capacity_gib * 1073741824
            RETURNING stored_bytes
            """, new { Bytes = bytes, Now = now, Id = vaultId, Active });

    /// <summary>Returns a destroyed record's bytes to its vault (never below zero); the stored bytes after, read under the row's lock.</summary>
    public static Task<long> ReturnBytesAsync(Tx tx, string vaultId, long bytes, long now) =>
        tx.ExecuteScalarAsync<long>(
            """
            UPDATE vaults SET stored_bytes = CASE WHEN stored_bytes >= @Bytes THEN stored_bytes - @Bytes ELSE 0 END,
                records = CASE WHEN records > 0 THEN records - 1 ELSE 0 END, version = version + 1, updated_at = @Now
            WHERE id = @Id
            RETURNING stored_bytes
            """, new { Bytes = bytes, Now = now, Id = vaultId });

    public static async Task<bool> InsertClassAsync(Tx tx, RetentionClassRow row) =>
        await tx.ExecuteAsync(
            """
            INSERT INTO vault_classes (vault_id, name, period, mode, auto_delete, sanitization, created_at)
            VALUES (@VaultId, @Name, @Period, @Mode, @AutoDelete, @Sanitization, @CreatedAt) ON CONFLICT (vault_id, name) DO NOTHING
            """, row) == 1;

    public static Task<RetentionClassRow?> GetClassAsync(Tx tx, string vaultId, string name) =>
        tx.QuerySingleOrDefaultAsync<RetentionClassRow>($"SELECT {ClassColumns} FROM vault_classes WHERE vault_id = @VaultId AND name = @Name", new { VaultId = vaultId, Name = name });

    public static Task<IReadOnlyList<RetentionClassRow>> ClassesAsync(IDatabase db, string vaultId, CancellationToken ct) =>
        db.QueryAsync<RetentionClassRow>($"SELECT {ClassColumns} FROM vault_classes WHERE vault_id = @VaultId ORDER BY name", new { VaultId = vaultId }, ct);

    public static Task InsertRecordAsync(Tx tx, RecordRow row) =>
        tx.ExecuteAsync(
            """
            INSERT INTO vault_records (id, vault_id, account_id, record_key, sha256, size_bytes, class_name, mode, retain_until, auto_delete, sanitization, state, version, created_at, updated_at)
            VALUES (@Id, @VaultId, @AccountId, @Key, @Sha256, @SizeBytes, @ClassName, @Mode, @RetainUntil, @AutoDelete, @Sanitization, @State, @Version, @CreatedAt, @UpdatedAt)
            """, row);

    public static Task<RecordRow?> GetRecordAsync(Tx tx, string id) =>
        tx.QuerySingleOrDefaultAsync<RecordRow>($"SELECT {RecordColumns} FROM vault_records WHERE id = @Id", new { Id = id });

    public static Task<RecordRow?> GetRecordAsync(IDatabase db, string id, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<RecordRow>($"SELECT {RecordColumns} FROM vault_records WHERE id = @Id", new { Id = id }, ct);

    /// <summary>A page of a vault's records (ordered by id), of one key when <paramref name="key"/> is given; destroyed ones only when asked for.</summary>
    public static Task<IReadOnlyList<RecordRow>> ListRecordsAsync(IDatabase db, string vaultId, string? key, bool shredded, string after, int take, CancellationToken ct) =>
        db.QueryAsync<RecordRow>(
            $"""
            SELECT {RecordColumns} FROM vault_records
            WHERE vault_id = @VaultId AND id > @After AND (@Key IS NULL OR record_key = @Key) AND (state = @Stored OR (@Shredded = 1 AND state <> @Marker))
            ORDER BY id LIMIT @Take
            """, new { VaultId = vaultId, After = after, Key = key, Stored, Marker, Shredded = shredded ? 1 : 0, Take = take }, ct);

    /// <summary>The newest version of a key: its newest stored record or delete marker (then the key has no current version).</summary>
    public static Task<RecordRow?> CurrentRecordAsync(IDatabase db, string vaultId, string key, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<RecordRow>(
            $"""
            SELECT {RecordColumns} FROM vault_records
            WHERE vault_id = @VaultId AND record_key = @Key AND state IN (@Stored, @Marker)
            ORDER BY id DESC LIMIT 1
            """, new { VaultId = vaultId, Key = key, Stored, Marker }, ct);

    /// <summary>
    /// The current versions of the keys after <paramref name="after"/> that start with <paramref name="prefix"/>
    /// (<paramref name="prefixLength"/> characters, as substr counts them in both databases), in key order.
    /// </summary>
    public static Task<IReadOnlyList<RecordRow>> CurrentRecordsAsync(
        IDatabase db, string vaultId, string prefix, int prefixLength, string after, int take, CancellationToken ct) =>
        db.QueryAsync<RecordRow>(
            $"""
            SELECT {RecordColumns} FROM vault_records r
            WHERE r.vault_id = @VaultId AND r.state = @Stored AND r.record_key > @After
              AND (@PrefixLength = 0 OR substr(r.record_key, 1, @PrefixLength) = @Prefix)
              AND r.id = (SELECT max(n.id) FROM vault_records n WHERE n.vault_id = r.vault_id AND n.record_key = r.record_key AND n.state IN (@Stored, @Marker))
            ORDER BY r.record_key LIMIT @Take
            """, new { VaultId = vaultId, Stored, Marker, After = after, Prefix = prefix, PrefixLength = prefixLength, Take = take }, ct);

    /// <summary>
    /// The state of a row that is a delete marker: a version of a key that holds no content, no data
    /// key and no retention, and makes the key have no current version while it is the key's newest.
    /// </summary>
    public const string Marker = "delete-marker";

    /// <summary>Removes a delete marker; false when <paramref name="id"/> is not one.</summary>
    public static async Task<bool> DeleteMarkerAsync(Tx tx, string id) =>
        await tx.ExecuteAsync("DELETE FROM vault_records WHERE id = @Id AND state = @Marker", new { Id = id, Marker }) == 1;

    /// <summary>
    /// The stored records and delete markers of the keys starting with <paramref name="prefix"/>, by key
    /// then newest first, after the version <paramref name="afterId"/> of <paramref name="afterKey"/>
    /// (after every version of it when <paramref name="afterId"/> is empty).
    /// </summary>
    public static Task<IReadOnlyList<RecordRow>> VersionsAsync(
        IDatabase db, string vaultId, string prefix, int prefixLength, string afterKey, string afterId, int take, CancellationToken ct) =>
        db.QueryAsync<RecordRow>(
            $"""
            SELECT {RecordColumns} FROM vault_records
            WHERE vault_id = @VaultId AND state IN (@Stored, @Marker)
              AND (record_key > @AfterKey OR (record_key = @AfterKey AND id < @AfterId))
              AND (@PrefixLength = 0 OR substr(record_key, 1, @PrefixLength) = @Prefix)
            ORDER BY record_key, id DESC LIMIT @Take
            """, new { VaultId = vaultId, Stored, Marker, AfterKey = afterKey, AfterId = afterId, Prefix = prefix, PrefixLength = prefixLength, Take = take }, ct);

    /// <summary>Writes the record's retention and state conditional on <paramref name="oldVersion"/> and its old state; 0 when another change came first.</summary>
    public static Task<int> UpdateRecordAsync(Tx tx, RecordRow row, RecordRow old) =>
        tx.ExecuteAsync(
            """
            UPDATE vault_records SET mode = @Mode, retain_until = @RetainUntil, state = @State, version = @Version, updated_at = @UpdatedAt, shredded_at = @ShreddedAt
            WHERE id = @Id AND version = @OldVersion AND state = @OldState
            """,
            new { row.Mode, row.RetainUntil, row.State, row.Version, row.UpdatedAt, row.ShreddedAt, row.Id, OldVersion = old.Version, OldState = old.State });

    public static async Task<List<string>> HoldsAsync(Tx tx, string recordId) =>
        (await tx.QueryAsync<string>("SELECT hold_id FROM vault_holds WHERE record_id = @Id ORDER BY hold_id", new { Id = recordId })).AsList();

    public static async Task<ILookup<string, string>> HoldsAsync(IDatabase db, IReadOnlyList<string> recordIds, CancellationToken ct)
    {
        if (recordIds.Count == 0)
        {
            return Array.Empty<(string, string)>().ToLookup(h => h.Item1, h => h.Item2);
        }
        var parameters = new DynamicParameters();
        var rows = await db.QueryAsync<(string RecordId, string HoldId)>(
            $"SELECT record_id AS RecordId, hold_id AS HoldId FROM vault_holds WHERE record_id {SqlLists.In(parameters, "R", recordIds)} ORDER BY hold_id",
            parameters, ct);
        return rows.ToLookup(r => r.RecordId, r => r.HoldId, StringComparer.Ordinal);
    }

    public static async Task<bool> InsertHoldAsync(Tx tx, string recordId, string holdId, string placedBy, long now) =>
        await tx.ExecuteAsync(
            "INSERT INTO vault_holds (record_id, hold_id, placed_by, placed_at) VALUES (@RecordId, @HoldId, @PlacedBy, @Now) ON CONFLICT (record_id, hold_id) DO NOTHING",
            new { RecordId = recordId, HoldId = holdId, PlacedBy = placedBy, Now = now }) == 1;

    public static async Task<bool> DeleteHoldAsync(Tx tx, string recordId, string holdId) =>
        await tx.ExecuteAsync("DELETE FROM vault_holds WHERE record_id = @RecordId AND hold_id = @HoldId", new { RecordId = recordId, HoldId = holdId }) == 1;

    /// <summary>Stored records whose retention has expired, with auto-delete and no legal hold, oldest expiry first.</summary>
    public static Task<IReadOnlyList<RecordRow>> DueAsync(IDatabase db, long now, int take, CancellationToken ct) =>
        db.QueryAsync<RecordRow>(
            $"""
            SELECT {RecordColumns} FROM vault_records r
            WHERE r.state = @Stored AND r.retain_until IS NOT NULL AND r.retain_until <= @Now AND r.auto_delete = 1
              AND NOT EXISTS (SELECT 1 FROM vault_holds h WHERE h.record_id = r.id)
            ORDER BY r.retain_until, r.id LIMIT @Take
            """, new { Stored, Now = now, Take = take }, ct);

    /// <summary>Records whose destruction began but did not finish (a crash in between).</summary>
    public static Task<IReadOnlyList<RecordRow>> ShreddingAsync(IDatabase db, int take, CancellationToken ct) =>
        db.QueryAsync<RecordRow>($"SELECT {RecordColumns} FROM vault_records WHERE state = @Shredding ORDER BY id LIMIT @Take", new { Shredding, Take = take }, ct);

    /// <summary>The stored records of an account (vault and record ids), for a tenant key rotation.</summary>
    public static async Task<List<(string VaultId, string RecordId)>> KeyedRecordsOfAccountAsync(IDatabase db, string accountId, CancellationToken ct) =>
        (await db.QueryAsync<(string VaultId, string RecordId)>(
            "SELECT vault_id AS VaultId, id AS RecordId FROM vault_records WHERE account_id = @AccountId AND state IN (@Stored, @Shredding) ORDER BY id",
            new { AccountId = accountId, Stored, Shredding }, ct)).ToList();

    public static Task InsertCertificateAsync(Tx tx, CertificateRow row) =>
        tx.ExecuteAsync(
            """
            INSERT INTO vault_certificates (record_id, vault_id, account_id, statement, signature, key_id, issued_at)
            VALUES (@RecordId, @VaultId, @AccountId, @Statement, @Signature, @KeyId, @IssuedAt)
            """, row);

    public static Task<CertificateRow?> GetCertificateAsync(IDatabase db, string recordId, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<CertificateRow>($"SELECT {CertificateColumns} FROM vault_certificates WHERE record_id = @Id", new { Id = recordId }, ct);

    public static Task<IReadOnlyList<CertificateRow>> CertificatesAsync(IDatabase db, string vaultId, string after, int take, CancellationToken ct) =>
        db.QueryAsync<CertificateRow>(
            $"SELECT {CertificateColumns} FROM vault_certificates WHERE vault_id = @VaultId AND record_id > @After ORDER BY record_id LIMIT @Take",
            new { VaultId = vaultId, After = after, Take = take }, ct);

    /// <summary>The vault's certificates issued between two stored times, in order of issue.</summary>
    public static Task<IReadOnlyList<CertificateRow>> CertificatesIssuedAsync(IDatabase db, string vaultId, long from, long to, CancellationToken ct) =>
        db.QueryAsync<CertificateRow>(
            $"SELECT {CertificateColumns} FROM vault_certificates WHERE vault_id = @VaultId AND issued_at >= @From AND issued_at <= @To ORDER BY issued_at, record_id",
            new { VaultId = vaultId, From = from, To = to }, ct);

    /// <summary>Records of the vault shredded between two stored times that have no certificate.</summary>
    public static Task<IReadOnlyList<string>> ShreddedWithoutCertificateAsync(IDatabase db, string vaultId, long from, long to, CancellationToken ct) =>
        db.QueryAsync<string>(
            """
            SELECT id FROM vault_records
            WHERE vault_id = @VaultId AND state = @Shredded AND shredded_at >= @From AND shredded_at <= @To
              AND NOT EXISTS (SELECT 1 FROM vault_certificates c WHERE c.record_id = vault_records.id)
            ORDER BY id
            """, new { VaultId = vaultId, Shredded, From = from, To = to }, ct);

    /// <summary>Which of <paramref name="ids"/> name a record row (in any state).</summary>
    public static async Task<HashSet<string>> ExistingRecordIdsAsync(IDatabase db, IReadOnlyCollection<string> ids, CancellationToken ct)
    {
        var parameters = new DynamicParameters();
        return (await db.QueryAsync<string>($"SELECT id FROM vault_records WHERE id {SqlLists.In(parameters, "I", ids)}", parameters, ct)).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>Vaults of the contract that are not deleted.</summary>
    public static Task<IReadOnlyList<VaultRow>> ActiveOfContractAsync(IDatabase db, string contractId, CancellationToken ct) =>
        db.QueryAsync<VaultRow>($"SELECT {VaultColumns} FROM vaults WHERE contract_id = @ContractId AND state = @Active ORDER BY id",
            new { ContractId = contractId, Active }, ct);

    /// <summary>A page of the vault's records that are stored or being destroyed, by id.</summary>
    public static Task<IReadOnlyList<RecordRow>> LiveRecordsAsync(IDatabase db, string vaultId, string after, int take, CancellationToken ct) =>
        db.QueryAsync<RecordRow>(
            $"SELECT {RecordColumns} FROM vault_records WHERE vault_id = @VaultId AND id > @After AND state IN (@Stored, @Shredding) ORDER BY id LIMIT @Take",
            new { VaultId = vaultId, After = after, Stored, Shredding, Take = take }, ct);

    /// <summary>Ids of every vault the contract ever had.</summary>
    public static async Task<List<string>> IdsOfContractAsync(Tx tx, string contractId) =>
        (await tx.QueryAsync<string>("SELECT id FROM vaults WHERE contract_id = @Contract", new { Contract = contractId })).AsList();
}

internal sealed record VaultRow(
    string Id, string AccountId, string ContractId, long Item, string LimitUnit, long Units, string Name, long CapacityGiB, long StoredBytes, long Records,
    long ObjectLock, string State, long Version, long CreatedAt, long UpdatedAt, long? DeletedAt, string? DefaultMode = null, string? DefaultPeriod = null);

internal sealed record RetentionClassRow(string VaultId, string Name, string Period, string Mode, long AutoDelete, string Sanitization, long CreatedAt);

internal sealed record RecordRow(
    string Id, string VaultId, string AccountId, string Key, string Sha256, long SizeBytes, string? ClassName, string? Mode, long? RetainUntil,
    long AutoDelete, string Sanitization, string State, long Version, long CreatedAt, long UpdatedAt, long? ShreddedAt)
{
    public RetentionMode? RetentionMode => Mode is null ? null : WireNames.Parse<RetentionMode>(Mode);

    public DateTimeOffset? Until => DbTime.FromDb(RetainUntil);
}

internal sealed record CertificateRow(string RecordId, string VaultId, string AccountId, string Statement, string Signature, string KeyId, long IssuedAt);

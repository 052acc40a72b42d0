using System.Text.Json;
using Dapper;
using Welkin.Contracts;
using Welkin.Core.Data;

namespace Welkin.Core.Contracts;

/// <summary>
/// The owner of the <c>contracts</c>, <c>contract_items</c> and <c>contract_revisions</c> tables:
/// every write to them goes through here, in the caller's transaction, and so do the reads other
/// rooms need (a contract's state and lines, what a line holds). <see cref="Quotas"/> draws a
/// line's units through <see cref="DrawLineAsync"/>, with the same conditional update.
/// </summary>
internal static class ContractStore
{
    public const string Columns =
        "id AS Id, account_id AS AccountId, name AS Name, state AS State, revision AS Revision, items AS Items, term_months AS TermMonths, " +
        "constraints AS Constraints, requested_by AS RequestedBy, proposal_expires_at AS ProposalExpiresAt, accepted_at AS AcceptedAt, " +
        "term_ends_at AS TermEndsAt, terminated_at AS TerminatedAt, version AS Version, created_at AS CreatedAt, updated_at AS UpdatedAt";

    private const string ItemColumns = "contract_id AS ContractId, item AS Item, limit_unit AS LimitUnit, quantity AS Quantity, provisioned AS Provisioned";

    public static readonly string Proposed = WireNames.Of(ContractState.Proposed);
    public static readonly string Active = WireNames.Of(ContractState.Active);
    public static readonly string Expired = WireNames.Of(ContractState.Expired);
    public static readonly string Rejected = WireNames.Of(ContractState.Rejected);
    public static readonly string Terminating = WireNames.Of(ContractState.Terminating);
    public static readonly string Terminated = WireNames.Of(ContractState.Terminated);

    // ---- contracts ------------------------------------------------------------------------------

    public static Task<ContractRow?> GetAsync(Tx tx, string id) =>
        tx.QuerySingleOrDefaultAsync<ContractRow>($"SELECT {Columns} FROM contracts WHERE id = @Id", new { Id = id });

    public static Task<ContractRow?> GetAsync(IDatabase db, string id, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<ContractRow>($"SELECT {Columns} FROM contracts WHERE id = @Id", new { Id = id }, ct);

    /// <summary>The contract's state, or null when it does not exist (one small read on the provisioning path).</summary>
    public static Task<string?> StateAsync(Tx tx, string id) =>
        tx.ExecuteScalarAsync<string?>("SELECT state FROM contracts WHERE id = @Id", new { Id = id });

    /// <summary>Line <paramref name="item"/> as recorded on the contract (what its offering sold), or null when either does not exist.</summary>
    public static async Task<ContractItem?> LineAsync(Tx tx, string id, int item)
    {
        var items = await tx.ExecuteScalarAsync<string?>("SELECT items FROM contracts WHERE id = @Id", new { Id = id });
        return items is null ? null : Deserialize(items).FirstOrDefault(l => l.Item == item);
    }

    public static Task InsertAsync(Tx tx, ContractRow row) =>
        tx.ExecuteAsync(
            """
            INSERT INTO contracts (id, account_id, name, state, revision, items, term_months, constraints, requested_by, proposal_expires_at,
                accepted_at, term_ends_at, version, created_at, updated_at)
            VALUES (@Id, @AccountId, @Name, @State, @Revision, @Items, @TermMonths, @Constraints, @RequestedBy, @ProposalExpiresAt,
                @AcceptedAt, @TermEndsAt, @Version, @CreatedAt, @UpdatedAt)
            """, row);

    /// <summary>Writes <paramref name="updated"/> conditional on the version of <paramref name="old"/>; false when another change came first.</summary>
    public static async Task<bool> UpdateAsync(Tx tx, ContractRow old, ContractRow updated) =>
        await tx.ExecuteAsync(
            """
            UPDATE contracts SET state = @State, name = @Name, revision = @Revision, items = @Items, term_months = @TermMonths,
                proposal_expires_at = @ProposalExpiresAt, accepted_at = @AcceptedAt, term_ends_at = @TermEndsAt, terminated_at = @TerminatedAt,
                version = @Version, updated_at = @UpdatedAt
            WHERE id = @Id AND version = @OldVersion
            """,
            new
            {
                updated.State, updated.Name, updated.Revision, updated.Items, updated.TermMonths, updated.ProposalExpiresAt, updated.AcceptedAt,
                updated.TermEndsAt, updated.TerminatedAt, updated.Version, updated.UpdatedAt, updated.Id, OldVersion = old.Version,
            }) == 1;

    /// <summary>
    /// A no-op update that takes the contract row's lock and checks it is active in one statement:
    /// a termination committing meanwhile either waits for the caller's change or is seen here
    /// (false).
    /// </summary>
    public static async Task<bool> LockActiveAsync(Tx tx, string id) =>
        await tx.ExecuteAsync("UPDATE contracts SET version = version WHERE id = @Id AND state = @Active", new { Id = id, Active }) == 1;

    /// <summary>A page of contracts (ordered by id) after <paramref name="after"/>, of one account or all (<paramref name="accountId"/> null).</summary>
    public static async Task<List<ContractRow>> ListAsync(Tx tx, string? accountId, string? state, string after, int take) =>
        (await tx.QueryAsync<ContractRow>(
            $"""
            SELECT {Columns} FROM contracts
            WHERE id > @After AND (@Scope IS NULL OR account_id = @Scope) AND (@State IS NULL OR state = @State)
            ORDER BY id LIMIT @Take
            """, new { After = after, Scope = accountId, State = state, Take = take })).AsList();

    /// <summary>Up to <see cref="DueProposalsPage"/> proposals whose time ran out by <paramref name="now"/>, the oldest deadline first.</summary>
    public static Task<IReadOnlyList<ContractRow>> DueProposalsAsync(IDatabase db, long now, CancellationToken ct) =>
        db.QueryAsync<ContractRow>(
            $"SELECT {Columns} FROM contracts WHERE state = @Proposed AND proposal_expires_at <= @Now ORDER BY proposal_expires_at LIMIT 100",
            new { Proposed, Now = now }, ct);

    public const int DueProposalsPage = 100;

    /// <summary>The account's proposed and active contracts, by id.</summary>
    public static async Task<List<ContractRow>> OpenOfAccountAsync(Tx tx, string accountId) =>
        (await tx.QueryAsync<ContractRow>(
            $"SELECT {Columns} FROM contracts WHERE account_id = @Id AND (state = @Proposed OR state = @Active) ORDER BY id",
            new { Id = accountId, Proposed, Active })).AsList();

    /// <summary>Contracts accepted before <paramref name="until"/> and not terminated by <paramref name="start"/>: those a billing window rates.</summary>
    public static async Task<List<ContractRow>> ActiveInAsync(Tx tx, string? accountId, long start, long until) =>
        (await tx.QueryAsync<ContractRow>(
            $"""
            SELECT {Columns}
            FROM contracts WHERE accepted_at IS NOT NULL AND accepted_at < @Until AND (terminated_at IS NULL OR terminated_at > @Start) {(accountId is null ? "" : "AND account_id = @Account")}
            """, new { Account = accountId, Start = start, Until = until })).AsList();

    /// <summary>Accounts with a contract accepted before <paramref name="end"/> and not terminated by <paramref name="start"/>.</summary>
    public static Task<IReadOnlyList<string>> AccountsActiveInAsync(IDatabase db, long start, long end, CancellationToken ct) =>
        db.QueryAsync<string>(
            "SELECT DISTINCT account_id FROM contracts WHERE accepted_at IS NOT NULL AND accepted_at < @End AND (terminated_at IS NULL OR terminated_at > @Start)",
            new { Start = start, End = end }, ct);

    /// <summary>Contracts whose SLA is evaluated at <paramref name="now"/>: accepted, and active, terminating or terminated since <paramref name="since"/>.</summary>
    public static Task<IReadOnlyList<ContractRow>> EvaluatedAsync(IDatabase db, long now, long since, CancellationToken ct) =>
        db.QueryAsync<ContractRow>(
            $"""
            SELECT {Columns} FROM contracts
            WHERE accepted_at IS NOT NULL AND accepted_at < @Now AND (state IN ('active', 'terminating') OR terminated_at >= @Since)
            ORDER BY id
            """, new { Now = now, Since = since }, ct);

    // ---- lines ----------------------------------------------------------------------------------

    public static Task InsertItemAsync(Tx tx, string contractId, ContractItem line) =>
        tx.ExecuteAsync(
            """
            INSERT INTO contract_items (contract_id, item, offering_id, kind, limit_unit, quantity, provisioned)
            VALUES (@ContractId, @Item, @OfferingId, @Kind, @LimitUnit, @Quantity, 0)
            """,
            new { ContractId = contractId, line.Item, line.OfferingId, Kind = WireNames.Of(line.Kind), line.LimitUnit, line.Quantity });

    /// <summary>Each line's quantity and what is provisioned of it.</summary>
    public static async Task<IReadOnlyList<ContractItemUsage>> UsageAsync(Tx tx, string contractId) =>
        ToUsage(await tx.QueryAsync<ItemRow>($"SELECT {ItemColumns} FROM contract_items WHERE contract_id = @Id ORDER BY item", new { Id = contractId }));

    /// <summary>The use of every line of the contracts with ids from <paramref name="first"/> to <paramref name="last"/>, by contract.</summary>
    public static async Task<ILookup<string, ContractItemUsage>> UsageAsync(Tx tx, string first, string last) =>
        (await tx.QueryAsync<ItemRow>(
            $"SELECT {ItemColumns} FROM contract_items WHERE contract_id >= @First AND contract_id <= @Last ORDER BY contract_id, item",
            new { First = first, Last = last }))
        .ToLookup(r => r.ContractId, r => new ContractItemUsage((int)r.Item, (int)r.Quantity, r.Provisioned), StringComparer.Ordinal);

    /// <summary>
    /// Sets a line's quantity unless that would drop it below what is provisioned (one conditional
    /// update, so a provisioning that commits between a read and this write is still respected);
    /// false when it would.
    /// </summary>
    public static async Task<bool> SetQuantityAsync(Tx tx, string contractId, int item, int quantity) =>
        await tx.ExecuteAsync(
            "UPDATE contract_items SET quantity = @Quantity WHERE contract_id = @Id AND item = @Item AND provisioned <= @Quantity",
            new { Quantity = quantity, Id = contractId, Item = item }) == 1;

    public static Task<long> ProvisionedAsync(Tx tx, string contractId, int item) =>
        tx.ExecuteScalarAsync<long>("SELECT provisioned FROM contract_items WHERE contract_id = @Id AND item = @Item", new { Id = contractId, Item = item });

    /// <summary>How many units the line holds (its quantity); 0 when it does not exist.</summary>
    public static Task<long> QuantityAsync(Tx tx, string contractId, long item) =>
        tx.ExecuteScalarAsync<long>("SELECT quantity FROM contract_items WHERE contract_id = @ContractId AND item = @Item", new { ContractId = contractId, Item = item });

    /// <summary>The unit the line draws from the account's limits.</summary>
    public static Task<string> LimitUnitAsync(Tx tx, string contractId, int item) =>
        tx.ExecuteScalarAsync<string>("SELECT limit_unit FROM contract_items WHERE contract_id = @ContractId AND item = @Item", new { ContractId = contractId, Item = item });

    /// <summary>Draws <paramref name="n"/> provisioned units from the line unless that passes its quantity; false when it would.</summary>
    public static async Task<bool> DrawLineAsync(Tx tx, string contractId, int item, long n) =>
        await tx.ExecuteAsync(
            "UPDATE contract_items SET provisioned = provisioned + @N WHERE contract_id = @ContractId AND item = @Item AND provisioned + @N <= quantity",
            new { N = n, ContractId = contractId, Item = item }) == 1;

    /// <summary>The line's quantity and what is provisioned of it, or null when it does not exist.</summary>
    public static Task<LineUse?> LineUseAsync(Tx tx, string contractId, int item) =>
        tx.QuerySingleOrDefaultAsync<LineUse>(
            "SELECT quantity AS Quantity, provisioned AS Provisioned FROM contract_items WHERE contract_id = @ContractId AND item = @Item",
            new { ContractId = contractId, Item = item });

    /// <summary>Returns provisioned units to the line (never below zero).</summary>
    public static Task ReturnLineAsync(Tx tx, string contractId, int item, long n) =>
        tx.ExecuteAsync(
            "UPDATE contract_items SET provisioned = CASE WHEN provisioned >= @N THEN provisioned - @N ELSE 0 END WHERE contract_id = @ContractId AND item = @Item",
            new { N = n, ContractId = contractId, Item = item });

    /// <summary>The units the contract's lines hold, per unit of the account's limits.</summary>
    public static async Task<List<UnitSum>> UnitsHeldAsync(Tx tx, string contractId) =>
        (await tx.QueryAsync<UnitSum>(
            "SELECT limit_unit AS Unit, CAST(SUM(quantity) AS BIGINT) AS Total FROM contract_items WHERE contract_id = @ContractId GROUP BY limit_unit",
            new { ContractId = contractId })).AsList();

    // ---- revisions ------------------------------------------------------------------------------

    public static Task InsertRevisionAsync(Tx tx, string contractId, long revision, IReadOnlyList<ContractItem> lines, long term, string changedBy, string? reason, long at) =>
        tx.ExecuteAsync(
            """
            INSERT INTO contract_revisions (contract_id, revision, items, term_months, changed_by, reason, created_at)
            VALUES (@ContractId, @Revision, @Items, @TermMonths, @ChangedBy, @Reason, @CreatedAt)
            """,
            new { ContractId = contractId, Revision = revision, Items = Serialize(lines), TermMonths = term, ChangedBy = changedBy, Reason = reason, CreatedAt = at });

    public static async Task<List<ContractRevisionView>> RevisionsAsync(Tx tx, string contractId) =>
        (await tx.QueryAsync<RevisionRow>(
            """
            SELECT revision AS Revision, items AS Items, term_months AS TermMonths, changed_by AS ChangedBy, reason AS Reason, created_at AS CreatedAt
            FROM contract_revisions WHERE contract_id = @Id ORDER BY revision
            """, new { Id = contractId }))
        .Select(r => new ContractRevisionView((int)r.Revision, Deserialize(r.Items), (int)r.TermMonths, r.ChangedBy, r.Reason, DbTime.FromDb(r.CreatedAt)))
        .ToList();

    public static string Serialize(IReadOnlyList<ContractItem> lines) => JsonSerializer.Serialize(lines, WelkinJson.Client);

    public static List<ContractItem> Deserialize(string json) => JsonSerializer.Deserialize<List<ContractItem>>(json, WelkinJson.Client) ?? [];

    private static List<ContractItemUsage> ToUsage(IEnumerable<ItemRow> rows) =>
        rows.Select(r => new ContractItemUsage((int)r.Item, (int)r.Quantity, r.Provisioned)).ToList();

    private sealed record ItemRow(string ContractId, long Item, string LimitUnit, long Quantity, long Provisioned);

    private sealed record RevisionRow(long Revision, string Items, long TermMonths, string ChangedBy, string? Reason, long CreatedAt);

    public sealed record UnitSum(string Unit, long Total);

    public sealed record LineUse(long Quantity, long Provisioned);
}

internal sealed record ContractRow(
    string Id, string AccountId, string? Name, string State, long Revision, string Items, long TermMonths, string? Constraints, string RequestedBy,
    long? ProposalExpiresAt, long? AcceptedAt, long? TermEndsAt, long? TerminatedAt, long Version, long CreatedAt, long UpdatedAt)
{
    public List<ContractItem> Lines => ContractStore.Deserialize(Items);
}

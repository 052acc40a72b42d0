using System.Globalization;
using System.Text;
using Dapper;
using Welkin.Contracts;
using Welkin.Core.Data;

namespace Welkin.Core.Accounts;

/// <summary>
/// The owner of the <c>accounts</c> table: every write to it goes through here, and so do the
/// reads other rooms need (an account's state, limits, name, whether it exists). Each write runs
/// in the caller's transaction, so a change and its audit entry still commit together.
/// </summary>
internal static class AccountStore
{
    public const string Columns =
        "id AS Id, name AS Name, display_name AS DisplayName, state AS State, limits AS Limits, version AS Version, created_at AS CreatedAt, updated_at AS UpdatedAt";

    public static readonly string Active = WireNames.Of(AccountState.Active);
    public static readonly string Closed = WireNames.Of(AccountState.Closed);
    public static readonly string Pending = WireNames.Of(AccountState.Pending);
    public static readonly string Refused = WireNames.Of(AccountState.Refused);

    /// <summary>
    /// Records a new account; false when the name is taken. The unique index decides, not a prior
    /// SELECT: under PostgreSQL's READ COMMITTED two sign-ups could both see the name free, and
    /// the loser's insert would abort its transaction.
    /// </summary>
    public static async Task<bool> InsertAsync(Tx tx, AccountRow row) =>
        await tx.ExecuteAsync(
            """
            INSERT INTO accounts (id, name, display_name, state, limits, version, created_at, updated_at)
            VALUES (@Id, @Name, @DisplayName, @State, @Limits, @Version, @CreatedAt, @UpdatedAt)
            ON CONFLICT (name) DO NOTHING
            """, row) == 1;

    public static Task<AccountRow?> GetAsync(Tx tx, string id) =>
        tx.QuerySingleOrDefaultAsync<AccountRow>($"SELECT {Columns} FROM accounts WHERE id = @Id", new { Id = id });

    public static Task<AccountRow?> GetAsync(IDatabase db, string id, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<AccountRow>($"SELECT {Columns} FROM accounts WHERE id = @Id", new { Id = id }, ct);

    /// <summary>A page of accounts (ordered by id) after <paramref name="after"/>: all of them or only <paramref name="only"/>, in any state or only <paramref name="state"/>.</summary>
    public static Task<IReadOnlyList<AccountRow>> ListAsync(IDatabase db, string? only, string? state, string after, int take, CancellationToken ct) =>
        db.QueryAsync<AccountRow>(
            $"SELECT {Columns} FROM accounts WHERE id > @After AND (@Only IS NULL OR id = @Only) AND (@State IS NULL OR state = @State) ORDER BY id LIMIT @Take",
            new { After = after, Only = only, State = state, Take = take }, ct);

    /// <summary>
    /// Stores new limits, conditional on the version read and on no unit holding more (ordered or
    /// provisioned) than its new limit (a unit left out has limit 0); false when either fails, and
    /// the caller reads which. The caller has locked the account's quota rows first
    /// (<see cref="Contracts.Quotas.LockAccountAsync"/>), so no draw slips between this check and the commit.
    /// </summary>
    public static async Task<bool> SetLimitsAsync(Tx tx, AccountRow updated, IReadOnlyDictionary<string, long> limits, long oldVersion)
    {
        var parameters = new DynamicParameters(new { updated.Limits, updated.Version, updated.UpdatedAt, updated.Id, OldVersion = oldVersion });
        var cases = new StringBuilder();
        var i = 0;
        foreach (var (unit, max) in limits)
        {
            cases.Append(CultureInfo.InvariantCulture, $" WHEN @U{i} THEN @L{i}");
            parameters.Add($"U{i}", unit);
            parameters.Add($"L{i}", max);
            i++;
        }
        var limitOf = i == 0 ? "0" : $"CASE q.unit{cases} ELSE 0 END";
        return await tx.ExecuteAsync(
            $"""
            UPDATE accounts SET limits = @Limits, version = @Version, updated_at = @UpdatedAt
            WHERE id = @Id AND version = @OldVersion
              AND NOT EXISTS (SELECT 1 FROM quotas q WHERE q.account_id = @Id AND (q.ordered > {limitOf} OR q.provisioned > {limitOf}))
            """, parameters) == 1;
    }

    /// <summary>Moves the account from state <paramref name="from"/> to <paramref name="to"/>, conditional on the version read; false when another change came first.</summary>
    public static async Task<bool> SetStateAsync(Tx tx, string id, string from, string to, long oldVersion, long now) =>
        await tx.ExecuteAsync(
            "UPDATE accounts SET state = @To, version = version + 1, updated_at = @Now WHERE id = @Id AND state = @From AND version = @OldVersion",
            new { To = to, Now = now, Id = id, From = from, OldVersion = oldVersion }) == 1;

    /// <summary>Closes the account, conditional on the version read; false when another change came first.</summary>
    public static async Task<bool> CloseAsync(Tx tx, string id, long oldVersion, long now) =>
        await tx.ExecuteAsync(
            "UPDATE accounts SET state = 'closed', version = version + 1, updated_at = @Now WHERE id = @Id AND version = @OldVersion",
            new { Now = now, Id = id, OldVersion = oldVersion }) == 1;

    /// <summary>
    /// Takes the account row's write lock without changing it, so that changes of one account that
    /// must not cross (overlapping networks, an invoice and a new price plan version) run one after
    /// the other (PostgreSQL row lock; SQLite writers are serialised anyway).
    /// </summary>
    public static Task LockAsync(Tx tx, string id) =>
        tx.ExecuteAsync("UPDATE accounts SET version = version WHERE id = @Id", new { Id = id });

    /// <summary>The account's limits as stored (JSON), or null when it does not exist.</summary>
    public static Task<string?> LimitsAsync(Tx tx, string id) =>
        tx.ExecuteScalarAsync<string?>("SELECT limits FROM accounts WHERE id = @Id", new { Id = id });

    public static Task<string?> StateAsync(Tx tx, string id) =>
        tx.QuerySingleOrDefaultAsync<string>("SELECT state FROM accounts WHERE id = @Id", new { Id = id });

    public static Task<string?> StateAsync(IDatabase db, string id, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<string>("SELECT state FROM accounts WHERE id = @Id", new { Id = id }, ct);

    public static Task<string?> NameAsync(IDatabase db, string id, CancellationToken ct) =>
        db.ExecuteScalarAsync<string?>("SELECT name FROM accounts WHERE id = @Id", new { Id = id }, ct);

    /// <summary>Who an invoice is addressed to: the account's names and billing address; null when it does not exist.</summary>
    public static Task<BillToRow?> BillToAsync(Tx tx, string id) =>
        tx.QuerySingleOrDefaultAsync<BillToRow>(
            "SELECT id AS Id, name AS Name, display_name AS DisplayName, billing_address AS BillingAddress FROM accounts WHERE id = @Id", new { Id = id });

    /// <summary>Stores the billing address (null removes it), conditional on the version read; false when another change came first.</summary>
    public static async Task<bool> SetBillingAddressAsync(Tx tx, string id, string? address, long oldVersion, long now) =>
        await tx.ExecuteAsync(
            "UPDATE accounts SET billing_address = @Address, version = version + 1, updated_at = @Now WHERE id = @Id AND version = @OldVersion",
            new { Address = address, Now = now, Id = id, OldVersion = oldVersion }) == 1;

    public static async Task<bool> ExistsAsync(IDatabase db, string id, CancellationToken ct) =>
        await db.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM accounts WHERE id = @Id", new { Id = id }, ct) > 0;

    /// <summary>Ids of every closed account.</summary>
    public static async Task<HashSet<string>> ClosedAsync(Tx tx) =>
        (await tx.QueryAsync<string>("SELECT id FROM accounts WHERE state = @Closed", new { Closed })).ToHashSet(StringComparer.Ordinal);

    public static Task<IReadOnlyList<string>> ClosedAsync(IDatabase db, CancellationToken ct) =>
        db.QueryAsync<string>("SELECT id FROM accounts WHERE state = @Closed ORDER BY id", new { Closed }, ct);
}

internal sealed record AccountRow(string Id, string Name, string DisplayName, string State, string Limits, long Version, long CreatedAt, long UpdatedAt);

internal sealed record BillToRow(string Id, string Name, string DisplayName, string? BillingAddress);

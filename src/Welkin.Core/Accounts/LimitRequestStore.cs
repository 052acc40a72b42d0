using Welkin.Contracts;
using Welkin.Core.Data;

namespace Welkin.Core.Accounts;

/// <summary>The owner of the <c>limit_requests</c> table; each write runs in the caller's transaction, with its audit entry.</summary>
internal static class LimitRequestStore
{
    private const string Columns =
        "id AS Id, account_id AS AccountId, limits AS Limits, reason AS Reason, state AS State, requested_by AS RequestedBy, " +
        "decided_by AS DecidedBy, decision_reason AS DecisionReason, version AS Version, created_at AS CreatedAt, decided_at AS DecidedAt";

    public static readonly string Pending = WireNames.Of(LimitRequestState.Pending);
    public static readonly string Approved = WireNames.Of(LimitRequestState.Approved);
    public static readonly string Refused = WireNames.Of(LimitRequestState.Refused);

    public static Task InsertAsync(Tx tx, LimitRequestRow row) =>
        tx.ExecuteAsync(
            """
            INSERT INTO limit_requests (id, account_id, limits, reason, state, requested_by, decided_by, decision_reason, version, created_at, decided_at)
            VALUES (@Id, @AccountId, @Limits, @Reason, @State, @RequestedBy, @DecidedBy, @DecisionReason, @Version, @CreatedAt, @DecidedAt)
            """, row);

    public static Task<LimitRequestRow?> GetAsync(Tx tx, string id) =>
        tx.QuerySingleOrDefaultAsync<LimitRequestRow>($"SELECT {Columns} FROM limit_requests WHERE id = @Id", new { Id = id });

    public static Task<LimitRequestRow?> GetAsync(IDatabase db, string id, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<LimitRequestRow>($"SELECT {Columns} FROM limit_requests WHERE id = @Id", new { Id = id }, ct);

    /// <summary>A page (ordered by id) after <paramref name="after"/>: every account's or only <paramref name="accountId"/>'s, in any state or only <paramref name="state"/>.</summary>
    public static Task<IReadOnlyList<LimitRequestRow>> ListAsync(IDatabase db, string? accountId, string? state, string after, int take, CancellationToken ct) =>
        db.QueryAsync<LimitRequestRow>(
            $"""
            SELECT {Columns} FROM limit_requests
            WHERE id > @After AND (@AccountId IS NULL OR account_id = @AccountId) AND (@State IS NULL OR state = @State)
            ORDER BY id LIMIT @Take
            """, new { After = after, AccountId = accountId, State = state, Take = take }, ct);

    /// <summary>Records the decision, conditional on the request still being pending at the version read; false when another decision came first.</summary>
    public static async Task<bool> DecideAsync(Tx tx, LimitRequestRow decided, long oldVersion) =>
        await tx.ExecuteAsync(
            """
            UPDATE limit_requests SET state = @State, decided_by = @DecidedBy, decision_reason = @DecisionReason, version = @Version, decided_at = @DecidedAt
            WHERE id = @Id AND state = @Pending AND version = @OldVersion
            """,
            new { decided.State, decided.DecidedBy, decided.DecisionReason, decided.Version, decided.DecidedAt, decided.Id, Pending, OldVersion = oldVersion }) == 1;
}

internal sealed record LimitRequestRow(
    string Id, string AccountId, string Limits, string Reason, string State, string RequestedBy,
    string? DecidedBy, string? DecisionReason, long Version, long CreatedAt, long? DecidedAt);

using Dapper;
using Welkin.Core.Data;

namespace Welkin.Core.Sla;

/// <summary>
/// The owner of the <c>sla_evaluations</c> and <c>sla_credits</c> tables: the evaluator's measures
/// and credits are written here in its transaction, and the reports and invoices read them here.
/// Money and percentages are read as text (SQLite keeps TEXT, PostgreSQL NUMERIC) and parsed as
/// decimals, so both providers agree.
/// </summary>
internal static class SlaStore
{
    /// <summary>The measure recorded so far for a term of a line in a period, or null.</summary>
    public static Task<string?> MeasuredAsync(Tx tx, string contractId, int item, long periodStart, string term) =>
        tx.QuerySingleOrDefaultAsync<string?>(
            "SELECT CAST(measured AS TEXT) FROM sla_evaluations WHERE contract_id = @Contract AND item = @Item AND period_start = @Start AND term = @Term",
            new { Contract = contractId, Item = item, Start = periodStart, Term = term });

    public static Task SaveEvaluationAsync(Tx tx, Evaluation e) =>
        tx.ExecuteAsync(
            """
            INSERT INTO sla_evaluations (contract_id, item, period_start, term, account_id, target, measured, detail, evaluated_at)
            VALUES (@Contract, @Item, @Start, @Term, @AccountId, @Target, @Measured, @Detail, @At)
            ON CONFLICT (contract_id, item, period_start, term) DO UPDATE SET
                target = excluded.target, measured = excluded.measured, detail = excluded.detail, evaluated_at = excluded.evaluated_at
            """, e);

    /// <summary>Updates the credit of a term already breached in the period; false when it has none yet.</summary>
    public static async Task<bool> UpdateCreditAsync(Tx tx, string contractId, long periodStart, string term, decimal measured, string detail, long at) =>
        await tx.ExecuteAsync(
            "UPDATE sla_credits SET measured = @Measured, detail = @Detail, updated_at = @At WHERE contract_id = @Contract AND period_start = @Start AND term = @Term",
            new { Measured = measured, Detail = detail, At = at, Contract = contractId, Start = periodStart, Term = term }) > 0;

    public static Task InsertCreditAsync(Tx tx, NewCredit c) =>
        tx.ExecuteAsync(
            """
            INSERT INTO sla_credits (id, account_id, contract_id, period_start, period_end, term, target, measured, credit_percent, detail, created_at, updated_at)
            VALUES (@Id, @AccountId, @Contract, @Start, @End, @Term, @Target, @Measured, @Credit, @Detail, @At, @At)
            """, c);

    /// <summary>A contract's measures of a period (the SLA report).</summary>
    public static Task<IReadOnlyList<EvaluationRow>> EvaluationsAsync(IDatabase db, string contractId, long periodStart, CancellationToken ct) =>
        db.QueryAsync<EvaluationRow>(
            """
            SELECT item AS Item, term AS Term, CAST(target AS TEXT) AS Target, CAST(measured AS TEXT) AS Measured, detail AS Detail, evaluated_at AS EvaluatedAt
            FROM sla_evaluations WHERE contract_id = @Id AND period_start = @Start
            """, new { Id = contractId, Start = periodStart }, ct);

    /// <summary>A contract's credits of a period (the SLA report).</summary>
    public static Task<IReadOnlyList<CreditSummary>> CreditsAsync(IDatabase db, string contractId, long periodStart, CancellationToken ct) =>
        db.QueryAsync<CreditSummary>(
            "SELECT term AS Term, CAST(credit_percent AS TEXT) AS CreditPercent, detail AS Detail FROM sla_credits WHERE contract_id = @Id AND period_start = @Start",
            new { Id = contractId, Start = periodStart }, ct);

    /// <summary>The credits of a period, of one account or all (<paramref name="accountId"/> null): what invoices deduct.</summary>
    public static async Task<List<CreditRow>> CreditsOfPeriodAsync(Tx tx, string? accountId, long periodStart) =>
        (await tx.QueryAsync<CreditRow>(
            $"""
            SELECT account_id AS AccountId, contract_id AS ContractId, term AS Term, target AS Target, measured AS Measured, credit_percent AS CreditPercent, detail AS Detail
            FROM sla_credits WHERE period_start = @Start {(accountId is null ? "" : "AND account_id = @Account")}
            """, new { Account = accountId, Start = periodStart })).AsList();

    /// <summary>A term's measure in a period, as the evaluator stores it.</summary>
    public sealed record Evaluation(string Contract, int Item, long Start, string Term, string AccountId, decimal Target, decimal? Measured, string Detail, long At);

    /// <summary>A new credit: the first breach of a term in a period.</summary>
    public sealed record NewCredit(
        string Id, string AccountId, string Contract, long Start, long End, string Term, decimal Target, decimal Measured, decimal Credit, string Detail, long At);

    // Classes rather than positional records: SQLite reports a CAST column's type only once
    // there is a row, and Dapper matches a record's constructor against those types.
    public sealed class EvaluationRow
    {
        public long Item { get; init; }

        public string Term { get; init; } = "";

        public string Target { get; init; } = "0";

        public string? Measured { get; init; }

        public string? Detail { get; init; }

        public long EvaluatedAt { get; init; }
    }

    public sealed class CreditSummary
    {
        public string Term { get; init; } = "";

        public string CreditPercent { get; init; } = "0";

        public string Detail { get; init; } = "";
    }

    /// <summary>A credit as an invoice reads it. Money columns are TEXT on SQLite and NUMERIC on PostgreSQL, so they are read as values and converted.</summary>
    public sealed class CreditRow
    {
        public string AccountId { get; set; } = "";

        public string ContractId { get; set; } = "";

        public string Term { get; set; } = "";

        public object Target { get; set; } = 0m;

        public object Measured { get; set; } = 0m;

        public object CreditPercent { get; set; } = 0m;

        public string Detail { get; set; } = "";
    }
}

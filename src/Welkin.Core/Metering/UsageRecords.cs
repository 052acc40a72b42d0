using Dapper;
using Welkin.Core.Data;

namespace Welkin.Core.Metering;

/// <summary>
/// The owner of the <c>usage_records</c> table: the meter writes its slices here (in its batch's
/// transaction), and usage reports, reconciliation and invoices read them here.
/// </summary>
internal static class UsageRecords
{
    /// <summary>Writes slices; a slice already written (same id) is left as it is, so writing one twice changes nothing.</summary>
    public static Task InsertAsync<T>(Tx tx, IReadOnlyList<T> records) =>
        tx.ExecuteAsync(
            """
            INSERT INTO usage_records (id, account_id, contract_id, item, resource_id, metric, quantity, start_at, end_at, source_seq, created_at)
            VALUES (@Id, @AccountId, @ContractId, @Item, @ResourceId, @Metric, @Quantity, @StartAt, @EndAt, @SourceSeq, @CreatedAt)
            ON CONFLICT (id) DO NOTHING
            """, records);

    /// <summary>An account's slices overlapping [<paramref name="from"/>, <paramref name="to"/>).</summary>
    public static async Task<List<RecordedSlice>> SlicesAsync(Tx tx, string accountId, long from, long to) =>
        (await tx.QueryAsync<RecordedSlice>(
            """
            SELECT resource_id AS ResourceId, metric AS Metric, item AS Item, start_at AS StartAt, end_at AS EndAt, quantity AS Quantity
            FROM usage_records WHERE account_id = @Account AND start_at < @To AND end_at > @From
            """, new { Account = accountId, From = from, To = to })).AsList();

    /// <summary>
    /// An account's usage in [<paramref name="from"/>, <paramref name="to"/>) per metric, and per
    /// group when <paramref name="groupBy"/> names one (contract, resource, hour). A slice that
    /// straddles an edge counts for its part inside: its quantity is rate x duration, so rate x
    /// overlap is exact.
    /// </summary>
    public static Task<IReadOnlyList<SumRow>> SumAsync(IDatabase db, string accountId, string? contractId, string? groupBy, long from, long to, CancellationToken ct)
    {
        var key = groupBy switch
        {
            "contract" => "contract_id",
            "resource" => "resource_id",
            "hour" => "CAST(start_at / 3600000 AS TEXT)",
            _ => "''",
        };
        return db.QueryAsync<SumRow>(
            $"""
            SELECT {key} AS GroupKey, metric AS Metric,
                CAST(SUM(CASE WHEN start_at >= @From AND end_at <= @To THEN quantity
                    ELSE (quantity / (end_at - start_at)) * ((CASE WHEN end_at < @To THEN end_at ELSE @To END) - (CASE WHEN start_at > @From THEN start_at ELSE @From END))
                    END) AS BIGINT) AS Quantity
            FROM usage_records
            WHERE account_id = @Account AND (@Contract IS NULL OR contract_id = @Contract) AND start_at < @To AND end_at > @From
            GROUP BY {(groupBy is null or "metric" ? "metric" : key + ", metric")}
            """,
            new { Account = accountId, Contract = contractId, From = from, To = to }, ct);
    }

    /// <summary>Usage starting in [<paramref name="from"/>, <paramref name="to"/>) per contract line and metric, of one account or all (<paramref name="accountId"/> null).</summary>
    public static async Task<List<LineSum>> ByLineAsync(Tx tx, string? accountId, long from, long to) =>
        (await tx.QueryAsync<LineSum>(
            $"""
            SELECT account_id AS AccountId, contract_id AS ContractId, item AS Item, metric AS Metric, CAST(SUM(quantity) AS BIGINT) AS Quantity
            FROM usage_records WHERE start_at >= @Start AND start_at < @Until {(accountId is null ? "" : "AND account_id = @Account")}
            GROUP BY account_id, contract_id, item, metric
            """, new { Account = accountId, Start = from, Until = to })).AsList();

    /// <summary>One contract's usage starting in [<paramref name="from"/>, <paramref name="to"/>) per line and metric.</summary>
    public static async Task<List<LineSum>> ByLineOfContractAsync(Tx tx, string contractId, long from, long to) =>
        (await tx.QueryAsync<LineSum>(
            """
            SELECT account_id AS AccountId, contract_id AS ContractId, item AS Item, metric AS Metric, CAST(SUM(quantity) AS BIGINT) AS Quantity
            FROM usage_records WHERE contract_id = @Contract AND start_at >= @From AND start_at < @To
            GROUP BY account_id, contract_id, item, metric
            """, new { Contract = contractId, From = from, To = to })).AsList();

    /// <summary>Usage of the given resources starting in [<paramref name="from"/>, <paramref name="to"/>) per resource, contract line and metric.</summary>
    public static async Task<List<ResourceSum>> ByResourceAsync(Tx tx, IReadOnlyList<string> resourceIds, long from, long to)
    {
        var sums = new List<ResourceSum>();
        foreach (var slice in resourceIds.Chunk(500))
        {
            var args = new DynamicParameters(new { From = from, To = to });
            sums.AddRange(await tx.QueryAsync<ResourceSum>(
                $"""
                SELECT resource_id AS ResourceId, contract_id AS ContractId, item AS Item, metric AS Metric, CAST(SUM(quantity) AS BIGINT) AS Quantity
                FROM usage_records WHERE resource_id {SqlLists.In(args, "Resource", slice)} AND start_at >= @From AND start_at < @To
                GROUP BY resource_id, contract_id, item, metric
                """, args));
        }
        return sums;
    }

    // Settable properties, not positional records: SQLite reports expression columns of an empty
    // result as BLOB, which Dapper cannot match to a constructor.
    public sealed class SumRow
    {
        public string GroupKey { get; set; } = "";

        public string Metric { get; set; } = "";

        public long Quantity { get; set; }
    }

    public sealed class LineSum
    {
        public string AccountId { get; set; } = "";

        public string ContractId { get; set; } = "";

        public long Item { get; set; }

        public string Metric { get; set; } = "";

        public long Quantity { get; set; }
    }

    public sealed class ResourceSum
    {
        public string ResourceId { get; set; } = "";

        public string ContractId { get; set; } = "";

        public long Item { get; set; }

        public string Metric { get; set; } = "";

        public long Quantity { get; set; }
    }
}

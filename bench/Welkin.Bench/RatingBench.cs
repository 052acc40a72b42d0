using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Billing;
using Welkin.Core.Common;
using Welkin.Core.Metering;
using Welkin.Core.Data;
using Welkin.Core.Security;
using Welkin.Persistence;

namespace Welkin.Bench;

/// <summary>
/// Rating a billing period's usage into invoices, against a plain SQL aggregate over the same
/// rows on the same SQLite file in the same run. Each account has one contract with a compute
/// line (unit-month, cpu-hour, memory-gb-hour; one machine) and a storage line (unit-month,
/// storage-tb-day; one volume), and one usage row per metric, resource and hour of the period:
/// seven rows an hour, 5,040 an account over 30 days. The rating run is
/// <see cref="InvoiceService.IssuePeriodAsync"/>, the periodic work's path: one aggregate, rating
/// in memory, then every invoice written with its audit entry and event.
/// </summary>
internal static class RatingBench
{
    private const int RowsPerHour = 7;

    private static readonly string[] Parameters = ["$id", "$account", "$contract", "$item", "$resource", "$metric", "$quantity", "$start", "$end"];

    public static async Task RunAsync(string[] args)
    {
        var records = args.Length > 0 ? long.Parse(args[0], CultureInfo.InvariantCulture) : 10_000_000;
        var root = args.Length > 1 ? args[1] : Path.Combine(Path.GetTempPath(), "welkin-rating-" + Guid.NewGuid().ToString("n"));
        Directory.CreateDirectory(root);
        var clock = TimeProvider.System;
        var period = BillingPeriod.Of(clock.GetUtcNow()).Previous;
        var hours = (int)(period.Milliseconds / RatingRules.HourMs);
        var accounts = (int)Math.Max(1, (records + (long)RowsPerHour * hours - 1) / ((long)RowsPerHour * hours));
        Console.WriteLine($"welkin-bench rating: {Environment.ProcessorCount} cores, period {period}, {accounts} accounts x {RowsPerHour * hours} rows, directory {root}");
        try
        {
            var db = new SqliteDatabase(Path.Combine(root, "welkin.db"));
            await new Migrator(db, db, clock, NullLogger<Migrator>.Instance).ApplyAsync(CancellationToken.None);
            var load = Stopwatch.StartNew();
            var rows = await LoadAsync(db, period, accounts, hours);
            Console.WriteLine($"loaded {rows:N0} usage records in {load.Elapsed.TotalSeconds:0.0} s");

            // Warm the page cache for both: the first read of the file pays for the disk, not for either query.
            await AggregateAsync(db, period);
            var aggregate = Stopwatch.StartNew();
            var groups = await AggregateAsync(db, period);
            aggregate.Stop();

            var service = new InvoiceService(db, new AuditLog(clock), new Welkin.Core.Events.EventLog(clock), new NoUsageMeter(), new BillingOptions(), clock);
            var rating = Stopwatch.StartNew();
            var issued = await service.IssuePeriodAsync(Caller.System("bench"), period, CancellationToken.None);
            rating.Stop();

            var total = await DatabaseExtensions.ExecuteScalarAsync<long>(db, "SELECT COUNT(*) FROM invoices", null, CancellationToken.None);
            Console.WriteLine($"plain aggregate (GROUP BY account, contract, line, metric; SUM): {aggregate.Elapsed.TotalSeconds,6:0.00} s, {groups:N0} groups, "
                + $"{rows / aggregate.Elapsed.TotalSeconds:N0} records/s");
            Console.WriteLine($"rating into invoices (aggregate, rate, write invoices + audit + events): {rating.Elapsed.TotalSeconds,6:0.00} s, {issued:N0} invoices ({total:N0} stored), "
                + $"{rows / rating.Elapsed.TotalSeconds:N0} records/s");
            Console.WriteLine($"ratio rating / aggregate: {rating.Elapsed.TotalSeconds / aggregate.Elapsed.TotalSeconds:0.00} (target: at most 2)");
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task<long> AggregateAsync(SqliteDatabase db, BillingPeriod period)
    {
        await using var connection = await db.OpenAsync(CancellationToken.None);
        await using var command = connection.CreateCommand();
        command.CommandText =
            """
            SELECT account_id, contract_id, item, metric, SUM(quantity) FROM usage_records
            WHERE start_at >= $start AND start_at < $end GROUP BY account_id, contract_id, item, metric
            """;
        command.Parameters.Add(new SqliteParameter("$start", period.StartMs));
        command.Parameters.Add(new SqliteParameter("$end", period.EndMs));
        await using var reader = await command.ExecuteReaderAsync();
        long groups = 0;
        while (await reader.ReadAsync())
        {
            _ = reader.GetString(0);
            _ = reader.GetString(1);
            _ = reader.GetInt64(2);
            _ = reader.GetString(3);
            _ = reader.GetInt64(4);
            groups++;
        }
        return groups;
    }

    private static async Task<long> LoadAsync(SqliteDatabase db, BillingPeriod period, int accounts, int hours)
    {
        var compute = new PricePlan("USD", "month",
        [
            new PriceRate("compute-unit", "unit-month", 35.00m),
            new PriceRate("cpu-hour", "hour", 0.13m, Pricing: PricingModel.Tiered, Tiers: [new PriceTier(1_000, 0.15m)]),
            new PriceRate("memory-gb-hour", "hour", 0.005m, MinimumCharge: 1m),
        ]);
        var storage = new PricePlan("USD", "month", [new PriceRate("storage-unit", "unit-month", 2.00m), new PriceRate("storage-tb-day", "tb-day", 5.00m)]);
        var terms = new OfferingTerms(1, 40m);
        var sla = new SlaTerms(99.9m);
        var items = JsonSerializer.Serialize(new List<ContractItem>
        {
            new(0, "off_00000000000000000000000000", "server", OfferingKind.Compute, 3, "compute-unit", 3, compute, sla, terms),
            new(1, "off_00000000000000000000000001", "storage", OfferingKind.Storage, 5, "storage-unit", 5, storage, sla, terms, Storage: new StorageSpec(100, 10_000)),
        }, WelkinJson.Client);
        var created = period.StartMs - 86_400_000L;
        await using var connection = (SqliteConnection)await db.OpenAsync(CancellationToken.None);
        await using (var tx = connection.BeginTransaction())
        {
            for (var a = 0; a < accounts; a++)
            {
                var account = AccountId(a);
                await connection.ExecuteAsync(
                    "INSERT INTO accounts (id, name, display_name, state, limits, version, created_at, updated_at) VALUES (@Id, @Name, 'Bench', 'active', '{}', 1, @At, @At)",
                    new { Id = account, Name = "bench-" + a.ToString(CultureInfo.InvariantCulture), At = created }, tx);
                await connection.ExecuteAsync(
                    """
                    INSERT INTO contracts (id, account_id, name, state, revision, items, term_months, requested_by, accepted_at, version, created_at, updated_at)
                    VALUES (@Id, @Account, 'bench', 'active', 1, @Items, 12, 'bench', @At, 2, @At, @At)
                    """, new { Id = ContractId(a), Account = account, Items = items, At = created }, tx);
            }
            tx.Commit();
        }
        long rows = 0;
        await using (var tx = connection.BeginTransaction())
        {
            await using var insert = connection.CreateCommand();
            insert.Transaction = tx;
            insert.CommandText =
                """
                INSERT INTO usage_records (id, account_id, contract_id, item, resource_id, metric, quantity, start_at, end_at, source_seq, created_at)
                VALUES ($id, $account, $contract, $item, $resource, $metric, $quantity, $start, $end, 0, $end)
                """;
            var p = Parameters.Select(n => insert.Parameters.Add(new SqliteParameter { ParameterName = n })).ToArray();
            insert.Prepare();
            var hourMs = RatingRules.HourMs;
            // (line, resource suffix, metric, quantity per hour): one 2-vCPU, 4 GiB machine, one 500 GiB volume.
            var perHour = new (long Item, string Resource, string Metric, long Quantity)[]
            {
                (0, "m", UsageMetrics.VcpuMs, 2 * hourMs),
                (0, "m", UsageMetrics.MemoryMibMs, 4096 * hourMs),
                (0, "m", UsageMetrics.UnitProvisionedMs, hourMs),
                (0, "c", UsageMetrics.UnitOrderedMs, 3 * hourMs),
                (1, "v", UsageMetrics.StorageGibMs, 500 * hourMs),
                (1, "v", UsageMetrics.UnitProvisionedMs, 5 * hourMs),
                (1, "c", UsageMetrics.UnitOrderedMs, 5 * hourMs),
            };
            // Rows arrive as a meter writes them: hour after hour, every account's in each hour.
            for (var h = 0; h < hours; h++)
            {
                var start = period.StartMs + h * hourMs;
                for (var a = 0; a < accounts; a++)
                {
                    var account = AccountId(a);
                    var contract = ContractId(a);
                    for (var m = 0; m < perHour.Length; m++)
                    {
                        var (item, resource, metric, quantity) = perHour[m];
                        var resourceId = resource + a.ToString(CultureInfo.InvariantCulture);
                        p[0].Value = string.Create(CultureInfo.InvariantCulture, $"{resourceId}:{metric}:{start}:{item}");
                        p[1].Value = account;
                        p[2].Value = contract;
                        p[3].Value = item;
                        p[4].Value = resourceId;
                        p[5].Value = metric;
                        p[6].Value = quantity;
                        p[7].Value = start;
                        p[8].Value = start + hourMs;
                        insert.ExecuteNonQuery();
                        rows++;
                    }
                }
            }
            tx.Commit();
        }
        return rows;
    }

    private static string AccountId(int a) => "acc_" + a.ToString("D26", CultureInfo.InvariantCulture);

    private static string ContractId(int a) => "ctr_" + a.ToString("D26", CultureInfo.InvariantCulture);
}

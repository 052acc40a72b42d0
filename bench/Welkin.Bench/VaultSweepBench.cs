using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Welkin.Contracts;
using Welkin.Core.Accounts;
using Welkin.Core.Audit;
using Welkin.Core.Catalog;
using Welkin.Core.Common;
using Welkin.Core.Contracts;
using Welkin.Core.Data;
using Welkin.Core.Jobs;
using Welkin.Core.Security;
using Welkin.Core.Vault;
using Welkin.Persistence;
using Welkin.Testing;
using EventLog = Welkin.Core.Events.EventLog;

namespace Welkin.Bench;

/// <summary>
/// The retention vault's expiry sweep: N records of one size (one written through <see cref="RecordService"/>,
/// cloned) on a virtual clock, the clock moved past their retention, and the sweep run until nothing is due:
/// records destroyed (data key file overwritten and deleted, blob deleted, record marked shredded,
/// certificate signed and stored, each step audited) and certificates issued per second. Against, in the
/// same run and directory: deleting N files of the blob's size, one durable UPDATE of N rows, and the raw
/// durable-commit rate of SQLite.
/// </summary>
internal static class VaultSweepBench
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    public static async Task RunAsync(string[] args)
    {
        var records = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 100_000;
        var size = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1024;
        var root = args.Length > 2 ? args[2] : Path.Combine(Path.GetTempPath(), "welkin-sweep-bench-" + Guid.NewGuid().ToString("n"));
        Directory.CreateDirectory(root);
        Console.WriteLine($"welkin-bench vault-sweep: {Environment.ProcessorCount} cores, {records} records of {size} bytes, directory {root}");
        try
        {
            var raw = await RawSqlite.CommitsPerSecondAsync(Path.Combine(root, "raw.db"), 1, TimeSpan.FromSeconds(3));
            var (seeded, blobBytes, sweep, certificates, commits) = await SweepAsync(root, records, size);
            var deleteFiles = await DeleteFilesAsync(Path.Combine(root, "files"), records, blobBytes);
            var update = await UpdateRowsAsync(Path.Combine(root, "rows.db"), records);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"seeded {records} records (one through RecordService, cloned) in {seeded:0.0} s, blob {blobBytes} bytes each"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"sweep: {records} records destroyed in {sweep:0.00} s = {records / sweep:0} records/s, {certificates / sweep:0} certificates/s, {commits / (double)records:0.00} commits per record"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"baseline: delete {records} files of {blobBytes} bytes {deleteFiles:0.00} s ({records / deleteFiles:0}/s) | one UPDATE of {records} rows {update:0.00} s | raw durable commits {raw:0}/s (one per record: {records / raw:0.0} s)"));
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task<(double Seeded, long BlobBytes, double Sweep, long Certificates, long Commits)> SweepAsync(string root, int count, int size)
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 5, 9, 0, 0, TimeSpan.Zero));
        var db = new SqliteDatabase(Path.Combine(root, "welkin.db"));
        await new Migrator(db, db, clock, NullLogger<Migrator>.Instance).ApplyAsync(Ct);
        using var masterKey = FileMasterKey.LoadOrCreate(Path.Combine(root, FileMasterKey.DefaultFileName));
        using var signingKey = AuditKey.LoadOrCreate(Path.Combine(root, "audit-signing.pem"));
        var audit = new AuditLog(clock, signingKey);
        var events = new EventLog(clock);
        var options = new VaultOptions { Directory = Path.Combine(root, "vault") };
        var keys = new VaultKeys(db, masterKey, options, clock);
        var vaults = new VaultService(db, audit, events, keys, clock);
        var recordService = new RecordService(db, audit, events, keys, options, clock);
        var destruction = new RecordDestruction(db, audit, events, signingKey, options, clock, NullLogger<RecordDestruction>.Instance);

        var (admin, contractId) = await ContractAsync(db, clock);
        var vault = (await vaults.CreateAsync(admin, new CreateVaultRequest(contractId, 10), null, Ct)).Value;
        Check((await vaults.CreateClassAsync(admin, vault.Id, new CreateRetentionClassRequest("bench", "P1D", RetentionMode.Governance, true), Ct)).Error);
        var content = new byte[size];
        Random.Shared.NextBytes(content);
        var seeding = Stopwatch.StartNew();
        var firstId = await SeedAsync(db, recordService, options, admin, vault.Id, count, content, clock);
        var seeded = seeding.Elapsed.TotalSeconds;
        var blobBytes = new FileInfo(RecordService.BlobPath(options, vault.Id, firstId)).Length;

        clock.Advance(TimeSpan.FromDays(2));
        var (commitsBefore, _) = db.CommitCounts;
        var sweeping = Stopwatch.StartNew();
        var destroyed = 0;
        for (var done = await destruction.SweepAsync(Ct); done > 0; done = await destruction.SweepAsync(Ct))
        {
            destroyed += done;
        }
        var sweep = sweeping.Elapsed.TotalSeconds;
        var (commits, _) = db.CommitCounts;
        var certificates = await db.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM vault_certificates", null, Ct);
        if (destroyed != count || certificates != count)
        {
            throw new InvalidOperationException($"the sweep destroyed {destroyed} records and issued {certificates} certificates, not {count}");
        }
        return (seeded, blobBytes, sweep, certificates, commits - commitsBefore);
    }

    /// <summary>
    /// N records, fast: one written through <see cref="RecordService"/>, then cloned (its row under new
    /// ids and keys, its blob and key file copied) in one transaction with no flush per record. The
    /// sweep reads only the rows and overwrites and deletes the files, so a clone is destroyed exactly
    /// as a written record is.
    /// </summary>
    private static async Task<string> SeedAsync(
        SqliteDatabase db, RecordService records, VaultOptions options, Caller admin, string vaultId, int count, byte[] content, TimeProvider clock)
    {
        var first = await records.PutAsync(admin, vaultId, "ledger/0000000.csv", "bench", null, new MemoryStream(content), Ct);
        Check(first.Error);
        var columns = (await db.QueryAsync<string>("SELECT name FROM pragma_table_info('vault_records')", null, Ct)).ToList();
        var values = string.Join(", ", columns.Select(c => c switch { "id" => "@Id", "record_key" => "@Key", _ => c }));
        var insert = $"INSERT INTO vault_records ({string.Join(", ", columns)}) SELECT {values} FROM vault_records WHERE id = @Template";
        var ids = Enumerable.Range(1, count - 1).Select(_ => Ids.New(Ids.VaultRecord, clock)).ToList();
        var blob = RecordService.BlobPath(options, vaultId, first.Value.Id);
        var key = Path.Combine(options.KeyDirectory, vaultId, first.Value.Id + ".key");
        foreach (var id in ids)
        {
            File.Copy(blob, RecordService.BlobPath(options, vaultId, id));
            File.Copy(key, Path.Combine(options.KeyDirectory, vaultId, id + ".key"));
        }
        await db.WriteAsync<int>(async tx =>
        {
            for (var i = 0; i < ids.Count; i++)
            {
                await tx.ExecuteAsync(insert, new { Id = ids[i], Key = $"ledger/{i + 1:D7}.csv", Template = first.Value.Id });
            }
            return await tx.ExecuteAsync("UPDATE vaults SET records = records + @N, stored_bytes = stored_bytes + @Bytes WHERE id = @Id",
                new { N = ids.Count, Bytes = (long)ids.Count * content.Length, Id = vaultId });
        }, Ct);
        return first.Value.Id;
    }

    private static async Task<(Caller Admin, string ContractId)> ContractAsync(SqliteDatabase db, TimeProvider clock)
    {
        var system = Caller.System("bench");
        var audit = new AuditLog(clock);
        var security = new SecurityManager(db, audit, new RefusalAudit(db, audit, clock, new RefusalAuditOptions()), clock, new LoginThrottle(clock, new LoginThrottleOptions()), new SecurityOptions());
        var accounts = new AccountService(db, audit, security, clock, new AccountOptions());
        var signUp = (await accounts.SignUpAsync(Caller.Anonymous("bench"), new SignUpRequest("sweep-co", "Sweep Co", new SignUpAdmin("admin")), Ct)).Value;
        Check((await accounts.SetLimitsAsync(system, signUp.Account.Id, new SetLimitsRequest(new Dictionary<string, long> { ["storage-unit"] = 100 }), Ct)).Error);
        var offerings = new OfferingService(db, audit, clock);
        var draft = (await offerings.CreateAsync(system, new OfferingSpec("retention", OfferingKind.Storage,
            new PricePlan("USD", "month", [new PriceRate("storage-gb-month", "gb-month", 0.02m)]), new SlaTerms(99.9m), new OfferingTerms(0, 0m), "storage-unit",
            Storage: new StorageSpec(10, 1000)), Ct)).Value;
        Check((await offerings.PublishAsync(system, draft.Id, new OfferingTransitionRequest(), Ct)).Error);
        using var jobs = new JobQueue(db, clock);
        var contracts = new ContractService(db, audit, new EventLog(clock), jobs, new ContractOptions(), clock);
        var admin = Caller.For(signUp.Admin.Id, "admin", signUp.Account.Id, [Role.AccountAdmin], "bench", null);
        var proposed = (await contracts.RequestAsync(admin, new ContractRequest([new ContractItemRequest(draft.Id, 10)]), Ct)).Value;
        return (admin, (await contracts.AcceptAsync(admin, proposed.Id, new ContractTransitionRequest(), Ct)).Value.Id);
    }

    private static async Task<double> DeleteFilesAsync(string dir, int count, long bytes)
    {
        Directory.CreateDirectory(dir);
        var content = new byte[bytes];
        for (var i = 0; i < count; i++)
        {
            await File.WriteAllBytesAsync(Path.Combine(dir, i.ToString(CultureInfo.InvariantCulture)), content);
        }
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            File.Delete(Path.Combine(dir, i.ToString(CultureInfo.InvariantCulture)));
        }
        return watch.Elapsed.TotalSeconds;
    }

    private static async Task<double> UpdateRowsAsync(string path, int count)
    {
        var cs = new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString();
        await using var connection = new SqliteConnection(cs);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE r (id INTEGER PRIMARY KEY, state TEXT NOT NULL, at INTEGER);" +
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $count) INSERT INTO r (id, state) SELECT i, 'stored' FROM n";
        command.Parameters.AddWithValue("$count", count);
        await command.ExecuteNonQueryAsync();
        var watch = Stopwatch.StartNew();
        await using var update = connection.CreateCommand();
        update.CommandText = "UPDATE r SET state = 'shredded', at = 1";
        await update.ExecuteNonQueryAsync();
        return watch.Elapsed.TotalSeconds;
    }

    private static void Check(Error? error)
    {
        if (error is not null)
        {
            throw new InvalidOperationException($"{error.Code}: {error.Detail}");
        }
    }
}

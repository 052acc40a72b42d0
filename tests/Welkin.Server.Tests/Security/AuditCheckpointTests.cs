using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Server.Infrastructure;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Security;

/// <summary>
/// A database administrator rewriting the audit log behind Welkin's back, after a signed checkpoint:
/// every case must be reported, with its own finding, by the API and by the offline verifier.
/// Each test has a cloud of its own, since it breaks the log.
/// </summary>
public sealed class AuditCheckpointTamperTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public enum Tamper
    {
        EditMiddleRow,
        DeleteMiddleRow,
        DeleteLastRow,
        DeleteLastRowsAndFixHead,
        EditAndRecomputeChain,
        WipeToGenesis,
        InsertSequenceZero,
        InsertSequenceMinusOne,
        ChangeRowAccount,
        AppendForgedRow,
        DeleteHeadRow,
    }

    [Theory]
    [InlineData(Tamper.EditMiddleRow, "entry-altered")]
    [InlineData(Tamper.DeleteMiddleRow, "sequence-gap")]
    [InlineData(Tamper.DeleteLastRow, "head-ahead")]
    [InlineData(Tamper.DeleteLastRowsAndFixHead, "checkpoint-beyond-log")]
    [InlineData(Tamper.EditAndRecomputeChain, "checkpoint-mismatch")]
    [InlineData(Tamper.WipeToGenesis, "checkpoint-beyond-log")]
    [InlineData(Tamper.InsertSequenceZero, "sequence-below-one")]
    [InlineData(Tamper.InsertSequenceMinusOne, "sequence-below-one")]
    [InlineData(Tamper.ChangeRowAccount, "entry-altered")]
    [InlineData(Tamper.AppendForgedRow, "entry-forged")]
    [InlineData(Tamper.DeleteHeadRow, "head-missing")]
    public async Task Verify_AfterTamperingBehindACheckpoint_ReportsTheCaseInTheApiAndOffline(Tamper tamper, string code)
    {
        await using var app = new SecurityApp();
        await app.InitializeAsync();
        var (_, admin) = await app.SignUpAsync("tamper");
        for (var i = 0; i < 4; i++)
        {
            await app.AccountPrincipalAsync(admin, Role.Engineer);
        }
        var auditor = await app.ProviderPrincipalAsync(Role.Auditor);
        var checkpoint = await (await auditor.PostAsync("/api/v1/audit/checkpoints", null, Ct)).ReadAsync<AuditCheckpointView>(HttpStatusCode.Created);
        var before = await VerifyAsync(auditor);
        before.Valid.ShouldBeTrue(before.Problem);
        before.SealsChecked.ShouldBeTrue();
        before.LastCheckpointSeq.ShouldBe(checkpoint.Seq);
        var last = checkpoint.Seq;
        var middle = last / 2;

        await using (var db = app.OpenDatabaseFile())
        {
            await TamperAsync(db, tamper, middle, last);
        }

        var (expectedSeq, expectedText) = Expected(tamper, middle, last, checkpoint);
        var after = await VerifyAsync(auditor);
        after.Valid.ShouldBeFalse();
        var finding = after.Findings.FirstOrDefault(f => f.Code == code);
        finding.ShouldNotBeNull(string.Join("\n", after.Findings));
        finding.Seq.ShouldBe(expectedSeq);
        finding.Detail.ShouldContain(expectedText);

        var output = new StringWriter();
        (await AuditVerifyCommand.RunAsync(["--data-dir", app.DataDir], output, Ct)).ShouldBe(1, output.ToString());
        output.ToString().ShouldContain($"{code}: ");
        output.ToString().ShouldContain(expectedText);
    }

    [Fact]
    public async Task EditAndRecomputeChain_IsAlsoReportedAsEntriesNotWrittenByTheServer()
    {
        await using var app = new SecurityApp();
        await app.InitializeAsync();
        var (_, admin) = await app.SignUpAsync("reseal");
        await app.AccountPrincipalAsync(admin, Role.Engineer);
        var auditor = await app.ProviderPrincipalAsync(Role.Auditor);
        var last = (await VerifyAsync(auditor)).Entries;

        await using (var db = app.OpenDatabaseFile())
        {
            await TamperAsync(db, Tamper.EditAndRecomputeChain, 3, last);
        }

        // No checkpoint covers the rewrite yet (the last one is the start's): the seals alone find it.
        var after = await VerifyAsync(auditor);
        after.Findings.ShouldContain(f => f.Code == "entry-forged" && f.Seq == 3 && f.Detail.Contains($"Entries 3 to {last}"));
        after.FirstInvalidSeq.ShouldBe(3);
    }

    [Fact]
    public async Task Checkpoint_WhenTheHeadWasRewound_IsRefusedAndNothingIsSigned()
    {
        await using var app = new SecurityApp();
        await app.InitializeAsync();
        var (_, admin) = await app.SignUpAsync("rewind");
        await app.AccountPrincipalAsync(admin, Role.Engineer);
        var auditor = await app.ProviderPrincipalAsync(Role.Auditor);
        var first = await (await auditor.PostAsync("/api/v1/audit/checkpoints", null, Ct)).ReadAsync<AuditCheckpointView>(HttpStatusCode.Created);
        await using (var db = app.OpenDatabaseFile())
        {
            await TamperAsync(db, Tamper.DeleteLastRowsAndFixHead, 0, first.Seq);
        }

        await (await auditor.PostAsync("/api/v1/audit/checkpoints", null, Ct)).ProblemAsync(HttpStatusCode.Conflict, "invalid-state");

        var page = await (await auditor.GetAsync("/api/v1/audit/checkpoints?limit=1000", Ct)).ReadAsync<Page<AuditCheckpointView>>();
        page.Items[^1].Number.ShouldBe(first.Number);
    }

    [Fact]
    public async Task Schema_RefusesSequenceNumbersBelowOne()
    {
        await using var app = new SecurityApp();
        await app.InitializeAsync();
        await using var db = app.OpenDatabaseFile();

        var refused = await Should.ThrowAsync<SqliteException>(() => InsertRowAsync(db, 0, "x", "x", null));

        refused.Message.ShouldContain("CHECK constraint failed");
    }

    private static async Task<AuditVerification> VerifyAsync(HttpClient auditor) =>
        await (await auditor.PostAsync("/api/v1/audit/verify", null, Ct)).ReadAsync<AuditVerification>();

    private static (long? Seq, string Text) Expected(Tamper tamper, long middle, long last, AuditCheckpointView checkpoint) => tamper switch
    {
        Tamper.EditMiddleRow or Tamper.ChangeRowAccount => (middle, $"Entry {middle} was altered"),
        Tamper.DeleteMiddleRow => (middle, $"Sequence gap {middle - 1}..{middle + 1}: entry {middle} is missing"),
        Tamper.DeleteLastRow => (last, $"The log ends at entry {last - 1} but its head records entry {last}"),
        Tamper.DeleteLastRowsAndFixHead => (last - 2, $"The log ends at entry {last - 3} but checkpoint {checkpoint.Number} "),
        Tamper.EditAndRecomputeChain => (last, $"Checkpoint {checkpoint.Number} ({checkpoint.At:yyyy-MM-dd HH:mm:ss}Z) signed entry {last} with hash {checkpoint.Hash}"),
        Tamper.WipeToGenesis => (1, $"The log ends at entry 0 but checkpoint {checkpoint.Number} "),
        Tamper.InsertSequenceZero => (null, "1 entry with sequence number 0 or less is present (lowest 0)"),
        Tamper.InsertSequenceMinusOne => (null, "1 entry with sequence number 0 or less is present (lowest -1)"),
        Tamper.AppendForgedRow => (last + 1, $"Entry {last + 1} was not written by this server"),
        Tamper.DeleteHeadRow => (null, "The audit head row is missing"),
        _ => throw new ArgumentOutOfRangeException(nameof(tamper)),
    };

    /// <summary>What an administrator with write access to the database, and nothing else, can do.</summary>
    internal static async Task TamperAsync(SqliteConnection db, Tamper tamper, long middle, long last)
    {
        switch (tamper)
        {
            case Tamper.EditMiddleRow:
                await ExecuteAsync(db, "UPDATE audit_log SET detail = 'nothing to see' WHERE seq = $seq", middle);
                break;
            case Tamper.DeleteMiddleRow:
                await ExecuteAsync(db, "DELETE FROM audit_log WHERE seq = $seq", middle);
                break;
            case Tamper.DeleteLastRow:
                await ExecuteAsync(db, "DELETE FROM audit_log WHERE seq = $seq", last);
                break;
            case Tamper.DeleteLastRowsAndFixHead:
                await ExecuteAsync(db, "DELETE FROM audit_log WHERE seq > $seq", last - 3);
                await ExecuteAsync(db, "UPDATE audit_head SET seq = $seq, hash = (SELECT hash FROM audit_log WHERE seq = $seq)", last - 3);
                break;
            case Tamper.EditAndRecomputeChain:
                await ExecuteAsync(db, "UPDATE audit_log SET detail = 'nothing to see' WHERE seq = $seq", middle);
                await RecomputeChainAsync(db, middle);
                break;
            case Tamper.WipeToGenesis:
                await ExecuteAsync(db, "DELETE FROM audit_log", 0);
                await ExecuteAsync(db, $"UPDATE audit_head SET seq = $seq, hash = '{AuditLog.GenesisHash}'", 0);
                break;
            case Tamper.InsertSequenceZero:
            case Tamper.InsertSequenceMinusOne:
                // The schema refuses such rows: the administrator turns the check off first.
                await ExecuteAsync(db, "PRAGMA ignore_check_constraints = ON", 0);
                await InsertRowAsync(db, tamper == Tamper.InsertSequenceZero ? 0 : -1, AuditLog.GenesisHash, new string('e', 64), null);
                break;
            case Tamper.ChangeRowAccount:
                await ExecuteAsync(db, "UPDATE audit_log SET account_id = 'acc_01h00000000000000000000000' WHERE seq = $seq", middle);
                break;
            case Tamper.AppendForgedRow:
                var previous = await ScalarAsync(db, "SELECT hash FROM audit_log WHERE seq = $seq", last);
                var hash = Hash(last + 1, 1_790_000_000_000, "system", null, "principal.create", "prn_forged", "success", null, "forged", previous);
                await InsertRowAsync(db, last + 1, previous, hash, new string('0', 64));
                await ExecuteAsync(db, $"UPDATE audit_head SET seq = $seq, hash = '{hash}'", last + 1);
                break;
            case Tamper.DeleteHeadRow:
                await ExecuteAsync(db, "DELETE FROM audit_head", 0);
                break;
        }
    }

    /// <summary>Recomputes every hash from <paramref name="from"/> on and the head, as anyone who read the (public) algorithm can.</summary>
    private static async Task RecomputeChainAsync(SqliteConnection db, long from)
    {
        var previous = from == 1 ? AuditLog.GenesisHash : await ScalarAsync(db, "SELECT hash FROM audit_log WHERE seq = $seq", from - 1);
        var rows = new List<(long Seq, string Hash)>();
        await using (var read = db.CreateCommand())
        {
            read.CommandText = "SELECT seq, at, actor, account_id, action, target, outcome, detail, correlation_id FROM audit_log WHERE seq >= $seq ORDER BY seq";
            read.Parameters.AddWithValue("$seq", from);
            await using var reader = await read.ExecuteReaderAsync(Ct);
            while (await reader.ReadAsync(Ct))
            {
                string? Text(int i) => reader.IsDBNull(i) ? null : reader.GetString(i);
                var hash = Hash(reader.GetInt64(0), reader.GetInt64(1), Text(2)!, Text(3), Text(4)!, Text(5)!, Text(6)!, Text(7), Text(8)!, previous);
                rows.Add((reader.GetInt64(0), hash));
                previous = hash;
            }
        }
        foreach (var (seq, hash) in rows)
        {
            await ExecuteAsync(db, $"UPDATE audit_log SET hash = '{hash}', prev_hash = COALESCE((SELECT hash FROM audit_log WHERE seq = $seq - 1), '{AuditLog.GenesisHash}') WHERE seq = $seq", seq);
        }
        await ExecuteAsync(db, $"UPDATE audit_head SET hash = '{previous}' WHERE seq = $seq", rows[^1].Seq);
    }

    private static string Hash(long seq, long at, string actor, string? account, string action, string target, string outcome, string? detail, string correlation, string previous)
    {
        var sb = new StringBuilder();
        void Field(string? v) => sb.Append(v is null ? "-1" : v.Length.ToString(CultureInfo.InvariantCulture)).Append(':').Append(v).Append('|');
        Field(previous);
        Field(seq.ToString(CultureInfo.InvariantCulture));
        Field(at.ToString(CultureInfo.InvariantCulture));
        Field(actor);
        Field(account);
        Field(action);
        Field(target);
        Field(outcome);
        Field(detail);
        Field(correlation);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())));
    }

    private static async Task InsertRowAsync(SqliteConnection db, long seq, string previous, string hash, string? seal)
    {
        await using var command = db.CreateCommand();
        command.CommandText = """
            INSERT INTO audit_log (seq, at, actor, account_id, action, target, outcome, detail, correlation_id, prev_hash, hash, seal)
            VALUES ($seq, 1790000000000, 'system', NULL, 'principal.create', 'prn_forged', 'success', NULL, 'forged', $prev, $hash, $seal)
            """;
        command.Parameters.AddWithValue("$seq", seq);
        command.Parameters.AddWithValue("$prev", previous);
        command.Parameters.AddWithValue("$hash", hash);
        command.Parameters.AddWithValue("$seal", (object?)seal ?? DBNull.Value);
        await command.ExecuteNonQueryAsync(Ct);
    }

    private static async Task ExecuteAsync(SqliteConnection db, string sql, long seq)
    {
        await using var command = db.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue("$seq", seq);
        await command.ExecuteNonQueryAsync(Ct);
    }

    private static async Task<string> ScalarAsync(SqliteConnection db, string sql, long seq)
    {
        await using var command = db.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue("$seq", seq);
        return (string)(await command.ExecuteScalarAsync(Ct))!;
    }
}

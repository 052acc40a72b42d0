using Microsoft.Data.Sqlite;
using Welkin.Cli.Tests.Infrastructure;
using Welkin.Contracts;
using Welkin.Server.Infrastructure;

namespace Welkin.Cli.Tests;

/// <summary>The audit log's checkpoints through the CLI, against a server process of its own (the test breaks its log).</summary>
public sealed class AuditTamperTests : IDisposable
{
    private readonly CliRunner _cli = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task Verify_AfterTheTailWasCutAndTheHeadFixed_ReportsTheCheckpointTheLogNoLongerReaches()
    {
        await using var server = await ServerProcess.StartAsync(Ct);
        await _cli.OkAsync("profile", "add", "admin", "--endpoint", server.Endpoint.AbsoluteUri, "--token-file", server.AdminTokenFile);
        for (var i = 0; i < 3; i++)
        {
            await _cli.OkAsync("account", "sign-up", "--name", Names.Unique("cut"), "--display-name", "Cut Inc.");
        }
        var checkpoint = (await _cli.OkAsync("audit", "checkpoint", "--output", "json")).Json<AuditCheckpointView>();
        var listed = (await _cli.OkAsync("audit", "checkpoints", "--output", "json")).Json<Page<AuditCheckpointView>>();
        listed.Items[^1].ShouldBe(checkpoint);
        (await _cli.OkAsync("audit", "verify")).Out.ShouldMatch(@"Seals checked:\s+yes");
        var kept = checkpoint.Seq - 2;

        await using (var db = new SqliteConnection($"Data Source={Path.Combine(server.DataDir, "welkin.db")};Pooling=False"))
        {
            await db.OpenAsync(Ct);
            await using var command = db.CreateCommand();
            command.CommandText = "DELETE FROM audit_log WHERE seq > $kept; UPDATE audit_head SET seq = $kept, hash = (SELECT hash FROM audit_log WHERE seq = $kept)";
            command.Parameters.AddWithValue("$kept", kept);
            await command.ExecuteNonQueryAsync(Ct);
        }

        var verify = await _cli.RunAsync("audit", "verify");
        verify.ExitCode.ShouldBe(1, verify.ToString());
        verify.Out.ShouldMatch(@"Valid:\s+NO");
        verify.Err.ShouldContain($"checkpoint-beyond-log: The log ends at entry {kept} but checkpoint {checkpoint.Number} ");
        verify.Err.ShouldContain($"signed entry {checkpoint.Seq}: entries were removed.");
        var offline = new StringWriter();
        (await AuditVerifyCommand.RunAsync(["--data-dir", server.DataDir], offline, Ct)).ShouldBe(1, offline.ToString());
        offline.ToString().ShouldContain($"checkpoint-beyond-log: The log ends at entry {kept} but checkpoint {checkpoint.Number} ");
        // The server will not sign the rewound head (the refusal itself is audited, as every refused request is).
        var refused = await _cli.RunAsync("audit", "checkpoint");
        refused.ExitCode.ShouldBe(1, refused.ToString());
        refused.Err.ShouldContain("does not continue the last checkpoint");
    }
}

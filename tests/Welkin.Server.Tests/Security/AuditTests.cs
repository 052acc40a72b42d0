using System.Net;
using System.Net.Http.Json;
using System.Text;
using Welkin.Contracts;
using Welkin.Server.Infrastructure;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Security;

/// <summary>The audit log through the HTTP pipeline: what is recorded, who may read it, and that tampering is detected.</summary>
public sealed class AuditTests(SecurityApp app) : IClassFixture<SecurityApp>
{
    private const string Password = "correct horse battery staple";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task EveryStateChange_IsRecordedWithActorActionTargetTimeOutcomeAndCorrelationId()
    {
        var (signUp, admin) = await app.SignUpAsync("trail");
        var adminId = signUp.Admin.Id;
        var accountId = signUp.Account.Id;

        var created = await (await SendAsync(admin, HttpMethod.Post, "/api/v1/principals", new CreatePrincipalRequest("fred", [Role.Engineer], Password: Password), "c-create"))
            .ReadAsync<PrincipalView>(HttpStatusCode.Created);
        await (await SendAsync(admin, HttpMethod.Patch, $"/api/v1/principals/{created.Id}", new UpdatePrincipalRequest(DisplayName: "Fred"), "c-update")).ReadAsync<PrincipalView>();
        var token = await (await SendAsync(admin, HttpMethod.Post, $"/api/v1/principals/{created.Id}/tokens", new CreateTokenRequest("ci"), "c-token"))
            .ReadAsync<IssuedToken>(HttpStatusCode.Created);
        await (await SendAsync(admin, HttpMethod.Delete, $"/api/v1/tokens/{token.Id}", null, "c-revoke")).ReadAsync<TokenView>();
        await (await SendAsync(admin, HttpMethod.Put, $"/api/v1/accounts/{accountId}/limits",
            new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = 5 }), "c-limits")).ReadAsync<AccountView>();
        var login = await (await SendAsync(app.From(SecurityApp.NewAddress()), HttpMethod.Post, "/api/v1/auth/login",
            new LoginRequest("fred", Password, signUp.Account.Name), "c-login")).ReadAsync<LoginResponse>();

        var entries = await AuditAsync(admin, $"?accountId={accountId}");
        var signUpEntry = entries.Single(e => e.Action == "account.sign-up");
        (signUpEntry.Actor, signUpEntry.Target, signUpEntry.Outcome).ShouldBe(("anonymous", accountId, "success"));
        ShouldHave(entries, "principal.create", adminId, created.Id, "c-create");
        ShouldHave(entries, "principal.update", adminId, created.Id, "c-update");
        ShouldHave(entries, "token.create", adminId, token.Id, "c-token");
        ShouldHave(entries, "token.revoke", adminId, token.Id, "c-revoke");
        ShouldHave(entries, "account.set-limits", adminId, accountId, "c-limits");
        ShouldHave(entries, "auth.login", created.Id, created.Id, "c-login");
        entries.ShouldAllBe(e => e.AccountId == accountId && e.At == app.Clock.GetUtcNow());
        entries.Select(e => e.Seq).ShouldBeInOrder();
        entries.ShouldNotContain(e => (e.Detail ?? "").Contains(login.Token.Secret) || (e.Detail ?? "").Contains(Password));

        static void ShouldHave(List<AuditEntryView> entries, string action, string actor, string target, string correlationId)
        {
            var entry = entries.SingleOrDefault(e => e.CorrelationId == correlationId);
            entry.ShouldNotBeNull($"no entry with correlation id {correlationId}");
            (entry.Action, entry.Actor, entry.Target, entry.Outcome).ShouldBe((action, actor, target, "success"));
        }
    }

    [Fact]
    public async Task RefusedRequest_IsRecordedAsDenied_AndItsProblemCarriesTheCorrelationId()
    {
        var (_, admin) = await app.SignUpAsync("deny");
        var (viewer, token) = await app.AccountPrincipalAsync(admin, Role.Viewer);

        var response = await SendAsync(app.As(token), HttpMethod.Post, "/api/v1/principals", new CreatePrincipalRequest("intruder", [Role.AccountAdmin]), "deny-me-1");

        var problem = await response.ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        problem.GetProperty("correlationId").GetString().ShouldBe("deny-me-1");
        response.Headers.GetValues(CorrelationAndLoggingMiddleware.Header).ShouldBe(["deny-me-1"]);
        var entry = (await AuditAsync(admin)).Single(e => e.CorrelationId == "deny-me-1");
        (entry.Action, entry.Actor, entry.Outcome, entry.Target).ShouldBe(("principal.create", viewer.Id, "denied", "/api/v1/principals"));
        entry.Detail.ShouldBe("status=403");
    }

    [Fact]
    public async Task FailedRequests_NotFoundConflictAndInvalid_AreRecordedAsFailed()
    {
        var (signUp, admin) = await app.SignUpAsync("fail");
        var (other, _) = await app.SignUpAsync("other");

        await (await SendAsync(admin, HttpMethod.Patch, $"/api/v1/principals/{other.Admin.Id}", new UpdatePrincipalRequest(DisplayName: "x"), "f-404"))
            .ProblemAsync(HttpStatusCode.NotFound, "not-found");
        await (await SendAsync(admin, HttpMethod.Post, "/api/v1/principals", new CreatePrincipalRequest(signUp.Admin.Name, [Role.Viewer]), "f-409"))
            .ProblemAsync(HttpStatusCode.Conflict, "name-taken");
        await (await SendAsync(admin, HttpMethod.Post, "/api/v1/principals", new CreatePrincipalRequest("Not A Name", [Role.Viewer]), "f-400"))
            .ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        await (await SendAsync(admin, HttpMethod.Delete, "/api/v1/tokens/not-a-token", null, "f-400-id"))
            .ProblemAsync(HttpStatusCode.BadRequest, "invalid-id");

        var entries = await AuditAsync(admin);
        foreach (var (correlation, action, status) in new[] { ("f-404", "principal.update", 404), ("f-409", "principal.create", 409), ("f-400", "principal.create", 400), ("f-400-id", "token.revoke", 400) })
        {
            var entry = entries.Single(e => e.CorrelationId == correlation);
            (entry.Action, entry.Actor, entry.Outcome, entry.Detail).ShouldBe((action, signUp.Admin.Id, "failed", $"status={status}"));
        }
        // The refused change left no success entry behind.
        entries.ShouldNotContain(e => e.Outcome == "success" && e.CorrelationId.StartsWith("f-"));
    }

    [Fact]
    public async Task FailedLogin_IsRecordedAsDeniedInTheAccountWithAnAnonymousActor()
    {
        var (signUp, admin) = await app.SignUpAsync("flog");

        await (await SendAsync(app.From(SecurityApp.NewAddress()), HttpMethod.Post, "/api/v1/auth/login", new LoginRequest("admin", "not the password", signUp.Account.Name), "f-login"))
            .ProblemAsync(HttpStatusCode.Unauthorized, "invalid-credentials");

        var entry = (await AuditAsync(admin)).Single(e => e.CorrelationId == "f-login");
        (entry.Action, entry.Actor, entry.Outcome, entry.Target).ShouldBe(("auth.login", "anonymous", "denied", $"principal:{signUp.Account.Name}/admin"));
    }

    [Fact]
    public async Task CorrelationId_WhenMalformed_IsReplacedByAFreshOne()
    {
        var (_, admin) = await app.SignUpAsync("corr");
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/me");
        request.Headers.TryAddWithoutValidation(CorrelationAndLoggingMiddleware.Header, "has spaces and\ttabs");

        var response = await admin.SendAsync(request, Ct);

        var echoed = response.Headers.GetValues(CorrelationAndLoggingMiddleware.Header).Single();
        echoed.ShouldNotContain(" ");
        echoed.Length.ShouldBe(32);
    }

    [Theory]
    [InlineData("GET", "/api/v1/me", false, HttpStatusCode.Unauthorized)]
    [InlineData("GET", "/api/v1/no-such-thing", true, HttpStatusCode.NotFound)]
    [InlineData("POST", "/api/v1/principals", true, HttpStatusCode.BadRequest)]
    [InlineData("GET", "/api/v1/principals/bogus", true, HttpStatusCode.BadRequest)]
    public async Task EveryProblem_CarriesTheCorrelationId(string method, string path, bool authenticated, HttpStatusCode status)
    {
        var client = authenticated ? app.Admin() : app.Anonymous();
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        request.Headers.Add(CorrelationAndLoggingMiddleware.Header, "corr-" + (int)status);
        if (method == "POST")
        {
            request.Content = new StringContent("{not json", Encoding.UTF8, "application/json");
        }

        var response = await client.SendAsync(request, Ct);

        var text = await response.Content.ReadAsStringAsync(Ct);
        response.StatusCode.ShouldBe(status, text);
        response.Content.Headers.ContentType?.MediaType.ShouldBe("application/problem+json");
        System.Text.Json.JsonDocument.Parse(text).RootElement.GetProperty("correlationId").GetString().ShouldBe("corr-" + (int)status);
    }

    [Fact]
    public async Task AccountAdmin_ReadsOnlyItsOwnAccountsEntries_AuditorReadsAll()
    {
        var (mine, admin) = await app.SignUpAsync("ownlog");
        var (theirs, theirAdmin) = await app.SignUpAsync("theirlog");
        await app.AccountPrincipalAsync(theirAdmin, Role.Engineer);

        var own = await AuditAsync(admin);
        own.ShouldNotBeEmpty();
        own.ShouldAllBe(e => e.AccountId == mine.Account.Id);

        var auditor = await app.ProviderPrincipalAsync(Role.Auditor);
        var all = await AuditAsync(auditor);
        all.ShouldContain(e => e.AccountId == mine.Account.Id);
        all.ShouldContain(e => e.AccountId == theirs.Account.Id);
        all.ShouldContain(e => e.AccountId == null);
        var filtered = await AuditAsync(auditor, $"?accountId={theirs.Account.Id}");
        filtered.ShouldNotBeEmpty();
        filtered.ShouldAllBe(e => e.AccountId == theirs.Account.Id);
        (await AuditAsync(app.Admin(), $"?accountId={theirs.Account.Id}")).Count.ShouldBe(filtered.Count);
    }

    [Theory]
    [InlineData(Role.Engineer)]
    [InlineData(Role.Viewer)]
    public async Task AuditList_ByEngineerOrViewer_Returns403(Role role)
    {
        var (_, admin) = await app.SignUpAsync("noread");
        var (_, token) = await app.AccountPrincipalAsync(admin, role);

        await (await app.As(token).GetAsync("/api/v1/audit", Ct)).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task AuditList_PagesWithTheNextCursor()
    {
        var auditor = await app.ProviderPrincipalAsync(Role.Auditor);
        var first = await (await auditor.GetAsync("/api/v1/audit?limit=2", Ct)).ReadAsync<Page<AuditEntryView>>();
        first.Count.ShouldBe(2);
        first.Next.ShouldNotBeNull();

        var second = await (await auditor.GetAsync($"/api/v1/audit?limit=2&after={first.Next}", Ct)).ReadAsync<Page<AuditEntryView>>();

        second.Items[0].Seq.ShouldBe(first.Items[1].Seq + 1);
    }

    [Fact]
    public async Task Verify_ByAccountAdmin_Returns403_ByAuditorReportsValidChain()
    {
        var (_, admin) = await app.SignUpAsync("ver");
        await (await admin.PostAsync("/api/v1/audit/verify", null, Ct)).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");

        var result = await (await (await app.ProviderPrincipalAsync(Role.Auditor)).PostAsync("/api/v1/audit/verify", null, Ct)).ReadAsync<AuditVerification>();

        result.Valid.ShouldBeTrue(result.Problem);
        result.FirstInvalidSeq.ShouldBeNull();
        var all = await AuditAsync(app.Admin());
        result.Entries.ShouldBeGreaterThanOrEqualTo(all.Count);
    }

    private static Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string path, object? body, string correlationId)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Add(CorrelationAndLoggingMiddleware.Header, correlationId);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body, body.GetType(), options: WelkinJson.Client);
        }
        return client.SendAsync(request, Ct);
    }

    internal static async Task<List<AuditEntryView>> AuditAsync(HttpClient client, string query = "")
    {
        var all = new List<AuditEntryView>();
        string? next = null;
        do
        {
            var separator = query.Length == 0 ? "?" : "&";
            var page = await (await client.GetAsync($"/api/v1/audit{query}{separator}limit=1000{(next is null ? "" : "&after=" + next)}", Ct)).ReadAsync<Page<AuditEntryView>>();
            all.AddRange(page.Items);
            next = page.Next;
        }
        while (next is not null);
        return all;
    }
}

/// <summary>Tampering with the SQLite file behind Welkin's back; each test has a cloud of its own, since it breaks the chain.</summary>
public sealed class AuditTamperTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public enum Tamper
    {
        EditDetail,
        EditActor,
        EditOutcome,
        EditTime,
        DeleteMiddle,
        DeleteLast,
    }

    [Theory]
    [InlineData(Tamper.EditDetail)]
    [InlineData(Tamper.EditActor)]
    [InlineData(Tamper.EditOutcome)]
    [InlineData(Tamper.EditTime)]
    [InlineData(Tamper.DeleteMiddle)]
    [InlineData(Tamper.DeleteLast)]
    public async Task Verify_AfterTamperingWithAPastEntry_ReportsTheFirstInvalidEntry(Tamper tamper)
    {
        await using var app = new SecurityApp();
        await app.InitializeAsync();
        var (_, admin) = await app.SignUpAsync("tamper");
        for (var i = 0; i < 4; i++)
        {
            await app.AccountPrincipalAsync(admin, Role.Engineer);
        }
        var auditor = await app.ProviderPrincipalAsync(Role.Auditor);
        var before = await (await auditor.PostAsync("/api/v1/audit/verify", null, Ct)).ReadAsync<AuditVerification>();
        before.Valid.ShouldBeTrue(before.Problem);
        (await AuditVerifyCommand.RunAsync(["--data-dir", app.DataDir], TextWriter.Null, Ct)).ShouldBe(0);
        var victim = tamper == Tamper.DeleteLast ? before.Entries : before.Entries / 2;

        await using (var db = app.OpenDatabaseFile())
        await using (var command = db.CreateCommand())
        {
            command.CommandText = tamper switch
            {
                Tamper.EditDetail => "UPDATE audit_log SET detail = 'nothing to see' WHERE seq = $seq",
                Tamper.EditActor => "UPDATE audit_log SET actor = 'prn_00000000000000000000000000' WHERE seq = $seq",
                Tamper.EditOutcome => "UPDATE audit_log SET outcome = CASE outcome WHEN 'success' THEN 'denied' ELSE 'success' END WHERE seq = $seq",
                Tamper.EditTime => "UPDATE audit_log SET at = at - 86400000 WHERE seq = $seq",
                _ => "DELETE FROM audit_log WHERE seq = $seq",
            };
            command.Parameters.AddWithValue("$seq", victim);
            (await command.ExecuteNonQueryAsync(Ct)).ShouldBe(1);
        }

        var after = await (await auditor.PostAsync("/api/v1/audit/verify", null, Ct)).ReadAsync<AuditVerification>();
        after.Valid.ShouldBeFalse();
        after.FirstInvalidSeq.ShouldBe(victim);
        after.Problem.ShouldNotBeNullOrEmpty();

        // The offline check, with no web host, agrees.
        var output = new StringWriter();
        (await AuditVerifyCommand.RunAsync(["--data-dir", app.DataDir], output, Ct)).ShouldBe(1);
        output.ToString().ShouldContain($"first invalid entry {victim}");
    }

    [Fact]
    public async Task OfflineVerify_OnIntactLog_PrintsValidAndExitsZero()
    {
        await using var app = new SecurityApp();
        await app.InitializeAsync();
        await app.SignUpAsync("offline");
        var output = new StringWriter();

        var exit = await AuditVerifyCommand.RunAsync(["--data-dir", app.DataDir], output, Ct);

        exit.ShouldBe(0);
        output.ToString().ShouldStartWith("audit log valid: ");
    }

    [Theory]
    [InlineData("")]
    [InlineData("--data-dir")]
    [InlineData("--bogus x")]
    public async Task OfflineVerify_WithBadArguments_ExitsTwo(string commandLine)
    {
        var args = commandLine.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var output = new StringWriter();

        (await AuditVerifyCommand.RunAsync(args, output, Ct)).ShouldBe(2);
        output.ToString().ShouldContain("usage: welkin-server audit verify");
    }

    [Fact]
    public async Task OfflineVerify_WithoutDatabase_ExitsTwoAndCreatesNothing()
    {
        var dir = Path.Combine(Path.GetTempPath(), "welkin-none-" + Guid.NewGuid().ToString("n"));
        Directory.CreateDirectory(dir);
        try
        {
            var output = new StringWriter();
            (await AuditVerifyCommand.RunAsync(["--data-dir", dir], output, Ct)).ShouldBe(2);
            output.ToString().ShouldContain("no Welkin database");
            Directory.EnumerateFileSystemEntries(dir).ShouldBeEmpty();
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Program_RecognisesTheAuditVerifySubcommand()
    {
        AuditVerifyCommand.Matches(["audit", "verify", "--data-dir", "x"]).ShouldBeTrue();
        AuditVerifyCommand.Matches(["--data-dir", "x"]).ShouldBeFalse();
        AuditVerifyCommand.Matches(["audit"]).ShouldBeFalse();
    }
}

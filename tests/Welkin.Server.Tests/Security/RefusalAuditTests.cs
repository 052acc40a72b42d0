using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Data;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Tests.Security;

/// <summary>
/// Anonymous refusals are summed up per window, so a flood leaves a bounded number of audit
/// entries with the right count; an authenticated caller's refusals are each audited. Each test
/// has a cloud of its own, since the tests move its clock past the window.
/// </summary>
public sealed class RefusalAuditTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task FailedLoginFlood_LeavesAFewEntries_WhoseCountsAddUpToTheFlood()
    {
        await using var app = new SecurityApp();
        await app.InitializeAsync();
        var (signUp, _) = await app.SignUpAsync("flood");
        var attacker = app.From(SecurityApp.NewAddress());
        const int flood = 120;
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < flood; i++)
        {
            statuses.Add((await SendAsync(attacker, "/api/v1/auth/login", new LoginRequest("admin", "not the password", signUp.Account.Name), $"flood-{i}")).StatusCode);
        }
        // Tokens the server does not know: refused without an audit entry, as before.
        for (var i = 0; i < 50; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/principals") { Content = JsonContent.Create(new CreatePrincipalRequest("x", [Role.Viewer]), options: WelkinJson.Client) };
            request.Headers.Add(CorrelationAndLoggingMiddleware.Header, $"flood-token-{i}");
            request.Headers.Authorization = new("Bearer", "wkn_" + new string('a', 43));
            (await attacker.SendAsync(request, Ct)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        }

        var beforeWindowEnds = await EntriesAsync(app, "flood-%");
        app.Clock.Advance(new RefusalAuditOptions().Window + TimeSpan.FromSeconds(1));
        await app.Services.GetRequiredService<RefusalAudit>().FlushAsync(all: false, Ct);
        var entries = await EntriesAsync(app, "flood-%");

        statuses.Count(s => s == HttpStatusCode.Unauthorized).ShouldBe(5);
        statuses.Count(s => s == HttpStatusCode.TooManyRequests).ShouldBe(flood - 5);
        // The first refusal of each kind is written at once, the repeats when the window ends.
        beforeWindowEnds.Select(e => (e.Action, e.Outcome, e.CorrelationId)).ShouldBe([("auth.login", "denied", "flood-0"), ("auth.login", "failed", "flood-5")]);
        entries.Count.ShouldBe(4);
        entries.ShouldAllBe(e => e.Actor == "anonymous");
        Total(entries, "denied").ShouldBe(5);
        Total(entries, "failed").ShouldBe(flood - 5);
        var denied = entries.Last(e => e.Outcome == "denied");
        denied.Target.ShouldBe($"principal:{signUp.Account.Name}/admin");
        denied.AccountId.ShouldBe(signUp.Account.Id);
        denied.Detail.ShouldStartWith("bad credentials; repeated=4; from=10.");
        entries.Last(e => e.Outcome == "failed").Detail.ShouldStartWith("status=429; repeated=114; from=10.");
        (await app.Services.GetRequiredService<AuditLog>().VerifyAsync(app.Services.GetRequiredService<IDatabase>(), Ct)).Valid.ShouldBeTrue();
    }

    [Fact]
    public async Task DuplicateSignUpFlood_IsSummedUp_AndTheNextWindowStartsWithAnEntryAgain()
    {
        await using var app = new SecurityApp();
        await app.InitializeAsync();
        var (signUp, _) = await app.SignUpAsync("dupe");
        var client = app.From(SecurityApp.NewAddress());
        var duplicate = new SignUpRequest(signUp.Account.Name, "Again", new SignUpAdmin("admin"));

        for (var i = 0; i < 30; i++)
        {
            (await SendAsync(client, "/api/v1/catalog/sign-up", duplicate, $"dupe-{i}")).StatusCode.ShouldBe(HttpStatusCode.Conflict);
        }
        app.Clock.Advance(new RefusalAuditOptions().Window);
        (await SendAsync(client, "/api/v1/catalog/sign-up", duplicate, "dupe-next")).StatusCode.ShouldBe(HttpStatusCode.Conflict);

        var entries = await EntriesAsync(app, "dupe-%");
        entries.Select(e => e.CorrelationId).ShouldBe(["dupe-0", "dupe-29", "dupe-next"]);
        entries.ShouldAllBe(e => e.Action == "account.sign-up" && e.Outcome == "failed" && e.Actor == "anonymous");
        entries[1].Detail.ShouldStartWith("status=409; repeated=29; from=");
        Total(entries, "failed").ShouldBe(31);
    }

    [Fact]
    public async Task AuthenticatedRefusals_AreEachAuditedOnTheirOwn()
    {
        await using var app = new SecurityApp();
        await app.InitializeAsync();
        var (_, admin) = await app.SignUpAsync("authref");
        var (viewer, token) = await app.AccountPrincipalAsync(admin, Role.Viewer);
        var client = app.As(token);

        for (var i = 0; i < 20; i++)
        {
            (await SendAsync(client, "/api/v1/principals", new CreatePrincipalRequest("intruder", [Role.AccountAdmin]), $"authref-{i}")).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        }

        var entries = await EntriesAsync(app, "authref-%");
        entries.Count.ShouldBe(20);
        entries.ShouldAllBe(e => e.Actor == viewer.Id && e.Outcome == "denied" && e.Detail == "status=403");
        entries.Select(e => e.CorrelationId).Distinct().Count().ShouldBe(20);
    }

    [Fact]
    public async Task Shutdown_WritesTheCountOfTheOpenWindow()
    {
        await using var app = new SecurityApp();
        await app.InitializeAsync();
        var (signUp, _) = await app.SignUpAsync("stop");
        var client = app.From(SecurityApp.NewAddress());
        for (var i = 0; i < 4; i++)
        {
            await SendAsync(client, "/api/v1/auth/login", new LoginRequest("admin", "not the password", signUp.Account.Name), $"stop-{i}");
        }
        (await EntriesAsync(app, "stop-%")).Count.ShouldBe(1);

        await app.Services.GetRequiredService<IHost>().StopAsync(Ct);

        await using var db = app.OpenDatabaseFile();
        await using var command = db.CreateCommand();
        command.CommandText = "SELECT detail FROM audit_log WHERE correlation_id LIKE 'stop-%' ORDER BY seq";
        var details = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync(Ct))
        {
            while (await reader.ReadAsync(Ct))
            {
                details.Add(reader.GetString(0));
            }
        }
        details.Count.ShouldBe(2);
        details[1].ShouldStartWith("bad credentials; repeated=3; from=");
    }

    /// <summary>How many refusals the entries stand for: a first refusal one, a sum its repeats.</summary>
    private static long Total(IEnumerable<Entry> entries, string outcome) =>
        entries.Where(e => e.Outcome == outcome).Sum(e => Repeated(e.Detail) is > 0 and var n ? n : 1);

    private static long Repeated(string? detail) =>
        detail?.Split("; ").FirstOrDefault(p => p.StartsWith("repeated=", StringComparison.Ordinal)) is { } part ? long.Parse(part["repeated=".Length..], System.Globalization.CultureInfo.InvariantCulture) : 0;

    private static async Task<List<Entry>> EntriesAsync(SecurityApp app, string correlationLike) =>
        (await app.Services.GetRequiredService<IDatabase>().QueryAsync<Entry>(
            "SELECT actor AS Actor, account_id AS AccountId, action AS Action, target AS Target, outcome AS Outcome, detail AS Detail, correlation_id AS CorrelationId " +
            "FROM audit_log WHERE correlation_id LIKE @Like ORDER BY seq", new { Like = correlationLike }, Ct)).ToList();

    private static Task<HttpResponseMessage> SendAsync(HttpClient client, string path, object body, string correlationId)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body, body.GetType(), options: WelkinJson.Client) };
        request.Headers.Add(CorrelationAndLoggingMiddleware.Header, correlationId);
        return client.SendAsync(request, Ct);
    }

    private sealed record Entry(string Actor, string? AccountId, string Action, string Target, string Outcome, string? Detail, string CorrelationId);
}

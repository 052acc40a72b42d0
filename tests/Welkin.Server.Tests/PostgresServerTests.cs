using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Welkin.Contracts;
using Welkin.Core.Data;
using Welkin.Persistence;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;

namespace Welkin.Server.Tests;

/// <summary>The same HTTP flows as on SQLite, against a server configured for PostgreSQL.</summary>
public sealed class PostgresServerTests(PostgresWelkinApp app) : IClassFixture<PostgresWelkinApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Server_ConfiguredForPostgres_KeepsItsDataInPostgres()
    {
        var ready = await app.Anonymous().GetAsync("/health/ready", Ct);
        var (signUp, _) = await app.SignUpAsync("where");

        ready.StatusCode.ShouldBe(HttpStatusCode.OK);
        app.Services.GetRequiredService<IDatabase>().Provider.ShouldBe("postgresql");
        File.Exists(Path.Combine(app.DataDir, PersistenceServiceCollectionExtensions.SqliteFileName)).ShouldBeFalse();
        await using var connection = new NpgsqlConnection(app.ConnectionString);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand("SELECT name FROM accounts WHERE id = @id", connection);
        command.Parameters.AddWithValue("id", signUp.Account.Id);
        (await command.ExecuteScalarAsync(Ct)).ShouldBe(signUp.Account.Name);
    }

    [Fact]
    public async Task IdempotencyKey_OnPostgres_ReplaysTheFirstAnswerAndRefusesAnotherBody()
    {
        var (signUp, client) = await app.SignUpAsync("pgidem");
        var path = $"/api/v1/principals/{signUp.Admin.Id}/tokens";
        var key = Guid.NewGuid().ToString();
        async Task<(HttpStatusCode, string)> SendAsync(string name)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(new CreateTokenRequest(name), options: WelkinJson.Client) };
            request.Headers.Add("Idempotency-Key", key);
            using var response = await client.SendAsync(request, Ct);
            return (response.StatusCode, await response.Content.ReadAsStringAsync(Ct));
        }

        var first = await SendAsync("pg");
        var retry = await SendAsync("pg");
        var other = await SendAsync("other");

        first.Item1.ShouldBe(HttpStatusCode.Created, first.Item2);
        retry.ShouldBe(first);
        other.Item1.ShouldBe(HttpStatusCode.UnprocessableEntity, other.Item2);
        (await (await client.GetAsync(path, Ct)).ReadAsync<List<TokenView>>()).Count(t => t.Name == "pg").ShouldBe(1);
    }

    [Fact]
    public async Task SignUpPrincipalLoginLimitsAudit_OverHttp_WorkOnPostgres()
    {
        var (signUp, accountAdmin) = await app.SignUpAsync("pgflow");
        const string password = "a long enough password";

        var created = await (await accountAdmin.PostAsJsonAsync("/api/v1/principals",
            new CreatePrincipalRequest("erin", [Role.Engineer], Password: password), WelkinJson.Client, Ct)).ReadAsync<PrincipalView>(HttpStatusCode.Created);
        created.AccountId.ShouldBe(signUp.Account.Id);
        created.HasPassword.ShouldBeTrue();

        var login = await (await app.Anonymous().PostAsJsonAsync("/api/v1/auth/login",
            new LoginRequest("erin", password, signUp.Account.Name), WelkinJson.Client, Ct)).ReadAsync<LoginResponse>();
        var me = await (await app.As(login.Token.Secret).GetAsync("/api/v1/me", Ct)).ReadAsync<WhoAmI>();
        me.Principal.Id.ShouldBe(created.Id);
        me.AccountName.ShouldBe(signUp.Account.Name);
        await (await app.Anonymous().PostAsJsonAsync("/api/v1/auth/login",
            new LoginRequest("erin", password + "x", signUp.Account.Name), WelkinJson.Client, Ct)).ProblemAsync(HttpStatusCode.Unauthorized, "invalid-credentials");

        var limits = new Dictionary<string, long> { ["compute-unit"] = 8, ["storage-unit"] = 25 };
        var set = await (await accountAdmin.PutAsJsonAsync($"/api/v1/accounts/{signUp.Account.Id}/limits",
            new SetLimitsRequest(limits, signUp.Account.Version), WelkinJson.Client, Ct)).ReadAsync<AccountView>();
        set.Version.ShouldBe(signUp.Account.Version + 1);
        set.Limits.ShouldBe(limits);
        await (await accountAdmin.PutAsJsonAsync($"/api/v1/accounts/{signUp.Account.Id}/limits",
            new SetLimitsRequest(limits, signUp.Account.Version), WelkinJson.Client, Ct)).ProblemAsync(HttpStatusCode.PreconditionFailed, "precondition-failed");
        var read = await (await accountAdmin.GetAsync($"/api/v1/accounts/{signUp.Account.Id}", Ct)).ReadAsync<AccountView>();
        read.Limits.ShouldBe(limits);

        var entries = await (await accountAdmin.GetAsync("/api/v1/audit", Ct)).ReadAsync<Page<AuditEntryView>>();
        entries.Items.Select(e => (e.Action, e.Outcome)).ShouldBe(
        [
            ("account.sign-up", "success"), ("principal.create", "success"), ("auth.login", "success"), ("auth.login", "denied"),
            ("account.set-limits", "success"), ("account.set-limits", "failed"),
        ]);
        var verification = await (await app.Admin().PostAsync("/api/v1/audit/verify", null, Ct)).ReadAsync<AuditVerification>();
        verification.Valid.ShouldBeTrue(verification.Problem);
        verification.Entries.ShouldBeGreaterThanOrEqualTo(entries.Items.Count);
    }

    [Fact]
    public async Task ProvisionStopAndStart_OnPostgres_TheInstanceFollowsItsMachines()
    {
        var tenant = await InstancesApi.TenantAsync(app);

        var (job, instance) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant, count: 2));
        job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
        instance.State.ShouldBe(InstanceState.Active);
        var machines = await tenant.Client.MachinesAsync(instance.Id);
        (await tenant.Client.ActAsync(machines[0].Id, "stop")).State.ShouldBe(JobState.Succeeded);
        var oneStopped = await tenant.Client.GetInstanceAsync(instance.Id);
        (await tenant.Client.ActAsync(machines[1].Id, "stop")).State.ShouldBe(JobState.Succeeded);
        var bothStopped = await tenant.Client.GetInstanceAsync(instance.Id);
        (await tenant.Client.ActAsync(machines[1].Id, "start")).State.ShouldBe(JobState.Succeeded);
        var oneStarted = await tenant.Client.GetInstanceAsync(instance.Id);

        oneStopped.State.ShouldBe(InstanceState.Active);
        bothStopped.State.ShouldBe(InstanceState.Inactive);
        oneStarted.State.ShouldBe(InstanceState.Active);
        (await tenant.Client.EventsAsync(machines[1].Id)).Select(e => e.Type)
            .ShouldBe(["machine.provisioned", "machine.activated", "machine.deactivated", "machine.activated"]);
    }

    [Fact]
    public async Task SignUp_TwoConcurrentWithTheSameName_OneGets409()
    {
        var name = "twin-" + Guid.NewGuid().ToString("n")[..10];
        var responses = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => app.Anonymous().PostAsJsonAsync("/api/v1/catalog/sign-up",
            new SignUpRequest(name, "Twin", new SignUpAdmin("admin")), WelkinJson.Client, Ct)));

        responses.Select(r => r.StatusCode).ShouldBe([HttpStatusCode.Created, HttpStatusCode.Conflict], ignoreOrder: true);
        await responses.Single(r => r.StatusCode == HttpStatusCode.Conflict).ProblemAsync(HttpStatusCode.Conflict, "name-taken");
    }
}

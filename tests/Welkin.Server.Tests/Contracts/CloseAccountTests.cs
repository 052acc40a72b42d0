using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Core.Data;
using Welkin.Core.Events;
using Welkin.Core.Security;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Contracts;

public sealed class CloseAccountTests(ContractsApp app) : IClassFixture<ContractsApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Task<HttpResponseMessage> CloseAsync(HttpClient client, string accountId, CloseAccountRequest? request = null) =>
        client.PostAsJsonAsync($"/api/v1/accounts/{accountId}/close", request ?? new CloseAccountRequest(), WelkinJson.Client, Ct);

    [Fact]
    public async Task Close_TerminatesContractsAndRevokesEveryonesAccess()
    {
        var tenant = await ContractsApi.TenantAsync(app, computeUnits: 5, storageUnits: 10);
        var active = await tenant.ActiveAsync(quantity: 2);
        var proposed = await tenant.Client.ProposeAsync((tenant.Storage.Id, 3));
        var engineer = await AccountPrincipals.CreateAsync(app, tenant.Client, Role.Engineer);
        var viewer = await AccountPrincipals.CreateAsync(app, tenant.Client, Role.Viewer);
        await (await engineer.GetAsync("/api/v1/me", Ct)).ReadAsync<WhoAmI>();
        await (await viewer.PostAsJsonAsync($"/api/v1/accounts/{tenant.AccountId}/close", new CloseAccountRequest(), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.Forbidden, "forbidden");

        var closed = await (await CloseAsync(tenant.Client, tenant.AccountId, new CloseAccountRequest(Reason: "moving on"))).ReadAsync<CloseAccountResponse>();

        closed.Account.State.ShouldBe(AccountState.Closed);
        closed.TerminatedContracts.ShouldBe(new[] { active.Id, proposed.Id }.Order(StringComparer.Ordinal).ToList());
        closed.RevokedTokens.ShouldBe(3);
        closed.Job.ShouldNotBeNull().Action.ShouldBe("account.close");
        foreach (var client in new[] { tenant.Client, engineer, viewer })
        {
            (await client.GetAsync("/api/v1/me", Ct)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        }
        (await JobWaits.FinishedAsync(app, closed.Job.Id)).State.ShouldBe(JobState.Succeeded);
        var admin = app.Admin();
        (await admin.GetContractAsync(active.Id)).State.ShouldBe(ContractState.Terminated);
        (await admin.GetContractAsync(proposed.Id)).State.ShouldBe(ContractState.Rejected);
        var quotas = await (await admin.GetAsync($"/api/v1/accounts/{tenant.AccountId}/quotas", Ct)).ReadAsync<List<QuotaView>>();
        quotas.Sum(q => q.Ordered).ShouldBe(0);

        var log = app.Services.GetRequiredService<EventLog>();
        var events = (await log.ListAsync(app.Services.GetRequiredService<IDatabase>(), Caller.System("test"),
            new EventQuery(AccountId: tenant.AccountId, Type: "account.closed"), Ct)).Value;
        var data = events.Items.Single().Data;
        data["contracts"].ShouldBe(string.Join(",", closed.TerminatedContracts));
        data["ordered.compute-unit"].ShouldBe("2");
        data["ordered.storage-unit"].ShouldBe("3");
        data["provisioned.compute-unit"].ShouldBe("0");
        data.ContainsKey("closedAt").ShouldBeTrue();

        await (await CloseAsync(admin, tenant.AccountId)).ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
        await (await admin.PutAsJsonAsync($"/api/v1/accounts/{tenant.AccountId}/limits",
            new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = 1 }), WelkinJson.Client, Ct)).ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
    }

    [Fact]
    public async Task Close_ByProviderAdmin_ClosesAnAccountWithoutContracts()
    {
        var (signUp, client) = await app.SignUpAsync("quiet");

        var closed = await (await CloseAsync(app.Admin(), signUp.Account.Id, new CloseAccountRequest(signUp.Account.Version))).ReadAsync<CloseAccountResponse>();

        closed.TerminatedContracts.ShouldBeEmpty();
        closed.Job.ShouldNotBeNull().State.ShouldBe(JobState.Succeeded);
        (await client.GetAsync("/api/v1/me", Ct)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Close_AnotherAccount_AnswersNotFound()
    {
        var (victim, victimClient) = await app.SignUpAsync("victim");
        var (_, attacker) = await app.SignUpAsync("attacker");

        await (await CloseAsync(attacker, victim.Account.Id)).ProblemAsync(HttpStatusCode.NotFound, "not-found");

        (await (await victimClient.GetAsync($"/api/v1/accounts/{victim.Account.Id}", Ct)).ReadAsync<AccountView>()).State.ShouldBe(AccountState.Active);
    }
}

using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Core.Contracts;
using Welkin.Core.Security;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Contracts;

public sealed class ContractExpiryTests(ContractsApp app) : IClassFixture<ContractsApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Accept_WhenExpired_ReturnsConflictAndExpiresTheProposal()
    {
        var tenant = await ContractsApi.TenantAsync(app, computeUnits: 2);
        var proposed = await tenant.Client.ProposeAsync((tenant.Compute.Id, 2));

        app.Clock.Advance(TimeSpan.FromHours(24));
        await (await tenant.Client.TransitionAsync(proposed.Id, "accept")).ProblemAsync(HttpStatusCode.Conflict, "proposal-expired");

        (await tenant.Client.GetContractAsync(proposed.Id)).State.ShouldBe(ContractState.Expired);
        await (await tenant.Client.TransitionAsync(proposed.Id, "accept")).ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
        await tenant.Client.ProposeAsync((tenant.Compute.Id, 2));
    }

    [Fact]
    public async Task Sweep_ExpiresProposalsPastTheirTime_AndReturnsTheirUnits()
    {
        var tenant = await ContractsApi.TenantAsync(app, computeUnits: 3);
        var early = await tenant.Client.ProposeAsync((tenant.Compute.Id, 2));
        app.Clock.Advance(TimeSpan.FromHours(12));
        var late = await tenant.Client.ProposeAsync((tenant.Compute.Id, 1));
        app.Clock.Advance(TimeSpan.FromHours(13));

        var expired = await app.Services.GetRequiredService<ContractService>().ExpireDueAsync(Caller.System("test"), Ct);

        expired.ShouldBeGreaterThanOrEqualTo(1);
        (await tenant.Client.GetContractAsync(early.Id)).State.ShouldBe(ContractState.Expired);
        (await tenant.Client.GetContractAsync(late.Id)).State.ShouldBe(ContractState.Proposed);
        var quotas = await (await tenant.Client.GetAsync($"/api/v1/accounts/{tenant.AccountId}/quotas", Ct)).ReadAsync<List<QuotaView>>();
        quotas.Single(q => q.Unit == "compute-unit").Ordered.ShouldBe(1);
        (await tenant.Client.AcceptAsync(late.Id)).State.ShouldBe(ContractState.Active);
    }
}

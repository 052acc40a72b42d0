using System.Net.Http.Json;
using Welkin.Contracts;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;
using Welkin.Server.Tests.Sla;

namespace Welkin.Server.Tests.Contracts;

/// <summary>
/// The contracts' periodic work runs on the server's clock: in simulation mode proposals expire
/// and account closings finish when virtual time passes, never on their own in real time.
/// </summary>
public sealed class ContractClockTests(SimulationApp app) : IClassFixture<SimulationApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<long> OrderedAsync(ContractsApi.Tenant tenant) =>
        (await (await tenant.Client.GetAsync($"/api/v1/accounts/{tenant.AccountId}/quotas", Ct)).ReadAsync<List<QuotaView>>())
            .Where(q => q.Unit == "compute-unit").Sum(q => q.Ordered);

    [Fact]
    public async Task Proposal_ExpiresWhenVirtualTimePassesItsDeadline_AtTheNextSweepTick()
    {
        var tenant = await ContractsApi.TenantAsync(app, computeUnits: 2);
        var admin = app.Admin();
        var proposed = await tenant.Client.ProposeAsync((tenant.Compute.Id, 2));
        var deadline = proposed.ProposalExpires!.Value;

        await admin.PostAdvanceAsync(new ClockAdvanceRequest(To: deadline.AddSeconds(-1)));
        await Task.Delay(300, Ct);
        (await tenant.Client.GetContractAsync(proposed.Id)).State.ShouldBe(ContractState.Proposed);
        (await OrderedAsync(tenant)).ShouldBe(2);

        // The sweep runs every minute of virtual time: the first tick after the deadline expires it.
        (await admin.AdvanceAsync("PT1M")).Now.ShouldBeGreaterThan(deadline);
        (await tenant.Client.GetContractAsync(proposed.Id)).State.ShouldBe(ContractState.Expired);
        (await OrderedAsync(tenant)).ShouldBe(0);
    }

    [Fact]
    public async Task AccountClose_FinishesOnTheFirstTickAfterItsContractsAreTerminated()
    {
        var tenant = await ContractsApi.TenantAsync(app, computeUnits: 2);
        var active = await tenant.ActiveAsync(quantity: 1);

        var closed = await (await tenant.Client.PostAsJsonAsync($"/api/v1/accounts/{tenant.AccountId}/close", new CloseAccountRequest(), WelkinJson.Client, Ct))
            .ReadAsync<CloseAccountResponse>();

        var admin = app.Admin();
        await WaitForAsync(async () => (await admin.GetContractAsync(active.Id)).State == ContractState.Terminated);
        await Task.Delay(300, Ct);
        var waiting = await (await admin.GetAsync($"/api/v1/jobs/{closed.Job!.Id}", Ct)).ReadAsync<JobView>();
        waiting.State.ShouldBe(JobState.Running, "the closing waits for the clock");
        await admin.AdvanceAsync("PT1S");
        (await admin.WaitAsync(closed.Job.Id)).State.ShouldBe(JobState.Succeeded);
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTimeOffset.UtcNow.AddSeconds(30);
        while (!await condition())
        {
            DateTimeOffset.UtcNow.ShouldBeLessThan(deadline);
            await Task.Delay(20, Ct);
        }
    }
}

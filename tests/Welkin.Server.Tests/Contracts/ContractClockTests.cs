using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Jobs;
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
    public async Task AccountClose_FinishesWhenItsLastContractTerminationDoes_WithoutTheClockMoving()
    {
        var tenant = await ContractsApi.TenantAsync(app, computeUnits: 2);
        var active = await tenant.ActiveAsync(quantity: 1);
        var admin = app.Admin();
        var before = (await admin.ClockAsync()).Now;

        var closed = await (await tenant.Client.PostAsJsonAsync($"/api/v1/accounts/{tenant.AccountId}/close", new CloseAccountRequest(), WelkinJson.Client, Ct))
            .ReadAsync<CloseAccountResponse>();

        (await admin.WaitAsync(closed.Job!.Id)).State.ShouldBe(JobState.Succeeded);
        (await admin.GetContractAsync(active.Id)).State.ShouldBe(ContractState.Terminated);
        (await admin.ClockAsync()).Now.ShouldBe(before);
    }

    [Fact]
    public async Task WaitingJob_WhoseWakeWasLost_RunsAgainAtTheNextCheckOfWaitingJobs()
    {
        // A closing that waits for a child which finished while the server was down (its wake never came).
        var (signUp, _) = await app.SignUpAsync("lost");
        var db = app.Services.GetRequiredService<IDatabase>();
        var parent = Ids.New(Ids.Job, TimeProvider.System);
        var child = Ids.New(Ids.Job, TimeProvider.System);
        await db.WriteAsync<bool>(async tx =>
        {
            const string Insert = """
                INSERT INTO jobs (id, account_id, action, target, state, progress, parent_id, attempts, created_by, version, created_at, updated_at, waiting)
                VALUES (@Id, @Account, @Action, @Target, @State, 0, @Parent, 1, 'system', 1, 0, 0, @Waiting)
                """;
            await tx.ExecuteAsync(Insert, new { Id = parent, Account = signUp.Account.Id, Action = "account.close", Target = signUp.Account.Id, State = "running", Parent = (string?)null, Waiting = 1 });
            await tx.ExecuteAsync(Insert, new { Id = child, Account = signUp.Account.Id, Action = "contract.terminate", Target = "ctr_x", State = "succeeded", Parent = parent, Waiting = 0 });
            return true;
        }, Ct);
        var admin = app.Admin();
        await Task.Delay(200, Ct);
        (await (await admin.GetAsync($"/api/v1/jobs/{parent}", Ct)).ReadAsync<JobView>()).State.ShouldBe(JobState.Running);

        await app.Services.GetServices<IPeriodicWork>().OfType<WaitingJobsWork>().Single().RunAsync(DateTimeOffset.UtcNow, Ct);

        var done = await admin.WaitAsync(parent);
        done.State.ShouldBe(JobState.Succeeded);
        done.StatusMessage.ShouldBe("account closed");
    }
}

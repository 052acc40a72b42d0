using Welkin.Cli.Tests.Infrastructure;
using Welkin.Client;
using Welkin.Contracts;
using Welkin.Testing;

namespace Welkin.Cli.Tests;

/// <summary>
/// Accepted work survives a crash: a real server is killed with SIGKILL while provision jobs run,
/// restarted on the same data directory, and every accepted job then finishes explicitly with the
/// books (units, placement, audit chain) agreeing with the machines that exist.
/// </summary>
public sealed class DurabilityTests
{
    private const int Requests = 50;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // Each create takes 2 s on the simulated fabric, so the kill lands while jobs run.
    private static readonly Dictionary<string, string> Settings = new()
    {
        ["Fabric__Timing__Create"] = "00:00:02",
        ["Fabric__Timing__Jitter"] = "0.2",
    };

    [Fact]
    public async Task Sigkill_WhileProvisioning_EveryAcceptedJobFinishesAndTheBooksAgree()
    {
        var first = await ServerProcess.StartAsync(Ct, settings: Settings);
        ServerProcess? second = null;
        try
        {
            using var admin = new WelkinClient(first.Endpoint, first.AdminToken);
            var template = await admin.Templates.CreateAsync(new TemplateSpec("durable",
            [
                new VirtualSystemSpec("web", new HardwareChoices(new Choice<int>([1], 1), new Choice<long>([512], 512), new Choice<long>([10], 10))),
            ]), Ct);
            await admin.Templates.PublishAsync(template.Id, new TemplateTransitionRequest(), Ct);
            var offering = await admin.Offerings.CreateAsync(new OfferingSpec("durable", OfferingKind.Compute,
                new PricePlan("USD", "month", [new PriceRate("compute-unit", "unit-month", 10m)]), new SlaTerms(99.9m), new OfferingTerms(0, 0m),
                "compute-unit", TemplateId: template.Id, TemplateVersion: 1), Ct);
            await admin.Offerings.PublishAsync(offering.Id, new OfferingTransitionRequest(), Ct);
            var signUp = await admin.Accounts.SignUpAsync(new SignUpRequest(Names.Unique("durable"), "Durable Inc.", new SignUpAdmin("admin")), Ct);
            await admin.Accounts.SetLimitsAsync(signUp.Account.Id, new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = Requests + 10 }), Ct);
            using var tenant = new WelkinClient(first.Endpoint, signUp.Token.Secret);
            var contract = await tenant.Contracts.RequestAsync(new ContractRequest([new ContractItemRequest(offering.Id, Requests + 10)]), Ct);
            await tenant.Contracts.AcceptAsync(contract.Id, ct: Ct);

            var accepted = await Task.WhenAll(Enumerable.Range(0, Requests).Select(i =>
                tenant.Instances.ProvisionAsync(new ProvisionRequest(contract.Id, $"shop-{i}"), Ct)));
            var before = await tenant.Jobs.ListAsync(limit: 500, ct: Ct);
            before.Items.Count(j => j.State is JobState.Succeeded or JobState.Failed).ShouldBeLessThan(Requests, "the kill must land while jobs run");

            await first.KillAsync();
            second = await ServerProcess.StartAsync(Ct, first.DataDir, Settings);
            using var after = new WelkinClient(second.Endpoint, signUp.Token.Secret);
            using var provider = new WelkinClient(second.Endpoint, second.AdminToken);

            foreach (var a in accepted)
            {
                var job = await WaitAsync(after, a.Job.Id);
                job.State.ShouldBeOneOf(JobState.Succeeded, JobState.Failed);
                if (job.State == JobState.Failed)
                {
                    job.ErrorCode.ShouldNotBeNullOrEmpty();
                }
            }
            var machines = new List<MachineView>();
            string? cursor = null;
            do
            {
                var page = await after.Machines.ListAsync(after: cursor, limit: 500, ct: Ct);
                machines.AddRange(page.Items);
                cursor = page.Next;
            }
            while (cursor is not null);
            machines.Count.ShouldBe(Requests);
            machines.ShouldNotContain(m => m.State == MachineState.Provisioning);
            var holding = machines.Where(m => m.Released is null).ToList();
            var usage = (await after.Contracts.GetAsync(contract.Id, Ct)).Usage.Single();
            usage.Provisioned.ShouldBe(holding.Count);
            var quota = (await after.Contracts.QuotasAsync(signUp.Account.Id, Ct)).Single(q => q.Unit == "compute-unit");
            quota.Provisioned.ShouldBe(holding.Count);
            foreach (var host in await provider.Fabric.ListHostsAsync(Ct))
            {
                var status = await provider.Fabric.GetHostAsync(host.Name, Ct);
                var on = holding.Where(m => m.Host == host.Name).ToList();
                status.Machines.ShouldBe(on.Count, host.Name);
                // Placement's defaults: 4 vCPUs per core, memory and disk not overcommitted.
                status.FreeCpuMilli.ShouldBe(host.Cores * 4_000L - on.Sum(m => m.Vcpus * 1_000L), host.Name);
                status.FreeMemoryMiB.ShouldBe(host.MemoryMiB - on.Sum(m => m.MemoryMiB), host.Name);
                status.FreeDiskGiB.ShouldBe(host.DiskGiB - on.Sum(m => m.DiskGiB), host.Name);
            }
            var audit = await provider.Audit.VerifyAsync(Ct);
            audit.Valid.ShouldBeTrue(audit.Problem);
        }
        catch
        {
            TestContext.Current.SendDiagnosticMessage("first server:\n" + first.Log + "\nsecond server:\n" + second?.Log);
            throw;
        }
        finally
        {
            if (second is not null)
            {
                await second.DisposeAsync();
            }
            await first.DisposeAsync();
        }
    }

    private static async Task<JobView> WaitAsync(WelkinClient client, string id)
    {
        // A guard against a hung job, not a performance assertion.
        using var guard = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        guard.CancelAfter(TimeSpan.FromMinutes(3));
        return await Polling.FinishedAsync(ct => client.Jobs.GetAsync(id, ct), guard.Token, TimeSpan.FromMilliseconds(100));
    }
}

using System.Net;
using Welkin.Contracts;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Instances;

/// <summary>The Change Manager's migrate operation on the simulated fabric: live for running machines, cold for inactive ones, operators only.</summary>
public sealed class MigrateTests(WelkinApp app) : IClassFixture<WelkinApp>
{
    private static async Task<JobView> MigrateAsync(HttpClient operatorClient, string machineId, string host)
    {
        var accepted = await (await operatorClient.PostAsync($"/api/v1/machines/{machineId}/migrate", new MigrateRequest(host)))
            .ReadAsync<AcceptedView<MachineView>>(HttpStatusCode.Accepted);
        return await operatorClient.WaitAsync(accepted.Job.Id);
    }

    private static string Other(string host) => host == "sim-us-east-1" ? "sim-us-east-2" : "sim-us-east-1";

    [Fact]
    public async Task Migrate_RunningMachine_MovesItLive_WithItsCapacity_AndRecordsAnEvent()
    {
        var tenant = await InstancesApi.TenantAsync(app);
        var (_, instance) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant, constraints: new PlacementConstraints(Regions: ["us-east"])));
        var machine = await tenant.Client.GetMachineAsync(instance.Machines[0]);
        var target = Other(machine.Host!);
        var admin = app.Admin();
        var freeBefore = await (await admin.GetAsync($"/api/v1/fabric/hosts/{target}", TestContext.Current.CancellationToken)).ReadAsync<HostStatusView>();

        var job = await MigrateAsync(admin, machine.Id, target);

        job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
        var moved = await tenant.Client.GetMachineAsync(machine.Id);
        moved.Host.ShouldBe(target);
        moved.State.ShouldBe(MachineState.Running);
        moved.Access!.Endpoints.ShouldBe(machine.Access!.Endpoints);
        var freeAfter = await (await admin.GetAsync($"/api/v1/fabric/hosts/{target}", TestContext.Current.CancellationToken)).ReadAsync<HostStatusView>();
        freeAfter.FreeMemoryMiB.ShouldBe(freeBefore.FreeMemoryMiB - machine.MemoryMiB);
        var migrated = (await tenant.Client.EventsAsync(machine.Id)).Single(e => e.Type == "machine.migrated");
        migrated.Data!["from"].ShouldBe(machine.Host);
        migrated.Data["mode"].ShouldBe("live");
    }

    [Fact]
    public async Task Migrate_InactiveMachine_MovesItCold_AndItStartsOnTheTarget()
    {
        var tenant = await InstancesApi.TenantAsync(app);
        var (_, instance) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant, constraints: new PlacementConstraints(Regions: ["us-east"])));
        var id = instance.Machines[0];
        (await tenant.Client.ActAsync(id, "stop")).State.ShouldBe(JobState.Succeeded);
        var target = Other((await tenant.Client.GetMachineAsync(id)).Host!);

        (await MigrateAsync(app.Admin(), id, target)).State.ShouldBe(JobState.Succeeded);
        (await tenant.Client.ActAsync(id, "start")).State.ShouldBe(JobState.Succeeded);

        var started = await tenant.Client.GetMachineAsync(id);
        started.Host.ShouldBe(target);
        started.State.ShouldBe(MachineState.Running);
        (await tenant.Client.EventsAsync(id)).Single(e => e.Type == "machine.migrated").Data!["mode"].ShouldBe("cold");
    }

    [Fact]
    public async Task Migrate_IsRefused_ForTenants_ForUnknownOrSameHosts_AndForTerminatedMachines()
    {
        var tenant = await InstancesApi.TenantAsync(app);
        var (_, instance) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant));
        var machine = await tenant.Client.GetMachineAsync(instance.Machines[0]);
        var admin = app.Admin();

        await (await tenant.Client.PostAsync($"/api/v1/machines/{machine.Id}/migrate", new MigrateRequest(Other(machine.Host!)))).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await admin.PostAsync($"/api/v1/machines/{machine.Id}/migrate", new MigrateRequest("no-such-host"))).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        await (await admin.PostAsync($"/api/v1/machines/{machine.Id}/migrate", new MigrateRequest(machine.Host!))).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        (await tenant.Client.ActAsync(machine.Id, "destroy")).State.ShouldBe(JobState.Succeeded);
        await (await admin.PostAsync($"/api/v1/machines/{machine.Id}/migrate", new MigrateRequest(Other(machine.Host!)))).ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
    }
}

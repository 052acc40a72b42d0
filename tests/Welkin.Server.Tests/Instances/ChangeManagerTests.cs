using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Core.Contracts;
using Welkin.Core.Security;
using Welkin.Server.Tests.Catalog;
using Welkin.Server.Tests.Contracts;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Instances;

public sealed class ChangeManagerTests(InstancesApp app) : IClassFixture<InstancesApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(InstancesApi.Tenant Tenant, InstanceView Instance, string MachineId)> RunningAsync(int quantity = 4, TemplateSpec? template = null,
        IReadOnlyList<VirtualSystemRestriction>? choices = null, string vs = "web")
    {
        var tenant = await InstancesApi.TenantAsync(app, quantity, template: template, choices: choices);
        var (_, instance) = await tenant.Client.ProvisionedAsync(new ProvisionRequest(tenant.Contract.Id, VirtualSystems: [new VirtualSystemChoice(vs, 1)]));
        return (tenant, instance, instance.Machines[0]);
    }

    [Fact]
    public async Task StopAndStart_RecordDeactivatedAndActivatedAtTheStateChange()
    {
        var (tenant, instance, id) = await RunningAsync();

        var stopped = await tenant.Client.ActAsync(id, "stop");
        var afterStop = await tenant.Client.GetMachineAsync(id);
        var inactive = await tenant.Client.GetInstanceAsync(instance.Id);
        var started = await tenant.Client.ActAsync(id, "start");
        var afterStart = await tenant.Client.GetMachineAsync(id);

        stopped.State.ShouldBe(JobState.Succeeded, stopped.ErrorDetail);
        started.State.ShouldBe(JobState.Succeeded, started.ErrorDetail);
        afterStop.State.ShouldBe(MachineState.Inactive);
        inactive.State.ShouldBe(InstanceState.Inactive);
        afterStart.State.ShouldBe(MachineState.Running);
        var events = await tenant.Client.EventsAsync(id);
        events.Select(e => e.Type).ShouldBe(["machine.provisioned", "machine.activated", "machine.deactivated", "machine.activated"]);
        events[2].At.ShouldBe(afterStop.StateChanged);
        events[3].At.ShouldBe(afterStart.StateChanged);
        events[2].Data["vcpus"].ShouldBe("2");
        events[2].Data["memoryMiB"].ShouldBe("6144");
        (await tenant.Client.GetInstanceAsync(instance.Id)).State.ShouldBe(InstanceState.Active);
    }

    [Fact]
    public async Task PauseResumeAndReboot_Work_AndPauseDeactivates()
    {
        var (tenant, _, id) = await RunningAsync();

        (await tenant.Client.ActAsync(id, "pause")).State.ShouldBe(JobState.Succeeded);
        (await tenant.Client.GetMachineAsync(id)).State.ShouldBe(MachineState.Paused);
        (await tenant.Client.ActAsync(id, "resume")).State.ShouldBe(JobState.Succeeded);
        (await tenant.Client.ActAsync(id, "reboot")).State.ShouldBe(JobState.Succeeded);

        (await tenant.Client.GetMachineAsync(id)).State.ShouldBe(MachineState.Running);
        (await tenant.Client.EventsAsync(id)).Select(e => e.Type).ShouldBe(["machine.provisioned", "machine.activated", "machine.deactivated", "machine.activated"]);
    }

    [Theory]
    [InlineData("start")]
    [InlineData("resume")]
    public async Task Action_NotAllowedInTheCurrentState_ReturnsConflict(string verb)
    {
        var (tenant, _, id) = await RunningAsync();
        await (await tenant.Client.PostAsync($"/api/v1/machines/{id}/{verb}")).ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
    }

    [Fact]
    public async Task Action_ByViewer_IsForbidden_AndStaleVersion_IsPreconditionFailed()
    {
        var (tenant, _, id) = await RunningAsync();
        var viewer = await AccountPrincipals.CreateAsync(app, tenant.Client, Role.Viewer);
        var machine = await viewer.GetMachineAsync(id);

        await (await viewer.PostAsync($"/api/v1/machines/{id}/stop")).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await viewer.PostAsync($"/api/v1/machines/{id}/resize", new ResizeRequest(4))).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await viewer.PostAsync($"/api/v1/instances/{machine.InstanceId}/terminate")).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await viewer.PostAsync($"/api/v1/instances/{machine.InstanceId}/scale", new ScaleRequest("web", 2))).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await tenant.Client.PostAsync($"/api/v1/machines/{id}/stop", new MachineActionRequest(machine.Version + 5)))
            .ProblemAsync(HttpStatusCode.PreconditionFailed, "precondition-failed");
        (await tenant.Client.GetMachineAsync(id)).State.ShouldBe(MachineState.Running);
    }

    [Fact]
    public async Task Destroy_TerminatesTheMachine_AndReturnsItsUnit()
    {
        var (tenant, instance, id) = await RunningAsync();

        var job = await tenant.Client.ActAsync(id, "destroy");

        job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
        var machine = await tenant.Client.GetMachineAsync(id);
        machine.State.ShouldBe(MachineState.Terminated);
        machine.Released.ShouldNotBeNull();
        (await tenant.Client.EventsAsync(id)).Select(e => e.Type).ShouldBe(["machine.provisioned", "machine.activated", "machine.deactivated", "machine.released"]);
        (await tenant.Client.ContractProvisionedAsync(tenant.Contract.Id)).ShouldBe(0);
        (await app.AccountProvisionedAsync(tenant.AccountId)).ShouldBe(0);
        await (await tenant.Client.PostAsync($"/api/v1/machines/{id}/destroy")).ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
        (await tenant.Client.GetInstanceAsync(instance.Id)).State.ShouldBe(InstanceState.Inactive);
    }

    [Fact]
    public async Task Resize_Running_StopsResizesAndStarts_WithExactEvents()
    {
        var prefix = CatalogApi.UniquePrefix("rs");
        var (tenant, _, id) = await RunningAsync(template: CatalogApi.FlexibleTemplate(prefix + "t"), vs: "app");

        var job = await tenant.Client.ActAsync(id, "resize", new ResizeRequest(4, 8192));

        job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
        var machine = await tenant.Client.GetMachineAsync(id);
        (machine.State, machine.Vcpus, machine.MemoryMiB).ShouldBe((MachineState.Running, 4, 8192L));
        var events = await tenant.Client.EventsAsync(id);
        events.Select(e => e.Type).ShouldBe(["machine.provisioned", "machine.activated", "machine.deactivated", "machine.resized", "machine.activated"]);
        (events[2].Data["vcpus"], events[2].Data["memoryMiB"]).ShouldBe(("2", "4096"));
        (events[3].Data["oldVcpus"], events[3].Data["oldMemoryMiB"], events[3].Data["vcpus"], events[3].Data["memoryMiB"]).ShouldBe(("2", "4096", "4", "8192"));
        (events[4].Data["vcpus"], events[4].Data["memoryMiB"]).ShouldBe(("4", "8192"));
        events[4].At.ShouldBe(machine.StateChanged);
    }

    [Fact]
    public async Task Resize_Inactive_StaysInactive_AndOutsideTheOffering_IsRefused()
    {
        var prefix = CatalogApi.UniquePrefix("rs");
        var (tenant, _, id) = await RunningAsync(template: CatalogApi.FlexibleTemplate(prefix + "t"), vs: "app",
            choices: [new VirtualSystemRestriction("app", Vcpus: new Choice<int>([1, 2], 2))]);
        await tenant.Client.ActAsync(id, "stop");

        var problem = await (await tenant.Client.PostAsync($"/api/v1/machines/{id}/resize", new ResizeRequest(4))).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        var job = await tenant.Client.ActAsync(id, "resize", new ResizeRequest(1, 2048));

        problem.GetProperty("errors").TryGetProperty("vcpus", out _).ShouldBeTrue();
        job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
        var machine = await tenant.Client.GetMachineAsync(id);
        (machine.State, machine.Vcpus, machine.MemoryMiB).ShouldBe((MachineState.Inactive, 1, 2048L));
        (await tenant.Client.EventsAsync(id)).Select(e => e.Type).ShouldBe(["machine.provisioned", "machine.activated", "machine.deactivated", "machine.resized"]);
    }

    [Fact]
    public async Task Scale_UpAndDown_DrawsAndReturnsUnits_NewestMachinesGoFirst()
    {
        var (tenant, instance, first) = await RunningAsync(quantity: 3);

        var up = await (await tenant.Client.PostAsync($"/api/v1/instances/{instance.Id}/scale", new ScaleRequest("web", 3))).ReadAsync<AcceptedView<InstanceView>>(HttpStatusCode.Accepted);
        var upJob = await tenant.Client.WaitAsync(up.Job.Id);
        var tooMany = await (await tenant.Client.PostAsync($"/api/v1/instances/{instance.Id}/scale", new ScaleRequest("web", 4))).ProblemAsync(HttpStatusCode.Conflict, "contract-exhausted");
        var afterUp = await tenant.Client.MachinesAsync(instance.Id);
        var down = await (await tenant.Client.PostAsync($"/api/v1/instances/{instance.Id}/scale", new ScaleRequest("web", 1))).ReadAsync<AcceptedView<InstanceView>>(HttpStatusCode.Accepted);
        var downJob = await tenant.Client.WaitAsync(down.Job.Id);

        upJob.State.ShouldBe(JobState.Succeeded, upJob.ErrorDetail);
        afterUp.Count(m => m.State == MachineState.Running).ShouldBe(3);
        downJob.State.ShouldBe(JobState.Succeeded, downJob.ErrorDetail);
        var machines = await tenant.Client.MachinesAsync(instance.Id);
        machines.Single(m => m.State == MachineState.Running).Id.ShouldBe(first);
        machines.Count(m => m.State == MachineState.Terminated).ShouldBe(2);
        (await tenant.Client.ContractProvisionedAsync(tenant.Contract.Id)).ShouldBe(1);
        (await app.AccountProvisionedAsync(tenant.AccountId)).ShouldBe(1);
        (await tenant.Client.GetInstanceAsync(instance.Id)).VirtualSystems.Single().Count.ShouldBe(1);
        await (await tenant.Client.PostAsync($"/api/v1/instances/{instance.Id}/scale", new ScaleRequest("db", 1))).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
    }

    [Fact]
    public async Task Terminate_ReleasesEveryMachine_AndRefusesASecondTime()
    {
        var tenant = await InstancesApi.TenantAsync(app);
        var (_, instance) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant, count: 2));

        var accepted = await (await tenant.Client.PostAsync($"/api/v1/instances/{instance.Id}/terminate")).ReadAsync<AcceptedView<InstanceView>>(HttpStatusCode.Accepted);
        var job = await tenant.Client.WaitAsync(accepted.Job.Id);

        accepted.Resource.State.ShouldBe(InstanceState.Terminating);
        job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
        (await tenant.Client.GetInstanceAsync(instance.Id)).State.ShouldBe(InstanceState.Terminated);
        (await tenant.Client.MachinesAsync(instance.Id)).ShouldAllBe(m => m.State == MachineState.Terminated && m.Released != null);
        (await tenant.Client.ContractProvisionedAsync(tenant.Contract.Id)).ShouldBe(0);
        (await app.AccountProvisionedAsync(tenant.AccountId)).ShouldBe(0);
        await (await tenant.Client.PostAsync($"/api/v1/instances/{instance.Id}/terminate")).ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
    }

    [Fact]
    public async Task ContractRelease_DestroysTheContractsMachines_AndReturnsTheirUnits()
    {
        var tenant = await InstancesApi.TenantAsync(app);
        var (_, instance) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant, count: 3));
        var machines = app.Services.GetServices<IContractResources>().Single(r => r.Kind == "machines");

        var released = await machines.ReleaseContractAsync(Caller.System("test"), tenant.Contract.Id, Ct);
        var again = await machines.ReleaseContractAsync(Caller.System("test"), tenant.Contract.Id, Ct);

        released.Value.ShouldBe(3);
        again.Value.ShouldBe(0);
        (await tenant.Client.GetInstanceAsync(instance.Id)).State.ShouldBe(InstanceState.Terminated);
        (await tenant.Client.MachinesAsync(instance.Id)).ShouldAllBe(m => m.State == MachineState.Terminated);
        (await tenant.Client.ContractProvisionedAsync(tenant.Contract.Id)).ShouldBe(0);
        (await app.AccountProvisionedAsync(tenant.AccountId)).ShouldBe(0);
    }

    [Fact]
    public async Task ConsoleAndMetrics_AreReadable()
    {
        var (tenant, _, id) = await RunningAsync();

        var console = await tenant.Client.GetAsync($"/api/v1/machines/{id}/console", Ct);
        var metrics = await (await tenant.Client.GetAsync($"/api/v1/machines/{id}/metrics", Ct)).ReadAsync<MachineMetricsView>();

        console.StatusCode.ShouldBe(HttpStatusCode.OK);
        console.Content.Headers.ContentType!.MediaType.ShouldBe("text/plain");
        (await console.Content.ReadAsStringAsync(Ct)).ShouldNotBeEmpty();
        metrics.MachineId.ShouldBe(id);
    }
}

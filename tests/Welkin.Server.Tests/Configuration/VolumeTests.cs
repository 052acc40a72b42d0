using System.Net;
using System.Net.Http.Json;
using Welkin.Contracts;
using Welkin.Server.Tests.Contracts;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;

namespace Welkin.Server.Tests.Configuration;

public sealed class VolumeTests(InstancesApp app) : IClassFixture<InstancesApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Create_InWholeIncrements_DrawsLineAndQuotaAndRecordsUsageEvent()
    {
        var tenant = await ConfigurationApi.TenantAsync(app, increments: 5);

        var response = await tenant.Client.PostVolumeAsync(new CreateVolumeRequest(tenant.Contract.Id, 300, "data"));
        var volume = await response.ReadAsync<VolumeView>(HttpStatusCode.Created);

        response.Headers.Location!.ToString().ShouldBe($"/api/v1/volumes/{volume.Id}");
        (volume.Name, volume.SizeGiB, volume.State, volume.Item, volume.AccountId).ShouldBe(("data", 300L, VolumeState.Available, 1, tenant.AccountId));
        volume.MachineId.ShouldBeNull();
        (await tenant.Client.GetContractAsync(tenant.Contract.Id)).StorageLineProvisioned().ShouldBe(3);
        (await app.AccountProvisionedAsync(tenant.AccountId, "storage-unit")).ShouldBe(3);
        var e = (await tenant.Client.EventsAsync(volume.Id)).ShouldHaveSingleItem();
        e.Type.ShouldBe("volume.provisioned");
        e.Data.ShouldBe(new Dictionary<string, string> { ["sizeGiB"] = "300", ["contractId"] = tenant.Contract.Id, ["item"] = "1", ["units"] = "3" });
        (await tenant.Client.GetVolumeAsync(volume.Id)).ShouldBe(volume);
    }

    [Theory]
    [InlineData(150)]
    [InlineData(0)]
    [InlineData(-100)]
    public async Task Create_WhenSizeIsNotAPositiveMultipleOfTheIncrement_ReturnsValidationProblem(long sizeGiB)
    {
        var tenant = await ConfigurationApi.TenantAsync(app);

        var problem = await (await tenant.Client.PostVolumeAsync(new CreateVolumeRequest(tenant.Contract.Id, sizeGiB))).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");

        problem.GetProperty("errors").TryGetProperty("sizeGiB", out _).ShouldBeTrue();
        (await tenant.Client.GetContractAsync(tenant.Contract.Id)).StorageLineProvisioned().ShouldBe(0);
    }

    [Fact]
    public async Task Create_OnAComputeLine_ReturnsValidationProblem()
    {
        var tenant = await ConfigurationApi.TenantAsync(app);

        await (await tenant.Client.PostVolumeAsync(new CreateVolumeRequest(tenant.Contract.Id, 100, Item: 0))).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
    }

    [Fact]
    public async Task Create_BeyondTheLine_ReturnsContractExhaustedAndDrawsNothing()
    {
        var tenant = await ConfigurationApi.TenantAsync(app, increments: 5);
        await tenant.CreateVolumeAsync(400);

        await (await tenant.Client.PostVolumeAsync(new CreateVolumeRequest(tenant.Contract.Id, 200))).ProblemAsync(HttpStatusCode.Conflict, "contract-exhausted");

        (await tenant.Client.GetContractAsync(tenant.Contract.Id)).StorageLineProvisioned().ShouldBe(4);
        (await app.AccountProvisionedAsync(tenant.AccountId, "storage-unit")).ShouldBe(4);
        (await tenant.CreateVolumeAsync(100)).SizeGiB.ShouldBe(100);
    }

    [Fact]
    public async Task Create_BeyondTheAccountLimit_ReturnsQuotaExceeded()
    {
        var tenant = await ConfigurationApi.TenantAsync(app, increments: 5, storageUnits: 5);
        // The account's storage limit is below what the contract holds (set before such limits were refused).
        await ContractsApi.ForceLimitsAsync(app, tenant.AccountId, 2, 2);

        await (await tenant.Client.PostVolumeAsync(new CreateVolumeRequest(tenant.Contract.Id, 300))).ProblemAsync(HttpStatusCode.Conflict, "quota-exceeded");

        (await tenant.Client.GetContractAsync(tenant.Contract.Id)).StorageLineProvisioned().ShouldBe(0);
        (await tenant.CreateVolumeAsync(200)).State.ShouldBe(VolumeState.Available);
    }

    [Fact]
    public async Task Create_Concurrently_NeverTakesMoreThanTheLine()
    {
        var tenant = await ConfigurationApi.TenantAsync(app, increments: 5);

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => tenant.Client.PostVolumeAsync(new CreateVolumeRequest(tenant.Contract.Id, 100))));

        responses.Count(r => r.StatusCode == HttpStatusCode.Created).ShouldBe(5);
        foreach (var refused in responses.Where(r => r.StatusCode != HttpStatusCode.Created))
        {
            await refused.ProblemAsync(HttpStatusCode.Conflict, "contract-exhausted");
        }
        (await tenant.Client.GetContractAsync(tenant.Contract.Id)).StorageLineProvisioned().ShouldBe(5);
        (await app.AccountProvisionedAsync(tenant.AccountId, "storage-unit")).ShouldBe(5);
    }

    [Fact]
    public async Task Create_OnAProposedContract_ReturnsConflict()
    {
        var tenant = await ConfigurationApi.TenantAsync(app);
        var storageOffering = tenant.Contract.Items.Single(i => i.Kind == OfferingKind.Storage).OfferingId;
        var proposed = await tenant.Client.ProposeAsync((storageOffering, 1));

        await (await tenant.Client.PostVolumeAsync(new CreateVolumeRequest(proposed.Id, 100))).ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
    }

    [Fact]
    public async Task Create_OnAnotherAccountsContract_ReturnsNotFound()
    {
        var tenant = await ConfigurationApi.TenantAsync(app);
        var (_, other) = await app.SignUpAsync("other");

        await (await other.PostVolumeAsync(new CreateVolumeRequest(tenant.Contract.Id, 100))).ProblemAsync(HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task Delete_Available_ReturnsItsUnitsAndRecordsRelease()
    {
        var tenant = await ConfigurationApi.TenantAsync(app);
        var volume = await tenant.CreateVolumeAsync(200);

        var deleted = await (await tenant.Client.DeleteAsync($"/api/v1/volumes/{volume.Id}", Ct)).ReadAsync<VolumeView>();

        deleted.State.ShouldBe(VolumeState.Deleted);
        deleted.Deleted.ShouldNotBeNull();
        (await tenant.Client.GetContractAsync(tenant.Contract.Id)).StorageLineProvisioned().ShouldBe(0);
        (await app.AccountProvisionedAsync(tenant.AccountId, "storage-unit")).ShouldBe(0);
        var events = await tenant.Client.EventsAsync(volume.Id);
        events.Select(e => e.Type).ShouldBe(["volume.provisioned", "volume.released"]);
        events[1].Data["sizeGiB"].ShouldBe("200");
        (await (await tenant.Client.GetAsync("/api/v1/volumes", Ct)).ReadAsync<Page<VolumeView>>()).Items.ShouldNotContain(v => v.Id == volume.Id);
        (await (await tenant.Client.GetAsync("/api/v1/volumes?state=deleted", Ct)).ReadAsync<Page<VolumeView>>()).Items.ShouldContain(v => v.Id == volume.Id);
        await (await tenant.Client.DeleteAsync($"/api/v1/volumes/{volume.Id}", Ct)).ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
    }

    [Fact]
    public async Task Attach_ToAMachineInError_IsRecordedAndAppliedWhenItStarts()
    {
        var tenant = await ConfigurationApi.TenantAsync(app);
        var (_, machines) = await tenant.MachinesAsync();
        var machine = machines.Single();
        app.Driver.CrashMachine(machine.Id, "test crash").ShouldBeTrue();
        while ((await tenant.Client.GetMachineAsync(machine.Id)).State != MachineState.Error)
        {
            await Task.Delay(20, Ct);
        }
        var volume = await tenant.CreateVolumeAsync(100);

        var (job, recorded) = await tenant.Client.AttachedAsync(volume.Id, machine.Id);

        job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
        (recorded.State, recorded.Applied).ShouldBe((VolumeState.Attached, false));
        app.Driver.Describe(machine.Id)!.Volumes.ShouldBeEmpty();

        (await tenant.Client.ActAsync(machine.Id, "start")).State.ShouldBe(JobState.Succeeded);

        (await tenant.Client.GetVolumeAsync(volume.Id)).Applied.ShouldBeTrue();
        app.Driver.Describe(machine.Id)!.Volumes.Select(v => (v.VolumeId, v.Device)).ShouldBe([(volume.Id, "vdb")]);
        (await tenant.Client.GetMachineAsync(machine.Id)).State.ShouldBe(MachineState.Running);
    }

    [Fact]
    public async Task AttachAndDetach_HotPlugOnTheRunningMachine_AndDeleteOnlyWhenDetached()
    {
        var tenant = await ConfigurationApi.TenantAsync(app);
        var (_, machines) = await tenant.MachinesAsync();
        var machine = machines.Single();
        var first = await tenant.CreateVolumeAsync(100);
        var second = await tenant.CreateVolumeAsync(200);

        var (job, attached) = await tenant.Client.AttachedAsync(first.Id, machine.Id);
        var (_, alsoAttached) = await tenant.Client.AttachedAsync(second.Id, machine.Id);

        job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
        (attached.State, attached.MachineId, attached.Device, attached.Applied).ShouldBe((VolumeState.Attached, machine.Id, "vdb", true));
        alsoAttached.Device.ShouldBe("vdc");
        app.Driver.Describe(machine.Id)!.Volumes.Select(v => (v.VolumeId, v.SizeGiB, v.Device))
            .ShouldBe([(first.Id, 100L, "vdb"), (second.Id, 200L, "vdc")], ignoreOrder: true);
        await (await tenant.Client.DeleteAsync($"/api/v1/volumes/{first.Id}", Ct)).ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
        await (await tenant.Client.PostAsync($"/api/v1/volumes/{first.Id}/attach", new AttachVolumeRequest(machine.Id))).ProblemAsync(HttpStatusCode.Conflict, "invalid-state");

        var (detachJob, detached) = await tenant.Client.DetachedAsync(first.Id);

        detachJob.State.ShouldBe(JobState.Succeeded, detachJob.ErrorDetail);
        (detached.State, detached.MachineId, detached.Device).ShouldBe((VolumeState.Available, (string?)null, (string?)null));
        app.Driver.Describe(machine.Id)!.Volumes.Select(v => v.VolumeId).ShouldBe([second.Id]);
        (await (await tenant.Client.DeleteAsync($"/api/v1/volumes/{first.Id}", Ct)).ReadAsync<VolumeView>()).State.ShouldBe(VolumeState.Deleted);
        // The freed device is given again.
        var third = await tenant.CreateVolumeAsync(100);
        (await tenant.Client.AttachedAsync(third.Id, machine.Id)).Volume.Device.ShouldBe("vdb");
    }

    [Fact]
    public async Task Attach_ToAStoppedMachine_IsInItsDefinitionAndStaysAfterStart()
    {
        var tenant = await ConfigurationApi.TenantAsync(app);
        var machine = (await tenant.MachinesAsync()).Machines.Single();
        (await tenant.Client.ActAsync(machine.Id, "stop")).State.ShouldBe(JobState.Succeeded);
        var volume = await tenant.CreateVolumeAsync(100);

        var (job, attached) = await tenant.Client.AttachedAsync(volume.Id, machine.Id);
        (await tenant.Client.ActAsync(machine.Id, "start")).State.ShouldBe(JobState.Succeeded);

        job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
        attached.State.ShouldBe(VolumeState.Attached);
        app.Driver.Describe(machine.Id)!.Volumes.Select(v => v.VolumeId).ShouldBe([volume.Id]);
    }

    [Fact]
    public async Task Attach_ToAnotherAccountsMachine_ReturnsNotFoundLikeAMissingMachine()
    {
        var victim = await ConfigurationApi.TenantAsync(app);
        var victimMachine = (await victim.MachinesAsync()).Machines.Single();
        var tenant = await ConfigurationApi.TenantAsync(app);
        var volume = await tenant.CreateVolumeAsync(100);

        var foreign = await (await tenant.Client.PostAsync($"/api/v1/volumes/{volume.Id}/attach", new AttachVolumeRequest(victimMachine.Id)))
            .ProblemAsync(HttpStatusCode.NotFound, "not-found");
        var missingId = Welkin.Core.Common.Ids.New(Welkin.Core.Common.Ids.Machine, TimeProvider.System);
        var missing = await (await tenant.Client.PostAsync($"/api/v1/volumes/{volume.Id}/attach", new AttachVolumeRequest(missingId)))
            .ProblemAsync(HttpStatusCode.NotFound, "not-found");

        foreign.GetProperty("detail").GetString()!.Replace(victimMachine.Id, "<id>", StringComparison.Ordinal)
            .ShouldBe(missing.GetProperty("detail").GetString()!.Replace(missingId, "<id>", StringComparison.Ordinal));
        (await tenant.Client.GetVolumeAsync(volume.Id)).State.ShouldBe(VolumeState.Available);
        app.Driver.Describe(victimMachine.Id)!.Volumes.ShouldBeEmpty();
    }

    [Fact]
    public async Task Attach_ToATerminatedMachine_ReturnsConflict()
    {
        var tenant = await ConfigurationApi.TenantAsync(app);
        var machine = (await tenant.MachinesAsync()).Machines.Single();
        (await tenant.Client.ActAsync(machine.Id, "destroy")).State.ShouldBe(JobState.Succeeded);
        var volume = await tenant.CreateVolumeAsync(100);

        await (await tenant.Client.PostAsync($"/api/v1/volumes/{volume.Id}/attach", new AttachVolumeRequest(machine.Id))).ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
    }

    [Fact]
    public async Task DestroyingTheMachine_MakesItsVolumesAvailableAndFreesItsAddresses()
    {
        var tenant = await ConfigurationApi.TenantAsync(app);
        var machine = (await tenant.MachinesAsync()).Machines.Single();
        var volume = await tenant.CreateVolumeAsync(100);
        await tenant.Client.AttachedAsync(volume.Id, machine.Id);
        var network = await tenant.Client.CreateNetworkAsync("lan");
        await tenant.Client.ConnectedAsync(network.Id, machine.Id);

        (await tenant.Client.ActAsync(machine.Id, "destroy")).State.ShouldBe(JobState.Succeeded);

        var after = await tenant.Client.GetVolumeAsync(volume.Id);
        (after.State, after.MachineId, after.Device).ShouldBe((VolumeState.Available, (string?)null, (string?)null));
        (await tenant.Client.GetNetworkAsync(network.Id)).Attachments.ShouldBeEmpty();
        (await (await tenant.Client.DeleteAsync($"/api/v1/networks/{network.Id}", Ct)).ReadAsync<NetworkView>()).State.ShouldBe(NetworkState.Deleted);
    }

    [Fact]
    public async Task Volume_OfAnotherAccount_AnswersExactlyAsAMissingOne()
    {
        var tenant = await ConfigurationApi.TenantAsync(app);
        var volume = await tenant.CreateVolumeAsync(100);
        var (_, other) = await app.SignUpAsync("other");
        var missing = Welkin.Core.Common.Ids.New(Welkin.Core.Common.Ids.Volume, TimeProvider.System);

        foreach (var id in new[] { volume.Id, missing })
        {
            await (await other.GetAsync($"/api/v1/volumes/{id}", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
            await (await other.DeleteAsync($"/api/v1/volumes/{id}", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
            await (await other.PostAsync($"/api/v1/volumes/{id}/detach", new DetachVolumeRequest())).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        }
        (await (await other.GetAsync("/api/v1/volumes", Ct)).ReadAsync<Page<VolumeView>>()).Items.ShouldBeEmpty();
        (await tenant.Client.GetVolumeAsync(volume.Id)).ShouldBe(volume);
    }

    [Fact]
    public async Task List_FilteredByAnotherAccount_AnswersAsTheOtherListsDo_LikeAnAccountThatDoesNotExist()
    {
        var tenant = await ConfigurationApi.TenantAsync(app);
        var volume = await tenant.CreateVolumeAsync(100);
        var (_, other) = await app.SignUpAsync("other");
        var missing = Welkin.Core.Common.Ids.New(Welkin.Core.Common.Ids.Account, TimeProvider.System);

        var foreign = await other.AnswersAsTheOtherListsAsync("/api/v1/volumes", tenant.AccountId);
        var absent = await other.AnswersAsTheOtherListsAsync("/api/v1/volumes", missing);

        foreign.Status.ShouldBe(HttpStatusCode.NotFound);
        foreign.Problem.Replace(tenant.AccountId, "<id>", StringComparison.Ordinal).ShouldBe(absent.Problem.Replace(missing, "<id>", StringComparison.Ordinal));
        (await other.AnswersAsTheOtherListsAsync("/api/v1/volumes", "nope")).Status.ShouldBe(HttpStatusCode.BadRequest);
        (await (await tenant.Client.GetAsync($"/api/v1/volumes?accountId={tenant.AccountId}", Ct)).ReadAsync<Page<VolumeView>>()).Items.ShouldBe([volume]);
        (await (await app.Admin().GetAsync($"/api/v1/volumes?accountId={tenant.AccountId}", Ct)).ReadAsync<Page<VolumeView>>()).Items.ShouldBe([volume]);
        (await (await app.Admin().GetAsync($"/api/v1/volumes?accountId={missing}", Ct)).ReadAsync<Page<VolumeView>>()).Items.ShouldBeEmpty();
    }

    [Fact]
    public async Task Delete_WithAStaleVersion_ReturnsPreconditionFailed()
    {
        var tenant = await ConfigurationApi.TenantAsync(app);
        var volume = await tenant.CreateVolumeAsync(100);

        await (await tenant.Client.DeleteAsync($"/api/v1/volumes/{volume.Id}?version={volume.Version + 1}", Ct)).ProblemAsync(HttpStatusCode.PreconditionFailed, "precondition-failed");
    }

    [Fact]
    public async Task TerminatingTheContract_DetachesAndDeletesItsVolumes()
    {
        var tenant = await ConfigurationApi.TenantAsync(app);
        var machine = (await tenant.MachinesAsync()).Machines.Single();
        var attached = await tenant.CreateVolumeAsync(100);
        var loose = await tenant.CreateVolumeAsync(200);
        await tenant.Client.AttachedAsync(attached.Id, machine.Id);

        var accepted = await (await tenant.Client.PostAsJsonAsync($"/api/v1/contracts/{tenant.Contract.Id}/terminate", new ContractTransitionRequest(), WelkinJson.Client, Ct))
            .ReadAsync<AcceptedView<ContractView>>(HttpStatusCode.Accepted);
        var job = await tenant.Client.WaitAsync(accepted.Job.Id);

        job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
        (await tenant.Client.GetVolumeAsync(attached.Id)).State.ShouldBe(VolumeState.Deleted);
        (await tenant.Client.GetVolumeAsync(loose.Id)).State.ShouldBe(VolumeState.Deleted);
        (await app.AccountProvisionedAsync(tenant.AccountId, "storage-unit")).ShouldBe(0);
        (await tenant.Client.EventsAsync(loose.Id)).Select(e => e.Type).ShouldBe(["volume.provisioned", "volume.released"]);
    }
}

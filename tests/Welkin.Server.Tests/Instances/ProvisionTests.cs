using System.Net;
using System.Text.Json;
using Welkin.Contracts;
using Welkin.Server.Tests.Catalog;
using Welkin.Server.Tests.Contracts;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Instances;

public sealed class ProvisionTests(InstancesApp app) : IClassFixture<InstancesApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Provision_OnActiveContract_RunsEveryMachineAndRecordsExactUsageEvents()
    {
        var tenant = await InstancesApi.TenantAsync(app);

        var response = await tenant.Client.PostProvisionAsync(InstancesApi.Request(tenant, count: 2) with { Name = "shop" });
        var accepted = await response.ReadAsync<AcceptedView<InstanceView>>(HttpStatusCode.Accepted);

        response.Headers.Location!.ToString().ShouldBe($"/api/v1/jobs/{accepted.Job.Id}");
        accepted.Job.Action.ShouldBe("instance.provision");
        accepted.Job.Target.ShouldBe(accepted.Resource.Id);
        accepted.Resource.State.ShouldBe(InstanceState.Provisioning);
        accepted.Resource.Machines.Count.ShouldBe(2);
        var job = await tenant.Client.WaitAsync(accepted.Job.Id);
        job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
        job.Progress.ShouldBe(100);
        var instance = await tenant.Client.GetInstanceAsync(accepted.Resource.Id);
        instance.State.ShouldBe(InstanceState.Active);
        instance.Name.ShouldBe("shop");
        instance.ContractId.ShouldBe(tenant.Contract.Id);
        instance.VirtualSystems.Single().ShouldBe(instance.VirtualSystems.Single() with { VirtualSystem = "web", Count = 2, Vcpus = 2, MemoryMiB = 6144, DiskGiB = 100, OperatingSystem = "debian" });
        var machines = await tenant.Client.MachinesAsync(instance.Id);
        machines.Count.ShouldBe(2);
        foreach (var m in machines)
        {
            m.State.ShouldBe(MachineState.Running);
            m.Host.ShouldNotBeNull();
            (m.Vcpus, m.MemoryMiB, m.DiskGiB).ShouldBe((2, 6144L, 100L));
            m.OperatingSystem.ShouldBe("debian");
            m.Properties["admin.email"].ShouldBe("ops@example.com");
            m.Access!.Addresses.ShouldNotBeEmpty();
            m.Access.Password.ShouldBeNull();
            m.Released.ShouldBeNull();
            var events = await tenant.Client.EventsAsync(m.Id);
            events.Select(e => e.Type).ShouldBe(["machine.provisioned", "machine.activated"]);
            foreach (var e in events)
            {
                e.AccountId.ShouldBe(tenant.AccountId);
                e.Data["vcpus"].ShouldBe("2");
                e.Data["memoryMiB"].ShouldBe("6144");
                e.Data["diskGiB"].ShouldBe("100");
                e.Data["contractId"].ShouldBe(tenant.Contract.Id);
                e.Data["instanceId"].ShouldBe(instance.Id);
                e.Data["item"].ShouldBe("0");
            }
            events[0].At.ShouldBe(m.Created);
            events[1].At.ShouldBe(m.StateChanged);
        }
        (await tenant.Client.ContractProvisionedAsync(tenant.Contract.Id)).ShouldBe(2);
        (await app.AccountProvisionedAsync(tenant.AccountId)).ShouldBe(2);
    }

    [Fact]
    public async Task Provision_WithoutKey_ShowsTheGeneratedPasswordOnceAndStoresOnlyItsHash()
    {
        var tenant = await InstancesApi.TenantAsync(app);
        var accepted = await tenant.Client.ProvisionAsync(InstancesApi.Request(tenant));
        var viewer = await AccountPrincipals.CreateAsync(app, tenant.Client, Role.Viewer);
        await viewer.WaitAsync(accepted.Job.Id);

        var asViewer = await (await viewer.GetAsync($"/api/v1/jobs/{accepted.Job.Id}", Ct)).ReadAsync<JobView>();
        var first = await (await tenant.Client.GetAsync($"/api/v1/jobs/{accepted.Job.Id}", Ct)).ReadAsync<JobView>();
        var second = await (await tenant.Client.GetAsync($"/api/v1/jobs/{accepted.Job.Id}", Ct)).ReadAsync<JobView>();

        Machines(asViewer).Single().Access!.Password.ShouldBeNull("a viewer cannot use it, so its read does not spend it");
        var password = Machines(first).Single().Access!.Password;
        password.ShouldNotBeNullOrEmpty();
        password.Length.ShouldBeGreaterThanOrEqualTo(20);
        Machines(second).Single().Access!.Password.ShouldBeNull();
        var machine = await tenant.Client.GetMachineAsync(accepted.Resource.Machines[0]);
        machine.Access!.Password.ShouldBeNull();
        machine.Access.SshKeyFingerprint.ShouldBeNull();
        var list = await (await tenant.Client.GetAsync($"/api/v1/jobs?target={accepted.Resource.Id}", Ct)).Content.ReadAsStringAsync(Ct);
        list.ShouldNotContain(password);
        var audit = await (await app.Admin().GetAsync("/api/v1/audit?limit=1000", Ct)).Content.ReadAsStringAsync(Ct);
        audit.ShouldNotContain(password);
    }

    [Fact]
    public async Task Provision_WithSshKey_InjectsItAndStoresItsFingerprint()
    {
        var tenant = await InstancesApi.TenantAsync(app);
        var key = InstancesApi.SshKey();

        var (job, instance) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant, sshKey: key));

        var blob = Convert.FromBase64String(key.Split(' ')[1]);
        var fingerprint = "SHA256:" + Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData(blob)).TrimEnd('=');
        var machine = await tenant.Client.GetMachineAsync(instance.Machines[0]);
        machine.Access!.SshKeyFingerprint.ShouldBe(fingerprint);
        Machines(job).Single().Access!.Password.ShouldBeNull();
        var again = await (await tenant.Client.GetAsync($"/api/v1/jobs/{job.Id}", Ct)).ReadAsync<JobView>();
        Machines(again).Single().Access!.Password.ShouldBeNull();
    }

    [Fact]
    public async Task Provision_WithMalformedSshKey_ReturnsValidationFailed()
    {
        var tenant = await InstancesApi.TenantAsync(app);
        await (await tenant.Client.PostProvisionAsync(InstancesApi.Request(tenant, sshKey: "ssh-ed25519 not-base64!"))).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
    }

    [Fact]
    public async Task Provision_WhenContractIsProposed_ReturnsConflict()
    {
        var tenant = await InstancesApi.TenantAsync(app);
        var offering = tenant.Contract.Items[0].OfferingId;
        var proposed = await tenant.Client.ProposeAsync((offering, 1));

        var problem = await (await tenant.Client.PostProvisionAsync(new ProvisionRequest(proposed.Id))).ProblemAsync(HttpStatusCode.Conflict, "invalid-state");

        problem.GetProperty("detail").GetString()!.ShouldContain("proposed");
    }

    [Fact]
    public async Task Provision_ByViewer_IsForbidden_AndOtherAccountsContract_IsNotFound()
    {
        var tenant = await InstancesApi.TenantAsync(app);
        var viewer = await AccountPrincipals.CreateAsync(app, tenant.Client, Role.Viewer);
        var (_, stranger) = await app.SignUpAsync("stranger");

        await (await viewer.PostProvisionAsync(InstancesApi.Request(tenant))).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await stranger.PostProvisionAsync(InstancesApi.Request(tenant))).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        await (await app.Admin().PostProvisionAsync(InstancesApi.Request(tenant))).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await tenant.Client.PostProvisionAsync(new ProvisionRequest("ctr_nope"))).ProblemAsync(HttpStatusCode.BadRequest, "invalid-id");
        (await tenant.Client.ContractProvisionedAsync(tenant.Contract.Id)).ShouldBe(0);
    }

    [Fact]
    public async Task Provision_BeyondTheContractLine_ReturnsContractExhausted()
    {
        var tenant = await InstancesApi.TenantAsync(app, quantity: 3);
        await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant, count: 2));

        var problem = await (await tenant.Client.PostProvisionAsync(InstancesApi.Request(tenant, count: 2))).ProblemAsync(HttpStatusCode.Conflict, "contract-exhausted");

        problem.GetProperty("detail").GetString()!.ShouldContain("holds 3 machines and 2 are provisioned");
        (await tenant.Client.ContractProvisionedAsync(tenant.Contract.Id)).ShouldBe(2);
    }

    [Fact]
    public async Task Provision_BeyondTheAccountLimit_ReturnsQuotaExceeded()
    {
        var tenant = await InstancesApi.TenantAsync(app, quantity: 3, computeUnits: 3);
        // The account's limit is below what its contract holds (set before such limits were refused).
        await ContractsApi.ForceLimitsAsync(app, tenant.AccountId, 1, 100);
        await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant));

        await (await tenant.Client.PostProvisionAsync(InstancesApi.Request(tenant))).ProblemAsync(HttpStatusCode.Conflict, "quota-exceeded");

        (await app.AccountProvisionedAsync(tenant.AccountId)).ShouldBe(1);
        (await tenant.Client.ContractProvisionedAsync(tenant.Contract.Id)).ShouldBe(1);
    }

    [Fact]
    public async Task Provision_ConcurrentRequests_NeverPassTheContractLine()
    {
        var tenant = await InstancesApi.TenantAsync(app, quantity: 5, computeUnits: 5);

        var responses = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => tenant.Client.PostProvisionAsync(InstancesApi.Request(tenant))));

        responses.Count(r => r.StatusCode == HttpStatusCode.Accepted).ShouldBe(5);
        responses.Where(r => r.StatusCode != HttpStatusCode.Accepted).ShouldAllBe(r => r.StatusCode == HttpStatusCode.Conflict);
        (await tenant.Client.ContractProvisionedAsync(tenant.Contract.Id)).ShouldBe(5);
    }

    [Fact]
    public async Task Provision_ChecksChoicesAgainstTheOfferingAndTheTemplate()
    {
        var prefix = CatalogApi.UniquePrefix("flex");
        var tenant = await InstancesApi.TenantAsync(app, template: CatalogApi.FlexibleTemplate(prefix + "t"),
            choices: [new VirtualSystemRestriction("app", Vcpus: new Choice<int>([1, 2], 1), FixedProperties: new Dictionary<string, string> { ["ratio"] = "0.25" })]);

        async Task<JsonElement> Refused(VirtualSystemChoice choice) =>
            await (await tenant.Client.PostProvisionAsync(new ProvisionRequest(tenant.Contract.Id, VirtualSystems: [choice])))
                .ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");

        (await Refused(new VirtualSystemChoice("app", Vcpus: 4))).GetProperty("errors").TryGetProperty("virtualSystems[0].vcpus", out _).ShouldBeTrue();
        (await Refused(new VirtualSystemChoice("db"))).GetProperty("errors").TryGetProperty("virtualSystems[0].virtualSystem", out _).ShouldBeTrue();
        (await Refused(new VirtualSystemChoice("app", Properties: new Dictionary<string, string> { ["workers"] = "three" }))).GetProperty("errors")
            .TryGetProperty("virtualSystems[0].properties.workers", out _).ShouldBeTrue();
        (await Refused(new VirtualSystemChoice("app", Properties: new Dictionary<string, string> { ["workers"] = "3" }))).GetProperty("errors")
            .TryGetProperty("virtualSystems[0].properties.workers", out _).ShouldBeTrue();
        (await Refused(new VirtualSystemChoice("app", Properties: new Dictionary<string, string> { ["ratio"] = "0.75" }))).GetProperty("errors")
            .TryGetProperty("virtualSystems[0].properties.ratio", out _).ShouldBeTrue();
        (await Refused(new VirtualSystemChoice("app", OperatingSystem: "windows"))).GetProperty("errors")
            .TryGetProperty("virtualSystems[0].operatingSystem", out _).ShouldBeTrue();
        (await Refused(new VirtualSystemChoice("app", Count: 0))).GetProperty("errors").TryGetProperty("virtualSystems", out _).ShouldBeTrue();

        var (_, instance) = await tenant.Client.ProvisionedAsync(new ProvisionRequest(tenant.Contract.Id,
            VirtualSystems: [new VirtualSystemChoice("app", 1, 2, 8192, 100, "rhel", DatabaseManager: "mysql", Properties: new Dictionary<string, string> { ["workers"] = "8" })]));
        var machine = await tenant.Client.GetMachineAsync(instance.Machines[0]);
        (machine.Vcpus, machine.MemoryMiB, machine.DiskGiB, machine.OperatingSystem).ShouldBe((2, 8192L, 100L, "rhel"));
        machine.Software["databaseManager"].ShouldBe("mysql");
        machine.Properties["workers"].ShouldBe("8");
        machine.Properties["ratio"].ShouldBe("0.25");
        (await tenant.Client.ContractProvisionedAsync(tenant.Contract.Id)).ShouldBe(1);
    }

    [Fact]
    public async Task InstanceAndMachine_OfAnotherAccount_AreNotFound()
    {
        var tenant = await InstancesApi.TenantAsync(app);
        var (_, instance) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant));
        var (_, stranger) = await app.SignUpAsync("stranger");

        await (await stranger.GetAsync($"/api/v1/instances/{instance.Id}", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        await (await stranger.GetAsync($"/api/v1/machines/{instance.Machines[0]}", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        await (await stranger.PostAsync($"/api/v1/machines/{instance.Machines[0]}/stop")).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        (await (await stranger.GetAsync("/api/v1/machines", Ct)).ReadAsync<Page<MachineView>>()).Items.ShouldBeEmpty();
        (await (await stranger.GetAsync("/api/v1/instances", Ct)).ReadAsync<Page<InstanceView>>()).Items.ShouldBeEmpty();
        (await (await stranger.GetAsync($"/api/v1/events?target={instance.Machines[0]}", Ct)).ReadAsync<Page<EventView>>()).Items.ShouldBeEmpty();
        await (await stranger.GetAsync("/api/v1/instances/ins_bad", Ct)).ProblemAsync(HttpStatusCode.BadRequest, "invalid-id");
    }

    [Fact]
    public async Task Lists_FilterByInstanceContractAndState()
    {
        var tenant = await InstancesApi.TenantAsync(app);
        var (_, a) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant));
        var (_, b) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant, count: 2));

        var instances = await (await tenant.Client.GetAsync($"/api/v1/instances?contractId={tenant.Contract.Id}&state=active", Ct)).ReadAsync<Page<InstanceView>>();
        var machines = await (await tenant.Client.GetAsync($"/api/v1/machines?instanceId={b.Id}&state=running", Ct)).ReadAsync<Page<MachineView>>();
        var jobs = await (await tenant.Client.GetAsync($"/api/v1/jobs?action=instance.provision&state=succeeded", Ct)).ReadAsync<Page<JobView>>();

        instances.Items.Select(i => i.Id).ShouldBe([a.Id, b.Id]);
        machines.Items.Select(m => m.Id).ShouldBe(b.Machines);
        jobs.Items.Select(j => j.Target).ShouldBe([a.Id, b.Id]);
        await (await tenant.Client.GetAsync("/api/v1/machines?state=sleeping", Ct)).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
    }

    private static IReadOnlyList<ProvisionedMachine> Machines(JobView job) =>
        job.Result!.Value.Deserialize<ProvisionResult>(WelkinJson.Client)!.Machines;
}

using System.Net;
using System.Net.Http.Json;
using Welkin.Contracts;
using Welkin.Core.Compute;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Instances;

/// <summary>Placement through the API, each test on a fabric of its own: capacity, anti-affinity, jurisdictions, host failures.</summary>
public sealed class PlacementTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly FabricHost[] Hosts =
    [
        new("us-1", "us-east", "US", 4, 16_384, 1_000),
        new("us-2", "us-east", "US", 4, 16_384, 1_000),
        new("de-1", "eu-central", "DE", 4, 16_384, 1_000),
    ];

    private static async Task<CustomFabricApp> StartAsync(TimeSpan? create = null)
    {
        var app = new CustomFabricApp(Hosts, create);
        await app.InitializeAsync();
        return app;
    }

    [Fact]
    public async Task Provision_WithoutRoom_FailsAtOnceWithInsufficientCapacity_AndRecordsNothing()
    {
        await using var app = await StartAsync();
        var tenant = await InstancesApi.TenantAsync(app, quantity: 10, computeUnits: 10);
        await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant, count: 5));

        // Three hosts of 16 GiB hold six machines of 6 GiB: two more do not fit.
        var problem = await (await tenant.Client.PostProvisionAsync(InstancesApi.Request(tenant, count: 2))).ProblemAsync(HttpStatusCode.Conflict, "insufficient-capacity");

        problem.GetProperty("detail").GetString()!.ShouldContain("6144 MiB");
        (await (await tenant.Client.GetAsync("/api/v1/instances", Ct)).ReadAsync<Page<InstanceView>>()).Count.ShouldBe(1);
        (await tenant.Client.ContractProvisionedAsync(tenant.Contract.Id)).ShouldBe(5);
        (await app.AccountProvisionedAsync(tenant.AccountId)).ShouldBe(5);
        // The refused request gave back what it had placed: one more machine still fits.
        await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant, count: 1));
    }

    [Fact]
    public async Task AntiAffinity_SpreadsAVirtualSystemOverHosts_AndRefusesMoreMachinesThanHosts()
    {
        await using var app = await StartAsync();
        var tenant = await InstancesApi.TenantAsync(app, quantity: 10);

        var (_, instance) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant, count: 3, antiAffinity: true));
        await (await tenant.Client.PostProvisionAsync(InstancesApi.Request(tenant, count: 4, antiAffinity: true))).ProblemAsync(HttpStatusCode.Conflict, "insufficient-capacity");

        (await tenant.Client.MachinesAsync(instance.Id)).Select(m => m.Host).Distinct().Count().ShouldBe(3);
        await (await tenant.Client.PostAsync($"/api/v1/instances/{instance.Id}/scale", new ScaleRequest("web", 4))).ProblemAsync(HttpStatusCode.Conflict, "insufficient-capacity");
    }

    [Fact]
    public async Task Jurisdictions_OfContractAndRequest_AreHonoured()
    {
        await using var app = await StartAsync();
        var tenant = await InstancesApi.TenantAsync(app, quantity: 10, offeringConstraints: new PlacementConstraints(["US", "DE"]), contractConstraints: new PlacementConstraints(["DE"]));

        var (_, instance) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant, count: 2));
        var third = await tenant.Client.PostProvisionAsync(InstancesApi.Request(tenant, count: 1));
        var elsewhere = await tenant.Client.PostProvisionAsync(InstancesApi.Request(tenant, constraints: new PlacementConstraints(["US"])));

        (await tenant.Client.MachinesAsync(instance.Id)).ShouldAllBe(m => m.Host == "de-1");
        (await third.ProblemAsync(HttpStatusCode.Conflict, "insufficient-capacity")).GetProperty("detail").GetString()!.ShouldContain("jurisdictions DE");
        await elsewhere.ProblemAsync(HttpStatusCode.Conflict, "insufficient-capacity");
    }

    [Fact]
    public async Task HostFailure_PutsItsMachinesInError_AndTakesItOutOfPlacement()
    {
        await using var app = await StartAsync();
        var tenant = await InstancesApi.TenantAsync(app, quantity: 10);
        var (_, instance) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant, count: 3, antiAffinity: true));
        var victim = (await tenant.Client.MachinesAsync(instance.Id)).Single(m => m.Host == "de-1");
        var operatorClient = await app.ProviderPrincipalAsync(Role.Operator);

        await (await tenant.Client.PostAsJsonAsync("/api/v1/fabric/hosts/de-1/state", new HostStateRequest(true), WelkinJson.Client, Ct)).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        var status = await (await operatorClient.PostAsJsonAsync("/api/v1/fabric/hosts/de-1/state", new HostStateRequest(true, "power"), WelkinJson.Client, Ct)).ReadAsync<HostStatusView>();

        status.Down.ShouldBeTrue();
        status.Machines.ShouldBe(1);
        var failed = await tenant.Client.GetMachineAsync(victim.Id);
        failed.State.ShouldBe(MachineState.Error);
        failed.Error!.ShouldContain("de-1");
        (await tenant.Client.EventsAsync(victim.Id)).Select(e => e.Type).ShouldBe(["machine.provisioned", "machine.activated", "machine.deactivated", "machine.failed"]);
        (await tenant.Client.GetInstanceAsync(instance.Id)).State.ShouldBe(InstanceState.Error);
        // Nothing more goes to the failed host.
        var more = await tenant.Client.ProvisionAsync(InstancesApi.Request(tenant, count: 2));
        await tenant.Client.WaitAsync(more.Job.Id);
        (await tenant.Client.MachinesAsync(more.Resource.Id)).ShouldAllBe(m => m.Host != "de-1");
        // The machine in error can be destroyed, which gives its capacity back.
        (await tenant.Client.ActAsync(victim.Id, "destroy")).State.ShouldBe(JobState.Succeeded);
        (await (await operatorClient.GetAsync("/api/v1/fabric/hosts/de-1", Ct)).ReadAsync<HostStatusView>()).Machines.ShouldBe(0);
        var back = await (await operatorClient.PostAsJsonAsync("/api/v1/fabric/hosts/de-1/state", new HostStateRequest(false), WelkinJson.Client, Ct)).ReadAsync<HostStatusView>();
        back.Down.ShouldBeFalse();
        (back.FreeCpuMilli, back.FreeMemoryMiB).ShouldBe((16_000L, 16_384L));
        await (await operatorClient.GetAsync("/api/v1/fabric/hosts/nope", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task DriverFailureDuringCreate_FailsTheJobExplicitly_AndReleasesUnitsAndCapacity()
    {
        await using var app = await StartAsync(create: TimeSpan.FromSeconds(1));
        var tenant = await InstancesApi.TenantAsync(app, quantity: 10, contractConstraints: new PlacementConstraints(["DE"]));
        var accepted = await tenant.Client.ProvisionAsync(InstancesApi.Request(tenant));
        var admin = app.Admin();

        // The host fails while the image is being deployed.
        await (await admin.PostAsJsonAsync("/api/v1/fabric/hosts/de-1/state", new HostStateRequest(true), WelkinJson.Client, Ct)).ReadAsync<HostStatusView>();
        var job = await tenant.Client.WaitAsync(accepted.Job.Id);

        job.State.ShouldBe(JobState.Failed);
        job.ErrorCode.ShouldBe("provision-failed");
        var machine = await tenant.Client.GetMachineAsync(accepted.Resource.Machines[0]);
        machine.State.ShouldBe(MachineState.Error);
        machine.Error.ShouldNotBeNullOrEmpty();
        machine.Released.ShouldNotBeNull();
        (await tenant.Client.EventsAsync(machine.Id)).Select(e => e.Type).ShouldBe(["machine.provisioned", "machine.failed", "machine.released"]);
        (await tenant.Client.ContractProvisionedAsync(tenant.Contract.Id)).ShouldBe(0);
        var host = await (await admin.GetAsync("/api/v1/fabric/hosts/de-1", Ct)).ReadAsync<HostStatusView>();
        (host.Machines, host.FreeMemoryMiB).ShouldBe((0, 16_384L));
        await (await tenant.Client.PostAsync($"/api/v1/machines/{machine.Id}/start")).ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
    }
}

using System.Net;
using System.Net.Http.Json;
using Welkin.Contracts;
using Welkin.Server.Tests.Configuration;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;

namespace Welkin.Server.Tests.Compute;

/// <summary>
/// A cloud of two simulated host pools: "east" (two hosts; its labels place them in the US,
/// whatever the hosts themselves say) and "west" (one host, in Germany).
/// </summary>
public sealed class TwoPoolsApp : WelkinApp
{
    protected override IDictionary<string, string?> Settings
    {
        get
        {
            var settings = new Dictionary<string, string?>
            {
                ["Fabric:Pools:east:Driver"] = "simulated",
                ["Fabric:Pools:east:Labels:region"] = "us-east",
                ["Fabric:Pools:east:Labels:jurisdiction"] = "US",
                ["Fabric:Pools:east:Labels:tier"] = "gold",
                ["Fabric:Pools:west:Driver"] = "simulated",
                ["Fabric:Pools:west:Labels:region"] = "eu-central",
                ["Fabric:Pools:west:Labels:jurisdiction"] = "DE",
            };
            foreach (var (pool, i, host) in new[] { ("east", 0, "east-1"), ("east", 1, "east-2"), ("west", 0, "west-1") })
            {
                settings[$"Fabric:Pools:{pool}:Hosts:{i}:Name"] = host;
                settings[$"Fabric:Pools:{pool}:Hosts:{i}:Region"] = "somewhere";
                settings[$"Fabric:Pools:{pool}:Hosts:{i}:Jurisdiction"] = "XX";
                settings[$"Fabric:Pools:{pool}:Hosts:{i}:Cores"] = "16";
                settings[$"Fabric:Pools:{pool}:Hosts:{i}:MemoryMiB"] = "65536";
                settings[$"Fabric:Pools:{pool}:Hosts:{i}:DiskGiB"] = "2000";
            }
            foreach (var pool in new[] { "east", "west" })
            {
                foreach (var timing in new[] { "Create", "Start", "Stop", "Pause", "Resume", "Reboot", "Resize", "Destroy", "Migrate", "Attach", "Detach" })
                {
                    settings[$"Fabric:Pools:{pool}:Timing:{timing}"] = "00:00:00";
                }
            }
            return settings;
        }
    }
}

public sealed class HostPoolTests(TwoPoolsApp app) : IClassFixture<TwoPoolsApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static ProvisionRequest In(ConfigurationApi.Tenant tenant, string jurisdiction) =>
        new(tenant.Contract.Id, Item: 0, VirtualSystems: [new VirtualSystemChoice("web", 1)], Constraints: new PlacementConstraints([jurisdiction]));

    [Fact]
    public async Task Hosts_OfEveryPool_AreListedWithTheirPoolAndDriver_AndPlacedWhereThePoolsLabelsSay()
    {
        var hosts = await (await app.Admin().GetAsync("/api/v1/fabric/hosts", Ct)).ReadAsync<List<HostView>>();

        hosts.Select(h => (h.Name, h.Pool, h.Fabric, h.Region, h.Jurisdiction)).ShouldBe(
        [
            ("east-1", "east", "simulated", "us-east", "US"),
            ("east-2", "east", "simulated", "us-east", "US"),
            ("west-1", "west", "simulated", "eu-central", "DE"),
        ]);
        var status = await (await app.Admin().GetAsync("/api/v1/fabric/hosts/west-1", Ct)).ReadAsync<HostStatusView>();
        (status.Pool, status.Jurisdiction).ShouldBe(("west", "DE"));
    }

    [Fact]
    public async Task Provision_GoesToThePoolWhoseLabelsMatch_AndEveryMachineRecordsItsPool()
    {
        var tenant = await ConfigurationApi.TenantAsync(app, machines: 4);

        var (_, german) = await tenant.Client.ProvisionedAsync(In(tenant, "DE"));
        var (_, american) = await tenant.Client.ProvisionedAsync(In(tenant, "US"));

        var west = (await tenant.Client.MachinesAsync(german.Id)).ShouldHaveSingleItem();
        (west.Pool, west.Host, west.State).ShouldBe(("west", "west-1", MachineState.Running));
        var east = (await tenant.Client.MachinesAsync(american.Id)).ShouldHaveSingleItem();
        east.Pool.ShouldBe("east");
        east.Host.ShouldStartWith("east-");
        (await tenant.Client.GetAsync($"/api/v1/machines/{west.Id}/console", Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await tenant.Client.ActAsync(west.Id, "stop")).State.ShouldBe(JobState.Succeeded);
        (await tenant.Client.ActAsync(west.Id, "start")).State.ShouldBe(JobState.Succeeded);
        (await tenant.Client.GetMachineAsync(west.Id)).State.ShouldBe(MachineState.Running);
        // Nothing matches a jurisdiction no pool carries: the hosts' own "XX" was overridden by their pools' labels.
        await (await tenant.Client.PostProvisionAsync(In(tenant, "XX"))).ProblemAsync(HttpStatusCode.Conflict, "insufficient-capacity");
    }

    [Fact]
    public async Task Migrate_StaysWithinTheMachinesPool()
    {
        var tenant = await ConfigurationApi.TenantAsync(app, machines: 1);
        var (_, instance) = await tenant.Client.ProvisionedAsync(In(tenant, "US"));
        var machine = (await tenant.Client.MachinesAsync(instance.Id)).ShouldHaveSingleItem();
        var admin = app.Admin();

        var refused = await (await admin.PostAsync($"/api/v1/machines/{machine.Id}/migrate", new MigrateRequest("west-1")))
            .ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        refused.GetProperty("detail").GetString()!.ShouldContain("pool 'west'");

        var other = machine.Host == "east-1" ? "east-2" : "east-1";
        var accepted = await (await admin.PostAsync($"/api/v1/machines/{machine.Id}/migrate", new MigrateRequest(other)))
            .ReadAsync<AcceptedView<MachineView>>(HttpStatusCode.Accepted);
        (await admin.WaitAsync(accepted.Job.Id)).State.ShouldBe(JobState.Succeeded);
        var moved = await tenant.Client.GetMachineAsync(machine.Id);
        (moved.Host, moved.Pool, moved.State).ShouldBe((other, "east", MachineState.Running));
    }

    [Fact]
    public async Task Volume_KeepsItsDataInThePoolItWasFirstAttachedIn()
    {
        var tenant = await ConfigurationApi.TenantAsync(app, machines: 2);
        var (_, german) = await tenant.Client.ProvisionedAsync(In(tenant, "DE"));
        var (_, american) = await tenant.Client.ProvisionedAsync(In(tenant, "US"));
        var west = german.Machines.ShouldHaveSingleItem();
        var east = american.Machines.ShouldHaveSingleItem();
        var volume = await tenant.CreateVolumeAsync();

        (await tenant.Client.AttachedAsync(volume.Id, west)).Job.State.ShouldBe(JobState.Succeeded);
        (await tenant.Client.DetachedAsync(volume.Id)).Job.State.ShouldBe(JobState.Succeeded);

        var refused = await (await tenant.Client.PostAsync($"/api/v1/volumes/{volume.Id}/attach", new AttachVolumeRequest(east)))
            .ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
        refused.GetProperty("detail").GetString()!.ShouldContain("pool 'west'");
        (await tenant.Client.AttachedAsync(volume.Id, west)).Job.State.ShouldBe(JobState.Succeeded);
    }

    [Fact]
    public async Task SimulatedLoad_OfAMachine_IsSetByThePoolItRunsIn()
    {
        var tenant = await ConfigurationApi.TenantAsync(app, machines: 1);
        var (_, instance) = await tenant.Client.ProvisionedAsync(In(tenant, "DE"));
        var op = await app.ProviderPrincipalAsync(Role.Operator);

        var set = await (await op.PutAsJsonAsync($"/api/v1/fabric/machines/{instance.Machines[0]}/load",
            new LoadRequest(CpuUtilizationPercent: 42), WelkinJson.Client, Ct)).ReadAsync<LoadView>();

        set.Machines.ShouldBe(1);
        var metrics = await (await tenant.Client.GetAsync($"/api/v1/machines/{instance.Machines[0]}/metrics", Ct)).ReadAsync<MachineMetricsView>();
        metrics.CpuUtilizationPercent.ShouldBe(42, tolerance: 5);
    }
}

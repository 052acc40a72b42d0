using System.Globalization;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Core.Monitoring;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;
using Welkin.Testing;

namespace Welkin.Server.Tests.Compute;

/// <summary>
/// One cloud with a simulated pool ("sim", in the US) and a pool of real QEMU machines ("lab", its
/// labels put it in jurisdiction LAB), side by side.
/// </summary>
public sealed class MixedPoolsApp : WelkinApp
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Fabric:Pools:sim:Driver"] = "simulated",
        ["Fabric:Pools:sim:Hosts:0:Name"] = "sim-1",
        ["Fabric:Pools:sim:Hosts:0:Region"] = "us-east",
        ["Fabric:Pools:sim:Hosts:0:Jurisdiction"] = "US",
        ["Fabric:Pools:sim:Hosts:0:Cores"] = "8",
        ["Fabric:Pools:sim:Hosts:0:MemoryMiB"] = "8192",
        ["Fabric:Pools:sim:Hosts:0:DiskGiB"] = "200",
        ["Fabric:Pools:sim:Timing:Create"] = "00:00:00.2",
        ["Fabric:Pools:lab:Driver"] = "qemu",
        ["Fabric:Pools:lab:Labels:region"] = "lab",
        ["Fabric:Pools:lab:Labels:jurisdiction"] = "LAB",
        ["Fabric:Pools:lab:Hosts:0:Name"] = "lab-a",
        ["Fabric:Pools:lab:Hosts:0:Region"] = "local",
        ["Fabric:Pools:lab:Hosts:0:Jurisdiction"] = "local",
        ["Fabric:Pools:lab:Hosts:0:Cores"] = "8",
        ["Fabric:Pools:lab:Hosts:0:MemoryMiB"] = "8192",
        ["Fabric:Pools:lab:Hosts:0:DiskGiB"] = "200",
        ["Fabric:Pools:lab:StopMachinesOnShutdown"] = "true",
    };

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await TestGuest.KillProcessesMentioningAsync(DataDir);
    }
}

public sealed class MixedPoolTests(MixedPoolsApp app, TestGuest guest) : IClassFixture<MixedPoolsApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task SimulatedAndQemuPools_SideBySide_EachProvisionsStartsStopsIsMeasuredAndDestroys()
    {
        var admin = app.Admin();
        var imageId = await QemuFabricTests.RegisterGuestAsync(admin, guest);
        var template = QemuFabricTests.GuestTemplate(imageId, "pools");
        var tenant = await InstancesApi.TenantAsync(app, quantity: 2, template: template);

        // One instance in each pool, chosen by the jurisdiction each pool carries.
        var (_, simulated) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant, constraints: new PlacementConstraints(["US"])));
        var (_, real) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant, constraints: new PlacementConstraints(["LAB"])));
        var sim = await tenant.Client.GetMachineAsync(simulated.Machines.ShouldHaveSingleItem());
        var lab = await tenant.Client.GetMachineAsync(real.Machines.ShouldHaveSingleItem());
        (sim.Pool, sim.Host, sim.State).ShouldBe(("sim", "sim-1", MachineState.Running));
        (lab.Pool, lab.Host, lab.State).ShouldBe(("lab", "lab-a", MachineState.Running));
        TestGuest.ProcessesMentioning(Path.Combine(app.DataDir, "pools", "lab", "machines", lab.Id)).ShouldHaveSingleItem();
        TestGuest.ProcessesMentioning(Path.Combine(app.DataDir, "pools", "lab", "machines", sim.Id)).ShouldBeEmpty();
        (await ConsoleAsync(tenant.Client, lab.Id)).ShouldContain("welkin-guest ready " + lab.Id);
        (await ConsoleAsync(tenant.Client, sim.Id)).ShouldContain("welkin-guest ready " + sim.Id);

        // The Service Monitor measures both, each through its own pool's driver.
        var from = DateTimeOffset.UtcNow;
        var tick = app.Services.GetRequiredService<TimeProvider>().GetUtcNow();
        await app.Services.GetRequiredService<MeasurementCollector>().RunAsync(tick, Ct);
        foreach (var machine in new[] { sim, lab })
        {
            var series = await (await tenant.Client.GetAsync(
                $"/api/v1/machines/{machine.Id}/measurements?metric=cpu-utilization-percent&resolution=raw&from={Q(from.AddMinutes(-1))}&to={Q(tick.AddMinutes(1))}", Ct))
                .ReadAsync<MeasurementSeriesView>();
            series.Points.ShouldNotBeEmpty($"machine in pool {machine.Pool} was measured");
            (await (await tenant.Client.GetAsync($"/api/v1/machines/{machine.Id}/metrics", Ct)).ReadAsync<MachineMetricsView>()).MachineId.ShouldBe(machine.Id);
        }

        // Stop and start go to each machine's own pool.
        foreach (var machine in new[] { sim, lab })
        {
            (await tenant.Client.ActAsync(machine.Id, "stop")).State.ShouldBe(JobState.Succeeded);
            (await tenant.Client.GetMachineAsync(machine.Id)).State.ShouldBe(MachineState.Inactive);
        }
        TestGuest.ProcessesMentioning(Path.Combine(app.DataDir, "pools", "lab", "machines", lab.Id)).ShouldBeEmpty();
        foreach (var machine in new[] { sim, lab })
        {
            (await tenant.Client.ActAsync(machine.Id, "start")).State.ShouldBe(JobState.Succeeded);
            (await tenant.Client.GetMachineAsync(machine.Id)).State.ShouldBe(MachineState.Running);
        }
        (await ConsoleAsync(tenant.Client, lab.Id)).ShouldContain("GUEST-POWERDOWN");

        // Destroyed: the QEMU machine leaves no process and no directory behind.
        foreach (var machine in new[] { sim, lab })
        {
            (await tenant.Client.ActAsync(machine.Id, "destroy")).State.ShouldBe(JobState.Succeeded);
            (await tenant.Client.GetMachineAsync(machine.Id)).State.ShouldBe(MachineState.Terminated);
        }
        TestGuest.ProcessesMentioning(app.DataDir).ShouldBeEmpty();
        Directory.Exists(Path.Combine(app.DataDir, "pools", "lab", "machines", lab.Id)).ShouldBeFalse();
    }

    private static async Task<string> ConsoleAsync(HttpClient client, string machineId)
    {
        var response = await client.GetAsync($"/api/v1/machines/{machineId}/console", Ct);
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        return await response.Content.ReadAsStringAsync(Ct);
    }

    private static string Q(DateTimeOffset t) => Uri.EscapeDataString(t.ToString("O", CultureInfo.InvariantCulture));
}

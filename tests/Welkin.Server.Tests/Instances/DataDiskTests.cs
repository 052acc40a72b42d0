using System.Net;
using Welkin.Contracts;
using Welkin.Server.Tests.Configuration;
using Welkin.Server.Tests.Contracts;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Instances;

/// <summary>
/// Data volumes of a template's virtual system become the data disks of its machines: sized at provision, attached after
/// the system disk (vdb, vdc, …), kept by every machine of the system, counted in the host's disk and the metered disk.
/// </summary>
public sealed class DataDiskTests(InstancesApp app) : IClassFixture<InstancesApp>
{
    /// <summary>The catalog tests' one-tier template ("web", 100 GiB system disk) with three data volumes.</summary>
    private static TemplateSpec Template(string name)
    {
        var template = CatalogApi.Template(name, vcpus: 1, memoryMiB: 1024);
        var web = template.VirtualSystems[0] with
        {
            DataVolumes =
            [
                new DataVolumeSpec("data", new Choice<long>([0, 10, 20], 10)),
                new DataVolumeSpec("logs", new Choice<long>([0, 5], 0)),
                new DataVolumeSpec("scratch", new Choice<long>([2], 2)),
            ],
        };
        return template with { VirtualSystems = [web] };
    }

    private static ProvisionRequest Request(string contractId, IReadOnlyDictionary<string, long>? sizes, int count = 1) =>
        new(contractId, Item: 0, VirtualSystems: [new VirtualSystemChoice("web", count, DataVolumes: sizes)]);

    [Fact]
    public async Task Provision_GivesEveryMachineItsDataDisks_ChosenOrDefaultSizes_InOrderAfterTheSystemDisk_AndMetersThemWithIt()
    {
        var tenant = await InstancesApi.TenantAsync(app, template: Template(CatalogApi.UniquePrefix("dd") + "t"));
        var freeBefore = await FreeDiskAsync();

        var (_, instance) = await tenant.Client.ProvisionedAsync(Request(tenant.Contract.Id, new Dictionary<string, long> { ["logs"] = 5 }, count: 2));

        (freeBefore - await FreeDiskAsync()).ShouldBe(2 * 117, "each machine takes its system disk and its data disks of its host's storage");
        instance.VirtualSystems.Single().DataVolumes.ShouldBe(new Dictionary<string, long> { ["data"] = 10, ["logs"] = 5, ["scratch"] = 2 });
        var machines = await tenant.Client.MachinesAsync(instance.Id);
        machines.Count.ShouldBe(2);
        foreach (var m in machines)
        {
            m.DiskGiB.ShouldBe(100);
            m.DataDisks.ShouldBe(
            [
                new MachineDataDisk("data", 10, null, "vdb"),
                new MachineDataDisk("logs", 5, null, "vdc"),
                new MachineDataDisk("scratch", 2, null, "vdd"),
            ]);
            app.Driver.Describe(m.Id)!.DataDisks!.Select(d => (d.Name, d.SizeGiB, d.Device)).ShouldBe([("data", 10L, "vdb"), ("logs", 5L, "vdc"), ("scratch", 2L, "vdd")]);
            (await tenant.Client.EventsAsync(m.Id)).ShouldAllBe(e => e.Data["diskGiB"] == "117");
        }
    }

    private async Task<long> FreeDiskAsync()
    {
        var admin = app.Admin();
        var hosts = await (await admin.GetAsync("/api/v1/fabric/hosts", TestContext.Current.CancellationToken)).ReadAsync<List<HostView>>();
        var free = 0L;
        foreach (var host in hosts)
        {
            free += (await (await admin.GetAsync($"/api/v1/fabric/hosts/{host.Name}", TestContext.Current.CancellationToken)).ReadAsync<HostStatusView>()).FreeDiskGiB;
        }
        return free;
    }

    [Fact]
    public async Task Provision_WithAVolumeLeftOut_ShiftsTheDevices_AndAScaledMachineGetsTheSameDisks()
    {
        var tenant = await InstancesApi.TenantAsync(app, template: Template(CatalogApi.UniquePrefix("dd") + "t"));
        var (_, instance) = await tenant.Client.ProvisionedAsync(Request(tenant.Contract.Id, new Dictionary<string, long> { ["data"] = 0 }));

        var scaled = await (await tenant.Client.PostAsync($"/api/v1/instances/{instance.Id}/scale", new ScaleRequest("web", 2)))
            .ReadAsync<AcceptedView<InstanceView>>(HttpStatusCode.Accepted);
        (await tenant.Client.WaitAsync(scaled.Job.Id)).State.ShouldBe(JobState.Succeeded);

        var machines = await tenant.Client.MachinesAsync(instance.Id);
        machines.Count.ShouldBe(2);
        machines.ShouldAllBe(m => m.DataDisks!.Count == 1 && m.DataDisks[0] == new MachineDataDisk("scratch", 2, null, "vdb"));
    }

    [Fact]
    public async Task Provision_NamingAnUnknownVolume_OrASizeNotAllowed_Is400_SayingWhichAndWhatIsAllowed()
    {
        var tenant = await InstancesApi.TenantAsync(app, template: Template(CatalogApi.UniquePrefix("dd") + "t"));

        var unknown = await (await tenant.Client.PostProvisionAsync(Request(tenant.Contract.Id, new Dictionary<string, long> { ["backup"] = 10 })))
            .ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        var notAllowed = await (await tenant.Client.PostProvisionAsync(Request(tenant.Contract.Id, new Dictionary<string, long> { ["data"] = 15 })))
            .ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");

        unknown.GetRawText().ShouldContain("no data volume 'backup' (data, logs, scratch)");
        notAllowed.GetRawText().ShouldContain("dataVolumes.data must be one of 0, 10, 20");
        (await tenant.Client.ContractProvisionedAsync(tenant.Contract.Id)).ShouldBe(0);
    }

    [Fact]
    public async Task Volume_AttachedToAMachineWithDataDisks_TakesTheNextFreeDevice()
    {
        var tenant = await ConfigurationApi.TenantAsync(app, template: Template(CatalogApi.UniquePrefix("dd") + "t"));
        var (_, machines) = await tenant.MachinesAsync();
        var machine = machines.Single();
        var volume = await tenant.CreateVolumeAsync();

        var (job, attached) = await tenant.Client.AttachedAsync(volume.Id, machine.Id);

        job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
        attached.Device.ShouldBe("vdd");
        app.Driver.Describe(machine.Id)!.Volumes.Select(v => (v.VolumeId, v.Device)).ShouldBe([(volume.Id, "vdd")]);
    }
}

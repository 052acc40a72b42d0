using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Welkin.Compute.Qemu;
using Welkin.Contracts;
using Welkin.Core.Catalog;
using Welkin.Server.Tests.Catalog;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;
using Welkin.Testing;

namespace Welkin.Server.Tests.Compute;

/// <summary>
/// A Welkin cloud running real virtual machines, used only through its API: the test guest is
/// uploaded as images (kernel, ramdisk and a disk that boots with them), offered, contracted,
/// provisioned, reached over HTTP through its reported endpoint, paused, moved live to another
/// host, powered down, started, crashed and destroyed, leaving no QEMU process behind.
/// </summary>
public sealed partial class QemuFabricTests(QemuWelkinApp app, TestGuest guest) : IClassFixture<QemuWelkinApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Uploads the test guest and returns the id of its bootable disk image.</summary>
    internal static Task<string> RegisterGuestAsync(HttpClient admin, TestGuest guest) => GuestImages.RegisterAsync(admin, guest);

    /// <summary>A one-tier template of small machines (1 vCPU, 256 MiB, a 1 GiB disk) booting the guest image.</summary>
    internal static TemplateSpec GuestTemplate(string imageId, string name)
    {
        var template = CatalogApi.Template(CatalogApi.UniquePrefix("qemu") + name, vcpus: 1, memoryMiB: 256);
        var system = template.VirtualSystems[0];
        return template with { VirtualSystems = [system with { ImageId = imageId, Hardware = system.Hardware with { DiskGiB = new Choice<long>([1], 1) } }] };
    }

    private async Task<string> ConsoleAsync(HttpClient client, string machineId) =>
        await (await client.GetAsync($"/api/v1/machines/{machineId}/console", Ct)).Content.ReadAsStringAsync(Ct);

    private async Task<int> LastTickAsync(HttpClient client, string machineId) =>
        Tick().Matches(await ConsoleAsync(client, machineId)) is { Count: > 0 } ticks ? int.Parse(ticks[^1].Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;

    private static Task WaitForAsync(Func<Task<bool>> condition, string what) =>
        Polling.UntilAsync(condition, what, TimeSpan.FromMinutes(3), TimeSpan.FromMilliseconds(200));

    private static async Task<string> FetchAsync(AccessEndpoint http)
    {
        using var web = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        return await web.GetStringAsync($"http://{http.Host}:{http.Port}/", Ct);
    }

    [Fact]
    public async Task GuestThroughTheApi_BootsServesHttpPausesMovesLivePowersDownCrashesAndGoesWithoutATrace()
    {
        var admin = app.Admin();
        var imageId = await RegisterGuestAsync(admin, guest);
        var template = GuestTemplate(imageId, "guest");
        var tenant = await InstancesApi.TenantAsync(app, template: template);

        // Provision: the job finishes once the guest has said it is up.
        var (job, instance) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant));
        job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
        var machine = (await tenant.Client.MachinesAsync(instance.Id)).ShouldHaveSingleItem();
        machine.State.ShouldBe(MachineState.Running);
        (await ConsoleAsync(tenant.Client, machine.Id)).ShouldContain("welkin-guest ready " + machine.Id);
        var http = machine.Access!.Endpoints.Single(e => e.Protocol == "http");
        machine.Access.Endpoints[0].Protocol.ShouldBe("ssh");
        (await FetchAsync(http)).ShouldContain("hello from " + machine.Id);

        // Pause and resume: the guest's counter stops, then goes on.
        (await tenant.Client.ActAsync(machine.Id, "pause")).State.ShouldBe(JobState.Succeeded);
        var paused = await LastTickAsync(tenant.Client, machine.Id);
        await Task.Delay(2500, Ct);
        (await LastTickAsync(tenant.Client, machine.Id)).ShouldBeLessThanOrEqualTo(paused + 1);
        (await tenant.Client.ActAsync(machine.Id, "resume")).State.ShouldBe(JobState.Succeeded);
        await WaitForAsync(async () => await LastTickAsync(tenant.Client, machine.Id) > paused + 1, "ticks after resume");

        // Move live to the other host (operators only): the counter carries on, the endpoint still answers.
        var from = machine.Host!;
        var to = from == QemuWelkinApp.HostA ? QemuWelkinApp.HostB : QemuWelkinApp.HostA;
        await (await tenant.Client.PostAsync($"/api/v1/machines/{machine.Id}/migrate", new MigrateRequest(to))).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        var before = await LastTickAsync(tenant.Client, machine.Id);
        var accepted = await (await admin.PostAsync($"/api/v1/machines/{machine.Id}/migrate", new MigrateRequest(to))).ReadAsync<AcceptedView<MachineView>>(HttpStatusCode.Accepted);
        (await admin.WaitAsync(accepted.Job.Id)).State.ShouldBe(JobState.Succeeded);
        (await tenant.Client.GetMachineAsync(machine.Id)).Host.ShouldBe(to);
        await WaitForAsync(async () => await LastTickAsync(tenant.Client, machine.Id) > before + 2, "ticks after the move");
        var console = await ConsoleAsync(tenant.Client, machine.Id);
        Regex.Count(console, "GUEST-UP").ShouldBe(1, "the guest never rebooted");
        (await FetchAsync(http)).ShouldContain("hello from " + machine.Id);
        (await tenant.Client.EventsAsync(machine.Id)).ShouldContain(e => e.Type == "machine.migrated");

        // Power down through ACPI, and start again.
        (await tenant.Client.ActAsync(machine.Id, "stop")).State.ShouldBe(JobState.Succeeded);
        (await tenant.Client.GetMachineAsync(machine.Id)).State.ShouldBe(MachineState.Inactive);
        (await ConsoleAsync(tenant.Client, machine.Id)).ShouldContain("GUEST-POWERDOWN");
        (await tenant.Client.ActAsync(machine.Id, "start")).State.ShouldBe(JobState.Succeeded);
        (await FetchAsync(http)).ShouldContain("hello from " + machine.Id);

        // A QEMU that dies is noticed: the machine goes to error.
        var pid = TestGuest.ProcessesMentioning(Path.Combine(app.DataDir, "qemu", "machines", machine.Id)).ShouldHaveSingleItem();
        await QemuProcess.KillAsync(pid);
        await WaitForAsync(async () => (await tenant.Client.GetMachineAsync(machine.Id)).State == MachineState.Error, "the crash is noticed");

        // Destroyed: nothing of it runs any more.
        (await tenant.Client.ActAsync(machine.Id, "destroy")).State.ShouldBe(JobState.Succeeded);
        (await tenant.Client.GetMachineAsync(machine.Id)).State.ShouldBe(MachineState.Terminated);
        TestGuest.ProcessesMentioning(app.DataDir).ShouldBeEmpty();
        Directory.Exists(Path.Combine(app.DataDir, "qemu", "machines", machine.Id)).ShouldBeFalse();
    }

    [Fact]
    public async Task ExportedMachine_CarriesItsOwnDisk_AndImportsBackAsATemplateWhoseImageHasTheSameContent()
    {
        var admin = app.Admin();
        var imageId = await RegisterGuestAsync(admin, guest);
        var template = GuestTemplate(imageId, "export");
        var tenant = await InstancesApi.TenantAsync(app, quantity: 1, template: template);
        var (job, instance) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant));
        job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
        var machineId = instance.Machines[0];

        // A running machine's disk changes under the copy: the export waits for a stop.
        await (await tenant.Client.GetAsync($"/api/v1/machines/{machineId}/export", Ct)).ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
        (await tenant.Client.ActAsync(machineId, "stop")).State.ShouldBe(JobState.Succeeded);
        var exported = await tenant.Client.GetAsync($"/api/v1/machines/{machineId}/export", Ct);

        exported.StatusCode.ShouldBe(HttpStatusCode.OK);
        exported.Headers.GetValues(OvfExportHeaders.DiskSource).ShouldBe([OvfDiskSource.MachineDisk]);
        var ova = await exported.Content.ReadAsByteArrayAsync(Ct);
        var work = Directory.CreateTempSubdirectory("welkin-qemu-export-").FullName;
        try
        {
            await using (var tar = new System.Formats.Tar.TarReader(new MemoryStream(ova)))
            {
                while (await tar.GetNextEntryAsync(copyData: false, Ct) is { } entry)
                {
                    await entry.ExtractToFileAsync(Path.Combine(work, entry.Name), overwrite: false, Ct);
                }
            }
            var vmdk = Directory.GetFiles(work, "*.vmdk").ShouldHaveSingleItem();
            await ExternalTools.QemuImgAsync("compare", "-f", "qcow2", "-F", "vmdk", Path.Combine(app.DataDir, "qemu", "machines", machineId, "disk.qcow2"), vmdk);

            using var body = new ByteArrayContent(ova);
            body.Headers.ContentType = new("application/octet-stream");
            var imported = await (await admin.PostAsync("/api/v1/templates/import", body, Ct)).ReadAsync<OvfImportResult>(HttpStatusCode.Created);
            var image = imported.Images.ShouldHaveSingleItem();
            image.Format.ShouldBe(ImageFormat.Qcow2);
            var copy = Path.Combine(work, "imported.qcow2");
            await using (var file = File.Create(copy))
            {
                await (await admin.GetStreamAsync($"/api/v1/images/{image.Id}/content", Ct)).CopyToAsync(file, Ct);
            }
            await ExternalTools.QemuImgAsync("compare", "-f", "vmdk", "-F", "qcow2", vmdk, copy);
            imported.Template.VirtualSystems.ShouldHaveSingleItem().ImageId.ShouldBe(image.Id);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
        (await tenant.Client.ActAsync(machineId, "destroy")).State.ShouldBe(JobState.Succeeded);
    }

    [Fact]
    public async Task MachineWithDataDisks_FromAnImageAndEmpty_BootsWithThem_AndItsExportCarriesEachAsADiskOfItsOwnWithItsContent()
    {
        var admin = app.Admin();
        var imageId = await RegisterGuestAsync(admin, guest);
        var work = Directory.CreateTempSubdirectory("welkin-qemu-datadisks-").FullName;
        try
        {
            // The image a data volume starts from: 64 MiB with a pattern at 1 MiB.
            var content = Path.Combine(work, "content.qcow2");
            await ExternalTools.QemuImgAsync("create", "-q", "-f", "qcow2", content, "64M");
            await ExternalTools.RunAsync("qemu-io", ["-f", "qcow2", "-c", "write -P 0x5a 1M 64k", content]);
            ImageView dataImage;
            await using (var file = File.OpenRead(content))
            {
                using var upload = new StreamContent(file);
                upload.Headers.ContentType = new("application/octet-stream");
                dataImage = await (await admin.PostAsync("/api/v1/images?name=data-content", upload, Ct)).ReadAsync<ImageView>(HttpStatusCode.Created);
            }
            var template = GuestTemplate(imageId, "datadisks");
            var system = template.VirtualSystems[0] with
            {
                DataVolumes = [new DataVolumeSpec("data", new Choice<long>([1], 1), dataImage.Id), new DataVolumeSpec("scratch", new Choice<long>([0, 1], 1))],
            };
            var tenant = await InstancesApi.TenantAsync(app, quantity: 1, template: template with { VirtualSystems = [system] });

            var (job, instance) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant));

            job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
            var machineId = instance.Machines[0];
            var systemName = Welkin.Core.Ovf.OvfTemplateMapper.SystemName((await tenant.Client.GetMachineAsync(machineId)).Name);
            (await tenant.Client.GetMachineAsync(machineId)).DataDisks.ShouldBe(
                [new MachineDataDisk("data", 1, dataImage.Id, "vdb"), new MachineDataDisk("scratch", 1, null, "vdc")]);
            var console = await ConsoleAsync(tenant.Client, machineId);
            console.ShouldContain("DISK vdb 2097152 sectors");
            console.ShouldContain("DISK vdc 2097152 sectors");
            (await tenant.Client.ActAsync(machineId, "stop")).State.ShouldBe(JobState.Succeeded);

            var exported = await tenant.Client.GetAsync($"/api/v1/machines/{machineId}/export", Ct);

            exported.StatusCode.ShouldBe(HttpStatusCode.OK);
            var unpacked = Directory.CreateDirectory(Path.Combine(work, "ova")).FullName;
            await using (var tar = new System.Formats.Tar.TarReader(new MemoryStream(await exported.Content.ReadAsByteArrayAsync(Ct))))
            {
                while (await tar.GetNextEntryAsync(copyData: false, Ct) is { } entry)
                {
                    await entry.ExtractToFileAsync(Path.Combine(unpacked, entry.Name), overwrite: false, Ct);
                }
            }
            var vmdks = Directory.GetFiles(unpacked, "*.vmdk").Order(StringComparer.Ordinal).ToList();
            vmdks.Select(Path.GetFileName).ShouldBe([$"{systemName}-disk1.vmdk", $"{systemName}-disk2.vmdk", $"{systemName}-disk3.vmdk"]);
            var machineDir = Path.Combine(app.DataDir, "qemu", "machines", machineId);
            await ExternalTools.QemuImgAsync("compare", "-f", "qcow2", "-F", "vmdk", Path.Combine(machineDir, "disk.qcow2"), vmdks[0]);
            await ExternalTools.QemuImgAsync("compare", "-f", "qcow2", "-F", "vmdk", Path.Combine(machineDir, "data-vdb.qcow2"), vmdks[1]);
            await ExternalTools.QemuImgAsync("compare", "-f", "qcow2", "-F", "vmdk", Path.Combine(machineDir, "data-vdc.qcow2"), vmdks[2]);
            var read = await ExternalTools.RunAsync("qemu-io", ["-r", "-f", "vmdk", "-c", "read -P 0x5a 1M 64k", vmdks[1]]);
            read.ShouldContain("read 65536/65536 bytes");
            read.ShouldNotContain("Pattern verification failed");
            // The descriptor: three disks, each with its file and its item on the controller, in order.
            var ovf = System.Xml.Linq.XDocument.Load(Directory.GetFiles(unpacked, "*.ovf").ShouldHaveSingleItem());
            System.Xml.Linq.XNamespace o = Welkin.Core.Ovf.OvfReader.Ovf2Namespace;
            System.Xml.Linq.XNamespace rasd = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData";
            ovf.Descendants(o + "Disk").Select(d => (string?)d.Attribute(o + "fileRef")).ShouldAllBe(f => f != null);
            ovf.Descendants(o + "Disk").Count().ShouldBe(3);
            ovf.Descendants(o + "Item").Where(i => (string?)i.Element(rasd + "ResourceType") == "17")
                .Select(i => (string?)i.Element(rasd + "AddressOnParent")).ShouldBe(["0", "1", "2"]);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    [Fact]
    public async Task GuestThatPowersItselfOff_LeavesItsMachineInactive_NotInError_AndItStartsAgain()
    {
        var admin = app.Admin();
        var imageId = await RegisterGuestAsync(admin, guest);
        var template = GuestTemplate(imageId, "poweroff");
        var system = template.VirtualSystems[0];
        template = template with
        {
            VirtualSystems = [system with { Properties = [new PropertyDefinition("kernel.args", PropertyType.String, "welkin.poweroff-after=3")] }],
        };
        var tenant = await InstancesApi.TenantAsync(app, quantity: 1, template: template);

        var (job, instance) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant));

        job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
        var machineId = instance.Machines[0];
        await WaitForAsync(async () => (await tenant.Client.GetMachineAsync(machineId)).State == MachineState.Inactive, "the machine follows its guest");
        (await tenant.Client.GetMachineAsync(machineId)).Error.ShouldBeNull();
        (await tenant.Client.EventsAsync(machineId)).ShouldContain(e => e.Type == "machine.deactivated");
        (await tenant.Client.ActAsync(machineId, "start")).State.ShouldBe(JobState.Succeeded);
        (await tenant.Client.ActAsync(machineId, "destroy")).State.ShouldBe(JobState.Succeeded);
    }

    [GeneratedRegex(@"TICK (\d+) ")]
    private static partial Regex Tick();
}

using System.Net;
using Welkin.Client;
using Welkin.Contracts;
using Welkin.Core.Catalog;
using Welkin.Server.Tests.Compute;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;
using Welkin.Testing;

namespace Welkin.Server.Tests.Uploads;

/// <summary>
/// A cloud on the QEMU fabric whose images without boot settings (an account's own, made from an
/// upload) boot the test guest's kernel and initrd, as a provider sets Fabric:DefaultKernel.
/// </summary>
public sealed class QemuUploadApp : WelkinApp
{
    private static readonly TestGuest Guest = new();

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Welkin:Fabric"] = "qemu",
        ["Fabric:Hosts:0:Name"] = "qemu-u",
        ["Fabric:Hosts:0:Region"] = "local",
        ["Fabric:Hosts:0:Jurisdiction"] = "US",
        ["Fabric:Hosts:0:Cores"] = "8",
        ["Fabric:Hosts:0:MemoryMiB"] = "8192",
        ["Fabric:Hosts:0:DiskGiB"] = "200",
        ["Fabric:DefaultKernel"] = Guest.Kernel,
        ["Fabric:DefaultInitrd"] = Guest.Initrd,
        ["Fabric:StopMachinesOnShutdown"] = "true",
    };

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await TestGuest.KillProcessesMentioningAsync(DataDir);
    }
}

/// <summary>The receiving side of a cold move on real machines: a stopped guest's OVA, uploaded by another consumer, boots there from its own image.</summary>
public sealed class QemuAccountImageTests(QemuUploadApp app, TestGuest guest) : IClassFixture<QemuUploadApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ExportedGuest_UploadedAndImportedByAnotherConsumer_BootsFromItsOwnImage_AndServesHttp()
    {
        var imageId = await QemuFabricTests.RegisterGuestAsync(app.Admin(), guest);
        var template = QemuFabricTests.GuestTemplate(imageId, "move");
        var sender = await InstancesApi.TenantAsync(app, quantity: 1, template: template);
        var (sent, original) = await sender.Client.ProvisionedAsync(InstancesApi.Request(sender));
        sent.State.ShouldBe(JobState.Succeeded, sent.ErrorDetail);
        var source = original.Machines[0];
        (await sender.Client.ActAsync(source, "stop")).State.ShouldBe(JobState.Succeeded);
        var exported = await sender.Client.GetAsync($"/api/v1/machines/{source}/export", Ct);
        exported.StatusCode.ShouldBe(HttpStatusCode.OK);
        exported.Headers.GetValues(OvfExportHeaders.DiskSource).ShouldBe([OvfDiskSource.MachineDisk]);
        var ova = await exported.Content.ReadAsByteArrayAsync(Ct);

        var receiver = await InstancesApi.TenantAsync(app, quantity: 1, template: template);
        using var client = new WelkinClient(receiver.Client, receiver.Client.BaseAddress!);
        var upload = await client.Uploads.UploadAsync(new MemoryStream(ova), settings: new UploadSettings(ChunkBytes: 64 * 1024), ct: Ct);
        var image = await client.AccountImages.CreateAsync(upload.Id, "moved-guest", ct: Ct);
        var (job, instance) = await receiver.Client.ProvisionedAsync(new ProvisionRequest(receiver.Contract.Id, VirtualSystems: [new VirtualSystemChoice("web", ImageId: image.Id)]));

        job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
        var machine = await receiver.Client.GetMachineAsync(instance.Machines.Single());
        machine.State.ShouldBe(MachineState.Running);
        machine.ImageId.ShouldBe(image.Id);
        var console = await (await receiver.Client.GetAsync($"/api/v1/machines/{machine.Id}/console", Ct)).Content.ReadAsStringAsync(Ct);
        console.ShouldContain("welkin-guest ready " + machine.Id);
        var http = machine.Access!.Endpoints.Single(e => e.Protocol == "http");
        using var web = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        (await web.GetStringAsync($"http://{http.Host}:{http.Port}/", Ct)).ShouldContain("hello from " + machine.Id);
        // The moved disk is the exported one, byte for byte as the guest sees it.
        await ExternalTools.QemuImgAsync("compare", "-f", "qcow2", "-F", "qcow2",
            Path.Combine(app.DataDir, "qemu", "machines", source, "disk.qcow2"), Path.Combine(app.DataDir, "blobs", "sha256", image.Sha256[..2], image.Sha256));

        (await receiver.Client.ActAsync(machine.Id, "destroy")).State.ShouldBe(JobState.Succeeded);
        (await sender.Client.ActAsync(source, "destroy")).State.ShouldBe(JobState.Succeeded);
    }
}

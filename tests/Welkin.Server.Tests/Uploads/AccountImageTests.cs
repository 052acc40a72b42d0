using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Welkin.Client;
using Welkin.Contracts;
using Welkin.Server.Tests.Catalog;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;
using Welkin.Testing;

namespace Welkin.Server.Tests.Uploads;

/// <summary>A simulated cloud whose images may be large (a disk's virtual size counts), and whose accounts own at most two images.</summary>
public sealed class AccountImagesApp : InstancesApp
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Welkin:MaxImageBytes"] = (1L << 40).ToString(CultureInfo.InvariantCulture),
        ["Uploads:MaxImagesPerAccount"] = "2",
    };
}

/// <summary>
/// A consumer turns its own upload (a plain disk, or an OVA as Welkin exports a machine) into an image
/// only its account sees, and provisions a machine of its contract from it.
/// </summary>
public sealed class AccountImageTests(AccountImagesApp app) : IClassFixture<AccountImagesApp>, IDisposable
{
    private readonly string _dir = Directory.CreateDirectory(TempDirectories.NewPath("welkin-account-images-")).FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => TempDirectories.TryDelete(_dir);

    [Fact]
    public async Task RawDisk_BecomesAnImageOfTheAccount_AndAProvisionOfItsContractBootsIt()
    {
        var tenant = await InstancesApi.TenantAsync(app, quantity: 1);
        var disk = UploadsApi.Disk();
        var upload = await UploadsApi.CompleteAsync(tenant.Client, disk);

        var image = await (await UploadsApi.PostImageAsync(tenant.Client, upload.Id, "my-disk")).ReadAsync<AccountImageView>(HttpStatusCode.Created);

        image.AccountId.ShouldBe(tenant.AccountId);
        image.Format.ShouldBe(ImageFormat.Qcow2);
        image.VirtualSizeBytes.ShouldBe(disk.Length);
        ExternalTools.QemuImg("compare", "-f", "raw", "-F", "qcow2", Write("my.raw", disk), BlobPath(image.Sha256));
        await (await tenant.Client.GetAsync($"/api/v1/uploads/{upload.Id}", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        File.Exists(Path.Combine(app.DataDir, "uploads", upload.Id + ".part")).ShouldBeFalse();
        (await (await tenant.Client.GetAsync("/api/v1/account-images", Ct)).ReadAsync<Page<AccountImageView>>()).Items.ShouldBe([image]);

        var (job, instance) = await tenant.Client.ProvisionedAsync(new ProvisionRequest(tenant.Contract.Id, VirtualSystems: [new VirtualSystemChoice("web", ImageId: image.Id)]));

        job.State.ShouldBe(JobState.Succeeded);
        var machine = await tenant.Client.GetMachineAsync(instance.Machines.Single());
        machine.ImageId.ShouldBe(image.Id);
        machine.State.ShouldBe(MachineState.Running);
    }

    [Theory]
    [InlineData("vpc", "subformat=dynamic", "vhd")]
    [InlineData("vpc", "subformat=fixed", "vhd")]
    [InlineData("vhdx", "subformat=dynamic,block_size=1M", "vhdx")]
    public async Task VhdOrVhdxDisk_BecomesAQcow2ImageOfTheAccount_WithTheSameContent(string format, string options, string source)
    {
        var tenant = await InstancesApi.TenantAsync(app, quantity: 1);
        var raw = Write("hyper-v.raw", UploadsApi.Disk());
        var disk = Path.Combine(_dir, "hyper-v." + source);
        ExternalTools.QemuImg("convert", "-f", "raw", "-O", format, "-o", options, raw, disk);
        var upload = await UploadsApi.CompleteAsync(tenant.Client, await File.ReadAllBytesAsync(disk, Ct));

        var image = await (await UploadsApi.PostImageAsync(tenant.Client, upload.Id, "from-hyper-v")).ReadAsync<AccountImageView>(HttpStatusCode.Created);

        image.Format.ShouldBe(ImageFormat.Qcow2);
        ExternalTools.QemuImg("compare", "-f", "raw", "-F", "qcow2", raw, BlobPath(image.Sha256));
    }

    [Fact]
    public async Task ExportedMachine_UploadedAsAnOvaByAnotherConsumer_BecomesItsImage_AndProvisionsThere()
    {
        // The sending side: a machine of one consumer, exported as an OVA (its disk is its image).
        var sender = await InstancesApi.TenantAsync(app, quantity: 1);
        var disk = UploadsApi.Disk(2 << 20);
        var source = await UploadsApi.AccountImageAsync(sender.Client, "source", disk);
        var (_, sent) = await sender.Client.ProvisionedAsync(new ProvisionRequest(sender.Contract.Id, VirtualSystems: [new VirtualSystemChoice("web", ImageId: source.Id)]));
        var exported = await sender.Client.GetAsync($"/api/v1/machines/{sent.Machines[0]}/export", Ct);
        exported.StatusCode.ShouldBe(HttpStatusCode.OK);
        exported.Headers.GetValues(OvfExportHeaders.DiskSource).ShouldBe([Welkin.Core.Catalog.OvfDiskSource.Image]);
        var ova = Path.Combine(_dir, "machine.ova");
        await File.WriteAllBytesAsync(ova, await exported.Content.ReadAsByteArrayAsync(Ct), Ct);

        // The receiving side: another consumer uploads it through the client's resumable upload.
        var receiver = await InstancesApi.TenantAsync(app, quantity: 1);
        using var client = new WelkinClient(receiver.Client, receiver.Client.BaseAddress!);
        var upload = await client.Uploads.UploadFileAsync(ova, settings: new UploadSettings(ChunkBytes: 512 * 1024), ct: Ct);
        var image = await client.AccountImages.CreateAsync(upload.Id, "moved", ct: Ct);

        image.AccountId.ShouldBe(receiver.AccountId);
        // A streamOptimized VMDK rounds the disk up to whole grains.
        image.VirtualSizeBytes.ShouldBeGreaterThanOrEqualTo(disk.Length);
        ExternalTools.QemuImg("compare", "-f", "raw", "-F", "qcow2", Write("sent.raw", disk), BlobPath(image.Sha256));
        var (job, instance) = await receiver.Client.ProvisionedAsync(new ProvisionRequest(receiver.Contract.Id, VirtualSystems: [new VirtualSystemChoice("web", ImageId: image.Id)]));
        job.State.ShouldBe(JobState.Succeeded);
        (await receiver.Client.GetMachineAsync(instance.Machines.Single())).ImageId.ShouldBe(image.Id);
    }

    [Fact]
    public async Task AnotherAccount_CannotSeeOrProvisionFromTheImage_AndTheCatalogDoesNotKnowIt()
    {
        var owner = await InstancesApi.TenantAsync(app, quantity: 1);
        var image = await UploadsApi.AccountImageAsync(owner.Client, "private");
        var other = await InstancesApi.TenantAsync(app, quantity: 1);
        var missing = Welkin.Core.Common.Ids.New(Welkin.Core.Common.Ids.Image, TimeProvider.System);

        var foreign = await other.Client.PostProvisionAsync(new ProvisionRequest(other.Contract.Id, VirtualSystems: [new VirtualSystemChoice("web", ImageId: image.Id)]));
        var absent = await other.Client.PostProvisionAsync(new ProvisionRequest(other.Contract.Id, VirtualSystems: [new VirtualSystemChoice("web", ImageId: missing)]));

        var foreignProblem = await foreign.ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        var absentProblem = await absent.ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        foreignProblem.GetProperty("errors").GetRawText().Replace(image.Id, "<id>", StringComparison.Ordinal)
            .ShouldBe(absentProblem.GetProperty("errors").GetRawText().Replace(missing, "<id>", StringComparison.Ordinal));
        (await InstancesApi.AccountProvisionedAsync(app, other.AccountId)).ShouldBe(0);
        await (await other.Client.GetAsync($"/api/v1/account-images/{image.Id}", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        (await (await other.Client.GetAsync("/api/v1/account-images", Ct)).ReadAsync<Page<AccountImageView>>()).Items.ShouldBeEmpty();

        // The provider's catalog neither lists it nor lets a template name it.
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        await (await developer.GetAsync($"/api/v1/images/{image.Id}", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        var catalog = await (await developer.GetAsync("/api/v1/images?limit=1000", Ct)).ReadAsync<Page<ImageView>>();
        catalog.Items.ShouldNotContain(i => i.Id == image.Id);
        var spec = CatalogApi.Template(CatalogApi.UniquePrefix("img") + "stolen");
        var template = await developer.PostAsJsonAsync("/api/v1/templates", spec with { VirtualSystems = [spec.VirtualSystems[0] with { ImageId = image.Id }] }, WelkinJson.Client, Ct);
        await template.ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
    }

    [Fact]
    public async Task ImageLargerThanTheContractLinesDisk_IsRefusedAtProvision()
    {
        var tenant = await InstancesApi.TenantAsync(app, quantity: 1);
        var big = Path.Combine(_dir, "big.qcow2");
        ExternalTools.QemuImg("create", "-q", "-f", "qcow2", big, "200G");
        var upload = await UploadsApi.CompleteAsync(tenant.Client, await File.ReadAllBytesAsync(big, Ct));
        var image = await (await UploadsApi.PostImageAsync(tenant.Client, upload.Id, "big")).ReadAsync<AccountImageView>(HttpStatusCode.Created);
        image.VirtualSizeBytes.ShouldBe(200L << 30);

        var refused = await tenant.Client.PostProvisionAsync(new ProvisionRequest(tenant.Contract.Id, VirtualSystems: [new VirtualSystemChoice("web", ImageId: image.Id)]));

        var problem = await refused.ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        problem.GetProperty("errors").GetRawText().ShouldContain("100 GiB");
        (await InstancesApi.AccountProvisionedAsync(app, tenant.AccountId)).ShouldBe(0);
    }

    [Fact]
    public async Task UnsafeOrIncompleteUploads_AreRefused_AndTheUploadIsKept()
    {
        var tenant = await InstancesApi.TenantAsync(app, quantity: 1);
        var backed = Path.Combine(_dir, "backed.qcow2");
        ExternalTools.QemuImg("create", "-q", "-f", "qcow2", "-b", "/etc/passwd", "-F", "raw", backed, "1M");
        var upload = await UploadsApi.CompleteAsync(tenant.Client, await File.ReadAllBytesAsync(backed, Ct));
        var half = await UploadsApi.HalfUploadAsync(tenant.Client);

        await (await UploadsApi.PostImageAsync(tenant.Client, upload.Id, "sneaky")).ProblemAsync(HttpStatusCode.BadRequest, "ovf-disk-refused");
        await (await UploadsApi.PostImageAsync(tenant.Client, half.Id, "half")).ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
        await (await UploadsApi.PostImageAsync(tenant.Client, upload.Id, "")).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");

        (await (await tenant.Client.GetAsync($"/api/v1/uploads/{upload.Id}", Ct)).ReadAsync<UploadView>()).State.ShouldBe(UploadState.Complete);
        (await (await tenant.Client.GetAsync("/api/v1/account-images", Ct)).ReadAsync<Page<AccountImageView>>()).Items.ShouldBeEmpty();
    }

    [Fact]
    public async Task AccountImages_CountAgainstTheAccountsLimit_AndDeleteFreesOne()
    {
        var tenant = await InstancesApi.TenantAsync(app, quantity: 1);
        var first = await UploadsApi.AccountImageAsync(tenant.Client, "one");
        await UploadsApi.AccountImageAsync(tenant.Client, "two");
        var third = await UploadsApi.CompleteAsync(tenant.Client, UploadsApi.Disk());

        await (await UploadsApi.PostImageAsync(tenant.Client, third.Id, "three")).ProblemAsync(HttpStatusCode.Conflict, "image-limit");
        var deleted = await (await tenant.Client.DeleteAsync($"/api/v1/account-images/{first.Id}", Ct)).ReadAsync<AccountImageView>();
        deleted.State.ShouldBe(ImageState.Deleted);
        File.Exists(BlobPath(first.Sha256)).ShouldBeFalse();

        (await (await UploadsApi.PostImageAsync(tenant.Client, third.Id, "three")).ReadAsync<AccountImageView>(HttpStatusCode.Created)).Name.ShouldBe("three");
        var refused = await tenant.Client.PostProvisionAsync(new ProvisionRequest(tenant.Contract.Id, VirtualSystems: [new VirtualSystemChoice("web", ImageId: first.Id)]));
        await refused.ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
    }

    private string BlobPath(string sha256) => Path.Combine(app.DataDir, "blobs", "sha256", sha256[..2], sha256);

    private string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }
}

using System.Net;
using Welkin.Contracts;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;

namespace Welkin.Server.Tests.Uploads;

/// <summary>Uploads, their limits and an account's own image on PostgreSQL, whose types and locks differ from SQLite's.</summary>
public sealed class PostgresUploadTests(PostgresWelkinApp app) : IClassFixture<PostgresWelkinApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Upload_InChunks_BecomesAnImageOfTheAccount_ThatAProvisionBoots()
    {
        var tenant = await InstancesApi.TenantAsync(app, quantity: 1);
        var disk = UploadsApi.Disk(600 * 512);
        var upload = await UploadsApi.CreateAsync(tenant.Client, disk);
        await (await UploadsApi.PutAsync(tenant.Client, upload.Id, disk, 0, 99_999)).ReadAsync<UploadView>();
        await (await UploadsApi.PutAsync(tenant.Client, upload.Id, disk, 50_000, 99_999)).ProblemAsync(HttpStatusCode.Conflict, "offset-mismatch");
        var done = await (await UploadsApi.PutAsync(tenant.Client, upload.Id, disk, 100_000, disk.Length - 1)).ReadAsync<UploadView>();
        var listed = await (await tenant.Client.GetAsync("/api/v1/uploads", Ct)).ReadAsync<Page<UploadView>>();
        var image = await (await UploadsApi.PostImageAsync(tenant.Client, upload.Id, "pg-disk")).ReadAsync<AccountImageView>(HttpStatusCode.Created);
        var images = await (await tenant.Client.GetAsync("/api/v1/account-images", Ct)).ReadAsync<Page<AccountImageView>>();
        var (job, instance) = await tenant.Client.ProvisionedAsync(new ProvisionRequest(tenant.Contract.Id, VirtualSystems: [new VirtualSystemChoice("web", ImageId: image.Id)]));

        done.State.ShouldBe(UploadState.Complete);
        listed.Items.ShouldHaveSingleItem().Id.ShouldBe(upload.Id);
        image.VirtualSizeBytes.ShouldBe(disk.Length);
        images.Items.ShouldBe([image]);
        job.State.ShouldBe(JobState.Succeeded);
        (await tenant.Client.GetMachineAsync(instance.Machines.Single())).ImageId.ShouldBe(image.Id);
        var deleted = await (await tenant.Client.DeleteAsync($"/api/v1/account-images/{image.Id}", Ct)).ReadAsync<AccountImageView>();
        deleted.State.ShouldBe(ImageState.Deleted);
    }
}

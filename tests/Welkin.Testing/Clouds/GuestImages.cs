using System.Net;
using System.Net.Http.Json;
using Welkin.Contracts;

namespace Welkin.Testing.Clouds;

/// <summary>The test guest as a cloud's provider registers it for its QEMU pools.</summary>
public static class GuestImages
{
    /// <summary>Uploads the test guest's kernel and initrd and an empty 64 MiB qcow2 disk, and sets how the disk boots; returns the disk image's id.</summary>
    public static async Task<string> RegisterAsync(HttpClient admin, TestGuest guest)
    {
        var ct = TestContext.Current.CancellationToken;
        async Task<ImageView> UploadAsync(string path, string name)
        {
            await using var file = File.OpenRead(path);
            using var content = new StreamContent(file);
            content.Headers.ContentType = new("application/octet-stream");
            return await (await admin.PostAsync($"/api/v1/images?name={name}", content, ct)).ReadAsync<ImageView>(HttpStatusCode.Created);
        }
        var disk = Path.Combine(Path.GetTempPath(), $"welkin-guest-disk-{Guid.NewGuid():n}.qcow2");
        await ExternalTools.QemuImgAsync("create", "-q", "-f", "qcow2", disk, "64M");
        try
        {
            var kernel = await UploadAsync(guest.Kernel, "test-guest-kernel");
            var ramdisk = await UploadAsync(guest.Initrd, "test-guest-initrd");
            var image = await UploadAsync(disk, "test-guest");
            image.Format.ShouldBe(ImageFormat.Qcow2);
            var booted = await (await admin.PutAsJsonAsync($"/api/v1/images/{image.Id}/boot",
                new ImageBoot(kernel.Id, ramdisk.Id, null, "welkin-guest ready"), WelkinJson.Client, ct)).ReadAsync<ImageView>();
            booted.Boot!.KernelImageId.ShouldBe(kernel.Id);
            return image.Id;
        }
        finally
        {
            File.Delete(disk);
        }
    }
}

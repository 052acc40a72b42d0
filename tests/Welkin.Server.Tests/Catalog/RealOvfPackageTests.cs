using System.Formats.Tar;
using System.Net;
using System.Net.Http.Headers;
using Welkin.Contracts;
using Welkin.Core.Catalog;
using Welkin.Testing;

namespace Welkin.Server.Tests.Catalog;

/// <summary>
/// Whole packages as real producers write them, imported through the API: VirtualBox's OVF 2.0 export of an
/// Ubuntu machine (descriptor, SHA-256 manifest and an 8 GiB streamOptimized disk of 68 KiB), unmodified, and
/// a Xen Orchestra VM export (Ovf/Data/public/README.md says where they come from). The default cloud's
/// image cap is used, as the disks' virtual sizes are over OvfApp's.
/// </summary>
public sealed class RealOvfPackageTests(WelkinApp app) : IClassFixture<WelkinApp>, IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly string Package = Path.Combine(AppContext.BaseDirectory, "Ovf", "Data", "public", "packages", "virtualbox-ovf20");

    private readonly string _dir = Directory.CreateTempSubdirectory("welkin-real-ovf-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The OVA: descriptor first, then the manifest, then the disk (DSP0243 5.3); <paramref name="disk"/> may change the disk's bytes.</summary>
    private static ByteArrayContent Ova(Func<byte[], byte[]>? disk = null)
    {
        using var ms = new MemoryStream();
        using (var writer = new TarWriter(ms, TarEntryFormat.Ustar, leaveOpen: true))
        {
            foreach (var name in (string[])["ubuntu.2.0.ovf", "ubuntu.2.0.mf", "ubuntu.2.0-disk1.vmdk"])
            {
                var data = File.ReadAllBytes(Path.Combine(Package, name));
                if (disk is not null && name.EndsWith(".vmdk", StringComparison.Ordinal))
                {
                    data = disk(data);
                }
                writer.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(data) });
            }
        }
        var body = new ByteArrayContent(ms.ToArray());
        body.Headers.ContentType = new MediaTypeHeaderValue("application/x-tar");
        return body;
    }

    [Fact]
    public async Task Import_VirtualBoxOvf20Package_ChecksItsManifestAndKeepsItsDisksContent()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);

        var result = await (await developer.PostAsync("/api/v1/templates/import", Ova(), Ct)).ReadAsync<OvfImportResult>(HttpStatusCode.Created);

        var vs = result.Template.VirtualSystems.ShouldHaveSingleItem();
        vs.Hardware.Vcpus.Default.ShouldBe(1);
        vs.Hardware.MemoryMiB.Default.ShouldBe(512);
        vs.Hardware.DiskGiB.Default.ShouldBe(8);
        var image = result.Images.ShouldHaveSingleItem();
        vs.ImageId.ShouldBe(image.Id);
        var copy = Path.Combine(_dir, image.Id + ".qcow2");
        await File.WriteAllBytesAsync(copy, await developer.GetByteArrayAsync($"/api/v1/images/{image.Id}/content", Ct), Ct);
        ExternalTools.QemuImg("compare", "-f", "vmdk", "-F", "qcow2", Path.Combine(Package, "ubuntu.2.0-disk1.vmdk"), copy);
    }

    [Fact]
    public async Task Import_VirtualBoxOvf20Package_WithOneDiskByteChanged_IsRefusedByItsManifest()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var changed = Ova(disk =>
        {
            var copy = (byte[])disk.Clone();
            copy[^1] ^= 1;
            return copy;
        });

        var problem = await (await developer.PostAsync("/api/v1/templates/import", changed, Ct)).ProblemAsync(HttpStatusCode.BadRequest, "ovf-digest-mismatch");

        (problem.GetProperty("detail").GetString() ?? "").ShouldContain("ubuntu.2.0-disk1.vmdk");
    }

    [Fact]
    public async Task Import_XenOrchestraExport_WithoutManifest_AndADiskNamedWithSpaces_CreatesTemplateWithTheDisksContent()
    {
        // Xen Orchestra's OVA: metadata.ovf, then "<VDI name label>.vmdk" (here "Debian Bookworm 12 0.vmdk",
        // 10240 MiB); no manifest. The disk is a generated one of that name and size.
        var descriptor = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Ovf", "Data", "corpus", "xen-orchestra-debian12.ovf"));
        var raw = Path.Combine(_dir, "vdi.raw");
        await using (var file = File.Create(raw))
        {
            var head = new byte[256 * 1024];
            new Random(18).NextBytes(head);
            file.Write(head);
            file.SetLength(10240L << 20);
        }
        var vmdk = Path.Combine(_dir, "Debian Bookworm 12 0.vmdk");
        ExternalTools.QemuImg("convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", raw, vmdk);
        using var ms = new MemoryStream();
        using (var writer = new TarWriter(ms, TarEntryFormat.Ustar, leaveOpen: true))
        {
            writer.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, "metadata.ovf") { DataStream = new MemoryStream(descriptor) });
            await writer.WriteEntryAsync(vmdk, "Debian Bookworm 12 0.vmdk", Ct);
        }
        var body = new ByteArrayContent(ms.ToArray());
        body.Headers.ContentType = new MediaTypeHeaderValue("application/x-tar");
        var developer = await app.ProviderPrincipalAsync(Role.Developer);

        var result = await (await developer.PostAsync("/api/v1/templates/import", body, Ct)).ReadAsync<OvfImportResult>(HttpStatusCode.Created);

        result.Template.Name.ShouldBe("Debian Bookworm 12");
        var vs = result.Template.VirtualSystems.ShouldHaveSingleItem();
        vs.Name.ShouldBe("debian-bookworm-12");
        vs.Hardware.DiskGiB.Default.ShouldBe(10);
        var image = result.Images.ShouldHaveSingleItem();
        var copy = Path.Combine(_dir, image.Id + ".qcow2");
        await File.WriteAllBytesAsync(copy, await developer.GetByteArrayAsync($"/api/v1/images/{image.Id}/content", Ct), Ct);
        ExternalTools.QemuImg("compare", "-f", "raw", "-F", "qcow2", raw, copy);
    }
}

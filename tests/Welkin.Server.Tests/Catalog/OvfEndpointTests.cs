using System.Formats.Tar;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Welkin.Contracts;
using Welkin.Core.Catalog;
using Welkin.Server.Tests.Contracts;
using Welkin.Core.Ovf;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;
using Welkin.Testing;

namespace Welkin.Server.Tests.Catalog;

/// <summary>A cloud whose image limit (8 MiB) a test disk can exceed.</summary>
public sealed class OvfApp : WelkinApp
{
    public const long MaxImageBytes = 8 * 1024 * 1024;

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Welkin:MaxImageBytes"] = MaxImageBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    public string WorkDirectory => Path.Combine(DataDir, "ovf-work");
}

public sealed class OvfEndpointTests(OvfApp app) : IClassFixture<OvfApp>, IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private readonly string _dir = Directory.CreateTempSubdirectory("welkin-ovf-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // ---- disks and packages ---------------------------------------------------------------------

    /// <summary>A raw disk of <paramref name="bytes"/> with a recognisable pattern (so compare has something to compare).</summary>
    private string RawDisk(string name, int bytes, int seed)
    {
        var content = new byte[bytes];
        new Random(seed).NextBytes(content.AsSpan(0, Math.Min(bytes, 256 * 1024)));
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, content);
        return path;
    }

    private string Convert(string raw, string name, string format, params string[] options)
    {
        var path = Path.Combine(_dir, name);
        ExternalTools.QemuImg(["convert", "-f", "raw", "-O", format, .. options, raw, path]);
        return path;
    }

    private static async Task<byte[]> OvaAsync(byte[] envelope, params (string Name, string Path)[] disks)
    {
        using var buffer = new MemoryStream();
        await OvfWriter.WriteOvaAsync(buffer, "package.ovf", envelope,
            disks.Select(d => new OvfExportDisk(d.Name, d.Path, new FileInfo(d.Path).Length, 0)).ToList(), Ct);
        return buffer.ToArray();
    }

    private static byte[] Envelope(TemplateSpec spec, params (string Name, string Path)[] disks) =>
        OvfWriter.Envelope(spec.Name, spec.Description,
            spec.VirtualSystems.Select((vs, i) => new OvfExportSystem(vs, i < disks.Length ? new OvfExportDisk(disks[i].Name, disks[i].Path, new FileInfo(disks[i].Path).Length, 1L << 20) : null)).ToList(),
            spec.VirtualSystems.Count > 1);

    private static ByteArrayContent Ova(byte[] content)
    {
        var body = new ByteArrayContent(content);
        body.Headers.ContentType = new MediaTypeHeaderValue("application/x-tar");
        return body;
    }

    private static Task<HttpResponseMessage> ImportAsync(HttpClient client, byte[] ova) => client.PostAsync("/api/v1/templates/import", Ova(ova), Ct);

    private async Task<int> ImageCountAsync()
    {
        var page = await (await app.Admin().GetAsync("/api/v1/images?limit=500", Ct)).ReadAsync<Page<ImageView>>();
        return page.Items.Count;
    }

    private async Task<string> DownloadImageAsync(HttpClient client, ImageView image)
    {
        var path = Path.Combine(_dir, image.Id + ".qcow2");
        await File.WriteAllBytesAsync(path, await client.GetByteArrayAsync($"/api/v1/images/{image.Id}/content", Ct), Ct);
        return path;
    }

    private static string Json(object value) => JsonSerializer.Serialize(value, WelkinJson.Client);

    private static IReadOnlyList<VirtualSystemSpec> WithoutImages(IReadOnlyList<VirtualSystemSpec> systems) =>
        systems.Select(s => s with { ImageId = null, DataVolumes = s.DataVolumes?.Select(d => d with { ImageId = null }).ToList() }).ToList();

    private async Task<List<(string Name, byte[] Data)>> EntriesAsync(HttpResponseMessage response)
    {
        var entries = new List<(string, byte[])>();
        await using var tar = new TarReader(await response.Content.ReadAsStreamAsync(Ct));
        while (await tar.GetNextEntryAsync(copyData: true, Ct) is { } entry)
        {
            using var data = new MemoryStream();
            await entry.DataStream!.CopyToAsync(data, Ct);
            entries.Add((entry.Name, data.ToArray()));
        }
        return entries;
    }

    // ---- import -------------------------------------------------------------------------------

    [Fact]
    public async Task Import_WhenStreamOptimizedVmdk_CreatesDraftTemplateWithQcow2ImageOfTheSameContent()
    {
        var raw = RawDisk("a.raw", 2 << 20, 1);
        var vmdk = Convert(raw, "web-disk1.vmdk", "vmdk", "-o", "subformat=streamOptimized");
        var spec = CatalogApi.Template(CatalogApi.UniquePrefix("ovf") + "import");
        var developer = await app.ProviderPrincipalAsync(Role.Developer);

        var result = await (await ImportAsync(developer, await OvaAsync(Envelope(spec, ("web-disk1.vmdk", vmdk)), ("web-disk1.vmdk", vmdk)))).ReadAsync<OvfImportResult>(HttpStatusCode.Created);

        result.Template.State.ShouldBe(TemplateState.Draft);
        result.Template.Name.ShouldBe(spec.Name);
        result.Images.Count.ShouldBe(1);
        result.Images[0].Format.ShouldBe(ImageFormat.Qcow2);
        result.Template.VirtualSystems[0].ImageId.ShouldBe(result.Images[0].Id);
        ExternalTools.QemuImg("compare", "-f", "raw", "-F", "qcow2", raw, await DownloadImageAsync(developer, result.Images[0]));
        Directory.EnumerateFileSystemEntries(app.WorkDirectory).ShouldBeEmpty();
    }

    [Fact]
    public async Task Import_WhenDiskIsGzipCompressed_InflatesAndConvertsIt()
    {
        var raw = RawDisk("z.raw", 2 << 20, 12);
        var qcow2 = Convert(raw, "z.qcow2", "qcow2");
        var gzipped = Path.Combine(_dir, "web-disk1.qcow2");
        await using (var source = File.OpenRead(qcow2))
        await using (var target = File.Create(gzipped))
        await using (var gzip = new System.IO.Compression.GZipStream(target, System.IO.Compression.CompressionLevel.Fastest))
        {
            await source.CopyToAsync(gzip, Ct);
        }
        var spec = CatalogApi.Template(CatalogApi.UniquePrefix("ovf") + "gzip");
        var envelope = Encoding.UTF8.GetString(Envelope(spec, ("web-disk1.qcow2", gzipped)))
            .Replace("ovf:href=\"web-disk1.qcow2\"", "ovf:href=\"web-disk1.qcow2\" ovf:compression=\"gzip\"", StringComparison.Ordinal);
        var developer = await app.ProviderPrincipalAsync(Role.Developer);

        var result = await (await ImportAsync(developer, await OvaAsync(Encoding.UTF8.GetBytes(envelope), ("web-disk1.qcow2", gzipped))))
            .ReadAsync<OvfImportResult>(HttpStatusCode.Created);

        ExternalTools.QemuImg("compare", "-f", "raw", "-F", "qcow2", raw, await DownloadImageAsync(developer, result.Images.ShouldHaveSingleItem()));
    }

    [Fact]
    public async Task Import_PublicOvftoolSample_WithStandInDisk_CreatesTemplate()
    {
        // The sample comes without its disk: a small generated one of the referenced name stands
        // in, and the descriptor's ovf:size is set to that disk's size.
        var descriptor = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "Ovf", "Data", "public", "ovftool-tinycorelinux.ovf"), Ct);
        var vmdk = Convert(RawDisk("t.raw", 1 << 20, 2), "TinyCoreLinux-disk1.vmdk", "vmdk", "-o", "subformat=streamOptimized");
        descriptor = Regex.Replace(descriptor, "ovf:size=\"[0-9]+\"", $"ovf:size=\"{new FileInfo(vmdk).Length}\"");
        var developer = await app.ProviderPrincipalAsync(Role.Developer);

        var result = await (await ImportAsync(developer, await OvaAsync(Encoding.UTF8.GetBytes(descriptor), ("TinyCoreLinux-disk1.vmdk", vmdk))))
            .ReadAsync<OvfImportResult>(HttpStatusCode.Created);

        var vs = result.Template.VirtualSystems.ShouldHaveSingleItem();
        vs.Hardware.Vcpus.Default.ShouldBe(1);
        vs.Hardware.MemoryMiB.Default.ShouldBe(256);
        vs.ImageId.ShouldBe(result.Images.ShouldHaveSingleItem().Id);
    }

    [Fact]
    public async Task Import_PublicVAppOfTwoMachines_CreatesTwoTierTemplateWithAnImageEach()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Ovf", "Data", "public", "ovftool-vapp-with-2vms.ovf");
        var descriptor = await File.ReadAllTextAsync(path, Ct);
        var disk1 = Convert(RawDisk("v1.raw", 1 << 20, 3), "vApp_with_2vms-disk1.vmdk", "vmdk", "-o", "subformat=streamOptimized");
        var disk2 = Convert(RawDisk("v2.raw", 1 << 20, 4), "vApp_with_2vms-disk2.vmdk", "vmdk", "-o", "subformat=streamOptimized");
        descriptor = descriptor.Replace("ovf:size=\"", "ovf:sizeWas=\"", StringComparison.Ordinal);
        var developer = await app.ProviderPrincipalAsync(Role.Developer);

        var result = await (await ImportAsync(developer, await OvaAsync(Encoding.UTF8.GetBytes(descriptor),
            ("vApp_with_2vms-disk1.vmdk", disk1), ("vApp_with_2vms-disk2.vmdk", disk2)))).ReadAsync<OvfImportResult>(HttpStatusCode.Created);

        result.Template.VirtualSystems.Count.ShouldBe(2);
        result.Images.Count.ShouldBe(2);
        result.Template.VirtualSystems.Select(v => v.ImageId).ShouldBe(result.Images.Select(i => i.Id), ignoreOrder: true);
    }

    [Fact]
    public async Task Import_WhenQcow2HasBackingFile_Returns400AndCreatesNothing()
    {
        var raw = RawDisk("base.raw", 1 << 20, 5);
        var overlay = Path.Combine(_dir, "web-disk1.qcow2");
        ExternalTools.QemuImg("create", "-f", "qcow2", "-b", raw, "-F", "raw", overlay);
        var spec = CatalogApi.Template(CatalogApi.UniquePrefix("ovf") + "backing");
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var before = await ImageCountAsync();

        var problem = await (await ImportAsync(developer, await OvaAsync(Envelope(spec, ("web-disk1.qcow2", overlay)), ("web-disk1.qcow2", overlay))))
            .ProblemAsync(HttpStatusCode.BadRequest, "ovf-disk-refused");

        (problem.GetProperty("detail").GetString() ?? "").ShouldContain("backing file");
        (await ImageCountAsync()).ShouldBe(before);
        Directory.EnumerateFileSystemEntries(app.WorkDirectory).ShouldBeEmpty();
    }

    [Fact]
    public async Task Import_WhenVmdkDescriptorNamesExtentFiles_Returns400()
    {
        var descriptor = Path.Combine(_dir, "web-disk1.vmdk");
        ExternalTools.QemuImg("create", "-f", "vmdk", "-o", "subformat=twoGbMaxExtentFlat", descriptor, "1M");
        var spec = CatalogApi.Template(CatalogApi.UniquePrefix("ovf") + "extents");
        var developer = await app.ProviderPrincipalAsync(Role.Developer);

        var problem = await (await ImportAsync(developer, await OvaAsync(Envelope(spec, ("web-disk1.vmdk", descriptor)), ("web-disk1.vmdk", descriptor))))
            .ProblemAsync(HttpStatusCode.BadRequest, "ovf-disk-refused");

        (problem.GetProperty("detail").GetString() ?? "").ShouldContain("extent");
    }

    [Fact]
    public async Task Import_WhenSparseVmdkNamesAParentDisk_Returns400()
    {
        // A "KDMV" sparse extent whose embedded descriptor has a parentFileNameHint: qemu-img would follow it.
        var parent = Path.Combine(_dir, "parent.vmdk");
        ExternalTools.QemuImg("create", "-f", "vmdk", parent, "1M");
        var child = Path.Combine(_dir, "web-disk1.vmdk");
        ExternalTools.QemuImg("create", "-f", "vmdk", "-b", parent, "-F", "vmdk", child);
        var spec = CatalogApi.Template(CatalogApi.UniquePrefix("ovf") + "parent");
        var developer = await app.ProviderPrincipalAsync(Role.Developer);

        var problem = await (await ImportAsync(developer, await OvaAsync(Envelope(spec, ("web-disk1.vmdk", child)), ("web-disk1.vmdk", child))))
            .ProblemAsync(HttpStatusCode.BadRequest, "ovf-disk-refused");

        (problem.GetProperty("detail").GetString() ?? "").ShouldContain("backing file");
    }

    [Fact]
    public async Task Import_WhenSecondDiskRefused_DeletesTheImageMadeForTheFirst()
    {
        var good = Convert(RawDisk("g.raw", 1 << 20, 6), "web-disk1.vmdk", "vmdk", "-o", "subformat=streamOptimized");
        var bad = Path.Combine(_dir, "db-disk1.qcow2");
        ExternalTools.QemuImg("create", "-f", "qcow2", "-b", good, "-F", "vmdk", bad);
        var spec = new TemplateSpec(CatalogApi.UniquePrefix("ovf") + "half", [
            CatalogApi.Template("x").VirtualSystems[0],
            CatalogApi.Template("x").VirtualSystems[0] with { Name = "db" },
        ]);
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var before = await ImageCountAsync();

        await (await ImportAsync(developer, await OvaAsync(Envelope(spec, ("web-disk1.vmdk", good), ("db-disk1.qcow2", bad)), ("web-disk1.vmdk", good), ("db-disk1.qcow2", bad))))
            .ProblemAsync(HttpStatusCode.BadRequest, "ovf-disk-refused");

        (await ImageCountAsync()).ShouldBe(before);
        var templates = await (await app.Admin().GetAsync($"/api/v1/templates?namePrefix={Uri.EscapeDataString(spec.Name)}", Ct)).ReadAsync<Page<TemplateView>>();
        templates.Items.ShouldBeEmpty();
    }

    [Fact]
    public async Task Import_WhenDiskVirtualSizeOverTheImageCap_Returns413()
    {
        var qcow2 = Path.Combine(_dir, "web-disk1.qcow2");
        ExternalTools.QemuImg("create", "-f", "qcow2", qcow2, "16M");
        var spec = CatalogApi.Template(CatalogApi.UniquePrefix("ovf") + "big");
        var developer = await app.ProviderPrincipalAsync(Role.Developer);

        await (await ImportAsync(developer, await OvaAsync(Envelope(spec, ("web-disk1.qcow2", qcow2)), ("web-disk1.qcow2", qcow2))))
            .ProblemAsync(HttpStatusCode.RequestEntityTooLarge, "ovf-too-large");
    }

    [Fact]
    public async Task Import_WhenBodyOverTheCap_Returns413()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);

        var response = await ImportAsync(developer, new byte[OvfApp.MaxImageBytes + 1024]);

        response.StatusCode.ShouldBe(HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task Import_WhenEnvelopeNests100000Elements_Returns400NamingTheLimit()
    {
        var deep = "<Envelope xmlns=\"http://schemas.dmtf.org/ovf/envelope/1\"><References/>"
            + string.Concat(Enumerable.Repeat("<a>", 100_000)) + string.Concat(Enumerable.Repeat("</a>", 100_000)) + "</Envelope>";
        var developer = await app.ProviderPrincipalAsync(Role.Developer);

        var problem = await (await ImportAsync(developer, await OvaAsync(Encoding.UTF8.GetBytes(deep)))).ProblemAsync(HttpStatusCode.BadRequest, "ovf-too-deep");

        problem.GetProperty("detail").GetString()!.ShouldContain(OvfReader.MaxElementDepth.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Import_WhenEnvelopeDeclaresADtd_Returns400()
    {
        var hostile = """
            <?xml version="1.0"?>
            <!DOCTYPE Envelope [<!ENTITY x SYSTEM "file:///etc/passwd">]>
            <Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"><References/>&x;</Envelope>
            """;
        var developer = await app.ProviderPrincipalAsync(Role.Developer);

        await (await ImportAsync(developer, await OvaAsync(Encoding.UTF8.GetBytes(hostile)))).ProblemAsync(HttpStatusCode.BadRequest, "ovf-dtd-prohibited");
    }

    [Fact]
    public async Task Import_WhenDigestDoesNotMatchTheManifest_Returns400()
    {
        var vmdk = Convert(RawDisk("d.raw", 1 << 20, 7), "web-disk1.vmdk", "vmdk", "-o", "subformat=streamOptimized");
        var spec = CatalogApi.Template(CatalogApi.UniquePrefix("ovf") + "digest");
        var ova = await OvaAsync(Envelope(spec, ("web-disk1.vmdk", vmdk)), ("web-disk1.vmdk", vmdk));
        ova[^2048] ^= 0xff; // in the disk's last bytes, before the tar's end blocks
        var developer = await app.ProviderPrincipalAsync(Role.Developer);

        await (await ImportAsync(developer, ova)).ProblemAsync(HttpStatusCode.BadRequest, "ovf-digest-mismatch");
    }

    [Theory]
    [InlineData(Role.CatalogManager)]
    [InlineData(Role.Auditor)]
    public async Task Import_WithoutTemplateAndImageWrite_Returns403(Role role)
    {
        var client = await app.ProviderPrincipalAsync(role);

        await (await ImportAsync(client, [1, 2, 3])).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
    }

    // ---- export -------------------------------------------------------------------------------

    [Fact]
    public async Task ExportTemplate_ThenImport_GivesAnEqualTemplateAndDisksWithEqualContent()
    {
        var raw = RawDisk("r.raw", 3 << 20, 8);
        var qcow2 = Convert(raw, "r.qcow2", "qcow2");
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var upload = new ByteArrayContent(await File.ReadAllBytesAsync(qcow2, Ct));
        upload.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        var image = await (await developer.PostAsync("/api/v1/images?name=rt", upload, Ct)).ReadAsync<ImageView>(HttpStatusCode.Created);
        var flexible = CatalogApi.FlexibleTemplate(CatalogApi.UniquePrefix("ovf") + "roundtrip");
        var spec = flexible with
        {
            Description = "Round trip",
            VirtualSystems = [flexible.VirtualSystems[0] with { ImageId = image.Id }, CatalogApi.Template("x").VirtualSystems[0] with { Name = "db" }],
        };
        var template = await developer.CreateTemplateAsync(spec);
        var catalogManager = await app.ProviderPrincipalAsync(Role.CatalogManager);

        var response = await catalogManager.GetAsync($"/api/v1/templates/{template.Id}/export", Ct);

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Headers.GetValues(OvfExportHeaders.DiskSource).ShouldBe([OvfDiskSource.Image]);
        var ova = await response.Content.ReadAsByteArrayAsync(Ct);
        var entries = await EntriesAsync(new HttpResponseMessage { Content = new ByteArrayContent(ova) });
        entries.Select(e => Path.GetExtension(e.Name)).ShouldBe([".ovf", ".mf", ".vmdk"]);
        var vmdk = Path.Combine(_dir, "exported.vmdk");
        await File.WriteAllBytesAsync(vmdk, entries[2].Data, Ct);
        ExternalTools.QemuImg("info", "-f", "vmdk", vmdk).ShouldContain("streamOptimized");
        Encoding.ASCII.GetString(entries[1].Data).ShouldStartWith($"SHA256({entries[0].Name})= ");

        var back = await (await ImportAsync(developer, ova)).ReadAsync<OvfImportResult>(HttpStatusCode.Created);

        back.Template.Name.ShouldBe(template.Name);
        back.Template.Description.ShouldBe(template.Description);
        Json(WithoutImages(back.Template.VirtualSystems)).ShouldBe(Json(WithoutImages(template.VirtualSystems)));
        back.Template.VirtualSystems[1].ImageId.ShouldBeNull();
        ExternalTools.QemuImg("compare", "-f", "raw", "-F", "qcow2", raw, await DownloadImageAsync(developer, back.Images.ShouldHaveSingleItem()));
    }

    /// <summary>Exports the template and imports the package back, checking what the package holds.</summary>
    private async Task<(OvfImportResult Back, List<(string Name, byte[] Data)> Entries)> ExportAndImportAsync(HttpClient developer, string templateId)
    {
        var catalogManager = await app.ProviderPrincipalAsync(Role.CatalogManager);
        var response = await catalogManager.GetAsync($"/api/v1/templates/{templateId}/export", Ct);
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var ova = await response.Content.ReadAsByteArrayAsync(Ct);
        var entries = await EntriesAsync(new HttpResponseMessage { Content = new ByteArrayContent(ova) });
        var back = await (await ImportAsync(developer, ova)).ReadAsync<OvfImportResult>(HttpStatusCode.Created);
        return (back, entries);
    }

    private async Task<string> ImageOfAsync(HttpClient client, OvfImportResult result, string? imageId) =>
        await DownloadImageAsync(client, result.Images.Single(i => i.Id == imageId.ShouldNotBeNull()));

    [Fact]
    public async Task Import_SeveralDisks_ThenExportAndImport_GivesAnEqualTemplateWithDataVolumesOfEqualContent()
    {
        // A system disk, an image-backed data volume with a second size, an empty one, one left out
        // by default and one included by default that may be left out; and a second tier.
        var systemRaw = RawDisk("s.raw", 3 << 20, 21);
        var dataRaw = RawDisk("d.raw", 2 << 20, 22);
        var systemVmdk = Convert(systemRaw, "app-disk1.vmdk", "vmdk", "-o", "subformat=streamOptimized");
        var dataVmdk = Convert(dataRaw, "app-seeded.vmdk", "vmdk", "-o", "subformat=streamOptimized");
        var flexible = CatalogApi.FlexibleTemplate(CatalogApi.UniquePrefix("ovf") + "volumes");
        var spec = flexible with
        {
            Description = "Data volumes",
            VirtualSystems =
            [
                flexible.VirtualSystems[0] with
                {
                    DataVolumes =
                    [
                        new DataVolumeSpec("seeded", new Choice<long>([1, 2], 1)),
                        new DataVolumeSpec("scratch", new Choice<long>([4], 4)),
                        new DataVolumeSpec("logs", new Choice<long>([0, 8], 0)),
                        new DataVolumeSpec("cache", new Choice<long>([0, 3], 3)),
                    ],
                },
                CatalogApi.Template("x").VirtualSystems[0] with { Name = "db" },
            ],
        };
        var envelope = OvfWriter.Envelope(spec.Name, spec.Description,
        [
            new OvfExportSystem(spec.VirtualSystems[0], new OvfExportDisk("app-disk1.vmdk", systemVmdk, new FileInfo(systemVmdk).Length, 3 << 20),
                [new OvfExportDisk("app-seeded.vmdk", dataVmdk, new FileInfo(dataVmdk).Length, 2 << 20), null, null, null]),
            new OvfExportSystem(spec.VirtualSystems[1], null),
        ], collection: true);
        var developer = await app.ProviderPrincipalAsync(Role.Developer);

        var first = await (await ImportAsync(developer, await OvaAsync(envelope, ("app-disk1.vmdk", systemVmdk), ("app-seeded.vmdk", dataVmdk))))
            .ReadAsync<OvfImportResult>(HttpStatusCode.Created);

        Json(WithoutImages(first.Template.VirtualSystems)).ShouldBe(Json(WithoutImages(spec.VirtualSystems)));
        first.Images.Count.ShouldBe(2);
        var app1 = first.Template.VirtualSystems[0];
        app1.DataVolumes!.Select(d => d.ImageId is not null).ShouldBe([true, false, false, false]);
        ExternalTools.QemuImg("compare", "-f", "raw", "-F", "qcow2", systemRaw, await ImageOfAsync(developer, first, app1.ImageId));
        ExternalTools.QemuImg("compare", "-f", "raw", "-F", "qcow2", dataRaw, await ImageOfAsync(developer, first, app1.DataVolumes![0].ImageId));

        var (second, entries) = await ExportAndImportAsync(developer, first.Template.Id);

        entries.Select(e => e.Name).ShouldBe([$"{first.Template.Id}-v1.ovf", $"{first.Template.Id}-v1.mf", "app-disk1.vmdk", "app-seeded.vmdk"]);
        second.Template.Name.ShouldBe(first.Template.Name);
        second.Template.Description.ShouldBe(first.Template.Description);
        Json(WithoutImages(second.Template.VirtualSystems)).ShouldBe(Json(WithoutImages(first.Template.VirtualSystems)));
        var app2 = second.Template.VirtualSystems[0];
        app2.DataVolumes!.Select(d => d.ImageId is not null).ShouldBe([true, false, false, false]);
        second.Template.VirtualSystems[1].ImageId.ShouldBeNull();
        ExternalTools.QemuImg("compare", "-f", "qcow2", "-F", "qcow2", await ImageOfAsync(developer, first, app1.ImageId), await ImageOfAsync(developer, second, app2.ImageId));
        ExternalTools.QemuImg("compare", "-f", "qcow2", "-F", "qcow2",
            await ImageOfAsync(developer, first, app1.DataVolumes![0].ImageId), await ImageOfAsync(developer, second, app2.DataVolumes![0].ImageId));
        Directory.EnumerateFileSystemEntries(app.WorkDirectory).ShouldBeEmpty();
    }

    [Fact]
    public async Task Import_RealSeveralDiskDescriptor_WithSmallDisks_MapsItsDisks_AndRoundTrips()
    {
        // VMware's VCF Operations cloud proxy 9.1 descriptor (corpus): a system disk, two data disks
        // and a disk that only two of its four deployment configurations have, each with a file.
        // Small generated disks of the referenced names stand in for the real ones.
        var descriptor = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "Ovf", "Data", "corpus", "vmware-ops-cloud-proxy-9.1.ovf"), Ct);
        descriptor = descriptor.Replace("ovf:size=\"", "ovf:sizeWas=\"", StringComparison.Ordinal);
        var names = new[] { "system", "data", "cloud-components", "unified" };
        var raws = names.Select((n, i) => RawDisk($"{n}.raw", (i + 1) << 20, 30 + i)).ToArray();
        var disks = names.Select((n, i) => ($"Operations-Cloud-Proxy-9.1.0.0.25262086-{n}.vmdk",
            Convert(raws[i], $"Operations-Cloud-Proxy-9.1.0.0.25262086-{n}.vmdk", "vmdk", "-o", "subformat=streamOptimized"))).ToArray();
        var developer = await app.ProviderPrincipalAsync(Role.Developer);

        var first = await (await ImportAsync(developer, await OvaAsync(Encoding.UTF8.GetBytes(descriptor), disks))).ReadAsync<OvfImportResult>(HttpStatusCode.Created);

        var vs = first.Template.VirtualSystems.ShouldHaveSingleItem();
        vs.Hardware.DiskGiB.Allowed.ShouldBe([20L]);
        vs.DataVolumes!.Select(d => $"{d.Name} [{string.Join(",", d.SizeGiB.Allowed)}] {d.SizeGiB.Default}")
            .ShouldBe(["data [120] 120", "cloud-components [4] 4", "unified [0,120] 0"]);
        first.Images.Count.ShouldBe(4);
        var contents = new[] { vs.ImageId }.Concat(vs.DataVolumes!.Select(d => d.ImageId)).ToArray();
        for (var i = 0; i < names.Length; i++)
        {
            ExternalTools.QemuImg("compare", "-f", "raw", "-F", "qcow2", raws[i], await ImageOfAsync(developer, first, contents[i]));
        }

        var (second, _) = await ExportAndImportAsync(developer, first.Template.Id);

        Json(WithoutImages(second.Template.VirtualSystems)).ShouldBe(Json(WithoutImages(first.Template.VirtualSystems)));
        var back = second.Template.VirtualSystems[0];
        var backContents = new[] { back.ImageId }.Concat(back.DataVolumes!.Select(d => d.ImageId)).ToArray();
        for (var i = 0; i < names.Length; i++)
        {
            ExternalTools.QemuImg("compare", "-f", "raw", "-F", "qcow2", raws[i], await ImageOfAsync(developer, second, backContents[i]));
        }
    }

    [Fact]
    public async Task ExportMachine_OnTheSimulatedFabric_SendsTheMachinesImageAndSaysSo()
    {
        var raw = RawDisk("m.raw", 1 << 20, 9);
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var upload = new ByteArrayContent(await File.ReadAllBytesAsync(raw, Ct));
        upload.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        var image = await (await developer.PostAsync("/api/v1/images?name=machine", upload, Ct)).ReadAsync<ImageView>(HttpStatusCode.Created);
        var spec = CatalogApi.Template(CatalogApi.UniquePrefix("ovf") + "machine", vcpus: 1, memoryMiB: 512);
        var tenant = await InstancesApi.TenantAsync(app, quantity: 1, template: spec with { VirtualSystems = [spec.VirtualSystems[0] with { ImageId = image.Id }] });
        var (_, instance) = await tenant.Client.ProvisionedAsync(new ProvisionRequest(tenant.Contract.Id));

        var machine = await tenant.Client.GetAsync($"/api/v1/machines/{instance.Machines[0]}/export", Ct);
        var whole = await tenant.Client.GetAsync($"/api/v1/instances/{instance.Id}/export", Ct);

        machine.StatusCode.ShouldBe(HttpStatusCode.OK);
        machine.Headers.GetValues(OvfExportHeaders.DiskSource).ShouldBe([OvfDiskSource.Image]);
        var entries = await EntriesAsync(machine);
        var envelope = OvfReader.Read(entries[0].Data);
        envelope.IsSuccess.ShouldBeTrue(envelope.Error?.Detail);
        var system = envelope.Value.Content.ShouldBeOfType<OvfVirtualSystem>();
        system.Hardware.Single(i => i.ResourceType == OvfHardwareItem.Processor).VirtualQuantity.ShouldBe(1);
        system.Hardware.Single(i => i.ResourceType == OvfHardwareItem.Memory).VirtualQuantity.ShouldBe(512);
        var vmdk = Path.Combine(_dir, "machine.vmdk");
        await File.WriteAllBytesAsync(vmdk, entries[2].Data, Ct);
        ExternalTools.QemuImg("compare", "-f", "raw", "-F", "vmdk", raw, vmdk);

        whole.StatusCode.ShouldBe(HttpStatusCode.OK);
        var collection = OvfReader.Read((await EntriesAsync(whole))[0].Data);
        collection.Value.Content.ShouldBeOfType<OvfVirtualSystemCollection>().VirtualSystems().Count().ShouldBe(1);
    }

    [Fact]
    public async Task ExportMachine_WithDataDisks_ThenImport_GivesATemplateWithTheSameDataVolumesAndContent()
    {
        var systemRaw = RawDisk("ms.raw", 1 << 20, 41);
        var dataRaw = RawDisk("md.raw", 2 << 20, 42);
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        async Task<ImageView> UploadAsync(string path, string name)
        {
            var upload = new ByteArrayContent(await File.ReadAllBytesAsync(path, Ct));
            upload.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            return await (await developer.PostAsync($"/api/v1/images?name={name}", upload, Ct)).ReadAsync<ImageView>(HttpStatusCode.Created);
        }
        var systemImage = await UploadAsync(systemRaw, "dd-system");
        var dataImage = await UploadAsync(dataRaw, "dd-data");
        var spec = CatalogApi.Template(CatalogApi.UniquePrefix("ovf") + "disks", vcpus: 1, memoryMiB: 512);
        var web = spec.VirtualSystems[0] with
        {
            ImageId = systemImage.Id,
            DataVolumes = [new DataVolumeSpec("seeded", new Choice<long>([1, 2], 2), dataImage.Id), new DataVolumeSpec("scratch", new Choice<long>([3], 3))],
        };
        var tenant = await InstancesApi.TenantAsync(app, quantity: 1, template: spec with { VirtualSystems = [web] });
        var (_, instance) = await tenant.Client.ProvisionedAsync(new ProvisionRequest(tenant.Contract.Id));

        var exported = await tenant.Client.GetAsync($"/api/v1/machines/{instance.Machines[0]}/export", Ct);
        exported.StatusCode.ShouldBe(HttpStatusCode.OK);
        var ova = await exported.Content.ReadAsByteArrayAsync(Ct);
        var back = await (await ImportAsync(developer, ova)).ReadAsync<OvfImportResult>(HttpStatusCode.Created);

        var vs = back.Template.VirtualSystems.ShouldHaveSingleItem();
        vs.DataVolumes!.Select(d => $"{d.Name} [{string.Join(",", d.SizeGiB.Allowed)}] {d.SizeGiB.Default} {d.ImageId is not null}")
            .ShouldBe(["seeded [2] 2 True", "scratch [3] 3 False"]);
        ExternalTools.QemuImg("compare", "-f", "raw", "-F", "qcow2", systemRaw, await ImageOfAsync(developer, back, vs.ImageId));
        ExternalTools.QemuImg("compare", "-f", "raw", "-F", "qcow2", dataRaw, await ImageOfAsync(developer, back, vs.DataVolumes![0].ImageId));
    }

    [Fact]
    public async Task ExportMachine_OfAnotherTenant_Returns404()
    {
        var spec = CatalogApi.Template(CatalogApi.UniquePrefix("ovf") + "tenant", vcpus: 1, memoryMiB: 512);
        var tenant = await InstancesApi.TenantAsync(app, quantity: 1, template: spec);
        var (_, instance) = await tenant.Client.ProvisionedAsync(new ProvisionRequest(tenant.Contract.Id));
        var (_, other) = await app.SignUpAsync("other");

        await (await other.GetAsync($"/api/v1/machines/{instance.Machines[0]}/export", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        await (await other.GetAsync($"/api/v1/instances/{instance.Id}/export", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        var own = await tenant.Client.GetAsync($"/api/v1/machines/{instance.Machines[0]}/export", Ct);
        own.StatusCode.ShouldBe(HttpStatusCode.OK);
        own.Headers.GetValues(OvfExportHeaders.DiskSource).ShouldBe([OvfDiskSource.None]);
    }

    [Fact]
    public async Task ExportMachine_ByAViewerOrAnAuditor_Returns403_ForAnExportHandsOutTheDisk()
    {
        var spec = CatalogApi.Template(CatalogApi.UniquePrefix("ovf") + "viewer", vcpus: 1, memoryMiB: 512);
        var tenant = await InstancesApi.TenantAsync(app, quantity: 1, template: spec);
        var (_, instance) = await tenant.Client.ProvisionedAsync(new ProvisionRequest(tenant.Contract.Id));
        var viewer = await AccountPrincipals.CreateAsync(app, tenant.Client, Role.Viewer);
        var auditor = await app.ProviderPrincipalAsync(Role.Auditor);

        await (await viewer.GetAsync($"/api/v1/machines/{instance.Machines[0]}/export", Ct)).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await viewer.GetAsync($"/api/v1/instances/{instance.Id}/export", Ct)).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await auditor.GetAsync($"/api/v1/machines/{instance.Machines[0]}/export", Ct)).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        (await viewer.GetAsync($"/api/v1/machines/{instance.Machines[0]}", Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
    }
}

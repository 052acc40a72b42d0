using System.Formats.Tar;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Welkin.Contracts;
using Welkin.Core.Ovf;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Testing;
using Welkin.Testing.Images;

namespace Welkin.Server.Tests.Catalog;

/// <summary>A cloud whose image limit (32 MiB) holds a VHDX (qemu-img writes at least 9 MiB) and that a test disk can exceed.</summary>
public sealed class VhdApp : WelkinApp
{
    public const long MaxImageBytes = 32 * 1024 * 1024;

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Welkin:MaxImageBytes"] = MaxImageBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    public string WorkDirectory => Path.Combine(DataDir, "ovf-work");
}

/// <summary>
/// VHD (Virtual PC, Hyper-V; qemu-img's vpc) and VHDX disks, made by the real qemu-img from raw disks
/// of known content: converted to qcow2 where Welkin converts disks, never stored as they are.
/// </summary>
public sealed class VhdImportTests(VhdApp app) : IClassFixture<VhdApp>, IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private readonly string _dir = Directory.CreateTempSubdirectory("welkin-vhd-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string RawDisk(string name, int bytes, int seed)
    {
        var content = new byte[bytes];
        new Random(seed).NextBytes(content.AsSpan(0, Math.Min(bytes, 256 * 1024)));
        new Random(seed + 1).NextBytes(content.AsSpan(bytes - (64 * 1024)));
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, content);
        return path;
    }

    private string Convert(string raw, string name, string format, string options)
    {
        var path = Path.Combine(_dir, name);
        ExternalTools.QemuImg("convert", "-f", "raw", "-O", format, "-o", options, raw, path);
        return path;
    }

    private const string DynamicVhd = "subformat=dynamic";
    private const string FixedVhd = "subformat=fixed";
    private const string Vhdx = "subformat=dynamic,block_size=1M";

    private static byte[] Envelope(TemplateSpec spec, params (string Name, string Path)[] disks) =>
        OvfWriter.Envelope(spec.Name, spec.Description,
            spec.VirtualSystems.Select((vs, i) => new OvfExportSystem(vs, new OvfExportDisk(disks[i].Name, disks[i].Path, new FileInfo(disks[i].Path).Length, 1L << 20))).ToList(),
            spec.VirtualSystems.Count > 1);

    private static TemplateSpec Spec(string name, params string[] systems) =>
        new(CatalogApi.UniquePrefix("vhd") + name, systems.Select(s => CatalogApi.Template("x").VirtualSystems[0] with { Name = s }).ToList());

    private static async Task<byte[]> OvaAsync(byte[] envelope, params (string Name, string Path)[] disks)
    {
        using var buffer = new MemoryStream();
        await OvfWriter.WriteOvaAsync(buffer, "package.ovf", envelope,
            disks.Select(d => new OvfExportDisk(d.Name, d.Path, new FileInfo(d.Path).Length, 0)).ToList(), Ct);
        return buffer.ToArray();
    }

    private async Task<HttpResponseMessage> ImportAsync(byte[] ova)
    {
        var body = new ByteArrayContent(ova);
        body.Headers.ContentType = new MediaTypeHeaderValue("application/x-tar");
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        return await developer.PostAsync("/api/v1/templates/import", body, Ct);
    }

    private async Task<HttpResponseMessage> ImportOneAsync(string name, string disk)
    {
        var spec = Spec(name, "web");
        var href = "web-disk1" + Path.GetExtension(disk);
        return await ImportAsync(await OvaAsync(Envelope(spec, (href, disk)), (href, disk)));
    }

    private async Task<int> ImageCountAsync()
    {
        var page = await (await app.Admin().GetAsync("/api/v1/images?limit=500", Ct)).ReadAsync<Page<ImageView>>();
        return page.Items.Count;
    }

    /// <summary>qemu-img compare: the image shows the guest the raw disk's bytes (past the raw's end, zeros: VHD sizes round up to a CHS geometry).</summary>
    private async Task ShouldHoldAsync(ImageView image, string raw)
    {
        image.Format.ShouldBe(ImageFormat.Qcow2);
        var path = Path.Combine(_dir, image.Id + ".qcow2");
        await File.WriteAllBytesAsync(path, await app.Admin().GetByteArrayAsync($"/api/v1/images/{image.Id}/content", Ct), Ct);
        ExternalTools.QemuImg("info", "-f", "qcow2", path).ShouldNotContain("backing file");
        ExternalTools.QemuImg("compare", "-f", "raw", "-F", "qcow2", raw, path);
    }

    // ---- OVF import ----------------------------------------------------------------------------

    [Fact]
    public async Task Import_OvaWithDynamicVhdFixedVhdAndVhdx_ConvertsEachToQcow2WithTheSameContent()
    {
        var raws = new[] { RawDisk("web.raw", 1 << 20, 11), RawDisk("db.raw", 3 << 20, 12), RawDisk("cache.raw", 1 << 20, 13) };
        (string Name, string Path)[] disks =
        [
            ("web-disk1.vhd", Convert(raws[0], "web-disk1.vhd", "vpc", DynamicVhd)),
            ("db-disk1.vhd", Convert(raws[1], "db-disk1.vhd", "vpc", FixedVhd)),
            ("cache-disk1.vhdx", Convert(raws[2], "cache-disk1.vhdx", "vhdx", Vhdx)),
        ];
        var spec = Spec("three", "web", "db", "cache");

        var result = await (await ImportAsync(await OvaAsync(Envelope(spec, disks), disks))).ReadAsync<OvfImportResult>(HttpStatusCode.Created);

        result.Images.Count.ShouldBe(3);
        for (var i = 0; i < 3; i++)
        {
            var system = result.Template.VirtualSystems[i];
            var image = result.Images.Single(m => m.Id == system.ImageId);
            image.Name.ShouldEndWith("/ " + disks[i].Name);
            await ShouldHoldAsync(image, raws[i]);
        }
        Directory.EnumerateFileSystemEntries(app.WorkDirectory).ShouldBeEmpty();
    }

    [Fact]
    public async Task Import_FixedVhdWithTheOld511ByteFooter_ConvertsItWithoutTheFooter()
    {
        var raw = RawDisk("old.raw", 1 << 20, 14);
        var vhd = Convert(raw, "web-disk1.vhd", "vpc", FixedVhd);
        var bytes = await File.ReadAllBytesAsync(vhd, Ct);
        await File.WriteAllBytesAsync(vhd, bytes[..^1], Ct); // Virtual PC before 2004: no last reserved byte

        var result = await (await ImportOneAsync("old", vhd)).ReadAsync<OvfImportResult>(HttpStatusCode.Created);

        await ShouldHoldAsync(result.Images.ShouldHaveSingleItem(), raw);
    }

    [Fact]
    public async Task Import_ChunkedVhdWithAManifest_IsJoinedCheckedAndConverted()
    {
        // ovftool's form: ovf:chunkSize on the File, NAME.000000000, NAME.000000001, … each with its manifest line.
        const int chunkSize = 512 * 1024;
        var raw = RawDisk("chunked.raw", 1 << 20, 15);
        var vhd = Convert(raw, "web-disk1.vhd", "vpc", DynamicVhd);
        var spec = Spec("chunked", "web");
        var descriptor = Encoding.UTF8.GetString(Envelope(spec, ("web-disk1.vhd", vhd)))
            .Replace("ovf:href=\"web-disk1.vhd\"", $"ovf:href=\"web-disk1.vhd\" ovf:chunkSize=\"{chunkSize}\"", StringComparison.Ordinal);
        var chunks = (await File.ReadAllBytesAsync(vhd, Ct)).Chunk(chunkSize).Select((c, i) => (Name: OvaReader.ChunkName("web-disk1.vhd", i), Data: c)).ToList();
        chunks.Count.ShouldBeGreaterThan(1);
        List<(string Name, byte[] Data)> files = [("package.ovf", Encoding.UTF8.GetBytes(descriptor)), .. chunks];
        var manifest = string.Concat(files.Select(f => $"SHA256({f.Name})= {System.Convert.ToHexStringLower(SHA256.HashData(f.Data))}\n"));

        var result = await (await ImportAsync(Tar([files[0], ("package.mf", Encoding.ASCII.GetBytes(manifest)), .. chunks]))).ReadAsync<OvfImportResult>(HttpStatusCode.Created);
        await ShouldHoldAsync(result.Images.ShouldHaveSingleItem(), raw);

        chunks[1].Data[100] ^= 0xff;
        await (await ImportAsync(Tar([files[0], ("package.mf", Encoding.ASCII.GetBytes(manifest)), .. chunks]))).ProblemAsync(HttpStatusCode.BadRequest, "ovf-digest-mismatch");
    }

    [Theory]
    [InlineData("vhd")]
    [InlineData("vhdx")]
    public async Task Import_WhenDiskIsDifferencing_Returns400NamingItAndCreatesNothing(string kind)
    {
        var raw = RawDisk("parent.raw", 1 << 20, 16);
        var parent = kind == "vhd" ? Convert(raw, "parent.vhd", "vpc", DynamicVhd) : Convert(raw, "parent.vhdx", "vhdx", Vhdx);
        var child = Path.Combine(_dir, "web-disk1." + kind);
        var bytes = await File.ReadAllBytesAsync(parent, Ct);
        await File.WriteAllBytesAsync(child, kind == "vhd" ? VhdFiles.Differencing(bytes, "parent.vhd") : VhdFiles.DifferencingVhdx(bytes), Ct);
        var before = await ImageCountAsync();

        var problem = await (await ImportOneAsync("diff", child)).ProblemAsync(HttpStatusCode.BadRequest, "ovf-disk-refused");

        problem.GetProperty("detail").GetString()!.ShouldContain($"differencing {kind.ToUpperInvariant()}");
        (await ImageCountAsync()).ShouldBe(before);
        Directory.EnumerateFileSystemEntries(app.WorkDirectory).ShouldBeEmpty();
    }

    [Theory]
    [InlineData("vhd-end", "cut short")]
    [InlineData("vhd-middle", "truncated")]
    [InlineData("vhdx-middle", "truncated")]
    public async Task Import_WhenDiskIsTruncated_Returns400NeverA500(string cut, string said)
    {
        var raw = RawDisk("whole.raw", 3 << 20, 17);
        var whole = await File.ReadAllBytesAsync(cut.StartsWith("vhdx", StringComparison.Ordinal)
            ? Convert(raw, "whole.vhdx", "vhdx", Vhdx) : Convert(raw, "whole.vhd", "vpc", DynamicVhd), Ct);
        var disk = Path.Combine(_dir, cut.StartsWith("vhdx", StringComparison.Ordinal) ? "web-disk1.vhdx" : "web-disk1.vhd");
        // Cut at the end, the closing footer goes; cut in the middle with the footer put back, blocks go.
        await File.WriteAllBytesAsync(disk, cut.EndsWith("end", StringComparison.Ordinal) ? whole[..(whole.Length / 2)] : [.. whole[..(whole.Length / 2)], .. whole[^512..]], Ct);

        var problem = await (await ImportOneAsync("cut", disk)).ProblemAsync(HttpStatusCode.BadRequest, "ovf-disk-refused");

        var detail = problem.GetProperty("detail").GetString()!;
        detail.ShouldContain(said);
        detail.ShouldNotContain(app.WorkDirectory);
        Directory.EnumerateFileSystemEntries(app.WorkDirectory).ShouldBeEmpty();
    }

    [Theory]
    [InlineData("vpc", DynamicVhd, "vhd")]
    [InlineData("vhdx", Vhdx, "vhdx")]
    public async Task Import_WhenVirtualSizeOverTheImageCap_Returns413(string format, string options, string extension)
    {
        var disk = Path.Combine(_dir, "web-disk1." + extension);
        ExternalTools.QemuImg("create", "-f", format, "-o", options, disk, "64M");
        new FileInfo(disk).Length.ShouldBeLessThan(VhdApp.MaxImageBytes);

        await (await ImportOneAsync("big", disk)).ProblemAsync(HttpStatusCode.RequestEntityTooLarge, "ovf-too-large");
    }

    // ---- the catalog's image API -------------------------------------------------------------

    [Theory]
    [InlineData("vpc", DynamicVhd, "VHD")]
    [InlineData("vpc", FixedVhd, "VHD")]
    [InlineData("vhdx", Vhdx, "VHDX")]
    public async Task ImageUpload_WhenVhdOrVhdx_IsRefusedNeverStoredAsRaw(string format, string options, string named)
    {
        // The catalog keeps an image's bytes as sent; a fixed VHD is raw bytes that only its footer tells apart.
        var disk = Convert(RawDisk("upload.raw", 1 << 20, 18), "upload.img", format, options);
        var body = new ByteArrayContent(await File.ReadAllBytesAsync(disk, Ct));
        body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var before = await ImageCountAsync();

        var problem = await (await developer.PostAsync("/api/v1/images?name=hyper-v", body, Ct)).ProblemAsync(HttpStatusCode.BadRequest, "image-format-unsupported");

        problem.GetProperty("detail").GetString()!.ShouldContain($"a {named} disk");
        (await ImageCountAsync()).ShouldBe(before);
        Directory.GetFiles(Path.Combine(app.DataDir, "blobs", "tmp")).ShouldBeEmpty();
    }

    private static byte[] Tar(IEnumerable<(string Name, byte[] Data)> entries)
    {
        using var buffer = new MemoryStream();
        using (var tar = new TarWriter(buffer, TarEntryFormat.Ustar, leaveOpen: true))
        {
            foreach (var (name, data) in entries)
            {
                tar.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(data) });
            }
        }
        return buffer.ToArray();
    }
}

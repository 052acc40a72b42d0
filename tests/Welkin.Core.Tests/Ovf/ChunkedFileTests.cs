using System.Security.Cryptography;
using System.Text;
using Welkin.Core.Ovf;

namespace Welkin.Core.Tests.Ovf;

/// <summary>Files split with ovf:chunkSize (OVF 2.0 5.4), as ovftool writes large disks: NAME.000000000, NAME.000000001, … joined in order.</summary>
public sealed class ChunkedFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("welkin-chunks-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const int ChunkSize = 1000;

    private static readonly byte[] Disk = Encoding.ASCII.GetBytes("KDMV streamOptimized disk stand-in " + string.Concat(Enumerable.Range(0, 400).Select(i => i.ToString("D4", System.Globalization.CultureInfo.InvariantCulture))));

    private static byte[] Descriptor(long? size = null, string chunkSize = "1000") => Encoding.UTF8.GetBytes(
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Ovf", "Data", "virtualbox.ovf")).Replace(
            "<File ovf:id=\"file1\" ovf:href=\"debian12-disk001.vmdk\"/>",
            $"<File ovf:id=\"file1\" ovf:href=\"debian12-disk001.vmdk\" ovf:size=\"{size ?? Disk.Length}\" ovf:chunkSize=\"{chunkSize}\"/>", StringComparison.Ordinal));

    private static List<(string Name, byte[] Data)> Chunks(byte[] data) =>
        data.Chunk(ChunkSize).Select((c, i) => (OvaReader.ChunkName("debian12-disk001.vmdk", i), c)).ToList();

    private static string Manifest(IEnumerable<(string Name, byte[] Data)> files) =>
        string.Concat(files.Select(f => $"SHA256({f.Name})= {Convert.ToHexStringLower(SHA256.HashData(f.Data))}\n"));

    [Fact]
    public async Task ChunkedDisk_IsJoinedInOrder_AndEachChunkIsCheckedAgainstTheManifest()
    {
        var chunks = Chunks(Disk);
        chunks.Count.ShouldBe(2);
        var descriptor = Descriptor();
        List<(string, byte[])> files = [("debian12.ovf", descriptor), .. chunks];
        var ova = ManifestFormsTests.Tar([("debian12.ovf", descriptor), ("debian12.mf", Encoding.ASCII.GetBytes(Manifest(files))), .. chunks]);

        var result = await OvaReader.ReadAsync(ova, _dir, ct: TestContext.Current.CancellationToken);

        result.IsSuccess.ShouldBeTrue(result.Error?.Detail);
        result.Value.Envelope.Files.ShouldHaveSingleItem().ChunkSize.ShouldBe(ChunkSize);
        File.ReadAllBytes(Path.Combine(_dir, "debian12-disk001.vmdk")).ShouldBe(Disk);
        Directory.GetFiles(_dir).Select(Path.GetFileName).Order(StringComparer.Ordinal).ShouldBe(["debian12-disk001.vmdk", "debian12.mf", "debian12.ovf"]);
    }

    [Fact]
    public async Task ChunkedDisk_InTheWrongOrderInTheTar_IsStillJoinedByIndex()
    {
        var chunks = Chunks(Disk);
        chunks.Reverse();
        var ova = ManifestFormsTests.Tar([("debian12.ovf", Descriptor()), .. chunks]);

        var result = await OvaReader.ReadAsync(ova, _dir, ct: TestContext.Current.CancellationToken);

        result.IsSuccess.ShouldBeTrue(result.Error?.Detail);
        File.ReadAllBytes(Path.Combine(_dir, "debian12-disk001.vmdk")).ShouldBe(Disk);
    }

    [Fact]
    public async Task ChunkedDisk_WithAChunkMissing_IsRefusedNamingIt()
    {
        var big = Disk.Concat(Disk).ToArray();
        var chunks = Chunks(big);
        chunks.RemoveAt(1);
        var ova = ManifestFormsTests.Tar([("debian12.ovf", Descriptor(big.Length)), .. chunks]);

        var result = await OvaReader.ReadAsync(ova, _dir, ct: TestContext.Current.CancellationToken);

        result.Error!.Code.ShouldBe("ova-invalid");
        result.Error.Detail.ShouldContain("'debian12-disk001.vmdk.000000001'");
        result.Error.Detail.ShouldContain("missing");
        Directory.GetFiles(_dir).ShouldBeEmpty();
    }

    [Fact]
    public async Task ChunkedDisk_WithTheLastChunkMissing_IsRefusedNamingIt()
    {
        var chunks = Chunks(Disk);
        chunks.RemoveAt(chunks.Count - 1);
        var ova = ManifestFormsTests.Tar([("debian12.ovf", Descriptor()), .. chunks]);

        var result = await OvaReader.ReadAsync(ova, null, ct: TestContext.Current.CancellationToken);

        result.Error!.Detail.ShouldContain("'debian12-disk001.vmdk.000000001'");
    }

    [Fact]
    public async Task ChunkedDisk_WithAShortChunkBeforeTheLast_IsRefused()
    {
        var chunks = Chunks(Disk);
        chunks[0] = (chunks[0].Name, chunks[0].Data[..10]);
        var ova = ManifestFormsTests.Tar([("debian12.ovf", Descriptor()), .. chunks]);

        var result = await OvaReader.ReadAsync(ova, null, ct: TestContext.Current.CancellationToken);

        result.Error!.Detail.ShouldContain("'debian12-disk001.vmdk.000000000' holds 10 bytes");
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-5")]
    [InlineData("lots")]
    public void ChunkSize_NotAPositiveNumber_IsInvalid(string chunkSize)
    {
        var error = OvfReader.Read(Descriptor(chunkSize: chunkSize)).Error!;

        error.Code.ShouldBe("ovf-invalid");
        error.Detail.ShouldContain("ovf:chunkSize");
    }
}

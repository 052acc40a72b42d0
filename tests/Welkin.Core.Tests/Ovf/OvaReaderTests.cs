using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;
using Welkin.Core.Ovf;

namespace Welkin.Core.Tests.Ovf;

public sealed class OvaReaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("welkin-ova-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly byte[] Descriptor = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Ovf", "Data", "virtualbox.ovf"));
    private static readonly byte[] Disk = Encoding.ASCII.GetBytes("KDMV streamOptimized disk stand-in " + new string('x', 5000));

    private static string Sha256(byte[] b) => Convert.ToHexStringLower(SHA256.HashData(b));

    // OVF 1.x manifests carry SHA-1; Welkin verifies them, it does not rely on SHA-1 for anything else.
#pragma warning disable CA5350
    private static string Sha1(byte[] b) => Convert.ToHexStringLower(SHA1.HashData(b));
#pragma warning restore CA5350

    private static string GoodManifest(bool sha1 = false) => sha1
        ? $"SHA1(debian12.ovf)= {Sha1(Descriptor)}\nSHA1(debian12-disk001.vmdk)= {Sha1(Disk)}\n"
        : $"SHA256(debian12.ovf)= {Sha256(Descriptor)}\nSHA256(debian12-disk001.vmdk)= {Sha256(Disk)}\n";

    private static MemoryStream Tar(params (string Name, byte[] Data)[] files) => Tar(files.Select(f => (TarEntry)Entry(f.Name, f.Data)).ToArray());

    private static PaxTarEntry Entry(string name, byte[] data) => new(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(data) };

    private static MemoryStream Tar(params TarEntry[] entries)
    {
        var ms = new MemoryStream();
        using (var writer = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var e in entries)
            {
                writer.WriteEntry(e);
            }
        }
        ms.Position = 0;
        return ms;
    }

    private static async Task<Welkin.Core.Common.Error> Refused(Stream ova, OvaLimits? limits = null)
    {
        var result = await OvaReader.ReadAsync(ova, null, limits, TestContext.Current.CancellationToken);
        result.IsSuccess.ShouldBeFalse();
        return result.Error!;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ReadAsync_WellFormedPackage_VerifiesManifestAndExtracts(bool sha1)
    {
        var ova = Tar(("debian12.ovf", Descriptor), ("debian12.mf", Encoding.ASCII.GetBytes(GoodManifest(sha1))), ("debian12-disk001.vmdk", Disk));

        var result = await OvaReader.ReadAsync(ova, _dir, ct: TestContext.Current.CancellationToken);

        result.IsSuccess.ShouldBeTrue(result.Error?.Detail);
        result.Value.Descriptor.ShouldBe("debian12.ovf");
        result.Value.Envelope.Content.Id.ShouldBe("debian12");
        result.Value.Manifest!.Entries.Count.ShouldBe(2);
        result.Value.Entries.Select(e => e.Name).ShouldBe(["debian12.ovf", "debian12.mf", "debian12-disk001.vmdk"]);
        result.Value.Entries[2].Digests.Sha256.ShouldBe(Sha256(Disk));
        File.ReadAllBytes(Path.Combine(_dir, "debian12-disk001.vmdk")).ShouldBe(Disk);
        File.ReadAllBytes(Path.Combine(_dir, "debian12.ovf")).ShouldBe(Descriptor);
    }

    [Fact]
    public async Task ReadAsync_WhenDigestWrong_RefusesNamingTheFile()
    {
        var manifest = GoodManifest().Replace(Sha256(Disk), new string('0', 64), StringComparison.Ordinal);
        var error = await Refused(Tar(("debian12.ovf", Descriptor), ("debian12.mf", Encoding.ASCII.GetBytes(manifest)), ("debian12-disk001.vmdk", Disk)));

        error.Code.ShouldBe("ovf-digest-mismatch");
        error.Detail.ShouldContain("debian12-disk001.vmdk");
    }

    [Fact]
    public async Task ReadAsync_WhenRefusedWhileExtracting_DeletesWhatItWrote()
    {
        var manifest = GoodManifest().Replace(Sha256(Disk), new string('0', 64), StringComparison.Ordinal);
        var ova = Tar(("debian12.ovf", Descriptor), ("debian12.mf", Encoding.ASCII.GetBytes(manifest)), ("debian12-disk001.vmdk", Disk));

        var result = await OvaReader.ReadAsync(ova, _dir, ct: TestContext.Current.CancellationToken);

        result.Error!.Code.ShouldBe("ovf-digest-mismatch");
        Directory.EnumerateFileSystemEntries(_dir).ShouldBeEmpty();
    }

    [Fact]
    public async Task ReadAsync_WhenFileNotInManifest_Refuses()
    {
        var manifest = $"SHA256(debian12.ovf)= {Sha256(Descriptor)}\n";
        var error = await Refused(Tar(("debian12.ovf", Descriptor), ("debian12.mf", Encoding.ASCII.GetBytes(manifest)), ("debian12-disk001.vmdk", Disk)));

        error.Detail.ShouldContain("not listed in the manifest");
    }

    [Theory]
    [InlineData("../evil.vmdk")]
    [InlineData("/etc/evil.vmdk")]
    [InlineData("sub/../../evil.vmdk")]
    [InlineData("..")]
    public async Task ReadAsync_WhenPathTraversal_RefusesBeforeWriting(string name)
    {
        var error = await Refused(Tar(("debian12.ovf", Descriptor), (name, Disk)));

        error.Code.ShouldBe("ova-unsafe-entry");
        Directory.EnumerateFileSystemEntries(_dir).ShouldBeEmpty();
        File.Exists(Path.Combine(Path.GetTempPath(), "evil.vmdk")).ShouldBeFalse();
    }

    [Theory]
    [InlineData(TarEntryType.SymbolicLink)]
    [InlineData(TarEntryType.HardLink)]
    public async Task ReadAsync_WhenLink_Refuses(TarEntryType type)
    {
        var link = new PaxTarEntry(type, "debian12-disk001.vmdk") { LinkName = "/etc/shadow" };
        var error = await Refused(Tar(Entry("debian12.ovf", Descriptor), link));

        error.Code.ShouldBe("ova-unsafe-entry");
        error.Detail.ShouldContain("links");
    }

    [Fact]
    public async Task ReadAsync_WhenEntryOversized_Refuses()
    {
        var error = await Refused(Tar(("debian12.ovf", Descriptor), ("debian12-disk001.vmdk", Disk)), new OvaLimits(MaxEntryBytes: 1000));

        error.Code.ShouldBe("ovf-too-large");
    }

    [Fact]
    public async Task ReadAsync_WhenTotalOversized_Refuses()
    {
        var error = await Refused(Tar(("debian12.ovf", Descriptor), ("debian12-disk001.vmdk", Disk)), new OvaLimits(MaxTotalBytes: Descriptor.Length + 10));

        error.Code.ShouldBe("ovf-too-large");
    }

    [Fact]
    public async Task ReadAsync_WhenDescriptorNotFirst_Refuses() =>
        (await Refused(Tar(("debian12-disk001.vmdk", Disk), ("debian12.ovf", Descriptor)))).Detail.ShouldContain("first entry");

    [Fact]
    public async Task ReadAsync_WhenReferencedFileMissing_Refuses() =>
        (await Refused(Tar(("debian12.ovf", Descriptor)))).Detail.ShouldContain("debian12-disk001.vmdk");

    [Fact]
    public async Task ReadAsync_WhenDescriptorHostile_RefusesWithTheReadersError()
    {
        var hostile = Encoding.UTF8.GetBytes("<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><x>&e;</x>");
        (await Refused(Tar(("evil.ovf", hostile)))).Code.ShouldBe("ovf-dtd-prohibited");
    }

    [Fact]
    public async Task ReadAsync_WhenNotATar_Refuses() =>
        (await Refused(new MemoryStream(Encoding.ASCII.GetBytes(new string('z', 1024))))).Code.ShouldBe("ova-invalid");

    [Theory]
    [InlineData("MD5(a.vmdk)= 00", "line 1")]
    [InlineData("SHA256(a.vmdk)= abcd", "64 hex digits")]
    [InlineData("SHA1(a)= 0000000000000000000000000000000000000000\nSHA1(a)= 0000000000000000000000000000000000000000", "twice")]
    [InlineData("", "no file")]
    public void ParseManifest_WhenInvalid_SaysWhy(string text, string why)
    {
        var error = OvfManifest.Parse(text).Error!;
        error.Code.ShouldBe("ovf-manifest-invalid");
        error.Detail.ShouldContain(why);
    }

    [Fact]
    public void ParseManifest_AcceptsBothAlgorithmsAndCrLf()
    {
        var manifest = OvfManifest.Parse($"SHA1(a.ovf)= {new string('A', 40)}\r\nSHA256(b.vmdk)={new string('b', 64)}\r\n").Value;

        manifest.Entries.ShouldBe([new ManifestEntry("SHA1", "a.ovf", new string('a', 40)), new ManifestEntry("SHA256", "b.vmdk", new string('b', 64))]);
    }

    [Fact]
    public async Task DigestAsync_ThenVerify_DetectsOneChangedByte()
    {
        var manifest = OvfManifest.Parse($"SHA256(d.vmdk)= {Sha256(Disk)}").Value;
        var good = await OvfManifest.DigestAsync(new MemoryStream(Disk), TestContext.Current.CancellationToken);
        var changed = (byte[])Disk.Clone();
        changed[^1] ^= 1;
        var bad = await OvfManifest.DigestAsync(new MemoryStream(changed), TestContext.Current.CancellationToken);

        manifest.Verify(new Dictionary<string, FileDigests> { ["d.vmdk"] = good }).ShouldBeNull();
        manifest.Verify(new Dictionary<string, FileDigests> { ["d.vmdk"] = bad })!.Code.ShouldBe("ovf-digest-mismatch");
        manifest.Verify(new Dictionary<string, FileDigests>())!.Detail.ShouldContain("does not contain");
    }
}

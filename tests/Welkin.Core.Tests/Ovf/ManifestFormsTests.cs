using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;
using Welkin.Core.Ovf;

namespace Welkin.Core.Tests.Ovf;

/// <summary>Manifests as real producers write them: SHA-512 (ovftool 4.x), VirtualBox's spacing, no line for the descriptor (ovftool 4.0).</summary>
public sealed class ManifestFormsTests
{
    private static readonly byte[] Descriptor = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Ovf", "Data", "virtualbox.ovf"));
    private static readonly byte[] Disk = Encoding.ASCII.GetBytes("KDMV streamOptimized disk stand-in " + new string('x', 5000));

#pragma warning disable CA5350 // OVF 1.x manifests carry SHA-1; Welkin verifies them and relies on SHA-1 for nothing else.
    private static string Hex(string algorithm, byte[] b) => Convert.ToHexStringLower(algorithm switch
    {
        "SHA1" => SHA1.HashData(b),
        "SHA256" => SHA256.HashData(b),
        _ => SHA512.HashData(b),
    });
#pragma warning restore CA5350

    internal static MemoryStream Tar(params (string Name, byte[] Data)[] files)
    {
        var ms = new MemoryStream();
        using (var writer = new TarWriter(ms, TarEntryFormat.Ustar, leaveOpen: true))
        {
            foreach (var (name, data) in files)
            {
                writer.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(data) });
            }
        }
        ms.Position = 0;
        return ms;
    }

    private static Task<Welkin.Core.Common.Result<OvaPackage>> Read(string manifest, params (string Name, byte[] Data)[] more) =>
        OvaReader.ReadAsync(Tar([("debian12.ovf", Descriptor), ("debian12.mf", Encoding.ASCII.GetBytes(manifest)), ("debian12-disk001.vmdk", Disk), .. more]),
            null, ct: TestContext.Current.CancellationToken);

    [Theory]
    [InlineData("SHA1", "{0}({1})= {2}")]
    [InlineData("SHA256", "{0}({1})= {2}")]
    [InlineData("SHA512", "{0}({1})= {2}")]
    [InlineData("SHA1", "{0} ({1}) = {2}")] // VirtualBox
    [InlineData("SHA256", "{0} ({1}) = {2}")] // VirtualBox 6+
    [InlineData("SHA512", "{0} ({1}) = {2}")]
    public async Task Manifest_InEveryAlgorithmAndSpacing_IsVerified(string algorithm, string form)
    {
        string Line(string file, byte[] data) => string.Format(System.Globalization.CultureInfo.InvariantCulture, form, algorithm, file, Hex(algorithm, data)) + "\n";
        var good = Line("debian12.ovf", Descriptor) + Line("debian12-disk001.vmdk", Disk);
        var changed = (byte[])Disk.Clone();
        changed[^1] ^= 1;
        var wrong = Line("debian12.ovf", Descriptor) + Line("debian12-disk001.vmdk", changed);

        var accepted = await Read(good);
        var refused = await Read(wrong);

        accepted.IsSuccess.ShouldBeTrue(accepted.Error?.Detail);
        accepted.Value.Manifest!.Entries.ShouldAllBe(e => e.Algorithm == algorithm);
        refused.Error!.Code.ShouldBe("ovf-digest-mismatch");
        refused.Error.Detail.ShouldContain("debian12-disk001.vmdk");
        refused.Error.Detail.ShouldContain(algorithm);
    }

    [Fact]
    public void Manifest_Sha512WithWrongLength_SaysHowManyDigits() =>
        OvfManifest.Parse($"SHA512(a.vmdk)= {new string('a', 64)}").Error!.Detail.ShouldContain("128 hex digits");

    [Fact]
    public async Task Manifest_WithoutTheDescriptorsLine_IsAcceptedAndStillChecksTheDisk()
    {
        // ovftool 4.0 writes no line for the descriptor of an unsigned package.
        var accepted = await Read($"SHA256(debian12-disk001.vmdk)= {Hex("SHA256", Disk)}\n");
        var wrong = await Read($"SHA256(debian12-disk001.vmdk)= {new string('0', 64)}\n");

        accepted.IsSuccess.ShouldBeTrue(accepted.Error?.Detail);
        wrong.Error!.Code.ShouldBe("ovf-digest-mismatch");
    }

    [Fact]
    public async Task Manifest_WithoutTheDescriptorsLine_InASignedPackage_IsRefused()
    {
        var refused = await Read($"SHA256(debian12-disk001.vmdk)= {Hex("SHA256", Disk)}\n", ("debian12.cert", Encoding.ASCII.GetBytes("SHA256(debian12.mf)= 00\n")));

        refused.Error!.Code.ShouldBe("ova-invalid");
        refused.Error.Detail.ShouldContain("'debian12.ovf' is not listed in the manifest");
    }

    [Fact]
    public async Task Manifest_WithoutADisksLine_IsStillRefused()
    {
        var refused = await Read($"SHA256(debian12.ovf)= {Hex("SHA256", Descriptor)}\n");

        refused.Error!.Detail.ShouldContain("'debian12-disk001.vmdk' is not listed in the manifest");
    }
}

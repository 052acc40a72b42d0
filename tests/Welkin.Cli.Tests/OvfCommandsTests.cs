using Welkin.Cli.Tests.Infrastructure;
using Welkin.Contracts;
using Welkin.Core.Ovf;
using Welkin.Testing;

namespace Welkin.Cli.Tests;

/// <summary>template import and export against a real server, with disks made by qemu-img.</summary>
[Collection(CloudsCollection.Name)]
public sealed class OvfCommandsTests(TwoClouds clouds) : IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task TemplateImport_OfAnOvfWithItsDiskBesideIt_ThenExportAndImportTheOva()
    {
        var ct = TestContext.Current.CancellationToken;
        await _cli.OkAsync("profile", "add", "admin", "--endpoint", clouds.A.Endpoint.AbsoluteUri, "--token-file", clouds.A.AdminTokenFile);
        var raw = Path.Combine(_cli.WorkDir, "disk.raw");
        await File.WriteAllBytesAsync(raw, new byte[1 << 20], ct);
        var vmdk = Path.Combine(_cli.WorkDir, "web-disk1.vmdk");
        await ExternalTools.QemuImgAsync("convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", raw, vmdk);
        var system = new VirtualSystemSpec("web", new HardwareChoices(new Choice<int>([1, 2], 1), new Choice<long>([1024], 1024), new Choice<long>([10], 10)));
        var ovf = Path.Combine(_cli.WorkDir, "web.ovf");
        await File.WriteAllBytesAsync(ovf, OvfWriter.Envelope("cli-ovf-" + Guid.NewGuid().ToString("n")[..8], null,
            [new OvfExportSystem(system, new OvfExportDisk("web-disk1.vmdk", vmdk, new FileInfo(vmdk).Length, 1 << 20))], collection: false), ct);

        var imported = (await _cli.OkAsync("template", "import", ovf, "--output", "json")).Json<OvfImportResult>();

        imported.Template.VirtualSystems[0].Hardware.Vcpus.Allowed.ShouldBe([1, 2]);
        imported.Images.ShouldHaveSingleItem().Format.ShouldBe(ImageFormat.Qcow2);

        var ova = Path.Combine(_cli.WorkDir, "web.ova");
        (await _cli.OkAsync("template", "export", imported.Template.Id, "--output", ova)).Out.ShouldContain("disks: image");
        var again = (await _cli.OkAsync("template", "import", ova, "--output", "json")).Json<OvfImportResult>();
        again.Template.VirtualSystems[0].Hardware.ShouldBeEquivalentTo(imported.Template.VirtualSystems[0].Hardware);

        var missing = await _cli.RunAsync("template", "export", "tpl_01h00000000000000000000000", "--output", Path.Combine(_cli.WorkDir, "none.ova"));
        missing.ExitCode.ShouldNotBe(0);
        File.Exists(Path.Combine(_cli.WorkDir, "none.ova")).ShouldBeFalse();
    }

    [Fact]
    public async Task TemplateImport_OfAnOvfWithTheProducersManifestAndAChunkedDisk_KeepsAndChecksThatManifest()
    {
        var ct = TestContext.Current.CancellationToken;
        await _cli.OkAsync("profile", "add", "admin", "--endpoint", clouds.A.Endpoint.AbsoluteUri, "--token-file", clouds.A.AdminTokenFile);
        var raw = Path.Combine(_cli.WorkDir, "disk.raw");
        await File.WriteAllBytesAsync(raw, new byte[1 << 20], ct);
        var vmdk = Path.Combine(_cli.WorkDir, "whole.vmdk");
        await ExternalTools.QemuImgAsync("convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", raw, vmdk);
        var bytes = await File.ReadAllBytesAsync(vmdk, ct);
        var chunkSize = (bytes.Length / 2) + 1;
        var system = new VirtualSystemSpec("app", new HardwareChoices(new Choice<int>([1], 1), new Choice<long>([512], 512), new Choice<long>([1], 1)));
        var ovf = Path.Combine(_cli.WorkDir, "app.ovf");
        var envelope = System.Text.Encoding.UTF8.GetString(OvfWriter.Envelope("cli-chunks-" + Guid.NewGuid().ToString("n")[..8], null,
            [new OvfExportSystem(system, new OvfExportDisk("app-disk1.vmdk", vmdk, bytes.Length, 1 << 20))], collection: false));
        envelope = envelope.Replace($"ovf:size=\"{bytes.Length}\"", $"ovf:size=\"{bytes.Length}\" ovf:chunkSize=\"{chunkSize}\"", StringComparison.Ordinal);
        await File.WriteAllTextAsync(ovf, envelope, ct);
        var chunks = bytes.Chunk(chunkSize).ToList();
        chunks.Count.ShouldBe(2);
        for (var i = 0; i < chunks.Count; i++)
        {
            await File.WriteAllBytesAsync(Path.Combine(_cli.WorkDir, $"app-disk1.vmdk.00000000{i}"), chunks[i], ct);
        }
        // VirtualBox's spacing, SHA-1, and no line for the descriptor, as ovftool 4.0 writes.
#pragma warning disable CA5350 // the producer's manifest is SHA-1; Welkin only verifies it
        string Sha1(byte[] b) => Convert.ToHexStringLower(System.Security.Cryptography.SHA1.HashData(b));
#pragma warning restore CA5350
        var manifest = Path.Combine(_cli.WorkDir, "app.mf");
        await File.WriteAllTextAsync(manifest, string.Concat(chunks.Select((c, i) => $"SHA1 (app-disk1.vmdk.00000000{i}) = {Sha1(c)}\n")), ct);

        var imported = (await _cli.OkAsync("template", "import", ovf, "--output", "json")).Json<OvfImportResult>();

        imported.Images.ShouldHaveSingleItem().Format.ShouldBe(ImageFormat.Qcow2);

        await File.WriteAllTextAsync(manifest, string.Concat(chunks.Select((c, i) => $"SHA1 (app-disk1.vmdk.00000000{i}) = {new string('0', 40)}\n")), ct);
        var refused = await _cli.RunAsync("template", "import", ovf);
        refused.ExitCode.ShouldNotBe(0);
        (refused.Out + refused.Err).ShouldContain("ovf-digest-mismatch");
    }
}

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
}

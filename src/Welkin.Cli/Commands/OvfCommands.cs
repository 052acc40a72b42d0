using System.CommandLine;
using System.Xml;
using Welkin.Cli.Infrastructure;
using Welkin.Client;
using Welkin.Contracts;

namespace Welkin.Cli.Commands;

/// <summary><c>welkin template import|export</c>, <c>welkin machine export</c>, <c>welkin instance export</c>: OVF packages.</summary>
internal static class OvfCommands
{
    public static Command Import(CliApp app)
    {
        var file = new Argument<FileInfo>("FILE")
        {
            Description = "An .ova, or an .ovf descriptor with the files it references beside it (packed into an OVA while it is sent).",
        };
        var command = new Command("import", "Import an OVF package as a draft template, one image per disk (qcow2).") { file };
        app.Handle(command, async inv =>
        {
            var path = inv.Value(file)!;
            if (!path.Exists)
            {
                throw new CliException($"{path.FullName} does not exist.");
            }
            OvfImportResult result;
            try
            {
                result = await inv.Client().Ovf.ImportFileAsync(path.FullName, inv.Ct);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or XmlException or InvalidDataException)
            {
                throw new CliException($"Cannot read the package {path.FullName}: {e.Message}");
            }
            return inv.Show(result, (o, r) =>
            {
                TemplateCommands.Fields(o, r.Template);
                o.Line();
                o.Table(r.Images, "No images (the package has no disk content).",
                    new Column<ImageView>("Image", i => i.Id),
                    new Column<ImageView>("Name", i => i.Name),
                    new Column<ImageView>("Format", i => Fmt.Name(i.Format)),
                    new Column<ImageView>("Size", i => Fmt.Bytes(i.SizeBytes)));
            });
        });
        return command;
    }

    public static Command ExportTemplate(CliApp app)
    {
        var id = Opt.Id("template");
        var templateVersion = Opt.Number("--template-version", "Export this version (default: the latest).");
        var output = Output();
        var command = new Command("export", "Export a template and its images as an OVA (OVF 2.0, streamOptimized VMDK disks).") { id, templateVersion, output };
        app.Handle(command, inv => WriteAsync(inv, inv.Value(output)!, (ovf, stream) => ovf.ExportTemplateAsync(inv.Value(id), stream, inv.Value(templateVersion), ct: inv.Ct)));
        return command;
    }

    public static Command ExportMachine(CliApp app)
    {
        var id = Opt.Id("machine");
        var output = Output();
        var command = new Command("export", "Export a machine as an OVA: its own disk where the compute fabric can copy it (stop it first), else its image.") { id, output };
        app.Handle(command, inv => WriteAsync(inv, inv.Value(output)!, (ovf, stream) => ovf.ExportMachineAsync(inv.Value(id), stream, ct: inv.Ct)));
        return command;
    }

    public static Command ExportInstance(CliApp app)
    {
        var id = Opt.Id("instance");
        var output = Output();
        var command = new Command("export", "Export an instance as an OVA holding a VirtualSystemCollection, one virtual system per machine.") { id, output };
        app.Handle(command, inv => WriteAsync(inv, inv.Value(output)!, (ovf, stream) => ovf.ExportInstanceAsync(inv.Value(id), stream, ct: inv.Ct)));
        return command;
    }

    private static Option<FileInfo> Output() => new("--output", "-o") { Description = "The .ova file to write.", HelpName = "file", Required = true };

    // Written beside the target and moved into place at the end, so a failed export never leaves a truncated OVA.
    private static async Task<int> WriteAsync(Invocation inv, FileInfo target, Func<OvfClient, Stream, Task<OvaDownload>> export)
    {
        var partial = target.FullName + ".partial";
        try
        {
            OvaDownload result;
            await using (var file = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous))
            {
                result = await export(inv.Client().Ovf, file);
            }
            File.Move(partial, target.FullName, overwrite: true);
            inv.Out.Line($"Wrote {Fmt.Number(result.BytesWritten)} bytes to {target.FullName} (disks: {result.DiskSource ?? "unknown"}).");
            return ExitCodes.Ok;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"Cannot write {target.FullName}: {e.Message}");
        }
        finally
        {
            File.Delete(partial);
        }
    }
}

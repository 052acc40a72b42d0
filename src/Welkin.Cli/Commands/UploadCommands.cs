using System.CommandLine;
using Welkin.Cli.Infrastructure;
using Welkin.Client;
using Welkin.Contracts;

namespace Welkin.Cli.Commands;

/// <summary><c>welkin upload</c> and <c>welkin account-image</c>: resumable uploads of the account, and the images it makes of them.</summary>
internal static class UploadCommands
{
    public static Command Uploads(CliApp app) => new("upload", "Resumable, digest-verified uploads of your account.")
    {
        Send(app), List(app), Show(app), Delete(app),
    };

    public static Command AccountImages(CliApp app) => new("account-image", "Images of your own account, made from your uploads (an OVA or a disk).")
    {
        Import(app), CreateImage(app), ListImages(app), ShowImage(app), DeleteImage(app),
    };

    private static void Fields(Output o, UploadView u) => o.Fields(
        ("Id", u.Id), ("State", Fmt.Name(u.State)), ("Received", $"{Fmt.Number(u.ReceivedBytes)} of {Fmt.Number(u.SizeBytes)} bytes"),
        ("SHA-256", u.Sha256), ("Version", Fmt.Number(u.Version)), ("Created", Fmt.Time(u.Created)), ("Expires", Fmt.Time(u.Expires)));

    private static void ImageFields(Output o, AccountImageView i) => o.Fields(
        ("Id", i.Id), ("Name", i.Name), ("Description", i.Description), ("Format", Fmt.Name(i.Format)),
        ("Size", $"{Fmt.Bytes(i.SizeBytes)} ({Fmt.Number(i.SizeBytes)} bytes)"), ("Disk", $"{Fmt.Bytes(i.VirtualSizeBytes)} ({Fmt.Number(i.VirtualSizeBytes)} bytes)"),
        ("SHA-256", i.Sha256), ("State", Fmt.Name(i.State)), ("Version", Fmt.Number(i.Version)), ("Created", Fmt.Time(i.Created)));

    private static Command Send(CliApp app)
    {
        var file = new Argument<FileInfo>("FILE") { Description = "The file to upload." };
        var resume = Opt.Text("--resume", "Continue this upload (opened earlier for the same file) from the server's offset.", "upload-id");
        var chunk = Opt.Number("--chunk-mib", "MiB per chunk (default 8): an interrupted transfer sends at most one chunk again.");
        var quiet = Opt.Flag("--no-progress", "Do not show progress for large files.");
        var command = new Command("send", "Upload a file in chunks, resuming after interruptions; the server checks its SHA-256.") { file, resume, chunk, quiet };
        app.Handle(command, async inv =>
        {
            var upload = await SendAsync(inv, inv.Value(file), inv.Value(resume), inv.Value(chunk), inv.Value(quiet));
            return inv.Show(upload, Fields);
        });
        return command;
    }

    private static async Task<UploadView> SendAsync(Invocation inv, FileInfo file, string? resume, int? chunkMiB, bool quiet)
    {
        if (chunkMiB is < 1 or > 1024)
        {
            throw new CliException("--chunk-mib must be 1-1024.");
        }
        if (!file.Exists)
        {
            throw new CliException($"Cannot read {file.FullName}: no such file.");
        }
        var progress = !quiet && file.Length >= TransferProgress.Threshold
            ? new TransferProgress(inv.Err, inv.Context.ErrIsTerminal, "Uploading " + file.Name, file.Length)
            : null;
        try
        {
            return await inv.Client().Uploads.UploadFileAsync(file.FullName, resume, progress, new UploadSettings(ChunkBytes: (chunkMiB ?? 8) * 1024 * 1024), inv.Ct);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"Cannot read {file.FullName}: {e.Message}");
        }
    }

    private static Command List(CliApp app)
    {
        var after = Opt.After();
        var limit = Opt.Limit();
        var command = new Command("list", "List your account's open and complete uploads.") { after, limit };
        app.Handle(command, async inv =>
            inv.ShowPage(await inv.Client().Uploads.ListAsync(inv.Value(after), inv.Value(limit), inv.Ct), "No uploads.",
                new Column<UploadView>("Id", u => u.Id),
                new Column<UploadView>("State", u => Fmt.Name(u.State)),
                new Column<UploadView>("Received", u => $"{Fmt.Bytes(u.ReceivedBytes)} of {Fmt.Bytes(u.SizeBytes)}"),
                new Column<UploadView>("Expires", u => Fmt.Time(u.Expires))));
        return command;
    }

    private static Command Show(CliApp app)
    {
        var id = Opt.Id("upload");
        var command = new Command("show", "Show an upload and how many bytes the server holds.") { id };
        app.Handle(command, async inv => inv.Show(await inv.Client().Uploads.GetAsync(inv.Value(id), inv.Ct), Fields));
        return command;
    }

    private static Command Delete(CliApp app)
    {
        var id = Opt.Id("upload");
        var command = new Command("delete", "Delete an upload and its bytes.") { id };
        app.Handle(command, async inv => inv.Show(await inv.Client().Uploads.DeleteAsync(inv.Value(id), inv.Ct), Fields));
        return command;
    }

    private static Command Import(CliApp app)
    {
        var file = new Argument<FileInfo>("FILE") { Description = "An OVA as Welkin exports a machine (one disk), or a raw, qcow2, vmdk, VHD or VHDX disk (stored as qcow2)." };
        var name = Opt.Text("--name", "The image's name (default: the file name).", "name");
        var description = Opt.Text("--description", "A description.", "text");
        var quiet = Opt.Flag("--no-progress", "Do not show progress for large files.");
        var command = new Command("import", "Upload a file (resumable) and make an image of your account from it.") { file, name, description, quiet };
        app.Handle(command, async inv =>
        {
            var path = inv.Value(file);
            var upload = await SendAsync(inv, path, null, null, inv.Value(quiet));
            var image = await inv.Client().AccountImages.CreateAsync(upload.Id, inv.Value(name) ?? path.Name, inv.Value(description), inv.Ct);
            return inv.Show(image, ImageFields);
        });
        return command;
    }

    private static Command CreateImage(CliApp app)
    {
        var upload = Opt.Required("--upload", "A complete upload of your account; it is used up.", "upload-id");
        var name = Opt.Required("--name", "The image's name.", "name");
        var description = Opt.Text("--description", "A description.", "text");
        var command = new Command("create", "Make an image of your account from a complete upload.") { upload, name, description };
        app.Handle(command, async inv =>
            inv.Show(await inv.Client().AccountImages.CreateAsync(inv.Value(upload)!, inv.Value(name)!, inv.Value(description), inv.Ct), ImageFields));
        return command;
    }

    private static Command ListImages(CliApp app)
    {
        var after = Opt.After();
        var limit = Opt.Limit();
        var command = new Command("list", "List your account's images.") { after, limit };
        app.Handle(command, async inv =>
            inv.ShowPage(await inv.Client().AccountImages.ListAsync(inv.Value(after), inv.Value(limit), inv.Ct), "No images.",
                new Column<AccountImageView>("Id", i => i.Id),
                new Column<AccountImageView>("Name", i => i.Name),
                new Column<AccountImageView>("Disk", i => Fmt.Bytes(i.VirtualSizeBytes)),
                new Column<AccountImageView>("Size", i => Fmt.Bytes(i.SizeBytes)),
                new Column<AccountImageView>("Created", i => Fmt.Time(i.Created))));
        return command;
    }

    private static Command ShowImage(CliApp app)
    {
        var id = Opt.Id("image");
        var command = new Command("show", "Show one of your account's images.") { id };
        app.Handle(command, async inv => inv.Show(await inv.Client().AccountImages.GetAsync(inv.Value(id), inv.Ct), ImageFields));
        return command;
    }

    private static Command DeleteImage(CliApp app)
    {
        var id = Opt.Id("image");
        var command = new Command("delete", "Delete one of your account's images; machines made from it keep their disks.") { id };
        app.Handle(command, async inv => inv.Show(await inv.Client().AccountImages.DeleteAsync(inv.Value(id), inv.Ct), ImageFields));
        return command;
    }
}

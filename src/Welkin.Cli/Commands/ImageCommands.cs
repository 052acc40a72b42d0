using System.CommandLine;
using System.Globalization;
using System.Net.Http.Headers;
using Welkin.Cli.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Commands;

/// <summary><c>welkin image</c>: virtual disk images, streamed both ways.</summary>
internal static class ImageCommands
{
    public static Command Create(CliApp app) => new("image", "Upload, list, download and delete virtual disk images.")
    {
        Upload(app), List(app), Show(app), Download(app), Delete(app), Boot(app),
    };

    public static void Fields(Output o, ImageView i) => o.Fields(
        ("Id", i.Id), ("Name", i.Name), ("Description", i.Description), ("Format", Fmt.Name(i.Format)),
        ("Size", $"{Fmt.Bytes(i.SizeBytes)} ({Fmt.Number(i.SizeBytes)} bytes)"), ("SHA-256", i.Sha256), ("State", Fmt.Name(i.State)),
        ("Version", Fmt.Number(i.Version)), ("Created", Fmt.Time(i.Created)),
        ("Boot", i.Boot is null ? null : $"kernel {i.Boot.KernelImageId ?? "-"}, ramdisk {i.Boot.RamdiskImageId ?? "-"}, cmdline '{i.Boot.CommandLine}', ready marker '{i.Boot.ReadyMarker}'"));

    private static Command Upload(CliApp app)
    {
        var file = new Argument<FileInfo>("FILE") { Description = "The image file (raw, qcow2 or vmdk; a VHD or VHDX is refused: upload it as an account image or in an OVF package, which convert it)." };
        var name = Opt.Text("--name", "The image's name (default: the file name).", "name");
        var description = Opt.Text("--description", "A description.", "text");
        var sha256 = Opt.Text("--sha256", "The file's SHA-256 (hex), if known: the server refuses the upload when the bytes it received differ.", "hex");
        var quiet = Opt.Flag("--no-progress", "Do not show progress for large files.");
        var command = new Command("upload", "Upload an image; the file is streamed, never loaded into memory.") { file, name, description, sha256, quiet };
        app.Handle(command, async inv =>
        {
            var path = inv.Value(file);
            FileStream stream;
            try
            {
                stream = new FileStream(path.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliException($"Cannot read {path.FullName}: {e.Message}");
            }
            await using (stream)
            {
                var progress = !inv.Value(quiet) && stream.Length >= TransferProgress.Threshold
                    ? new TransferProgress(inv.Err, inv.Context.ErrIsTerminal, "Uploading " + path.Name, stream.Length)
                    : null;
                var image = await inv.Client().Images.UploadAsync(stream, inv.Value(name) ?? path.Name, inv.Value(description), inv.Value(sha256), progress, inv.Ct);
                return inv.Show(image, Fields);
            }
        });
        return command;
    }

    private static Command List(CliApp app)
    {
        var state = Opt.Enum<ImageState>("--state", "Available images (the default) or deleted ones");
        var after = Opt.After();
        var limit = Opt.Limit();
        var command = new Command("list", "List images.") { state, after, limit };
        app.Handle(command, async inv =>
            inv.ShowPage(await inv.Client().Images.ListAsync(inv.Value(state), inv.Value(after), inv.Value(limit), inv.Ct), "No images.",
                new Column<ImageView>("Id", i => i.Id),
                new Column<ImageView>("Name", i => i.Name),
                new Column<ImageView>("Format", i => Fmt.Name(i.Format)),
                new Column<ImageView>("Size", i => Fmt.Bytes(i.SizeBytes)),
                new Column<ImageView>("State", i => Fmt.Name(i.State)),
                new Column<ImageView>("Created", i => Fmt.Time(i.Created))));
        return command;
    }

    private static Command Show(CliApp app)
    {
        var id = Opt.Id("image");
        var command = new Command("show", "Show an image's metadata.") { id };
        app.Handle(command, async inv => inv.Show(await inv.Client().Images.GetAsync(inv.Value(id), inv.Ct), Fields));
        return command;
    }

    private static Command Download(CliApp app)
    {
        var id = Opt.Id("image");
        var output = new Option<FileInfo>("--output", "-o") { Description = "The file to write.", HelpName = "file", Required = true };
        var range = new Option<RangeItemHeaderValue?>("--range")
        {
            Description = "Only these bytes: FIRST-LAST (inclusive), FIRST- (to the end) or -N (the last N).",
            HelpName = "a-b",
            CustomParser = r => ParseRange(r, r.Tokens[0].Value),
        };
        var quiet = Opt.Flag("--no-progress", "Do not show progress for large images.");
        var command = new Command("download", "Download an image (or a byte range of it) to a file; a whole image is checked against its SHA-256.")
        {
            id, output, range, quiet,
        };
        app.Handle(command, async inv =>
        {
            var images = inv.Client().Images;
            var image = await images.GetAsync(inv.Value(id), inv.Ct);
            var target = inv.Value(output)!;
            var byteRange = inv.Value(range);
            // Write beside the target and move into place at the end, so a failed download never
            // leaves a truncated file under the requested name.
            var partial = target.FullName + ".partial";
            try
            {
                string digest;
                Client.ImageDownload result;
                await using (var file = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous))
                await using (var hashing = new HashingStream(file))
                {
                    var progress = !inv.Value(quiet) && byteRange is null && image.SizeBytes >= TransferProgress.Threshold
                        ? new TransferProgress(inv.Err, inv.Context.ErrIsTerminal, "Downloading " + image.Name, image.SizeBytes)
                        : null;
                    result = await images.DownloadAsync(image.Id, hashing, byteRange, progress, inv.Ct);
                    digest = hashing.HexDigest();
                }
                var whole = !result.IsPartial;
                if (whole && !string.Equals(digest, image.Sha256, StringComparison.OrdinalIgnoreCase))
                {
                    throw new CliException($"The downloaded bytes do not match the image's SHA-256 ({digest} instead of {image.Sha256}); nothing was written.", ExitCodes.ApiProblem);
                }
                File.Move(partial, target.FullName, overwrite: true);
                inv.Out.Line(whole
                    ? $"Wrote {Fmt.Number(result.BytesWritten)} bytes of image {image.Id} to {target.FullName} (SHA-256 verified)."
                    : $"Wrote bytes {Fmt.Number(result.From)}-{Fmt.Number(result.To)} of {Fmt.Number(result.TotalLength ?? image.SizeBytes)} of image {image.Id} to {target.FullName}.");
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
        });
        return command;
    }

    private static Command Delete(CliApp app)
    {
        var id = Opt.Id("image");
        var version = Opt.RowVersion();
        var command = new Command("delete", "Delete an image.") { id, version };
        app.Handle(command, async inv => inv.Show(await inv.Client().Images.DeleteAsync(inv.Value(id), inv.Value(version), inv.Ct), Fields));
        return command;
    }

    private static Command Boot(CliApp app)
    {
        var id = Opt.Id("image");
        var kernel = Opt.Text("--kernel", "The kernel image (a raw image) the disk boots by direct kernel boot.", "image-id");
        var ramdisk = Opt.Text("--ramdisk", "The initial ramdisk image (a raw image) booted with the kernel.", "image-id");
        var commandLine = Opt.Text("--cmdline", "Arguments appended to the kernel command line.", "text");
        var marker = Opt.Text("--ready-marker", "The line the guest prints on its serial console once it is up.", "text");
        var version = Opt.RowVersion();
        var command = new Command("boot", "Set how an image boots on a fabric of real machines (no options: clear it).") { id, kernel, ramdisk, commandLine, marker, version };
        app.Handle(command, async inv => inv.Show(await inv.Client().Images.SetBootAsync(inv.Value(id),
            new ImageBoot(inv.Value(kernel), inv.Value(ramdisk), inv.Value(commandLine), inv.Value(marker)), inv.Value(version), inv.Ct), Fields));
        return command;
    }

    private static RangeItemHeaderValue? ParseRange(System.CommandLine.Parsing.ArgumentResult result, string text)
    {
        var dash = text.IndexOf('-', StringComparison.Ordinal);
        long? Number(string part) => part.Length == 0 ? null
            : long.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : -1;
        if (dash >= 0)
        {
            var from = Number(text[..dash]);
            var to = Number(text[(dash + 1)..]);
            if (from is not -1 && to is not -1 && (from is not null || to is not null) && (from is null || to is null || from <= to))
            {
                return new RangeItemHeaderValue(from, to);
            }
        }
        result.AddError($"'{text}' is not a byte range: use FIRST-LAST, FIRST- or -N.");
        return null;
    }
}

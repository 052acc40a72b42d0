using System.Text.Json;
using Dapper;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Security;

namespace Welkin.Core.Catalog.Images;

public sealed class ImageOptions
{
    /// <summary>Directory of the file blob store (the server uses <c>&lt;data-dir&gt;/blobs</c>).</summary>
    public required string BlobRoot { get; init; }

    public long MaxBytes { get; init; } = 64L * 1024 * 1024 * 1024;
}

/// <param name="ExpectedSha256">The digest the client claims; the upload fails when the content's differs.</param>
/// <param name="DeclaredLength">The length the client announced, checked before any byte is read.</param>
public sealed record ImageUpload(string? Name, string? Description = null, string? ExpectedSha256 = null, long? DeclaredLength = null);

/// <summary>The query of <c>GET /api/v1/images</c>: the page, and <c>available</c> (default) or <c>deleted</c> images.</summary>
public sealed record ImageListQuery(string? After = null, int Limit = 100, string? State = null);

/// <summary>An image's content, open for reading; whoever receives it disposes the stream.</summary>
public sealed record ImageContent(ImageView Image, Stream Content);

/// <summary>
/// Virtual disk images of the Service Catalog, which templates reference. Images belong to the
/// provider: developers upload them, catalog managers and auditors read them, account principals
/// never see them directly. An account's own images (<see cref="AccountImageService"/>) are not
/// the catalog's: nothing here shows them or lets a template name them. The bytes live in an <see cref="IBlobStore"/> under their SHA-256,
/// so identical uploads share one blob; a blob goes when the last available image using it is deleted.
/// </summary>
public sealed class ImageService(IDatabase db, AuditLog audit, TimeProvider clock, IBlobStore blobs, ImageOptions options)
{
    public const int MaxNameLength = 200;
    public const int MaxDescriptionLength = 1000;

    private const string Available = "available";
    private const string Deleted = "deleted";

    private const string Columns =
        "id AS Id, name AS Name, description AS Description, format AS Format, size_bytes AS SizeBytes, sha256 AS Sha256, "
        + "owner_principal AS OwnerPrincipal, state AS State, version AS Version, created_at AS CreatedAt, updated_at AS UpdatedAt, boot AS Boot";

    public long MaxBytes => options.MaxBytes;

    public Error TooLarge() => new("body-too-large", ErrorKind.PayloadTooLarge, $"An image may be at most {options.MaxBytes} bytes.");

    /// <summary>Whether the caller may upload at all, so that a refusal comes before any byte is read.</summary>
    public static Error? CheckWrite(Caller caller) => Tenancy.RequireProvider(caller, Permission.ImagesWrite, "Uploading and deleting images");

    public Task<Result<ImageView>> UploadAsync(Caller caller, ImageUpload request, Stream content, CancellationToken ct) =>
        UploadAsync(caller, request, content, null, ct);

    /// <summary>Stores an image; <paramref name="once"/> records the answer under the request's Idempotency-Key in the same transaction.</summary>
    public async Task<Result<ImageView>> UploadAsync(Caller caller, ImageUpload request, Stream content, IdempotentWrite<ImageView>? once, CancellationToken ct)
    {
        if (CheckWrite(caller) is { } denied)
        {
            return denied;
        }
        var expected = request.ExpectedSha256?.ToLowerInvariant();
        var v = new Validator();
        v.Require(request.Name is { Length: > 0 and <= MaxNameLength } && !string.IsNullOrWhiteSpace(request.Name) && !request.Name.Any(char.IsControl),
            "name", $"name must be 1-{MaxNameLength} characters without control characters");
        v.Require(request.Description is null || (request.Description.Length <= MaxDescriptionLength && !request.Description.Any(c => char.IsControl(c) && c is not ('\n' or '\r' or '\t'))),
            "description", $"description must be at most {MaxDescriptionLength} characters");
        v.Require(expected is null || Sha256Hex.IsValid(expected), "sha256", "sha256 must be 64 hexadecimal characters");
        if (v.ToError() is { } invalid)
        {
            return invalid;
        }
        if (request.DeclaredLength > options.MaxBytes)
        {
            return TooLarge();
        }

        var staged = await blobs.StageAsync(content, options.MaxBytes, ct);
        if (!staged.IsSuccess)
        {
            return staged.Error!.Kind == ErrorKind.PayloadTooLarge ? TooLarge() : staged.Error;
        }
        await using var blob = staged.Value;
        if (blob.SizeBytes == 0)
        {
            return Error.Validation("body", "The image is empty: send its bytes as the request body.");
        }
        if (expected is not null && expected != blob.Sha256)
        {
            return new Error("digest-mismatch", ErrorKind.Validation,
                $"The content received has SHA-256 {blob.Sha256}, not {expected} as declared; nothing was stored.");
        }

        var format = ImageFormats.Detect(blob.Head.Span);
        if (format == ImageFormat.Raw && ImageFormats.ConvertOnly(blob.Head.Span, blob.Tail.Span) is { } named)
        {
            // The catalog keeps the bytes as sent (their digest is the one declared, dedupe, download); the
            // fabric reads raw, qcow2 and VMDK. Stored as raw, a VHD would hand guests its headers and tables.
            return new Error("image-format-unsupported", ErrorKind.Validation,
                $"The image is a {named} disk, which the catalog does not store; convert it (qemu-img convert -f {(named == "VHD" ? "vpc" : "vhdx")} -O qcow2), "
                + "or import it in an OVF package or as an account image, which convert it to qcow2. Nothing was stored.");
        }

        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var row = new ImageRow(Ids.New(Ids.Image, clock), request.Name!, request.Description, WireNames.Of(format),
            blob.SizeBytes, blob.Sha256, caller.PrincipalId, Available, 1, now, now);
        return await db.WriteAsync<ImageView>(async tx =>
        {
            // The upsert locks the blob's row, which a delete also locks before it counts the images
            // using the blob: a delete that removes the blob either commits before this (and the
            // Commit below publishes the blob again) or waits and then sees this image.
            await InsertAsync(tx, row);
            await audit.AppendAsync(tx, caller, new AuditEvent("image.upload", row.Id, AuditEvent.Success, null,
                $"format={row.Format}; size={row.SizeBytes}; sha256={row.Sha256}"));
            var view = ToView(row);
            if (once is not null && await once.RecordAsync(tx, view) is { } taken)
            {
                return taken;
            }
            // Published last, still inside the transaction. Should the commit fail after this, the
            // blob stays without an image: being content-addressed it is harmless, and the next
            // upload of the same content reuses it.
            blob.Commit();
            return view;
        }, ct);
    }

    public async Task<Result<ImageView>> GetAsync(Caller caller, string id, CancellationToken ct)
    {
        if (!Ids.IsValid(id, Ids.Image))
        {
            return Error.InvalidId(id, "image");
        }
        if (CheckRead(caller) is { } denied)
        {
            return denied;
        }
        var row = await db.QuerySingleOrDefaultAsync<ImageRow>($"SELECT {Columns} FROM images WHERE id = @Id AND account_id IS NULL", new { Id = id }, ct);
        return row is null ? Error.NotFound("Image", id) : ToView(row);
    }

    /// <summary>Images in id (creation) order: the available ones, or the deleted ones when the query asks for them.</summary>
    public async Task<Result<Page<ImageView>>> ListAsync(Caller caller, ImageListQuery query, CancellationToken ct)
    {
        ImageState? state = query.State switch
        {
            null or "available" => ImageState.Available,
            "deleted" => ImageState.Deleted,
            _ => null,
        };
        if (state is null)
        {
            return Error.Validation("state", "state must be 'available' or 'deleted'");
        }
        if (Filters.Id(query.After, Ids.Image, "image") is { } invalid)
        {
            return invalid;
        }
        if (CheckRead(caller) is { } denied)
        {
            return denied;
        }
        var paging = new Paging(query.Limit);
        var rows = await db.QueryAsync<ImageRow>(
            $"SELECT {Columns} FROM images WHERE id > @After AND state = @State AND account_id IS NULL ORDER BY id LIMIT @Take",
            new { After = query.After ?? "", State = WireNames.Of(state.Value), paging.Take }, ct);
        return paging.Page(rows, ToView, v => v.Id);
    }

    /// <summary>Marks the image deleted, and removes its blob when no other available image uses it.</summary>
    public async Task<Result<ImageView>> DeleteAsync(Caller caller, string id, long? version, CancellationToken ct)
    {
        if (!Ids.IsValid(id, Ids.Image))
        {
            return Error.InvalidId(id, "image");
        }
        if (CheckWrite(caller) is { } denied)
        {
            return denied;
        }
        IBlobRemoval? removal = null;
        Result<ImageView> result;
        try
        {
            result = await db.WriteAsync<ImageView>(async tx =>
            {
                var row = await tx.QuerySingleOrDefaultAsync<ImageRow>($"SELECT {Columns} FROM images WHERE id = @Id AND account_id IS NULL", new { Id = id });
                if (row is null)
                {
                    return Error.NotFound("Image", id);
                }
                if (row.State == Deleted)
                {
                    return Error.InvalidState($"Image '{id}' is already deleted.");
                }
                if (version is { } expected && expected != row.Version)
                {
                    return Error.VersionMismatch("Image", id, expected, row.Version);
                }
                var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
                var updated = row with { State = Deleted, Version = row.Version + 1, UpdatedAt = now };
                var n = await tx.ExecuteAsync(
                    "UPDATE images SET state = @State, version = @Version, updated_at = @UpdatedAt WHERE id = @Id AND version = @OldVersion",
                    new { updated.State, updated.Version, updated.UpdatedAt, updated.Id, OldVersion = row.Version });
                if (n == 0)
                {
                    return Error.Concurrency("Image", id);
                }
                // Lock the blob's row before counting its users (see UploadAsync).
                await tx.ExecuteAsync("UPDATE blobs SET updated_at = @Now WHERE sha256 = @Sha256", new { Now = now, row.Sha256 });
                var users = await tx.ExecuteScalarAsync<long>(
                    "SELECT COUNT(*) FROM images WHERE sha256 = @Sha256 AND state = @State", new { row.Sha256, State = Available });
                if (users == 0)
                {
                    await tx.ExecuteAsync("DELETE FROM blobs WHERE sha256 = @Sha256", new { row.Sha256 });
                    // Detached, not deleted: put back should the transaction not commit.
                    removal = blobs.Detach(row.Sha256);
                }
                await audit.AppendAsync(tx, caller, new AuditEvent("image.delete", id, AuditEvent.Success, null,
                    $"sha256={row.Sha256}; blob={(users == 0 ? "removed" : "kept")}"));
                return ToView(updated);
            }, ct);
        }
        catch
        {
            removal?.Undo();
            throw;
        }
        if (removal is not null)
        {
            if (result.IsSuccess)
            {
                removal.Complete();
            }
            else
            {
                removal.Undo();
            }
        }
        return result;
    }

    /// <summary>Opens an available image's content for download.</summary>
    public async Task<Result<ImageContent>> OpenContentAsync(Caller caller, string id, CancellationToken ct)
    {
        var image = await GetAsync(caller, id, ct);
        if (!image.IsSuccess)
        {
            return image.Error!;
        }
        if (image.Value.State == ImageState.Deleted)
        {
            return Gone(id);
        }
        var stream = blobs.OpenRead(image.Value.Sha256);
        if (stream is null)
        {
            // A delete may have removed the blob since the row was read.
            var again = await GetAsync(caller, id, ct);
            if (again is { IsSuccess: true, Value.State: ImageState.Deleted })
            {
                return Gone(id);
            }
            throw new InvalidOperationException($"Blob {image.Value.Sha256} of available image {id} is missing from the blob store.");
        }
        return new ImageContent(image.Value, stream);
    }

    /// <summary>
    /// Records a blob staged by someone else (an OVF import) as an image inside the caller's
    /// transaction, so the image exists only if that whole operation commits.
    /// </summary>
    internal async Task<ImageView> InsertStagedAsync(Tx tx, Caller caller, IStagedBlob blob, string name, string? description, ImageFormat format)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var row = new ImageRow(Ids.New(Ids.Image, clock), name, description, WireNames.Of(format), blob.SizeBytes, blob.Sha256, caller.PrincipalId, Available, 1, now, now);
        await InsertAsync(tx, row);
        blob.Commit();
        return ToView(row);
    }

    private static async Task InsertAsync(Tx tx, ImageRow row)
    {
        await tx.ExecuteAsync(
            """
            INSERT INTO blobs (sha256, size_bytes, created_at, updated_at) VALUES (@Sha256, @SizeBytes, @Now, @Now)
            ON CONFLICT (sha256) DO UPDATE SET updated_at = @Now
            """, new { row.Sha256, row.SizeBytes, Now = row.CreatedAt });
        await tx.ExecuteAsync(
            """
            INSERT INTO images (id, account_id, name, description, format, size_bytes, sha256, owner_principal, state, version, created_at, updated_at)
            VALUES (@Id, NULL, @Name, @Description, @Format, @SizeBytes, @Sha256, @OwnerPrincipal, @State, @Version, @CreatedAt, @UpdatedAt)
            """, row);
    }

    /// <summary>An available image by id, without a permission check: for callers that have already authorized the use (a machine's own image).</summary>
    internal async Task<ImageView?> FindAvailableAsync(string id, CancellationToken ct)
    {
        var row = await db.QuerySingleOrDefaultAsync<ImageRow>($"SELECT {Columns} FROM images WHERE id = @Id AND state = @State", new { Id = id, State = Available }, ct);
        return row is null ? null : ToView(row);
    }

    /// <summary>The image's row (any state, the catalog's or an account's own), or null; for resolving how a machine's image boots.</summary>
    internal static Task<ImageRow?> FindAsync(IDatabase db, string id, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<ImageRow>($"SELECT {Columns} FROM images WHERE id = @Id", new { Id = id }, ct);

    /// <summary>Which of <paramref name="ids"/> are available images, read in the caller's transaction.</summary>
    internal static async Task<HashSet<string>> AvailableAsync(Tx tx, IEnumerable<string> ids)
    {
        var parameters = new DynamicParameters();
        var list = SqlLists.In(parameters, "Image", ids);
        return (await tx.QueryAsync<string>($"SELECT id FROM images WHERE id {list} AND state = 'available' AND account_id IS NULL", parameters)).ToHashSet(StringComparer.Ordinal);
    }

    private static Error Gone(string id) => new("not-found", ErrorKind.NotFound, $"Image '{id}' was deleted; its content is gone.");

    private static Error? CheckRead(Caller caller) => Tenancy.RequireProvider(caller, Permission.ImagesRead, "Reading images");

    private static ImageView ToView(ImageRow r) =>
        new(r.Id, r.Name, r.Description, WireNames.Parse<ImageFormat>(r.Format), r.SizeBytes, r.Sha256,
            WireNames.Parse<ImageState>(r.State), r.Version, DbTime.FromDb(r.CreatedAt), r.BootSettings);

    public const int MaxCommandLineLength = 1024;
    public const int MaxReadyMarkerLength = 200;

    /// <summary>
    /// Sets how the image boots (<see cref="ImageBoot"/>): the kernel and ramdisk must be available
    /// raw images; the command line and ready marker printable ASCII. An empty request clears it.
    /// </summary>
    public async Task<Result<ImageView>> SetBootAsync(Caller caller, string id, ImageBoot request, long? version, CancellationToken ct)
    {
        if (!Ids.IsValid(id, Ids.Image))
        {
            return Error.InvalidId(id, "image");
        }
        if (CheckWrite(caller) is { } denied)
        {
            return denied;
        }
        ArgumentNullException.ThrowIfNull(request);
        var v = new Validator();
        v.Require(request.KernelImageId is null || Ids.IsValid(request.KernelImageId, Ids.Image), "kernelImageId", "kernelImageId must be an image id");
        v.Require(request.RamdiskImageId is null || Ids.IsValid(request.RamdiskImageId, Ids.Image), "ramdiskImageId", "ramdiskImageId must be an image id");
        v.Require((request.KernelImageId is null) == (request.RamdiskImageId is null), "ramdiskImageId", "a kernel and a ramdisk go together");
        v.Require(request.CommandLine is null || (request.CommandLine.Length <= MaxCommandLineLength && request.CommandLine.All(c => c is >= ' ' and <= '~')),
            "commandLine", $"commandLine must be at most {MaxCommandLineLength} printable ASCII characters");
        v.Require(request.ReadyMarker is null || (request.ReadyMarker.Length is > 0 and <= MaxReadyMarkerLength && request.ReadyMarker.All(c => c is >= ' ' and <= '~')),
            "readyMarker", $"readyMarker must be 1-{MaxReadyMarkerLength} printable ASCII characters");
        if (v.ToError() is { } invalid)
        {
            return invalid;
        }
        return await db.WriteAsync<ImageView>(async tx =>
        {
            var row = await tx.QuerySingleOrDefaultAsync<ImageRow>($"SELECT {Columns} FROM images WHERE id = @Id AND account_id IS NULL", new { Id = id });
            if (row is null)
            {
                return Error.NotFound("Image", id);
            }
            if (row.State == Deleted)
            {
                return Error.InvalidState($"Image '{id}' is deleted.");
            }
            if (version is { } expected && expected != row.Version)
            {
                return Error.VersionMismatch("Image", id, expected, row.Version);
            }
            foreach (var (field, partId) in new[] { ("kernelImageId", request.KernelImageId), ("ramdiskImageId", request.RamdiskImageId) })
            {
                if (partId is null)
                {
                    continue;
                }
                var part = await tx.QuerySingleOrDefaultAsync<ImageRow>($"SELECT {Columns} FROM images WHERE id = @Id AND account_id IS NULL", new { Id = partId });
                if (part is null || part.State != Available || part.Format != WireNames.Of(ImageFormat.Raw))
                {
                    return Error.Validation(field, $"{field} must name an available raw image ('{partId}' is not one).");
                }
            }
            var empty = request is { KernelImageId: null, RamdiskImageId: null, CommandLine: null, ReadyMarker: null };
            var boot = empty ? null : JsonSerializer.Serialize(request, WelkinJson.Client);
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            var updated = row with { Boot = boot, Version = row.Version + 1, UpdatedAt = now };
            var n = await tx.ExecuteAsync("UPDATE images SET boot = @Boot, version = @Version, updated_at = @UpdatedAt WHERE id = @Id AND version = @OldVersion",
                new { updated.Boot, updated.Version, updated.UpdatedAt, updated.Id, OldVersion = row.Version });
            if (n == 0)
            {
                return Error.Concurrency("Image", id);
            }
            await audit.AppendAsync(tx, caller, new AuditEvent("image.boot", id, AuditEvent.Success, null,
                empty ? "cleared" : $"kernel={request.KernelImageId}; ramdisk={request.RamdiskImageId}; marker={(request.ReadyMarker is null ? "none" : "set")}"));
            return ToView(updated);
        }, ct);
    }

    internal sealed record ImageRow(
        string Id, string Name, string? Description, string Format, long SizeBytes, string Sha256, string OwnerPrincipal,
        string State, long Version, long CreatedAt, long UpdatedAt, string? Boot = null)
    {
        public ImageBoot? BootSettings => Boot is null ? null : JsonSerializer.Deserialize<ImageBoot>(Boot, WelkinJson.Client);
    }
}

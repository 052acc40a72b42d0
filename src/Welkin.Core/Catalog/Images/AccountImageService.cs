using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Security;
using Welkin.Core.Uploads;

namespace Welkin.Core.Catalog.Images;

/// <summary>
/// Images an account owns, made from its own complete uploads (an OVA as Welkin exports a machine,
/// or a plain disk) with the checks of every disk from a user (<see cref="OvfPackages"/>: format from
/// the content, qemu-img with that format, no backing or external files), stored as qcow2 in the
/// blob store. Only the account sees them (images.account_id), the catalog never does, and they
/// are what its provisions may name instead of a template's image. An account owns at most
/// <see cref="UploadOptions.MaxImagesPerAccount"/> available images.
/// </summary>
public sealed class AccountImageService(IDatabase db, AuditLog audit, TimeProvider clock, UploadService uploads, OvfPackages packages, IBlobStore blobs)
{
    private const string Columns =
        "id AS Id, account_id AS AccountId, name AS Name, description AS Description, format AS Format, size_bytes AS SizeBytes, "
        + "virtual_size_bytes AS VirtualSizeBytes, sha256 AS Sha256, state AS State, version AS Version, created_at AS CreatedAt";

    public Task<Result<AccountImageView>> CreateAsync(Caller caller, CreateAccountImageRequest request, CancellationToken ct) =>
        CreateAsync(caller, request, null, ct);

    /// <summary>Makes the image; <paramref name="once"/> records the answer under the request's Idempotency-Key in the same transaction.</summary>
    public async Task<Result<AccountImageView>> CreateAsync(Caller caller, CreateAccountImageRequest request, IdempotentWrite<AccountImageView>? once, CancellationToken ct)
    {
        if (UploadService.CheckWrite(caller) is { } denied)
        {
            return denied;
        }
        ArgumentNullException.ThrowIfNull(request);
        var v = new Validator();
        v.Require(request.Name is { Length: > 0 and <= ImageService.MaxNameLength } && !string.IsNullOrWhiteSpace(request.Name) && !request.Name.Any(char.IsControl),
            "name", $"name must be 1-{ImageService.MaxNameLength} characters without control characters");
        v.Require(request.Description is null || (request.Description.Length <= ImageService.MaxDescriptionLength && !request.Description.Any(char.IsControl)),
            "description", $"description must be at most {ImageService.MaxDescriptionLength} characters without control characters");
        if (v.ToError() is { } invalid)
        {
            return invalid;
        }
        var upload = await uploads.CompleteAsync(caller, request.UploadId ?? "", ct);
        if (!upload.IsSuccess)
        {
            return upload.Error!;
        }
        var accountId = caller.AccountId!;
        if (await CountAsync(accountId, ct) >= uploads.Options.MaxImagesPerAccount)
        {
            return Limit(uploads.Options.MaxImagesPerAccount);
        }
        var staged = await packages.StageUploadedDiskAsync(upload.Value.Path, ct);
        if (!staged.IsSuccess)
        {
            return staged.Error!;
        }
        await using var blob = staged.Value.Blob;
        var result = await db.WriteAsync<AccountImageView>(async tx =>
        {
            await Accounts.AccountStore.LockAsync(tx, accountId);
            var count = await tx.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM images WHERE account_id = @AccountId AND state = 'available'", new { AccountId = accountId });
            if (count >= uploads.Options.MaxImagesPerAccount)
            {
                return Limit(uploads.Options.MaxImagesPerAccount);
            }
            if (!await UploadService.ConsumeAsync(tx, upload.Value.Upload.Id, upload.Value.Upload.Version))
            {
                return Error.Concurrency("Upload", upload.Value.Upload.Id);
            }
            var row = await InsertAsync(tx, caller, accountId, request.Name!, request.Description, staged.Value, null, $"upload={upload.Value.Upload.Id}; source={staged.Value.Source}");
            var view = ToView(row);
            if (once is not null && await once.RecordAsync(tx, view) is { } taken)
            {
                return taken;
            }
            // Published last, inside the transaction (as ImageService.UploadAsync does).
            blob.Commit();
            return view;
        }, ct);
        if (result.IsSuccess)
        {
            uploads.DeleteBytes(upload.Value.Upload.Id);
        }
        return result;
    }

    /// <summary>
    /// Makes an image of <paramref name="accountId"/> from a package or disk in a file of this cloud (a machine coming
    /// home from a peer cloud), with the checks of every disk from outside, booting as <paramref name="bootOf"/> boots
    /// when that image names a kernel and ramdisk (an OVA carries none). Not counted against the account's image limit:
    /// the image is the machine's way home and is deleted once the machine has its own disk.
    /// </summary>
    internal async Task<Result<AccountImageView>> CreateFromFileAsync(Caller caller, string accountId, string path, string name, string? bootOf, CancellationToken ct)
    {
        var staged = await packages.StageUploadedDiskAsync(path, ct);
        if (!staged.IsSuccess)
        {
            return staged.Error!;
        }
        await using var blob = staged.Value.Blob;
        return await db.WriteAsync<AccountImageView>(async tx =>
        {
            var boot = bootOf is null ? null : await tx.QuerySingleOrDefaultAsync<string>("SELECT boot FROM images WHERE id = @Id", new { Id = bootOf });
            var row = await InsertAsync(tx, caller, accountId, name, "A machine brought home from a peer cloud", staged.Value, boot, $"file=package; source={staged.Value.Source}");
            blob.Commit();
            return ToView(row);
        }, ct);
    }

    /// <summary>Records a staged disk as an available image of the account, with its blob, and audits it.</summary>
    private async Task<AccountImageRow> InsertAsync(Tx tx, Caller caller, string accountId, string name, string? description, StagedDisk staged, string? boot, string detail)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var blob = staged.Blob;
        var row = new AccountImageRow(Ids.New(Ids.Image, clock), accountId, name, description, WireNames.Of(ImageFormat.Qcow2),
            blob.SizeBytes, staged.VirtualSize, blob.Sha256, "available", 1, now);
        await tx.ExecuteAsync(
            """
            INSERT INTO blobs (sha256, size_bytes, created_at, updated_at) VALUES (@Sha256, @SizeBytes, @Now, @Now)
            ON CONFLICT (sha256) DO UPDATE SET updated_at = @Now
            """, new { row.Sha256, row.SizeBytes, Now = now });
        await tx.ExecuteAsync(
            """
            INSERT INTO images (id, account_id, name, description, format, size_bytes, virtual_size_bytes, sha256, owner_principal, state, version, created_at, updated_at, boot)
            VALUES (@Id, @AccountId, @Name, @Description, @Format, @SizeBytes, @VirtualSizeBytes, @Sha256, @Owner, @State, @Version, @CreatedAt, @CreatedAt, @Boot)
            """, new { row.Id, row.AccountId, row.Name, row.Description, row.Format, row.SizeBytes, row.VirtualSizeBytes, row.Sha256, Owner = caller.PrincipalId, row.State, row.Version, row.CreatedAt, Boot = boot });
        await audit.AppendAsync(tx, caller, new AuditEvent("image.import", row.Id, AuditEvent.Success, accountId,
            $"{detail}; size={row.SizeBytes}; virtual-size={row.VirtualSizeBytes}; sha256={row.Sha256}"));
        return row;
    }

    public async Task<Result<AccountImageView>> GetAsync(Caller caller, string id, CancellationToken ct)
    {
        var row = await FindAsync(caller, id, ct);
        return row.IsSuccess ? ToView(row.Value) : row.Error!;
    }

    public async Task<Result<Page<AccountImageView>>> ListAsync(Caller caller, string? after, int limit, CancellationToken ct)
    {
        if (Filters.Id(after, Ids.Image, "image") is { } invalid)
        {
            return invalid;
        }
        if (Tenancy.RequireTenant(caller, Permission.ResourcesRead, "Reading the account's images") is { } denied)
        {
            return denied;
        }
        var paging = new Paging(limit);
        var rows = await db.QueryAsync<AccountImageRow>(
            $"SELECT {Columns} FROM images WHERE account_id = @AccountId AND state = 'available' AND id > @After ORDER BY id LIMIT @Take",
            new { caller.AccountId, After = after ?? "", paging.Take }, ct);
        return paging.Page(rows, ToView, i => i.Id);
    }

    /// <summary>Marks the image deleted; its blob goes when no available image uses it. Machines made from it keep their own disks.</summary>
    public async Task<Result<AccountImageView>> DeleteAsync(Caller caller, string id, CancellationToken ct)
    {
        if (UploadService.CheckWrite(caller) is { } denied)
        {
            return denied;
        }
        var found = await FindAsync(caller, id, ct);
        return found.IsSuccess ? await DeleteAsync(caller, found.Value, ct) : found.Error!;
    }

    /// <summary>Deletes an image a machine came home with, once the machine has its own disk.</summary>
    internal async Task<Result<AccountImageView>> DeleteOwnAsync(Caller caller, string accountId, string id, CancellationToken ct)
    {
        var row = await db.ReadAsync(tx => FindOwnAsync(tx, accountId, id), ct);
        return row is null ? Error.NotFound("Image", id) : await DeleteAsync(caller, row, ct);
    }

    private async Task<Result<AccountImageView>> DeleteAsync(Caller caller, AccountImageRow row, CancellationToken ct)
    {
        var id = row.Id;
        IBlobRemoval? removal = null;
        var result = await db.WriteAsync<AccountImageView>(async tx =>
        {
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            var n = await tx.ExecuteAsync("UPDATE images SET state = 'deleted', version = version + 1, updated_at = @Now WHERE id = @Id AND version = @Version AND state = 'available'",
                new { Now = now, row.Id, row.Version });
            if (n == 0)
            {
                return Error.Concurrency("Image", id);
            }
            await tx.ExecuteAsync("UPDATE blobs SET updated_at = @Now WHERE sha256 = @Sha256", new { Now = now, row.Sha256 });
            var users = await tx.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM images WHERE sha256 = @Sha256 AND state = 'available'", new { row.Sha256 });
            if (users == 0)
            {
                await tx.ExecuteAsync("DELETE FROM blobs WHERE sha256 = @Sha256", new { row.Sha256 });
                removal = blobs.Detach(row.Sha256);
            }
            await audit.AppendAsync(tx, caller, new AuditEvent("image.delete", id, AuditEvent.Success, row.AccountId, $"sha256={row.Sha256}; blob={(users == 0 ? "removed" : "kept")}"));
            return ToView(row with { State = "deleted", Version = row.Version + 1 });
        }, ct);
        if (result.IsSuccess)
        {
            removal?.Complete();
        }
        else
        {
            removal?.Undo();
        }
        return result;
    }

    /// <summary>
    /// The available image <paramref name="id"/> of <paramref name="accountId"/>, read in the caller's
    /// transaction; null for any other (another account's answers as a missing one).
    /// </summary>
    internal static Task<AccountImageRow?> FindOwnAsync(Tx tx, string accountId, string id) =>
        tx.QuerySingleOrDefaultAsync<AccountImageRow>($"SELECT {Columns} FROM images WHERE id = @Id AND account_id = @AccountId AND state = 'available'",
            new { Id = id, AccountId = accountId });

    private Task<long> CountAsync(string accountId, CancellationToken ct) =>
        db.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM images WHERE account_id = @AccountId AND state = 'available'", new { AccountId = accountId }, ct);

    private async Task<Result<AccountImageRow>> FindAsync(Caller caller, string id, CancellationToken ct)
    {
        if (!Ids.IsValid(id, Ids.Image))
        {
            return Error.InvalidId(id, "image");
        }
        if (Tenancy.RequireTenant(caller, Permission.ResourcesRead, "Reading the account's images") is { } denied)
        {
            return denied;
        }
        var row = await db.QuerySingleOrDefaultAsync<AccountImageRow>($"SELECT {Columns} FROM images WHERE id = @Id AND state = 'available'", new { Id = id }, ct);
        return row is null || row.AccountId != caller.AccountId ? Error.NotFound("Image", id) : row;
    }

    private static Error Limit(int max) =>
        new("image-limit", ErrorKind.QuotaExceeded, $"The account owns {max} images, the most it may; delete one first.");

    private static AccountImageView ToView(AccountImageRow r) =>
        new(r.Id, r.AccountId!, r.Name, r.Description, WireNames.Parse<ImageFormat>(r.Format), r.SizeBytes, r.VirtualSizeBytes ?? 0, r.Sha256,
            WireNames.Parse<ImageState>(r.State), r.Version, DbTime.FromDb(r.CreatedAt));

    internal sealed record AccountImageRow(
        string Id, string? AccountId, string Name, string? Description, string Format, long SizeBytes, long? VirtualSizeBytes, string Sha256,
        string State, long Version, long CreatedAt);
}

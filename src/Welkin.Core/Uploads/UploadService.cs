using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Catalog.Images;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Security;

namespace Welkin.Core.Uploads;

public sealed class UploadOptions
{
    /// <summary>Where the bytes of uploads in progress live (the server uses <c>&lt;data-dir&gt;/uploads</c>).</summary>
    public required string Directory { get; init; }

    /// <summary>Largest upload, in bytes (the server uses its largest image).</summary>
    public long MaxBytes { get; init; } = 64L * 1024 * 1024 * 1024;

    /// <summary>Uploads an account may have open at once, complete ones not yet used included.</summary>
    public int MaxPerAccount { get; init; } = 4;

    /// <summary>Bytes all uploads of an account may declare together.</summary>
    public long MaxBytesPerAccount { get; init; } = 128L * 1024 * 1024 * 1024;

    /// <summary>How long an upload lives after its creation or its last chunk.</summary>
    public TimeSpan Expiry { get; init; } = TimeSpan.FromHours(24);

    /// <summary>Available images an account may own.</summary>
    public int MaxImagesPerAccount { get; init; } = 10;
}

/// <summary>A chunk of an upload: <c>Content-Range: bytes First-Last/Size</c> and the body's declared length, if any.</summary>
public sealed record UploadChunk(long First, long Last, long Size, long? ContentLength)
{
    public long Length => Last - First + 1;

    /// <summary>
    /// Parses <c>bytes FIRST-LAST/SIZE</c> (RFC 9110 14.4); the unsatisfied form <c>bytes */SIZE</c>
    /// and an unknown size (<c>/*</c>) say nothing to append, so they are refused here.
    /// </summary>
    public static Result<UploadChunk> Parse(string? header, long? contentLength)
    {
        var bad = new Error("bad-content-range", ErrorKind.Validation,
            "Send the chunk with Content-Range: bytes FIRST-LAST/SIZE (RFC 9110 14.4), FIRST being the upload's received bytes.");
        if (string.IsNullOrWhiteSpace(header) || !header.StartsWith("bytes ", StringComparison.Ordinal))
        {
            return bad;
        }
        var spec = header[6..].Trim();
        var slash = spec.IndexOf('/', StringComparison.Ordinal);
        var dash = spec.IndexOf('-', StringComparison.Ordinal);
        if (slash < 0 || dash < 0 || dash > slash
            || !long.TryParse(spec.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out var first)
            || !long.TryParse(spec.AsSpan(dash + 1, slash - dash - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var last)
            || !long.TryParse(spec.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var size))
        {
            return bad;
        }
        if (first > last || last >= size)
        {
            return new Error("bad-content-range", ErrorKind.Validation, $"Content-Range bytes {first}-{last}/{size} is not a range inside the content.");
        }
        var chunk = new UploadChunk(first, last, size, contentLength);
        if (contentLength is { } n && n != chunk.Length)
        {
            return new Error("bad-content-range", ErrorKind.Validation, $"Content-Length is {n} but Content-Range names {chunk.Length} bytes.");
        }
        return chunk;
    }
}

/// <summary>
/// Resumable, digest-verified uploads of an account, the receiving side of a transfer that may be
/// cut and resumed (as tus and the GCS resumable uploads: the server says its offset, the client
/// continues from it). A chunk is appended only at the offset (RFC 9110 14.5, partial PUT); its bytes
/// are fsynced before the offset recorded in the database moves and the chunk is acknowledged, so
/// an acknowledged offset survives a crash. Bytes on disk beyond the recorded offset (written, not
/// recorded) are cut off before the next chunk. When the last byte arrives the content's SHA-256 is
/// compared with the declared one; a mismatch deletes the upload and its bytes.
/// </summary>
public sealed class UploadService(IDatabase db, AuditLog audit, TimeProvider clock, UploadOptions options)
{
    private const int BufferSize = 128 * 1024;
    private const string Receiving = "receiving";
    private const string Complete = "complete";

    private const string Columns =
        "id AS Id, account_id AS AccountId, owner_principal AS OwnerPrincipal, size_bytes AS SizeBytes, sha256 AS Sha256, "
        + "received_bytes AS ReceivedBytes, state AS State, expires_at AS ExpiresAt, version AS Version, created_at AS CreatedAt, updated_at AS UpdatedAt";

    // One writer per upload in this process: a second concurrent chunk is refused, not interleaved.
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _writers = new(StringComparer.Ordinal);

    public long MaxBytes => options.MaxBytes;

    public UploadOptions Options => options;

    public static Error? CheckWrite(Caller caller) => Tenancy.RequireTenant(caller, Permission.ResourcesConfigure, "Uploading");

    public Task<Result<UploadView>> CreateAsync(Caller caller, CreateUploadRequest request, CancellationToken ct) =>
        CreateAsync(caller, request, null, ct);

    /// <summary>Opens an upload; <paramref name="once"/> records the answer under the request's Idempotency-Key in the same transaction.</summary>
    public async Task<Result<UploadView>> CreateAsync(Caller caller, CreateUploadRequest request, IdempotentWrite<UploadView>? once, CancellationToken ct)
    {
        if (CheckWrite(caller) is { } denied)
        {
            return denied;
        }
        ArgumentNullException.ThrowIfNull(request);
        var sha256 = request.Sha256?.ToLowerInvariant();
        var v = new Validator();
        v.Require(request.SizeBytes > 0, "sizeBytes", "sizeBytes must be positive");
        v.Require(Sha256Hex.IsValid(sha256), "sha256", "sha256 must be 64 hexadecimal characters");
        if (v.ToError() is { } invalid)
        {
            return invalid;
        }
        if (request.SizeBytes > options.MaxBytes)
        {
            return new Error("body-too-large", ErrorKind.PayloadTooLarge, $"An upload may be at most {options.MaxBytes} bytes.");
        }
        var accountId = caller.AccountId!;
        return await db.WriteAsync<UploadView>(async tx =>
        {
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            // Locks the account's row so that concurrent creations count each other.
            await Accounts.AccountStore.LockAsync(tx, accountId);
            var (count, bytes) = await tx.QuerySingleOrDefaultAsync<(long, long)>(
                "SELECT COUNT(*), CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) FROM uploads WHERE account_id = @AccountId AND expires_at > @Now",
                new { AccountId = accountId, Now = now });
            if (count >= options.MaxPerAccount)
            {
                return new Error("upload-limit", ErrorKind.QuotaExceeded,
                    $"The account has {count} uploads open; at most {options.MaxPerAccount} are allowed. Finish, use or delete one first.");
            }
            if (bytes + request.SizeBytes > options.MaxBytesPerAccount)
            {
                return new Error("upload-limit", ErrorKind.QuotaExceeded,
                    $"The account's open uploads declare {bytes} bytes; {request.SizeBytes} more exceed its limit of {options.MaxBytesPerAccount}.");
            }
            var row = new UploadRow(Ids.New(Ids.Upload, clock), accountId, caller.PrincipalId, request.SizeBytes, sha256!, 0, Receiving,
                now + (long)options.Expiry.TotalMilliseconds, 1, now, now);
            await tx.ExecuteAsync(
                """
                INSERT INTO uploads (id, account_id, owner_principal, size_bytes, sha256, received_bytes, state, expires_at, version, created_at, updated_at)
                VALUES (@Id, @AccountId, @OwnerPrincipal, @SizeBytes, @Sha256, @ReceivedBytes, @State, @ExpiresAt, @Version, @CreatedAt, @UpdatedAt)
                """, row);
            await audit.AppendAsync(tx, caller, new AuditEvent("upload.create", row.Id, AuditEvent.Success, accountId, $"size={row.SizeBytes}; sha256={row.Sha256}"));
            var view = ToView(row);
            return once is not null && await once.RecordAsync(tx, view) is { } taken ? taken : view;
        }, ct);
    }

    public async Task<Result<UploadView>> GetAsync(Caller caller, string id, CancellationToken ct)
    {
        var row = await FindAsync(caller, id, ct);
        return row.IsSuccess ? ToView(row.Value) : row.Error!;
    }

    public async Task<Result<Page<UploadView>>> ListAsync(Caller caller, string? after, int limit, CancellationToken ct)
    {
        if (Filters.Id(after, Ids.Upload, "upload") is { } invalid)
        {
            return invalid;
        }
        if (Tenancy.RequireTenant(caller, Permission.ResourcesRead, "Reading uploads") is { } denied)
        {
            return denied;
        }
        var paging = new Paging(limit);
        var rows = await db.QueryAsync<UploadRow>(
            $"SELECT {Columns} FROM uploads WHERE account_id = @AccountId AND id > @After AND expires_at > @Now ORDER BY id LIMIT @Take",
            new { caller.AccountId, After = after ?? "", Now = clock.GetUtcNow().ToUnixTimeMilliseconds(), paging.Take }, ct);
        return paging.Page(rows, ToView, u => u.Id);
    }

    /// <summary>
    /// Appends <paramref name="body"/> at the upload's offset. A body cut short (the client went away)
    /// keeps the bytes that arrived, so the client resumes exactly where the transfer stopped; a body
    /// longer than its range is refused and nothing of it kept.
    /// </summary>
    public async Task<Result<UploadView>> AppendAsync(Caller caller, string id, UploadChunk chunk, Stream body, CancellationToken ct)
    {
        if (CheckWrite(caller) is { } denied)
        {
            return denied;
        }
        var found = await FindAsync(caller, id, ct);
        if (!found.IsSuccess)
        {
            return found.Error!;
        }
        var writer = _writers.GetOrAdd(id, _ => new SemaphoreSlim(1, 1));
        if (!await writer.WaitAsync(0, ct))
        {
            return new Error("upload-busy", ErrorKind.Conflict, $"Another chunk of upload '{id}' is being received; send the next one after it is acknowledged.");
        }
        try
        {
            // Read again under the writer: the offset may have moved while this request waited.
            found = await FindAsync(caller, id, ct);
            if (!found.IsSuccess)
            {
                return found.Error!;
            }
            var row = found.Value;
            if (CheckChunk(row, chunk) is { } refused)
            {
                return refused;
            }
            var written = await WriteChunkAsync(row, chunk, body);
            if (!written.IsSuccess)
            {
                return written.Error!;
            }
            return await RecordAsync(caller, row, written.Value);
        }
        finally
        {
            writer.Release();
        }
    }

    private static Error? CheckChunk(UploadRow row, UploadChunk chunk)
    {
        if (row.State == Complete)
        {
            return Error.InvalidState($"Upload '{row.Id}' is complete; it takes no more bytes.");
        }
        if (chunk.Size != row.SizeBytes)
        {
            return new Error("bad-content-range", ErrorKind.Validation, $"Content-Range says the content has {chunk.Size} bytes; upload '{row.Id}' was opened for {row.SizeBytes}.");
        }
        if (chunk.First != row.ReceivedBytes)
        {
            return OffsetMismatch(row.Id, row.ReceivedBytes, chunk.First);
        }
        return null;
    }

    public static Error OffsetMismatch(string id, long received, long first) =>
        new("offset-mismatch", ErrorKind.Conflict,
            $"Upload '{id}' has {received} bytes; the chunk starts at byte {first}. Send the chunk that starts at byte {received} (also in the Upload-Offset header).");

    /// <summary>Writes the chunk at the offset and makes it durable; the new offset, or an error when the body is longer than its range.</summary>
    private async Task<Result<long>> WriteChunkAsync(UploadRow row, UploadChunk chunk, Stream body)
    {
        Directory.CreateDirectory(options.Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var buffer = new byte[BufferSize];
        await using var file = new FileStream(PathOf(row.Id), new FileStreamOptions
        {
            Mode = FileMode.OpenOrCreate,
            Access = FileAccess.Write,
            Share = FileShare.None,
            Options = FileOptions.Asynchronous,
            BufferSize = 0,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        // Bytes written but never recorded (a crash between the two) are cut off: the database is the truth.
        file.SetLength(row.ReceivedBytes);
        file.Position = row.ReceivedBytes;
        long taken = 0;
        try
        {
            int read;
            while ((read = await body.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, chunk.Length - taken + 1)), CancellationToken.None)) > 0)
            {
                if (taken + read > chunk.Length)
                {
                    file.SetLength(row.ReceivedBytes);
                    return new Error("bad-content-range", ErrorKind.Validation,
                        $"The body is longer than the {chunk.Length} bytes Content-Range names; nothing of it was kept.");
                }
                await file.WriteAsync(buffer.AsMemory(0, read), CancellationToken.None);
                taken += read;
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            // The client went away mid-body: what arrived is kept, and the client resumes from there.
        }
        file.Flush(flushToDisk: true);
        return row.ReceivedBytes + taken;
    }

    /// <summary>Records the new offset; on the last byte checks the digest, and deletes the upload when it is not the declared one.</summary>
    private async Task<Result<UploadView>> RecordAsync(Caller caller, UploadRow row, long received)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        string? actual = null;
        if (received == row.SizeBytes)
        {
            actual = await DigestAsync(row.Id);
        }
        var mismatch = actual is not null && actual != row.Sha256;
        var updated = row with
        {
            ReceivedBytes = received,
            State = actual is null ? Receiving : Complete,
            ExpiresAt = now + (long)options.Expiry.TotalMilliseconds,
            Version = row.Version + 1,
            UpdatedAt = now,
        };
        if (mismatch)
        {
            // Committed before the refusal is returned: a failed result would roll the delete back.
            await db.WriteAsync<bool>(async tx =>
            {
                await tx.ExecuteAsync("DELETE FROM uploads WHERE id = @Id AND version = @Version", new { row.Id, row.Version });
                await audit.AppendAsync(tx, caller, new AuditEvent("upload.digest", row.Id, AuditEvent.Failed, row.AccountId, $"declared={row.Sha256}; received={actual}"));
                return true;
            }, CancellationToken.None);
            DeleteBytes(row.Id);
            return new Error("digest-mismatch", ErrorKind.Unprocessable,
                $"The {row.SizeBytes} bytes received have SHA-256 {actual}, not {row.Sha256} as declared; the upload and its bytes were deleted.");
        }
        // Recorded even when the client has gone: the bytes are on disk and the offset must say so.
        return await db.WriteAsync<UploadView>(async tx =>
        {
            var n = await tx.ExecuteAsync(
                "UPDATE uploads SET received_bytes = @ReceivedBytes, state = @State, expires_at = @ExpiresAt, version = @Version, updated_at = @UpdatedAt WHERE id = @Id AND version = @OldVersion",
                new { updated.ReceivedBytes, updated.State, updated.ExpiresAt, updated.Version, updated.UpdatedAt, updated.Id, OldVersion = row.Version });
            if (n == 0)
            {
                return Error.Concurrency("Upload", row.Id);
            }
            if (updated.State == Complete)
            {
                await audit.AppendAsync(tx, caller, new AuditEvent("upload.complete", row.Id, AuditEvent.Success, row.AccountId, $"size={row.SizeBytes}; sha256={row.Sha256}"));
            }
            return ToView(updated);
        }, CancellationToken.None);
    }

    private async Task<string> DigestAsync(string id)
    {
        await using var file = new FileStream(PathOf(id), FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, FileOptions.Asynchronous | FileOptions.SequentialScan);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(file));
    }

    public async Task<Result<UploadView>> DeleteAsync(Caller caller, string id, CancellationToken ct)
    {
        if (CheckWrite(caller) is { } denied)
        {
            return denied;
        }
        var found = await FindAsync(caller, id, ct);
        if (!found.IsSuccess)
        {
            return found.Error!;
        }
        var row = found.Value;
        var result = await db.WriteAsync<UploadView>(async tx =>
        {
            if (await tx.ExecuteAsync("DELETE FROM uploads WHERE id = @Id", new { row.Id }) == 0)
            {
                return Error.NotFound("Upload", id);
            }
            await audit.AppendAsync(tx, caller, new AuditEvent("upload.delete", row.Id, AuditEvent.Success, row.AccountId, $"received={row.ReceivedBytes}"));
            return ToView(row);
        }, ct);
        if (result.IsSuccess)
        {
            DeleteBytes(row.Id);
        }
        return result;
    }

    /// <summary>A complete upload of the caller's account, for whoever turns it into something (an image).</summary>
    internal async Task<Result<(UploadView Upload, string Path)>> CompleteAsync(Caller caller, string id, CancellationToken ct)
    {
        var found = await FindAsync(caller, id, ct);
        if (!found.IsSuccess)
        {
            return found.Error!;
        }
        if (found.Value.State != Complete)
        {
            return Error.InvalidState($"Upload '{id}' has {found.Value.ReceivedBytes} of {found.Value.SizeBytes} bytes; only a complete upload can be used.");
        }
        return (ToView(found.Value), PathOf(id));
    }

    /// <summary>Removes a used-up upload's row inside the caller's transaction; its bytes go once that commits (<see cref="DeleteBytes"/>).</summary>
    internal static async Task<bool> ConsumeAsync(Tx tx, string id, long version) =>
        await tx.ExecuteAsync("DELETE FROM uploads WHERE id = @Id AND version = @Version", new { Id = id, Version = version }) == 1;

    internal void DeleteBytes(string id)
    {
        // An upload that never received a byte may have no file, nor the directory (File.Delete throws then).
        if (File.Exists(PathOf(id)))
        {
            File.Delete(PathOf(id));
        }
        _writers.TryRemove(id, out _);
    }

    /// <summary>Deletes uploads past their expiry and their bytes; returns how many.</summary>
    public async Task<int> ExpireAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var expired = await db.QueryAsync<UploadRow>($"SELECT {Columns} FROM uploads WHERE expires_at <= @Now", new { Now = now }, ct);
        var gone = 0;
        foreach (var row in expired)
        {
            var deleted = await db.WriteAsync<bool>(async tx =>
            {
                if (await tx.ExecuteAsync("DELETE FROM uploads WHERE id = @Id AND version = @Version", new { row.Id, row.Version }) == 0)
                {
                    return false;
                }
                await audit.AppendAsync(tx, Caller.System("uploads"), new AuditEvent("upload.expire", row.Id, AuditEvent.Success, row.AccountId, $"received={row.ReceivedBytes}"));
                return true;
            }, ct);
            if (deleted.IsSuccess && deleted.Value)
            {
                DeleteBytes(row.Id);
                gone++;
            }
        }
        return gone;
    }

    private async Task<Result<UploadRow>> FindAsync(Caller caller, string id, CancellationToken ct)
    {
        if (!Ids.IsValid(id, Ids.Upload))
        {
            return Error.InvalidId(id, "upload");
        }
        if (Tenancy.RequireTenant(caller, Permission.ResourcesRead, "Reading uploads") is { } denied)
        {
            return denied;
        }
        var row = await db.QuerySingleOrDefaultAsync<UploadRow>($"SELECT {Columns} FROM uploads WHERE id = @Id", new { Id = id }, ct);
        // Another account's upload, and an expired one, answer as a missing one.
        if (row is null || row.AccountId != caller.AccountId || row.ExpiresAt <= clock.GetUtcNow().ToUnixTimeMilliseconds())
        {
            return Error.NotFound("Upload", id);
        }
        return row;
    }

    private string PathOf(string id) => Path.Combine(options.Directory, id + ".part");

    private static UploadView ToView(UploadRow r) =>
        new(r.Id, r.AccountId, r.SizeBytes, r.Sha256, r.ReceivedBytes, r.State == Complete ? UploadState.Complete : UploadState.Receiving,
            r.Version, DbTime.FromDb(r.CreatedAt), DbTime.FromDb(r.ExpiresAt));

    internal sealed record UploadRow(
        string Id, string AccountId, string OwnerPrincipal, long SizeBytes, string Sha256, long ReceivedBytes, string State,
        long ExpiresAt, long Version, long CreatedAt, long UpdatedAt);
}

/// <summary>Deletes expired uploads and their bytes.</summary>
public sealed class UploadExpirySweeper(UploadService uploads) : IPeriodicWork
{
    public string Name => "upload-expiry";

    public TimeSpan Interval => TimeSpan.FromMinutes(5);

    public Task RunAsync(DateTimeOffset now, CancellationToken ct) => uploads.ExpireAsync(ct);
}

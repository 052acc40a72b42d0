using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Security;

namespace Welkin.Core.Vault;

/// <summary>An open multipart upload of a key into a vault.</summary>
public sealed record VaultUploadView(string Id, string VaultId, string Key, string InitiatorId, DateTimeOffset Created);

/// <summary>A stored part of an upload: its MD5 (its S3 ETag), SHA-256 and size.</summary>
public sealed record VaultUploadPartView(int PartNumber, string Md5, string Sha256, long SizeBytes, DateTimeOffset LastModified);

/// <summary>A part named by a completion: its number and the MD5 (ETag) the client holds for it.</summary>
public sealed record CompletePart(int PartNumber, string Md5);

/// <summary>The record a completed upload became, and the upload's multipart ETag (MD5 of the parts' MD5s, "-N").</summary>
public sealed record CompletedUpload(VaultRecordView Record, string ETag);

/// <summary>
/// Multipart uploads (S3's CreateMultipartUpload, UploadPart, CompleteMultipartUpload, Abort, the
/// listings); the owner of the <c>vault_uploads</c> and <c>vault_upload_parts</c> tables. Each upload
/// has a data key of its own, kept like a record's (wrapped by the tenant key, in the key store);
/// each part is sealed with <see cref="VaultCipher"/> under a key derived from it and the part's
/// random salt, so no two parts share a key and a part is never plaintext on disk. A part's file is
/// flushed before its row commits and named by its salt, so a part replaced or a crash in between
/// never damages an acknowledged part. Completion streams the parts in order into one new record
/// through <see cref="RecordService"/> (re-encrypted under the record's own key), committing the
/// record and the upload's end in one transaction.
/// </summary>
public sealed class RecordUploads(IDatabase db, AuditLog audit, VaultKeys keys, RecordService records, VaultOptions options, TimeProvider clock, ILogger<RecordUploads> logger)
{
    public const int MaxParts = 10_000;

    /// <summary>S3's smallest part but the last.</summary>
    public const long MinPartBytes = 5L * 1024 * 1024;

    /// <summary>S3's largest part.</summary>
    public const long MaxPartBytes = 5L * 1024 * 1024 * 1024;

    private const string Open = "open";
    private const string Completed = "completed";
    private const string Aborted = "aborted";
    private const string Expired = "expired";

    private const string UploadColumns =
        "id AS Id, vault_id AS VaultId, account_id AS AccountId, record_key AS Key, initiator AS Initiator, state AS State, record_id AS RecordId, " +
        "etag AS ETag, created_at AS CreatedAt, updated_at AS UpdatedAt";

    private const string PartColumns =
        "upload_id AS UploadId, part_number AS PartNumber, salt AS Salt, md5 AS Md5, sha256 AS Sha256, size_bytes AS SizeBytes, created_at AS CreatedAt";

    private int _leftoversRemoved;

    private sealed record UploadRow(string Id, string VaultId, string AccountId, string Key, string Initiator, string State, string? RecordId, string? ETag,
        long CreatedAt, long UpdatedAt);

    private sealed record PartRow(string UploadId, long PartNumber, string Salt, string Md5, string Sha256, long SizeBytes, long CreatedAt);

    /// <summary>The largest part: S3's 5 GiB, or less when a record may hold less.</summary>
    public long MaxPartSize => Math.Min(MaxPartBytes, options.MaxRecordBytes);

    public async Task<Result<VaultUploadView>> CreateAsync(Caller caller, string vaultId, string key, CancellationToken ct)
    {
        if ((VaultService.Check(caller, vaultId, "Starting an upload") ?? RecordService.CheckKey(key)) is { } refused)
        {
            return refused;
        }
        var vault = await VaultStore.GetVaultAsync(db, vaultId, ct);
        if (vault is null || !Tenancy.Sees(caller, vault.AccountId) || vault.State != VaultStore.Active)
        {
            return Error.NotFound("Vault", vaultId);
        }
        var id = Ids.New(Ids.VaultUpload, clock);
        var dataKey = VaultKeys.NewDataKey();
        try
        {
            await keys.WriteDataKeyAsync(vault.AccountId, vaultId, id, dataKey, ct);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(dataKey);
        }
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var row = new UploadRow(id, vaultId, vault.AccountId, key, caller.PrincipalId, Open, null, null, now, now);
        var result = await db.WriteAsync<VaultUploadView>(async tx =>
        {
            await tx.ExecuteAsync(
                """
                INSERT INTO vault_uploads (id, vault_id, account_id, record_key, initiator, state, record_id, etag, created_at, updated_at)
                VALUES (@Id, @VaultId, @AccountId, @Key, @Initiator, @State, @RecordId, @ETag, @CreatedAt, @UpdatedAt)
                """, row);
            await audit.AppendAsync(tx, caller, new AuditEvent("vault.upload.create", id, AuditEvent.Success, vault.AccountId, $"vault={vaultId}"));
            return ToView(row);
        }, ct);
        if (!result.IsSuccess)
        {
            keys.DestroyDataKey(vaultId, id);
        }
        return result;
    }

    /// <summary>
    /// Stores part <paramref name="partNumber"/> of an open upload from <paramref name="content"/>,
    /// replacing a part of that number; <paramref name="md5"/> and <paramref name="sha256"/> (hex),
    /// when given, must match the content, else nothing is kept.
    /// </summary>
    public async Task<Result<VaultUploadPartView>> PutPartAsync(
        Caller caller, string vaultId, string key, string uploadId, int partNumber, string? md5, string? sha256, Stream content, CancellationToken ct)
    {
        if ((VaultService.Check(caller, vaultId, "Uploading a part") ?? CheckPartNumber(partNumber)) is { } refused)
        {
            return refused;
        }
        var found = await OpenUploadAsync(caller, vaultId, key, uploadId, ct);
        if (!found.IsSuccess)
        {
            return found.Error!;
        }
        var upload = found.Value;
        var uploadKey = await keys.ReadDataKeyAsync(upload.AccountId, vaultId, uploadId, ct);
        if (!uploadKey.IsSuccess)
        {
            return NoSuchUpload(uploadId);
        }
        var salt = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var path = PartPath(vaultId, uploadId, partNumber, salt);
        (VaultCipher.Sealed Sealed, string Md5) written;
        try
        {
            written = await WritePartAsync(path, uploadKey.Value, uploadId, partNumber, salt, content, ct);
        }
        catch
        {
            DeleteFile(path);
            throw;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(uploadKey.Value);
        }
        var (sealedPart, partMd5) = written;
        Error? bad = sealedPart.TooLarge
            ? TooLarge(MaxPartSize, "part")
            : md5 is not null && md5 != partMd5 || sha256 is not null && sha256 != sealedPart.Sha256
                ? new Error("digest-mismatch", ErrorKind.Validation, "The part's digest does not match the one sent; nothing was stored.")
                : null;
        string? replaced = null;
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var part = new PartRow(uploadId, partNumber, salt, partMd5, sealedPart.Sha256, sealedPart.SizeBytes, now);
        var result = bad ?? await db.WriteAsync<VaultUploadPartView>(async tx =>
        {
            if (await tx.ExecuteAsync("UPDATE vault_uploads SET updated_at = @Now WHERE id = @Id AND state = @Open", new { Now = now, Id = uploadId, Open }) == 0)
            {
                return NoSuchUpload(uploadId);
            }
            var others = await tx.ExecuteScalarAsync<long>(
                "SELECT COALESCE(SUM(size_bytes), 0) FROM vault_upload_parts WHERE upload_id = @Id AND part_number <> @Number", new { Id = uploadId, Number = partNumber });
            if (others + part.SizeBytes > options.MaxRecordBytes)
            {
                return TooLarge(options.MaxRecordBytes, "record");
            }
            replaced = await tx.QuerySingleOrDefaultAsync<string>(
                "SELECT salt FROM vault_upload_parts WHERE upload_id = @Id AND part_number = @Number", new { Id = uploadId, Number = partNumber });
            await tx.ExecuteAsync("DELETE FROM vault_upload_parts WHERE upload_id = @Id AND part_number = @Number", new { Id = uploadId, Number = partNumber });
            await tx.ExecuteAsync(
                """
                INSERT INTO vault_upload_parts (upload_id, part_number, salt, md5, sha256, size_bytes, created_at)
                VALUES (@UploadId, @PartNumber, @Salt, @Md5, @Sha256, @SizeBytes, @CreatedAt)
                """, part);
            return ToView(part);
        }, ct);
        if (!result.IsSuccess)
        {
            DeleteFile(path);
        }
        else if (replaced is not null)
        {
            DeleteFile(PartPath(vaultId, uploadId, partNumber, replaced));
        }
        return result;
    }

    /// <summary>An open upload and its parts in part-number order.</summary>
    public async Task<Result<(VaultUploadView Upload, IReadOnlyList<VaultUploadPartView> Parts)>> PartsAsync(Caller caller, string vaultId, string key, string uploadId, CancellationToken ct)
    {
        if (Tenancy.Require(caller, Permission.ResourcesRead, "Listing an upload's parts") is { } denied)
        {
            return denied;
        }
        var found = await OpenUploadAsync(caller, vaultId, key, uploadId, ct);
        if (!found.IsSuccess)
        {
            return found.Error!;
        }
        var parts = await PartRowsAsync(uploadId, ct);
        return (ToView(found.Value), parts.Select(ToView).ToList());
    }

    /// <summary>The vault's open uploads, by key then by id (the order they were started in).</summary>
    public async Task<Result<IReadOnlyList<VaultUploadView>>> ListAsync(Caller caller, string vaultId, CancellationToken ct)
    {
        if (Tenancy.Require(caller, Permission.ResourcesRead, "Listing uploads") is { } denied)
        {
            return denied;
        }
        var vault = Ids.IsValid(vaultId, Ids.Vault) ? await VaultStore.GetVaultAsync(db, vaultId, ct) : null;
        if (vault is null || !Tenancy.Sees(caller, vault.AccountId))
        {
            return Error.NotFound("Vault", vaultId);
        }
        var rows = await db.QueryAsync<UploadRow>(
            $"SELECT {UploadColumns} FROM vault_uploads WHERE vault_id = @VaultId AND state = @Open ORDER BY record_key, id", new { VaultId = vaultId, Open }, ct);
        return rows.Select(ToView).ToList();
    }

    /// <summary>
    /// Completes an upload from the parts named, in ascending order, each as stored (its MD5), each
    /// but the last at least <see cref="MinPartBytes"/>: one new record of the upload's key. Completing
    /// an upload already completed answers its record again.
    /// </summary>
    public async Task<Result<CompletedUpload>> CompleteAsync(Caller caller, string vaultId, string key, string uploadId, IReadOnlyList<CompletePart> named, CancellationToken ct)
    {
        if (VaultService.Check(caller, vaultId, "Completing an upload") is { } denied)
        {
            return denied;
        }
        var upload = await UploadAsync(caller, vaultId, key, uploadId, ct);
        if (upload is { State: Completed, RecordId: { } recordId, ETag: { } etag })
        {
            var done = await records.GetAsync(caller, vaultId, recordId, ct);
            return done.IsSuccess ? new CompletedUpload(done.Value, etag) : NoSuchUpload(uploadId);
        }
        if (upload is not { State: Open })
        {
            return NoSuchUpload(uploadId);
        }
        var stored = (await PartRowsAsync(uploadId, ct)).ToDictionary(p => (int)p.PartNumber);
        var checkedParts = CheckCompletion(named, stored);
        if (!checkedParts.IsSuccess)
        {
            return checkedParts.Error!;
        }
        var parts = checkedParts.Value;
        var uploadKey = await keys.ReadDataKeyAsync(upload.AccountId, vaultId, uploadId, ct);
        if (!uploadKey.IsSuccess)
        {
            return NoSuchUpload(uploadId);
        }
        var multipartETag = MultipartETag(parts);
        Result<VaultRecordView> written;
        try
        {
            await using var content = new PartsStream(parts.Select(p => (Func<Stream>)(() => OpenPart(vaultId, uploadId, uploadKey.Value, p))).ToList());
            written = await records.PutCompletingAsync(caller, vaultId, upload.Key, content, async (tx, record) =>
            {
                var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
                if (await tx.ExecuteAsync(
                    "UPDATE vault_uploads SET state = @Completed, record_id = @RecordId, etag = @ETag, updated_at = @Now WHERE id = @Id AND state = @Open",
                    new { Completed, RecordId = record.Id, ETag = multipartETag, Now = now, Id = uploadId, Open }) == 0)
                {
                    return NoSuchUpload(uploadId);
                }
                await tx.ExecuteAsync("DELETE FROM vault_upload_parts WHERE upload_id = @Id", new { Id = uploadId });
                await audit.AppendAsync(tx, caller, new AuditEvent("vault.upload.complete", uploadId, AuditEvent.Success, upload.AccountId,
                    string.Create(CultureInfo.InvariantCulture, $"vault={vaultId} record={record.Id} parts={parts.Count} size={record.SizeBytes}")));
                return null;
            }, ct);
        }
        catch (VaultDataException e)
        {
            return RecordService.Corrupt(uploadId, e.Message);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(uploadKey.Value);
        }
        if (!written.IsSuccess)
        {
            return written.Error!;
        }
        RemoveFiles(vaultId, uploadId);
        return new CompletedUpload(written.Value, multipartETag);
    }

    /// <summary>Aborts an open upload: its parts are deleted and its key destroyed.</summary>
    public async Task<Result<bool>> AbortAsync(Caller caller, string vaultId, string key, string uploadId, CancellationToken ct)
    {
        if (VaultService.Check(caller, vaultId, "Aborting an upload") is { } denied)
        {
            return denied;
        }
        var upload = await UploadAsync(caller, vaultId, key, uploadId, ct);
        if (upload is not { State: Open })
        {
            return NoSuchUpload(uploadId);
        }
        var ended = await EndAsync(caller, upload, Aborted, "vault.upload.abort", ct);
        if (ended.IsSuccess)
        {
            RemoveFiles(vaultId, uploadId);
        }
        return ended;
    }

    /// <summary>
    /// Expires open uploads older than <see cref="VaultOptions.UploadExpiry"/>, forgets ended ones as
    /// old, and (once per process) removes the files of uploads a crash left without an open row.
    /// </summary>
    public async Task<int> SweepAsync(CancellationToken ct)
    {
        var caller = Caller.System("vault-upload-sweep");
        var cutoff = (clock.GetUtcNow() - options.UploadExpiry).ToUnixTimeMilliseconds();
        var stale = await db.QueryAsync<UploadRow>(
            $"SELECT {UploadColumns} FROM vault_uploads WHERE state = @Open AND updated_at < @Cutoff ORDER BY id LIMIT @Take",
            new { Open, Cutoff = cutoff, Take = options.SweepBatch }, ct);
        var expired = 0;
        foreach (var upload in stale)
        {
            if ((await EndAsync(caller, upload, Expired, "vault.upload.expire", ct)).IsSuccess)
            {
                RemoveFiles(upload.VaultId, upload.Id);
                expired++;
            }
        }
        var ended = await db.QueryAsync<UploadRow>(
            $"SELECT {UploadColumns} FROM vault_uploads WHERE state <> @Open AND updated_at < @Cutoff ORDER BY id LIMIT @Take",
            new { Open, Cutoff = cutoff, Take = options.SweepBatch }, ct);
        foreach (var upload in ended)
        {
            RemoveFiles(upload.VaultId, upload.Id);
            await db.WriteAsync<int>(async tx => await tx.ExecuteAsync("DELETE FROM vault_uploads WHERE id = @Id AND state <> @Open", new { upload.Id, Open }), ct);
        }
        if (Interlocked.Exchange(ref _leftoversRemoved, 1) == 0)
        {
            await RemoveLeftoversAsync(ct);
        }
        return expired;
    }

    /// <summary>The (vault, upload) pairs whose keys a tenant key rotation must rewrap, as it does records'.</summary>
    internal static async Task<IReadOnlyList<(string VaultId, string RecordId)>> KeyedUploadsOfAccountAsync(IDatabase db, string accountId, CancellationToken ct) =>
        await db.QueryAsync<(string VaultId, string RecordId)>(
            "SELECT vault_id AS VaultId, id AS RecordId FROM vault_uploads WHERE account_id = @AccountId AND state = @Open ORDER BY id",
            new { AccountId = accountId, Open }, ct);

    private async Task<Result<bool>> EndAsync(Caller caller, UploadRow upload, string state, string action, CancellationToken ct) =>
        await db.WriteAsync<bool>(async tx =>
        {
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            if (await tx.ExecuteAsync("UPDATE vault_uploads SET state = @State, updated_at = @Now WHERE id = @Id AND state = @Open",
                new { State = state, Now = now, upload.Id, Open }) == 0)
            {
                return NoSuchUpload(upload.Id);
            }
            await tx.ExecuteAsync("DELETE FROM vault_upload_parts WHERE upload_id = @Id", new { upload.Id });
            await audit.AppendAsync(tx, caller, new AuditEvent(action, upload.Id, AuditEvent.Success, upload.AccountId, $"vault={upload.VaultId}"));
            return true;
        }, ct);

    private static Result<IReadOnlyList<PartRow>> CheckCompletion(IReadOnlyList<CompletePart> named, Dictionary<int, PartRow> stored)
    {
        if (named.Count == 0)
        {
            return Error.Validation("parts", "A completion names at least one part.");
        }
        var parts = new List<PartRow>(named.Count);
        for (var i = 0; i < named.Count; i++)
        {
            if (i > 0 && named[i].PartNumber <= named[i - 1].PartNumber)
            {
                return new Error("invalid-part-order", ErrorKind.Validation, "The list of parts was not in ascending order.");
            }
            if (!stored.TryGetValue(named[i].PartNumber, out var part) || !string.Equals(part.Md5, named[i].Md5, StringComparison.OrdinalIgnoreCase))
            {
                return new Error("invalid-part", ErrorKind.Validation, string.Create(CultureInfo.InvariantCulture,
                    $"Part {named[i].PartNumber} was not uploaded, or its ETag is not the one given."));
            }
            parts.Add(part);
        }
        // AWS checks the part sizes only once the list is whole and in order.
        if (parts.Take(parts.Count - 1).FirstOrDefault(p => p.SizeBytes < MinPartBytes) is { } small)
        {
            return new Error("entity-too-small", ErrorKind.Validation, string.Create(CultureInfo.InvariantCulture,
                $"Part {small.PartNumber} is {small.SizeBytes} bytes; every part but the last must be at least {MinPartBytes}."));
        }
        return parts;
    }

    /// <summary>S3's ETag of a multipart object: the MD5 of the parts' binary MD5s, then "-" and the number of parts.</summary>
    private static string MultipartETag(IReadOnlyList<PartRow> parts)
    {
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        foreach (var part in parts)
        {
            md5.AppendData(Convert.FromHexString(part.Md5));
        }
        return Convert.ToHexStringLower(md5.GetHashAndReset()) + "-" + parts.Count.ToString(CultureInfo.InvariantCulture);
    }

    private static Error? CheckPartNumber(int partNumber) =>
        partNumber is >= 1 and <= MaxParts ? null : Error.Validation("partNumber", "Part number must be an integer between 1 and 10000, inclusive");

    internal static Error NoSuchUpload(string uploadId) => new("upload-not-found", ErrorKind.NotFound, $"Upload '{uploadId}' does not exist, or was aborted or completed.");

    private static Error TooLarge(long max, string what) =>
        new("record-too-large", ErrorKind.PayloadTooLarge, string.Create(CultureInfo.InvariantCulture, $"A {what} holds at most {max} bytes."));

    /// <summary>The upload of the key in the vault, when the caller sees it: an upload is named by its bucket, key and id together, as in S3.</summary>
    private async Task<UploadRow?> UploadAsync(Caller caller, string vaultId, string key, string uploadId, CancellationToken ct)
    {
        if (!Ids.IsValid(uploadId, Ids.VaultUpload))
        {
            return null;
        }
        var row = await db.QuerySingleOrDefaultAsync<UploadRow>($"SELECT {UploadColumns} FROM vault_uploads WHERE id = @Id", new { Id = uploadId }, ct);
        return row is null || row.VaultId != vaultId || row.Key != key || !Tenancy.Sees(caller, row.AccountId) ? null : row;
    }

    private async Task<Result<UploadRow>> OpenUploadAsync(Caller caller, string vaultId, string key, string uploadId, CancellationToken ct) =>
        await UploadAsync(caller, vaultId, key, uploadId, ct) is { State: Open } row ? row : NoSuchUpload(uploadId);

    private async Task<IReadOnlyList<PartRow>> PartRowsAsync(string uploadId, CancellationToken ct) =>
        await db.QueryAsync<PartRow>($"SELECT {PartColumns} FROM vault_upload_parts WHERE upload_id = @Id ORDER BY part_number", new { Id = uploadId }, ct);

    private string UploadDirectory(string vaultId, string uploadId) => Path.Combine(options.UploadDirectory, vaultId, uploadId);

    private string PartPath(string vaultId, string uploadId, long partNumber, string salt) =>
        Path.Combine(UploadDirectory(vaultId, uploadId), string.Create(CultureInfo.InvariantCulture, $"{partNumber:D5}-{salt}.part"));

    /// <summary>The part's own key: HKDF of the upload's key with the part's random salt, so that no two stored parts share a key (and so GCM nonces).</summary>
    private static byte[] PartKey(byte[] uploadKey, string uploadId, long partNumber, string salt) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, uploadKey, 32, Convert.FromHexString(salt), PartContext(uploadId, partNumber));

    private static byte[] PartContext(string uploadId, long partNumber) =>
        Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"welkin-vault-part/1|{uploadId}|{partNumber}"));

    private static string PartAad(string uploadId, long partNumber) => string.Create(CultureInfo.InvariantCulture, $"{uploadId}/{partNumber}");

    private async Task<(VaultCipher.Sealed, string Md5)> WritePartAsync(string path, byte[] uploadKey, string uploadId, int partNumber, string salt, Stream content, CancellationToken ct)
    {
        var dir = Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(dir);
        var partKey = PartKey(uploadKey, uploadId, partNumber, salt);
        try
        {
            using var md5 = new Md5Stream(content);
            VaultCipher.Sealed written;
            await using (var file = new FileStream(path + ".tmp", FileMode.Create, FileAccess.Write, FileShare.None, 1, useAsync: true))
            {
                written = await VaultCipher.EncryptAsync(md5, file, partKey, PartAad(uploadId, partNumber), options.ChunkBytes, MaxPartSize, ct);
                if (!written.TooLarge)
                {
                    file.Flush(flushToDisk: true);
                }
            }
            if (written.TooLarge)
            {
                File.Delete(path + ".tmp");
                return (written, "");
            }
            File.Move(path + ".tmp", path);
            VaultKeys.SyncDirectory(dir);
            return (written, md5.Hex());
        }
        finally
        {
            CryptographicOperations.ZeroMemory(partKey);
        }
    }

    private Stream OpenPart(string vaultId, string uploadId, byte[] uploadKey, PartRow part)
    {
        var path = PartPath(vaultId, uploadId, part.PartNumber, part.Salt);
        if (!File.Exists(path))
        {
            throw new VaultDataException($"The file of part {part.PartNumber} is missing.");
        }
        var partKey = PartKey(uploadKey, uploadId, part.PartNumber, part.Salt);
        var plain = VaultCipher.Decrypt(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, useAsync: true),
            partKey, PartAad(uploadId, part.PartNumber), part.Sha256, part.SizeBytes);
        CryptographicOperations.ZeroMemory(partKey);
        return plain;
    }

    private static void DeleteFile(string path)
    {
        File.Delete(path + ".tmp");
        File.Delete(path);
    }

    /// <summary>Deletes an upload's part files and destroys its key; idempotent.</summary>
    private void RemoveFiles(string vaultId, string uploadId)
    {
        var dir = UploadDirectory(vaultId, uploadId);
        if (Directory.Exists(dir))
        {
            Directory.Delete(dir, recursive: true);
            VaultKeys.SyncDirectory(Path.GetDirectoryName(dir)!);
        }
        keys.DestroyDataKey(vaultId, uploadId);
    }

    /// <summary>
    /// Files of uploads without an open row: a crash between an upload's key file and its row, or
    /// between its end and the removal of its files. Those younger than <see cref="VaultLeftovers.Age"/> may be a start in progress.
    /// </summary>
    private async Task RemoveLeftoversAsync(CancellationToken ct)
    {
        var cutoff = clock.GetUtcNow() - VaultLeftovers.Age;
        var candidates = new HashSet<(string VaultId, string UploadId)>();
        foreach (var root in new[] { options.UploadDirectory, options.KeyDirectory }.Where(Directory.Exists))
        {
            foreach (var dir in Directory.EnumerateDirectories(root))
            {
                var vaultId = Path.GetFileName(dir);
                var names = Directory.EnumerateDirectories(dir).Select(Path.GetFileName)
                    .Concat(Directory.EnumerateFiles(dir, "*.key").Select(Path.GetFileNameWithoutExtension));
                foreach (var id in names.Where(id => Ids.IsValid(id, Ids.VaultUpload) && VaultLeftovers.TimeOf(id!) < cutoff))
                {
                    candidates.Add((vaultId, id!));
                }
            }
        }
        var removed = 0;
        foreach (var (vaultId, uploadId) in candidates)
        {
            var state = await db.QuerySingleOrDefaultAsync<string>("SELECT state FROM vault_uploads WHERE id = @Id", new { Id = uploadId }, ct);
            if (state != Open)
            {
                RemoveFiles(vaultId, uploadId);
                removed++;
            }
        }
        if (removed > 0)
        {
            logger.LogWarning("Removed the files of {Count} vault uploads that had ended or never started", removed);
        }
    }

    private static VaultUploadView ToView(UploadRow r) => new(r.Id, r.VaultId, r.Key, r.Initiator, DbTime.FromDb(r.CreatedAt));

    private static VaultUploadPartView ToView(PartRow p) => new((int)p.PartNumber, p.Md5, p.Sha256, p.SizeBytes, DbTime.FromDb(p.CreatedAt));

    /// <summary>Passes the bytes through, computing their MD5 (a part's S3 ETag).</summary>
    private sealed class Md5Stream(Stream inner) : ReadOnlyStream
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.MD5);

        public string Hex() => Convert.ToHexStringLower(_hash.GetHashAndReset());

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await inner.ReadAsync(buffer, cancellationToken);
            _hash.AppendData(buffer.Span[..read]);
            return read;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _hash.Dispose();
            }
            base.Dispose(disposing);
        }
    }

    /// <summary>The plaintext of the parts one after another, each opened (and authenticated) only when the one before it has ended.</summary>
    private sealed class PartsStream(IReadOnlyList<Func<Stream>> parts) : ReadOnlyStream
    {
        private int _next;
        private Stream? _current;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            while (true)
            {
                if (_current is null)
                {
                    if (_next == parts.Count)
                    {
                        return 0;
                    }
                    _current = parts[_next++]();
                }
                var read = await _current.ReadAsync(buffer, cancellationToken);
                if (read > 0 || buffer.Length == 0)
                {
                    return read;
                }
                await _current.DisposeAsync();
                _current = null;
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _current?.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}

/// <summary>Expires stale multipart uploads and removes what crashes left of uploads.</summary>
public sealed class UploadSweepWork(RecordUploads uploads, VaultOptions options) : IPeriodicWork
{
    public string Name => "vault-upload-sweep";

    public TimeSpan Interval => options.SweepInterval;

    public Task RunAsync(DateTimeOffset now, CancellationToken ct) => uploads.SweepAsync(ct);
}

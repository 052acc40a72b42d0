using System.Globalization;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Catalog.Images;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Events;
using Welkin.Core.Security;

namespace Welkin.Core.Vault;

/// <summary>The query of <c>GET /api/v1/vaults/{id}/records</c>: one key's versions or all, destroyed ones on request.</summary>
public sealed record RecordListQuery(string? Key = null, bool Shredded = false, string? After = null, int Limit = 100);

/// <summary>A record's content being read: its description and its plaintext, authenticated chunk by chunk as it is read.</summary>
public sealed record RecordContent(VaultRecordView Record, Stream Content);

/// <summary>
/// The records of a vault: write-once versions of keys, each encrypted with its own data key as it
/// streams in (never buffered whole), with their retention and legal holds. A write's bytes and key
/// are durable before the record row commits, and the row commits with the vault's capacity drawn,
/// its audit entry and (when its rounded size changes) the vault's usage event. Destruction is
/// <see cref="RecordDestruction"/>'s.
/// </summary>
public sealed partial class RecordService(IDatabase db, AuditLog audit, EventLog events, VaultKeys keys, VaultOptions options, TimeProvider clock)
{
    public const int MaxKeyBytes = 1024;
    public const int MaxHoldIdLength = 128;

    public long MaxRecordBytes => options.MaxRecordBytes;

    /// <summary>
    /// Writes a new version of <paramref name="key"/> from <paramref name="content"/>, retained by
    /// <paramref name="className"/> when given; <paramref name="sha256"/>, when given, must match the
    /// content (else nothing is kept).
    /// </summary>
    public Task<Result<VaultRecordView>> PutAsync(
        Caller caller, string vaultId, string? key, string? className, string? sha256, Stream content, CancellationToken ct) =>
        PutAsync(caller, vaultId, key, new RecordWrite(className, sha256), content, ct);

    /// <summary>
    /// Writes a new version of <paramref name="key"/> from <paramref name="content"/> as <paramref name="write"/>
    /// says: retained by its class, or by its explicit retention, or else by the vault's default
    /// retention; with its initial legal hold.
    /// </summary>
    public Task<Result<VaultRecordView>> PutAsync(Caller caller, string vaultId, string? key, RecordWrite write, Stream content, CancellationToken ct) =>
        WriteAsync(caller, vaultId, key, write, content, alsoInTx: null, ct);

    /// <summary>
    /// <see cref="PutAsync(Caller, string, string?, RecordWrite, Stream, CancellationToken)"/>, running
    /// <paramref name="alsoInTx"/> (when given) in the transaction that commits the record, so that
    /// what the record completes commits with it or not at all.
    /// </summary>
    private async Task<Result<VaultRecordView>> WriteAsync(
        Caller caller, string vaultId, string? key, RecordWrite write, Stream content, Func<Tx, VaultRecordView, Task<Error?>>? alsoInTx, CancellationToken ct)
    {
        var (className, sha256) = (write.ClassName, write.Sha256);
        if (VaultService.Check(caller, vaultId, "Writing a record") is { } denied)
        {
            return denied;
        }
        if ((CheckKey(key) ?? CheckLock(caller, write)) is { } badKey)
        {
            return badKey;
        }
        if (className is not null && !Names.IsValid(className))
        {
            return Error.Validation("class", $"class {Names.Rule}");
        }
        if (sha256 is not null && !Sha256Hex.IsValid(sha256))
        {
            return Error.Validation("sha256", "sha256 must be 64 lower-case hexadecimal characters");
        }
        var vault = await VaultStore.GetVaultAsync(db, vaultId, ct);
        if (vault is null || !Tenancy.Sees(caller, vault.AccountId) || vault.State != VaultStore.Active)
        {
            return Error.NotFound("Vault", vaultId);
        }
        var id = Ids.New(Ids.VaultRecord, clock);
        var dataKey = VaultKeys.NewDataKey();
        VaultCipher.Sealed written;
        try
        {
            await keys.WriteDataKeyAsync(vault.AccountId, vaultId, id, dataKey, ct);
            written = await WriteBlobAsync(vaultId, id, dataKey, content, ct);
        }
        catch
        {
            // A body cut short, too large for the server or cancelled: nothing of it is kept.
            keys.DestroyDataKey(vaultId, id);
            DeleteBlob(options, vaultId, id);
            throw;
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(dataKey);
        }
        Error? refused = written.TooLarge
            ? new Error("record-too-large", ErrorKind.PayloadTooLarge, string.Create(CultureInfo.InvariantCulture, $"A record holds at most {options.MaxRecordBytes} bytes."))
            : sha256 is not null && sha256 != written.Sha256
                ? new Error("digest-mismatch", ErrorKind.Validation, $"The content's SHA-256 is {written.Sha256}, not {sha256}; nothing was stored.")
                : null;
        var result = refused ?? await db.WriteAsync<VaultRecordView>(async tx =>
        {
            var committed = await CommitAsync(tx, caller, vault, id, key!, write, written);
            return !committed.IsSuccess || alsoInTx is null ? committed : await alsoInTx(tx, committed.Value) is { } failed ? failed : committed;
        }, ct);
        if (!result.IsSuccess)
        {
            keys.DestroyDataKey(vaultId, id);
            DeleteBlob(options, vaultId, id);
        }
        return result;
    }

    public async Task<Result<VaultRecordView>> GetAsync(Caller caller, string vaultId, string recordId, CancellationToken ct)
    {
        var found = await ReadableAsync(caller, vaultId, recordId, ct);
        if (!found.IsSuccess)
        {
            return found.Error!;
        }
        var holds = await VaultStore.HoldsAsync(db, [recordId], ct);
        return ToView(found.Value, holds[recordId].ToList());
    }

    public async Task<Result<Page<VaultRecordView>>> ListAsync(Caller caller, string vaultId, RecordListQuery query, CancellationToken ct)
    {
        if (Tenancy.Require(caller, Permission.ResourcesRead, "Reading vault records") is { } denied)
        {
            return denied;
        }
        if (!Ids.IsValid(vaultId, Ids.Vault))
        {
            return Error.InvalidId(vaultId, "vault");
        }
        if (Filters.Id(query.After, Ids.VaultRecord, "record") is { } invalid)
        {
            return invalid;
        }
        if (query.Key is not null && CheckKey(query.Key) is { } badKey)
        {
            return badKey;
        }
        var vault = await VaultStore.GetVaultAsync(db, vaultId, ct);
        if (vault is null || !Tenancy.Sees(caller, vault.AccountId))
        {
            return Error.NotFound("Vault", vaultId);
        }
        var paging = new Paging(query.Limit);
        var rows = await VaultStore.ListRecordsAsync(db, vaultId, query.Key, query.Shredded, query.After ?? "", paging.Take, ct);
        var holds = await VaultStore.HoldsAsync(db, rows.Select(r => r.Id).ToList(), ct);
        return paging.Page(rows, r => ToView(r, holds[r.Id].ToList()), v => v.Id);
    }

    /// <summary>
    /// Opens a record's content for its own account (the provider's principals read descriptions,
    /// never contents), audited as vault.record.read: the first chunk is authenticated before this returns, so a damaged blob is
    /// an error here; a later damaged chunk fails the read with <see cref="VaultDataException"/>
    /// before any of its bytes are given.
    /// </summary>
    public async Task<Result<RecordContent>> OpenAsync(Caller caller, string vaultId, string recordId, CancellationToken ct)
    {
        if (Tenancy.RequireTenant(caller, Permission.ResourcesRead, "Reading a record's content") is { } denied)
        {
            return denied;
        }
        var found = await ReadableAsync(caller, vaultId, recordId, ct);
        if (!found.IsSuccess)
        {
            return found.Error!;
        }
        return await OpenStoredAsync(caller, found.Value, "vault.record.read", $"vault={vaultId}", ct);
    }

    /// <summary>Opens a record its reader may see, audited as <paramref name="action"/> with <paramref name="detail"/>.</summary>
    internal Task<Result<RecordContent>> OpenStoredAsync(Caller caller, RecordRow record, string action, string detail, CancellationToken ct) =>
        OpenStoredAsync(caller, record, action, detail, null, ct);

    private async Task<Result<RecordContent>> OpenStoredAsync(Caller caller, RecordRow record, string action, string detail, ByteRange? range, CancellationToken ct)
    {
        var (vaultId, recordId) = (record.VaultId, record.Id);
        if (record.State != VaultStore.Stored)
        {
            return Error.InvalidState($"Record '{recordId}' is {record.State}; its content no longer exists.");
        }
        var dataKey = await keys.ReadDataKeyAsync(record.AccountId, vaultId, recordId, ct);
        if (!dataKey.IsSuccess)
        {
            return dataKey.Error!;
        }
        var path = BlobPath(options, vaultId, recordId);
        if (!File.Exists(path))
        {
            return Corrupt(recordId, "its blob is missing");
        }
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, useAsync: true);
        var plain = range is { } part
            ? VaultCipher.DecryptRange(file, dataKey.Value, recordId, record.SizeBytes, part.Offset, part.Length)
            : VaultCipher.Decrypt(file, dataKey.Value, recordId, record.Sha256, record.SizeBytes);
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(dataKey.Value);
        var first = new byte[Math.Min(options.ChunkBytes, Math.Max(range?.Length ?? record.SizeBytes, 1))];
        int read;
        try
        {
            read = await plain.ReadAtLeastAsync(first, first.Length, throwOnEndOfStream: false, ct);
        }
        catch (VaultDataException e)
        {
            await plain.DisposeAsync();
            return Corrupt(recordId, e.Message);
        }
        // Who read which record, and when, is evidence a SOX audit asks for.
        await audit.AppendAsync(db, caller, new AuditEvent(action, recordId, AuditEvent.Success, record.AccountId, detail), ct);
        var holds = await VaultStore.HoldsAsync(db, [recordId], ct);
        return new RecordContent(ToView(record, holds[recordId].ToList()), new PrefixedStream(first, read, plain));
    }

    /// <summary>Changes a record's retention as <see cref="RetentionRules.CheckChange"/> allows; a bypass used is audited as such.</summary>
    public async Task<Result<VaultRecordView>> SetRetentionAsync(Caller caller, string vaultId, string recordId, RecordRetentionRequest request, CancellationToken ct)
    {
        if (CheckWrite(caller, vaultId, recordId, "Changing a record's retention") is { } denied)
        {
            return denied;
        }
        return await db.WriteAsync<VaultRecordView>(async tx =>
        {
            var found = await ForChangeAsync(tx, caller, vaultId, recordId, request.Version);
            if (!found.IsSuccess)
            {
                return found.Error!;
            }
            var (record, vault) = found.Value;
            if (request.Mode is not null && vault.ObjectLock == 0)
            {
                return Error.InvalidState($"Vault '{vaultId}' does not have Object Lock enabled; its records carry no retention.");
            }
            var now = clock.GetUtcNow();
            if (RetentionRules.CheckChange(caller, recordId, record.RetentionMode, record.Until, request.Mode, request.RetainUntil, request.BypassGovernance, now) is { } refused)
            {
                return refused;
            }
            var bypassed = RetentionRules.IsLocked(record.RetentionMode, record.Until, now)
                && !(request.RetainUntil is { } until && until >= record.Until!.Value);
            var updated = record with
            {
                Mode = request.Mode is { } mode ? WireNames.Of(mode) : null,
                RetainUntil = DbTime.ToDb(request.RetainUntil),
                Version = record.Version + 1,
                UpdatedAt = now.ToUnixTimeMilliseconds(),
            };
            if (await VaultStore.UpdateRecordAsync(tx, updated, record) == 0)
            {
                return Error.Concurrency("Record", recordId);
            }
            await audit.AppendAsync(tx, caller, new AuditEvent(bypassed ? "vault.record.retention-bypass" : "vault.record.retention", recordId, AuditEvent.Success,
                record.AccountId, $"vault={vaultId} from={record.Mode ?? "none"}:{Time(record.RetainUntil)} to={updated.Mode ?? "none"}:{Time(updated.RetainUntil)}"));
            return ToView(updated, await VaultStore.HoldsAsync(tx, recordId));
        }, ct);
    }

    /// <summary>Places a legal hold (CDMI cdmi_hold_id) on a stored record; placing one already placed changes nothing.</summary>
    public Task<Result<VaultRecordView>> PlaceHoldAsync(Caller caller, string vaultId, string recordId, string holdId, CancellationToken ct) =>
        HoldAsync(caller, vaultId, recordId, holdId, place: true, ct);

    /// <summary>Removes a legal hold; a hold not on the record is not-found.</summary>
    public Task<Result<VaultRecordView>> RemoveHoldAsync(Caller caller, string vaultId, string recordId, string holdId, CancellationToken ct) =>
        HoldAsync(caller, vaultId, recordId, holdId, place: false, ct);

    private async Task<Result<VaultRecordView>> HoldAsync(Caller caller, string vaultId, string recordId, string holdId, bool place, CancellationToken ct)
    {
        if (CheckWrite(caller, vaultId, recordId, place ? "Placing a legal hold" : "Removing a legal hold") is { } denied)
        {
            return denied;
        }
        if (CheckHoldId(holdId) is { } badHold)
        {
            return badHold;
        }
        return await db.WriteAsync<VaultRecordView>(async tx =>
        {
            var found = await ForChangeAsync(tx, caller, vaultId, recordId, null);
            if (!found.IsSuccess)
            {
                return found.Error!;
            }
            var record = found.Value.Record;
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            // The record's version moves with its holds, so a destruction that read it without this hold fails its conditional update.
            var updated = record with { Version = record.Version + 1, UpdatedAt = now };
            if (await VaultStore.UpdateRecordAsync(tx, updated, record) == 0)
            {
                return Error.Concurrency("Record", recordId);
            }
            var changed = place ? await VaultStore.InsertHoldAsync(tx, recordId, holdId, caller.PrincipalId, now) : await VaultStore.DeleteHoldAsync(tx, recordId, holdId);
            if (!place && !changed)
            {
                return Error.NotFound("Legal hold", holdId);
            }
            if (changed)
            {
                await audit.AppendAsync(tx, caller, new AuditEvent(place ? "vault.record.hold" : "vault.record.release-hold", recordId, AuditEvent.Success,
                    record.AccountId, $"vault={vaultId} hold={holdId}"));
            }
            return ToView(updated, await VaultStore.HoldsAsync(tx, recordId));
        }, ct);
    }

    public static string BlobPath(VaultOptions options, string vaultId, string recordId) => Path.Combine(options.BlobDirectory, vaultId, recordId + ".blob");

    internal static void DeleteBlob(VaultOptions options, string vaultId, string recordId)
    {
        var path = BlobPath(options, vaultId, recordId);
        if (!Directory.Exists(Path.GetDirectoryName(path)))
        {
            return;
        }
        File.Delete(path + ".tmp");
        if (File.Exists(path))
        {
            File.Delete(path);
            VaultKeys.SyncDirectory(Path.GetDirectoryName(path)!);
        }
    }

    internal static VaultRecordView ToView(RecordRow r, IReadOnlyList<string> holds) =>
        new(r.Id, r.VaultId, r.Key, r.Sha256, r.SizeBytes, r.ClassName, r.RetentionMode, r.Until, holds, WireNames.Parse<VaultRecordState>(r.State), r.Version,
            DbTime.FromDb(r.CreatedAt), DbTime.FromDb(r.ShreddedAt));

    /// <summary>
    /// A key is 1-1024 bytes of UTF-8 (S3's limit) and a relative path that stays where it is: no
    /// empty, "." or ".." segment, no leading or trailing '/', no backslash, no control character.
    /// Keys never name files here, but the S3 face and the clients that mirror keys to disks do.
    /// </summary>
    public static Error? CheckKey(string? key)
    {
        const string rule = "a key is 1-1024 bytes of UTF-8 without control characters or backslashes, and no '', '.' or '..' path segment";
        if (string.IsNullOrEmpty(key) || System.Text.Encoding.UTF8.GetByteCount(key) > MaxKeyBytes || key.Any(c => char.IsControl(c) || c == '\\')
            || key.Split('/').Any(s => s is "" or "." or ".."))
        {
            return Error.Validation("key", rule);
        }
        return null;
    }

    internal static Error Corrupt(string recordId, string why) =>
        new("record-corrupt", ErrorKind.Internal, $"Record '{recordId}' cannot be read: its stored bytes are damaged.") { Cause = why };

    private async Task<VaultCipher.Sealed> WriteBlobAsync(string vaultId, string recordId, byte[] dataKey, Stream content, CancellationToken ct)
    {
        var path = BlobPath(options, vaultId, recordId);
        var dir = Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(dir);
        VaultCipher.Sealed written;
        await using (var file = new FileStream(path + ".tmp", FileMode.Create, FileAccess.Write, FileShare.None, 1, useAsync: true))
        {
            written = await VaultCipher.EncryptAsync(content, file, dataKey, recordId, options.ChunkBytes, options.MaxRecordBytes, ct);
            if (!written.TooLarge)
            {
                file.Flush(flushToDisk: true);
            }
        }
        if (written.TooLarge)
        {
            File.Delete(path + ".tmp");
            return written;
        }
        File.Move(path + ".tmp", path);
        VaultKeys.SyncDirectory(dir);
        return written;
    }

    private async Task<Result<VaultRecordView>> CommitAsync(Tx tx, Caller caller, VaultRow vault, string id, string key, RecordWrite write, VaultCipher.Sealed written)
    {
        var (now, className) = (clock.GetUtcNow(), write.ClassName);
        RetentionClassRow? retention = null;
        if (className is not null)
        {
            retention = await VaultStore.GetClassAsync(tx, vault.Id, className);
            if (retention is null)
            {
                return Error.NotFound("Retention class", className);
            }
        }
        var locked = await LockOfAsync(tx, vault.Id, write, retention, now);
        if (!locked.IsSuccess)
        {
            return locked.Error!;
        }
        if (await VaultStore.DrawBytesAsync(tx, vault.Id, written.SizeBytes, now.ToUnixTimeMilliseconds()) is not { } after)
        {
            var current = await VaultStore.GetVaultAsync(tx, vault.Id);
            return current is null || current.State != VaultStore.Active
                ? Error.NotFound("Vault", vault.Id)
                : new Error("vault-full", ErrorKind.QuotaExceeded, string.Create(CultureInfo.InvariantCulture,
                    $"Vault '{vault.Id}' holds {current.StoredBytes} of {current.CapacityGiB} GiB; {written.SizeBytes} more bytes do not fit."));
        }
        var row = new RecordRow(id, vault.Id, vault.AccountId, key, written.Sha256, written.SizeBytes, className, locked.Value.Mode,
            locked.Value.Until?.ToUnixTimeMilliseconds(), retention?.AutoDelete ?? 0, retention?.Sanitization ?? VaultService.CryptographicErase,
            VaultStore.Stored, 1, now.ToUnixTimeMilliseconds(), now.ToUnixTimeMilliseconds(), null);
        await VaultStore.InsertRecordAsync(tx, row);
        await RecordStoredSizeAsync(tx, events, caller, vault, after - written.SizeBytes, after);
        await audit.AppendAsync(tx, caller, new AuditEvent("vault.record.write", id, AuditEvent.Success, vault.AccountId, string.Create(CultureInfo.InvariantCulture,
            $"vault={vault.Id} sha256={written.Sha256} size={written.SizeBytes} class={className ?? "none"} retainUntil={Time(row.RetainUntil)}")));
        return ToView(row, await PlaceInitialHoldAsync(tx, caller, row, write.LegalHold));
    }

    /// <summary>The vault's usage event when its stored size, in whole GiB rounded up, changes.</summary>
    internal static async Task RecordStoredSizeAsync(Tx tx, EventLog events, Caller caller, VaultRow vault, long before, long after)
    {
        var gib = VaultService.StoredGiB(after);
        if (gib != VaultService.StoredGiB(before))
        {
            await events.AppendAsync(tx, caller, new LifecycleEvent(EventLog.Types.VaultStored, vault.Id, vault.AccountId, VaultService.UsageData(vault, gib)));
        }
    }

    internal static string Time(long? ms) => ms is { } t ? DbTime.FromDb(t).ToString("O", CultureInfo.InvariantCulture) : "none";

    private static Error? CheckWrite(Caller caller, string vaultId, string recordId, string what) =>
        VaultService.Check(caller, vaultId, what) ?? (Ids.IsValid(recordId, Ids.VaultRecord) ? null : Error.InvalidId(recordId, "record"));

    private async Task<Result<RecordRow>> ReadableAsync(Caller caller, string vaultId, string recordId, CancellationToken ct)
    {
        if (Tenancy.Require(caller, Permission.ResourcesRead, "Reading vault records") is { } denied)
        {
            return denied;
        }
        if (!Ids.IsValid(vaultId, Ids.Vault))
        {
            return Error.InvalidId(vaultId, "vault");
        }
        if (!Ids.IsValid(recordId, Ids.VaultRecord))
        {
            return Error.InvalidId(recordId, "record");
        }
        var record = await VaultStore.GetRecordAsync(db, recordId, ct);
        return record is null || record.VaultId != vaultId || !Tenancy.Sees(caller, record.AccountId) || record.State == VaultStore.Marker ? Error.NotFound("Record", recordId) : record;
    }

    /// <summary>A stored record of the vault for a change, with its vault: not-found when missing or unseen, precondition-failed on a stale version.</summary>
    internal static async Task<Result<(RecordRow Record, VaultRow Vault)>> ForChangeAsync(Tx tx, Caller caller, string vaultId, string recordId, long? version)
    {
        var record = await VaultStore.GetRecordAsync(tx, recordId);
        var vault = record is null ? null : await VaultStore.GetVaultAsync(tx, vaultId);
        if (record is null || vault is null || record.VaultId != vaultId || !Tenancy.Sees(caller, record.AccountId) || record.State == VaultStore.Marker)
        {
            return Error.NotFound("Record", recordId);
        }
        if (record.State != VaultStore.Stored)
        {
            return Error.InvalidState($"Record '{recordId}' is {record.State}.");
        }
        return version is { } expected && expected != record.Version ? Error.VersionMismatch("Record", recordId, expected, record.Version) : (record, vault);
    }

    /// <summary>The bytes read ahead to authenticate the first chunk, then the rest.</summary>
    private sealed class PrefixedStream(byte[] prefix, int length, Stream rest) : ReadOnlyStream
    {
        private int _offset;

        public override long Length => rest.Length;

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_offset < length)
            {
                var n = Math.Min(buffer.Length, length - _offset);
                prefix.AsMemory(_offset, n).CopyTo(buffer);
                _offset += n;
                return n;
            }
            return await rest.ReadAsync(buffer, cancellationToken);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                rest.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}

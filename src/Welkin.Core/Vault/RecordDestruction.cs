using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Events;
using Welkin.Core.Security;

namespace Welkin.Core.Vault;

/// <summary>
/// The destruction of records (crypto-shredding, NIST SP 800-88 "cryptographic erase"): on an
/// allowed delete or, for classes with auto-delete, once retention has expired and no legal hold
/// remains. It runs in three steps so that no crash leaves a record half-destroyed and unnoticed:
/// (1) the record is marked shredding, conditional on the version the rules were checked against,
/// with its audit entry; (2) its data key file is destroyed and its blob deleted; (3) the record is
/// marked shredded, its bytes returned to the vault, and a destruction certificate signed by the
/// cloud's signing key is stored, with the audit entry naming the certificate, in one transaction.
/// A record left shredding by a crash is finished by the next sweep.
/// </summary>
public sealed class RecordDestruction(
    IDatabase db, AuditLog audit, EventLog events, AuditKey signingKey, VaultOptions options, TimeProvider clock, ILogger<RecordDestruction> logger)
{
    public const string CertificateType = "welkin-vault-destruction/1";
    public const string DeletedReason = "deleted";
    public const string ExpiredReason = "retention-expired";
    public const string ContractEndedReason = "contract-terminated";

    /// <summary>Destroys a record before or after its retention, as <see cref="RetentionRules.CheckDelete"/> allows; returns its certificate.</summary>
    public async Task<Result<DestructionCertificateView>> DeleteAsync(Caller caller, string vaultId, string recordId, bool bypassGovernance, long? version, CancellationToken ct)
    {
        if (VaultService.Check(caller, vaultId, "Deleting a record") is { } denied)
        {
            return denied;
        }
        if (!Ids.IsValid(recordId, Ids.VaultRecord))
        {
            return Error.InvalidId(recordId, "record");
        }
        var started = await db.WriteAsync<RecordRow>(async tx =>
        {
            var found = await RecordService.ForChangeAsync(tx, caller, vaultId, recordId, version);
            if (!found.IsSuccess)
            {
                return found.Error!;
            }
            var record = found.Value.Record;
            var now = clock.GetUtcNow();
            var holds = (await VaultStore.HoldsAsync(tx, recordId)).Count;
            if (RetentionRules.CheckDelete(caller, recordId, record.RetentionMode, record.Until, holds, bypassGovernance, now) is { } refused)
            {
                return refused;
            }
            var bypassed = RetentionRules.IsLocked(record.RetentionMode, record.Until, now);
            return await StartAsync(tx, caller, record, now, bypassed ? "vault.record.delete-bypass" : "vault.record.delete");
        }, ct);
        if (!started.IsSuccess)
        {
            return started.Error!;
        }
        return await FinishAsync(caller, started.Value, DeletedReason, ct);
    }

    /// <summary>Records one sweep destroys at once.</summary>
    private const int SweepParallelism = 16;

    private int _leftoversRemoved;

    /// <summary>
    /// Destroys every record whose retention has expired with auto-delete and no hold, and finishes
    /// destructions a crash cut short; the first sweep of a process also removes files of writes that never committed.
    /// </summary>
    public async Task<int> SweepAsync(CancellationToken ct)
    {
        if (Interlocked.Exchange(ref _leftoversRemoved, 1) == 0)
        {
            await VaultLeftovers.RemoveAsync(db, options, clock, logger, ct);
        }
        var caller = Caller.System("vault-sweep");
        var done = 0;
        // Records are destroyed side by side: each keeps its own transactions and order of steps, and
        // the database's group commit and the disk share the commits and key-file flushes among them.
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = SweepParallelism, CancellationToken = ct };
        await Parallel.ForEachAsync(await VaultStore.ShreddingAsync(db, options.SweepBatch, ct), parallel, async (pending, token) =>
        {
            if ((await FinishAsync(caller, pending, ExpiredReason, token)).IsSuccess)
            {
                Interlocked.Increment(ref done);
            }
        });
        await Parallel.ForEachAsync(await VaultStore.DueAsync(db, clock.GetUtcNow().ToUnixTimeMilliseconds(), options.SweepBatch, ct), parallel, async (due, token) =>
        {
            var started = await db.WriteAsync<RecordRow>(async tx =>
            {
                var record = await VaultStore.GetRecordAsync(tx, due.Id);
                var now = clock.GetUtcNow();
                // Read again in the transaction: a hold placed or retention lengthened since keeps the record.
                if (record is null || record.State != VaultStore.Stored || record.AutoDelete == 0
                    || !RetentionRules.IsDue(record.Until, (await VaultStore.HoldsAsync(tx, record.Id)).Count, now))
                {
                    return Error.InvalidState("no longer due");
                }
                return await StartAsync(tx, caller, record, now, "vault.record.expire");
            }, token);
            if (started.IsSuccess && (await FinishAsync(caller, started.Value, ExpiredReason, token)).IsSuccess)
            {
                Interlocked.Increment(ref done);
            }
        });
        return done;
    }

    /// <summary>
    /// Destroys every record of the vault that neither retention nor a legal hold keeps (its
    /// contract ends), and finishes destructions a crash cut short; returns the records kept.
    /// </summary>
    internal async Task<Result<List<RecordRow>>> DestroyReleasableAsync(Caller caller, string vaultId, CancellationToken ct)
    {
        var kept = new List<RecordRow>();
        var after = "";
        while (true)
        {
            var page = await VaultStore.LiveRecordsAsync(db, vaultId, after, options.SweepBatch, ct);
            foreach (var record in page)
            {
                var started = record.State == VaultStore.Shredding ? record : await db.WriteAsync<RecordRow>(async tx =>
                {
                    var current = await VaultStore.GetRecordAsync(tx, record.Id);
                    var now = clock.GetUtcNow();
                    if (current is null || current.State != VaultStore.Stored)
                    {
                        return Error.InvalidState("no longer stored");
                    }
                    if ((await VaultStore.HoldsAsync(tx, current.Id)).Count > 0 || RetentionRules.IsLocked(current.RetentionMode, current.Until, now))
                    {
                        return new Error("kept", ErrorKind.Conflict, "kept");
                    }
                    return await StartAsync(tx, caller, current, now, "vault.record.contract-end");
                }, ct);
                if (!started.IsSuccess)
                {
                    if (started.Error!.Code == "kept")
                    {
                        kept.Add(record);
                    }
                    continue;
                }
                if ((await FinishAsync(caller, started.Value, ContractEndedReason, ct)) is { IsSuccess: false } failed)
                {
                    return failed.Error!;
                }
            }
            if (page.Count < options.SweepBatch)
            {
                return kept;
            }
            after = page[^1].Id;
        }
    }

    public async Task<Result<Page<DestructionCertificateView>>> CertificatesAsync(Caller caller, string vaultId, string? after, int limit, CancellationToken ct)
    {
        if (Tenancy.Require(caller, Permission.ResourcesRead, "Reading destruction certificates") is { } denied)
        {
            return denied;
        }
        if (!Ids.IsValid(vaultId, Ids.Vault))
        {
            return Error.InvalidId(vaultId, "vault");
        }
        if (Filters.Id(after, Ids.VaultRecord, "record") is { } invalid)
        {
            return invalid;
        }
        var vault = await VaultStore.GetVaultAsync(db, vaultId, ct);
        if (vault is null || !Tenancy.Sees(caller, vault.AccountId))
        {
            return Error.NotFound("Vault", vaultId);
        }
        var paging = new Paging(limit);
        var rows = await VaultStore.CertificatesAsync(db, vaultId, after ?? "", paging.Take, ct);
        return paging.Page(rows, ToView, c => c.RecordId);
    }

    public async Task<Result<DestructionCertificateView>> CertificateAsync(Caller caller, string vaultId, string recordId, CancellationToken ct)
    {
        if (Tenancy.Require(caller, Permission.ResourcesRead, "Reading destruction certificates") is { } denied)
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
        var row = await VaultStore.GetCertificateAsync(db, recordId, ct);
        return row is null || row.VaultId != vaultId || !Tenancy.Sees(caller, row.AccountId) ? Error.NotFound("Destruction certificate", recordId) : ToView(row);
    }

    /// <summary>The cloud's public key that signs destruction certificates (its audit signing key): public, so any principal may read it.</summary>
    public Result<AuditSigningKeyView> CertificateKey(Caller caller) =>
        Tenancy.Require(caller, Permission.ResourcesRead, "Reading the certificate key") is { } denied
            ? denied
            : new AuditSigningKeyView(signingKey.KeyId, AuditPublicKey.Algorithm, signingKey.Public.Pem);

    /// <summary>
    /// Checks a certificate offline with the cloud's public signing key: the signature over the
    /// statement's exact bytes, the key id, and that the statement is a destruction statement of the
    /// record it names. Null when it holds; else why not.
    /// </summary>
    public static string? Verify(DestructionCertificateView certificate, AuditPublicKey key)
    {
        if (certificate.KeyId != key.KeyId)
        {
            return $"the certificate is signed by key {certificate.KeyId}, not {key.KeyId}";
        }
        byte[] signature;
        try
        {
            signature = Convert.FromBase64String(certificate.Signature);
        }
        catch (FormatException)
        {
            return "the signature is not base64";
        }
        if (!key.Verify(Encoding.UTF8.GetBytes(certificate.Certificate), signature))
        {
            return "the signature does not match the statement";
        }
        DestructionStatement? statement;
        try
        {
            statement = JsonSerializer.Deserialize<DestructionStatement>(certificate.Certificate, WelkinJson.Client);
        }
        catch (JsonException)
        {
            return "the statement is not a destruction statement";
        }
        return statement is null || statement.Type != CertificateType || statement.RecordId != certificate.RecordId || statement.VaultId != certificate.VaultId
            ? "the statement is not a destruction statement of this record"
            : null;
    }

    private async Task<Result<RecordRow>> StartAsync(Tx tx, Caller caller, RecordRow record, DateTimeOffset now, string action)
    {
        var shredding = record with { State = VaultStore.Shredding, Version = record.Version + 1, UpdatedAt = now.ToUnixTimeMilliseconds() };
        if (await VaultStore.UpdateRecordAsync(tx, shredding, record) == 0)
        {
            return Error.Concurrency("Record", record.Id);
        }
        await audit.AppendAsync(tx, caller, new AuditEvent(action, record.Id, AuditEvent.Success, record.AccountId,
            $"vault={record.VaultId} mode={record.Mode ?? "none"} retainUntil={RecordService.Time(record.RetainUntil)}"));
        return shredding;
    }

    private async Task<Result<DestructionCertificateView>> FinishAsync(Caller caller, RecordRow record, string reason, CancellationToken ct)
    {
        try
        {
            VaultKeys.DestroyDataKey(options, record.VaultId, record.Id);
            RecordService.DeleteBlob(options, record.VaultId, record.Id);
        }
        catch (IOException e)
        {
            // The record stays shredding; the next sweep tries again.
            logger.LogWarning(e, "Record {Record} could not be destroyed yet", record.Id);
            return new Error("destruction-incomplete", ErrorKind.Unavailable, $"Record '{record.Id}' is being destroyed; its destruction will be completed.");
        }
        var now = clock.GetUtcNow();
        var statement = new DestructionStatement(CertificateType, signingKey.KeyId, record.Id, record.VaultId, record.AccountId, record.Key, record.Sha256,
            record.SizeBytes, record.ClassName, record.RetentionMode, record.Until, now, record.Sanitization, reason);
        var text = JsonSerializer.Serialize(statement, WelkinJson.Client);
        var certificate = new CertificateRow(record.Id, record.VaultId, record.AccountId, text,
            Convert.ToBase64String(signingKey.Sign(Encoding.UTF8.GetBytes(text))), signingKey.KeyId, now.ToUnixTimeMilliseconds());
        return await db.WriteAsync<DestructionCertificateView>(async tx =>
        {
            var current = await VaultStore.GetRecordAsync(tx, record.Id);
            if (current is null || current.State != VaultStore.Shredding)
            {
                return Error.Concurrency("Record", record.Id);
            }
            var shredded = current with
            {
                State = VaultStore.Shredded, Version = current.Version + 1, UpdatedAt = now.ToUnixTimeMilliseconds(), ShreddedAt = now.ToUnixTimeMilliseconds(),
            };
            if (await VaultStore.UpdateRecordAsync(tx, shredded, current) == 0)
            {
                return Error.Concurrency("Record", record.Id);
            }
            var after = await VaultStore.ReturnBytesAsync(tx, record.VaultId, record.SizeBytes, now.ToUnixTimeMilliseconds());
            var vault = (await VaultStore.GetVaultAsync(tx, record.VaultId))!;
            await RecordService.RecordStoredSizeAsync(tx, events, caller, vault, after + record.SizeBytes, after);
            await VaultStore.InsertCertificateAsync(tx, certificate);
            await audit.AppendAsync(tx, caller, new AuditEvent("vault.record.shred", record.Id, AuditEvent.Success, record.AccountId, string.Create(CultureInfo.InvariantCulture,
                $"vault={record.VaultId} sha256={record.Sha256} method={record.Sanitization} reason={reason} certificateKey={certificate.KeyId}")));
            return ToView(certificate);
        }, ct);
    }

    private static DestructionCertificateView ToView(CertificateRow r) =>
        new(r.RecordId, r.VaultId, r.Statement, r.Signature, r.KeyId, DbTime.FromDb(r.IssuedAt));
}

/// <summary>The expiry sweep as periodic work (<c>Vault:SweepInterval</c>).</summary>
public sealed class VaultSweepWork(RecordDestruction destruction, VaultOptions options) : IPeriodicWork
{
    public string Name => "vault-sweep";

    public TimeSpan Interval => options.SweepInterval;

    public Task RunAsync(DateTimeOffset now, CancellationToken ct) => destruction.SweepAsync(ct);
}

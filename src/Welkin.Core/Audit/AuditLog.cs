using System.Security.Cryptography;
using System.Text;
using Dapper;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Security;

namespace Welkin.Core.Audit;

/// <summary>What happened, written by the operation that did it.</summary>
public sealed record AuditEvent(string Action, string Target, string Outcome, string? AccountId, string? Detail = null)
{
    public const string Success = "success";
    public const string Denied = "denied";
    public const string Failed = "failed";
}

/// <summary>The query of <c>GET /api/v1/audit</c>: an account and the page (<c>after</c> is a sequence number).</summary>
public sealed record AuditListQuery(string? AccountId = null, long? After = null, int Limit = 100);

/// <summary>
/// An append-only, hash-chained log. Each entry's hash covers the previous entry's hash and
/// all of its own fields, so editing or deleting any past entry breaks the chain at that point.
/// The chain head (last sequence number and hash) sits in its own row; updating it first in
/// every append serialises appenders on both SQLite and PostgreSQL without provider-specific
/// locking. Deleting the tail and rewriting the head together is only detectable against a
/// head hash recorded elsewhere, which is why verification reports the head hash.
/// </summary>
public sealed class AuditLog(TimeProvider clock)
{
    public const string GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000";

    public const int MaxLimit = 1000;

    public async Task AppendAsync(Tx tx, Caller caller, AuditEvent e)
    {
        // Taking the head row's write lock first serialises appends.
        var head = await tx.QuerySingleOrDefaultAsync<HeadRow>("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq AS Seq, hash AS Hash")
            ?? throw new InvalidOperationException("The audit head row is missing; the schema was not migrated.");
        var at = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var row = new AuditRow(head.Seq, at, caller.PrincipalId, e.AccountId, e.Action, e.Target, e.Outcome, e.Detail, caller.CorrelationId, head.Hash, "");
        row = row with { Hash = ComputeHash(row) };
        await tx.ExecuteAsync(
            """
            INSERT INTO audit_log (seq, at, actor, account_id, action, target, outcome, detail, correlation_id, prev_hash, hash)
            VALUES (@Seq, @At, @Actor, @AccountId, @Action, @Target, @Outcome, @Detail, @CorrelationId, @PrevHash, @Hash)
            """, row);
        await tx.ExecuteAsync("UPDATE audit_head SET hash = @Hash WHERE id = 1", new { row.Hash });
    }

    /// <summary>Appends an entry in a transaction of its own (for requests that failed and changed nothing).</summary>
    public Task AppendAsync(IDatabase db, Caller caller, AuditEvent e, CancellationToken ct) =>
        db.WriteAsync<bool>(async tx =>
        {
            await AppendAsync(tx, caller, e);
            return true;
        }, ct);

    /// <summary>
    /// Lists entries the caller may read: auditors and provider-admins all (or one account's),
    /// an account-admin only its own account's. Another account's id answers exactly as an id
    /// that does not exist.
    /// </summary>
    public async Task<Result<Page<AuditEntryView>>> ListAsync(IDatabase db, Caller caller, AuditListQuery query, CancellationToken ct)
    {
        // The provider's side reads the whole log, its own entries included; an account's side only the account's.
        var permission = caller.IsProvider ? Permission.AuditReadAll : Permission.AuditReadAccount;
        var scope = Tenancy.Scope(caller, permission, query.AccountId, "Reading the audit log");
        if (!scope.IsSuccess)
        {
            return scope.Error!;
        }
        if (query.After is < 0)
        {
            return Error.Validation("after", "after must be a sequence number (0 or more)");
        }
        if (query.AccountId is not null
            && !await Accounts.AccountStore.ExistsAsync(db, query.AccountId, ct))
        {
            return Error.NotFound("Account", query.AccountId);
        }
        return await ListAsync(db, scope.Value, query.After, query.Limit, ct);
    }

    public async Task<Page<AuditEntryView>> ListAsync(IDatabase db, string? accountId, long? after, int limit, CancellationToken ct)
    {
        var paging = new Paging(limit, MaxLimit);
        var rows = await db.QueryAsync<AuditRow>(
            $"""
            SELECT {Columns} FROM audit_log
            WHERE seq > @After AND (@AccountId IS NULL OR account_id = @AccountId)
            ORDER BY seq LIMIT @Take
            """, new { After = after ?? 0, AccountId = accountId, paging.Take }, ct);
        return paging.Page(rows, ToView, v => v.Seq.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Checks the whole chain and its head as of one snapshot, so appends committing meanwhile do not disturb it.</summary>
    public Task<AuditVerification> VerifyAsync(IDatabase db, CancellationToken ct) => db.ReadAsync(VerifyAsync, ct);

    private static async Task<AuditVerification> VerifyAsync(Tx tx)
    {
        var head = await tx.QuerySingleOrDefaultAsync<HeadRow>("SELECT seq AS Seq, hash AS Hash FROM audit_head WHERE id = 1");
        if (head is null)
        {
            return new AuditVerification(false, 0, GenesisHash, null, "The audit head is missing.");
        }
        var expectedSeq = 1L;
        var prev = GenesisHash;
        // Streamed in batches so a long log verifies in constant memory.
        while (true)
        {
            var batch = (await tx.QueryAsync<AuditRow>(
                $"SELECT {Columns} FROM audit_log WHERE seq >= @From ORDER BY seq LIMIT 5000", new { From = expectedSeq })).AsList();
            foreach (var row in batch)
            {
                if (row.Seq != expectedSeq)
                {
                    return new AuditVerification(false, expectedSeq - 1, head.Hash, expectedSeq, $"Entry {expectedSeq} is missing.");
                }
                if (row.PrevHash != prev)
                {
                    return new AuditVerification(false, expectedSeq - 1, head.Hash, row.Seq, $"Entry {row.Seq} does not link to entry {row.Seq - 1}.");
                }
                if (ComputeHash(row) != row.Hash)
                {
                    return new AuditVerification(false, expectedSeq - 1, head.Hash, row.Seq, $"Entry {row.Seq} was altered: its hash does not match its content.");
                }
                prev = row.Hash;
                expectedSeq++;
            }
            if (batch.Count < 5000)
            {
                break;
            }
        }
        var count = expectedSeq - 1;
        if (count < head.Seq)
        {
            return new AuditVerification(false, count, head.Hash, count + 1, $"The log ends at entry {count} but its head records entry {head.Seq}: entries were removed.");
        }
        if (count > head.Seq || prev != head.Hash)
        {
            return new AuditVerification(false, count, head.Hash, head.Seq, $"The head records entry {head.Seq} with a hash the log does not end with: entries were added or rewritten outside the log.");
        }
        return new AuditVerification(true, count, head.Hash, null, null);
    }

    internal static string ComputeHash(AuditRow r)
    {
        // Length-prefixed fields, so no two different entries serialise to the same bytes.
        var sb = new StringBuilder();
        void Field(string? v) => sb.Append(v is null ? "-1" : v.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append(':').Append(v).Append('|');
        Field(r.PrevHash);
        Field(r.Seq.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Field(r.At.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Field(r.Actor);
        Field(r.AccountId);
        Field(r.Action);
        Field(r.Target);
        Field(r.Outcome);
        Field(r.Detail);
        Field(r.CorrelationId);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())));
    }

    private const string Columns =
        "seq AS Seq, at AS At, actor AS Actor, account_id AS AccountId, action AS Action, target AS Target, outcome AS Outcome, detail AS Detail, correlation_id AS CorrelationId, prev_hash AS PrevHash, hash AS Hash";

    private static AuditEntryView ToView(AuditRow r) =>
        new(r.Seq, DbTime.FromDb(r.At), r.Actor, r.AccountId, r.Action, r.Target, r.Outcome, r.Detail, r.CorrelationId, r.Hash);

    private sealed record HeadRow(long Seq, string Hash);

    internal sealed record AuditRow(
        long Seq, long At, string Actor, string? AccountId, string Action, string Target, string Outcome, string? Detail, string CorrelationId, string PrevHash, string Hash);
}

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
/// locking. What the database alone cannot show (a rewritten tail, a recomputed chain, a forged
/// entry) is found against what lives outside it: each entry's seal, made with the signing
/// <paramref name="key"/>, and the signed checkpoints (<see cref="AuditCheckpoints"/>).
/// </summary>
public sealed class AuditLog(TimeProvider clock, AuditKey? key = null)
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
        row = row with { Seal = key?.Seal(row.Hash) };
        await tx.ExecuteAsync(
            """
            INSERT INTO audit_log (seq, at, actor, account_id, action, target, outcome, detail, correlation_id, prev_hash, hash, seal)
            VALUES (@Seq, @At, @Actor, @AccountId, @Action, @Target, @Outcome, @Detail, @CorrelationId, @PrevHash, @Hash, @Seal)
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

    /// <summary>
    /// Checks the chain and its head as of one snapshot, so appends committing meanwhile do not
    /// disturb it. Without <paramref name="anchors"/> only what the database holds is checked.
    /// </summary>
    public Task<AuditVerification> VerifyAsync(IDatabase db, CancellationToken ct) => VerifyAsync(db, AuditAnchors.None, ct);

    public Task<AuditVerification> VerifyAsync(IDatabase db, AuditAnchors anchors, CancellationToken ct) =>
        db.ReadAsync(tx => new AuditVerifier(anchors).VerifyAsync(tx), ct);

    /// <summary>The head and the entry it names, as of one snapshot (the entry is null for an empty log or a dangling head).</summary>
    internal static Task<(HeadRow? Head, AuditRow? Entry)> HeadAsync(IDatabase db, CancellationToken ct) =>
        db.ReadAsync(async tx =>
        {
            var head = await ReadHeadAsync(tx);
            var entry = head is null or { Seq: < 1 }
                ? null
                : await tx.QuerySingleOrDefaultAsync<AuditRow>($"SELECT {Columns} FROM audit_log WHERE seq = @Seq", new { head.Seq });
            return (head, entry);
        }, ct);

    internal static Task<HeadRow?> ReadHeadAsync(Tx tx) =>
        tx.QuerySingleOrDefaultAsync<HeadRow>("SELECT seq AS Seq, hash AS Hash FROM audit_head WHERE id = 1");

    /// <summary>Entries below sequence number 1, which Welkin never writes: how many, and the lowest.</summary>
    internal static Task<(long Count, long? Lowest)> BelowOneAsync(Tx tx) =>
        tx.QuerySingleOrDefaultAsync<(long Count, long? Lowest)>("SELECT COUNT(*), MIN(seq) FROM audit_log WHERE seq < 1");

    /// <summary>Up to <paramref name="limit"/> entries after sequence number <paramref name="after"/>, in order.</summary>
    internal static async Task<List<AuditRow>> ReadAfterAsync(Tx tx, long after, int limit) =>
        (await tx.QueryAsync<AuditRow>($"SELECT {Columns} FROM audit_log WHERE seq > @After ORDER BY seq LIMIT {limit}", new { After = after })).AsList();

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

    internal const string Columns =
        "seq AS Seq, at AS At, actor AS Actor, account_id AS AccountId, action AS Action, target AS Target, outcome AS Outcome, detail AS Detail, correlation_id AS CorrelationId, prev_hash AS PrevHash, hash AS Hash, seal AS Seal";

    /// <summary>An account's entries between two stored times that name <paramref name="target"/>, or whose detail is LIKE <paramref name="detailLike"/>, in order.</summary>
    internal static Task<IReadOnlyList<AuditRow>> EntriesAboutAsync(IDatabase db, string? accountId, long from, long to, string target, string detailLike, CancellationToken ct) =>
        db.QueryAsync<AuditRow>(
            $"""
            SELECT {Columns} FROM audit_log
            WHERE account_id = @AccountId AND at >= @From AND at <= @To AND (target = @Target OR detail LIKE @Like)
            ORDER BY seq
            """, new { AccountId = accountId, From = from, To = to, Target = target, Like = detailLike }, ct);

    /// <summary>The successful entries that name <paramref name="target"/>, in order.</summary>
    internal static Task<IReadOnlyList<AuditRow>> SucceededOnAsync(IDatabase db, string target, CancellationToken ct) =>
        db.QueryAsync<AuditRow>($"SELECT {Columns} FROM audit_log WHERE target = @Target AND outcome = @Success ORDER BY seq",
            new { Target = target, AuditEvent.Success }, ct);

    internal static AuditEntryView ToView(AuditRow r) =>
        new(r.Seq, DbTime.FromDb(r.At), r.Actor, r.AccountId, r.Action, r.Target, r.Outcome, r.Detail, r.CorrelationId, r.Hash);

    internal sealed record HeadRow(long Seq, string Hash);

    /// <summary>An entry as stored; <see cref="Seal"/> is null on entries written before entries were sealed.</summary>
    internal sealed record AuditRow(
        long Seq, long At, string Actor, string? AccountId, string Action, string Target, string Outcome, string? Detail, string CorrelationId, string PrevHash, string Hash,
        string? Seal = null);
}

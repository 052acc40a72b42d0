using System.Text.Json;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Events;
using Welkin.Core.Security;

namespace Welkin.Core.Federation;

/// <summary>
/// One federation agreement as stored. Terms, reasons and contract ids are JSON; on the consumer side
/// <see cref="Credential"/> holds the provider's certificate-bound token and <see cref="ApiUrl"/> where to use it.
/// </summary>
public sealed record AgreementRow(
    string Id, string Side, string PeerName, string? PeerAddress, string? PeerUrl, string PeerFingerprint, string? PeerCertificate,
    string? ProposalId, string? RemoteId, long? RemoteVersion, string State, string Terms, string? Reasons, string? AccountId, string? ContractIds, string? TokenId,
    string? Credential, string? ApiUrl, string? TerminationReason, long Version, long CreatedAt, long UpdatedAt)
{
    public AgreementTerms ParsedTerms => AgreementStore.Parse<AgreementTerms>(Terms)!;

    public IReadOnlyList<string> ParsedContractIds => ContractIds is null ? [] : AgreementStore.Parse<List<string>>(ContractIds) ?? [];

    public bool InForce => State == AgreementStore.Active || State == AgreementStore.Amended;

    public AgreementSide ParsedSide => WireNames.Parse<AgreementSide>(Side);
}

/// <summary>
/// The owner of <c>federation_agreements</c>, <c>federation_agreement_versions</c> and
/// <c>federation_policy</c>. Every change of an agreement is a compare-and-swap on its state and
/// version (as machines change), takes the next version, and records in the same transaction its
/// history row, its event (federation.agreement.*) and its audit entry.
/// </summary>
public sealed class AgreementStore(IDatabase db, EventLog events, AuditLog audit, TimeProvider clock)
{
    public static readonly string Proposed = WireNames.Of(AgreementState.Proposed);
    public static readonly string Active = WireNames.Of(AgreementState.Active);
    public static readonly string Amended = WireNames.Of(AgreementState.Amended);
    public static readonly string Refused = WireNames.Of(AgreementState.Refused);
    public static readonly string Terminated = WireNames.Of(AgreementState.Terminated);

    /// <summary>The audit actions, one per kind of change.</summary>
    public static class Actions
    {
        public const string Propose = "federation.agreement.propose";
        public const string Accept = "federation.agreement.accept";
        public const string Refuse = "federation.agreement.refuse";
        public const string Amend = "federation.agreement.amend";
        public const string Terminate = "federation.agreement.terminate";
        public const string Policy = "federation.policy.update";
    }

    /// <summary>Until the provider admin sets one: no peer may have an agreement.</summary>
    public static readonly FederationPolicy DefaultPolicy = new([], [], [], new Dictionary<string, long>(), 0m, false, IsolationLevel.Shared);

    private const string Columns =
        "id AS Id, side AS Side, peer_name AS PeerName, peer_address AS PeerAddress, peer_url AS PeerUrl, peer_fingerprint AS PeerFingerprint, " +
        "peer_certificate AS PeerCertificate, proposal_id AS ProposalId, remote_id AS RemoteId, remote_version AS RemoteVersion, state AS State, terms AS Terms, reasons AS Reasons, " +
        "account_id AS AccountId, contract_ids AS ContractIds, token_id AS TokenId, credential AS Credential, api_url AS ApiUrl, " +
        "termination_reason AS TerminationReason, version AS Version, created_at AS CreatedAt, updated_at AS UpdatedAt";

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, WelkinJson.Client);

    public static T? Parse<T>(string json) => JsonSerializer.Deserialize<T>(json, WelkinJson.Client);

    public long Now() => clock.GetUtcNow().ToUnixTimeMilliseconds();

    public string NewId() => Ids.New(Ids.Agreement, clock);

    public static Task<AgreementRow?> GetAsync(Tx tx, string id) =>
        tx.QuerySingleOrDefaultAsync<AgreementRow>($"SELECT {Columns} FROM federation_agreements WHERE id = @Id", new { Id = id });

    public Task<AgreementRow?> GetAsync(string id, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<AgreementRow>($"SELECT {Columns} FROM federation_agreements WHERE id = @Id", new { Id = id }, ct);

    /// <summary>The agreement a peer proposed under <paramref name="proposalId"/> (a retry finds the first answer).</summary>
    public static Task<AgreementRow?> FindProposalAsync(Tx tx, AgreementSide side, string fingerprint, string proposalId) =>
        tx.QuerySingleOrDefaultAsync<AgreementRow>(
            $"SELECT {Columns} FROM federation_agreements WHERE side = @Side AND peer_fingerprint = @Fingerprint AND proposal_id = @ProposalId",
            new { Side = WireNames.Of(side), Fingerprint = fingerprint, ProposalId = proposalId });

    public Task<IReadOnlyList<AgreementRow>> ListAsync(CancellationToken ct) =>
        db.QueryAsync<AgreementRow>($"SELECT {Columns} FROM federation_agreements ORDER BY id", null, ct);

    /// <summary>Agreements in <paramref name="state"/> (proposed ones to retry).</summary>
    public Task<IReadOnlyList<AgreementRow>> InStateAsync(string state, CancellationToken ct) =>
        db.QueryAsync<AgreementRow>($"SELECT {Columns} FROM federation_agreements WHERE state = @State ORDER BY id", new { State = state }, ct);

    /// <summary>The agreements in force (active or amended), all of them or those with one peer (by federation name or certificate fingerprint).</summary>
    public Task<IReadOnlyList<AgreementRow>> InForceAsync(string? peerName, string? fingerprint, CancellationToken ct) =>
        db.QueryAsync<AgreementRow>(
            $"""
            SELECT {Columns} FROM federation_agreements WHERE (state = @Active OR state = @Amended)
              AND ((@Name IS NULL AND @Fingerprint IS NULL) OR peer_name = @Name OR peer_fingerprint = @Fingerprint) ORDER BY id
            """,
            new { Active, Amended, Name = peerName, Fingerprint = fingerprint }, ct);

    public async Task<IReadOnlyList<AgreementVersion>> VersionsAsync(string id, CancellationToken ct) =>
        (await db.QueryAsync<VersionRow>(
            "SELECT version AS Version, state AS State, terms AS Terms, reason AS Reason, at AS At FROM federation_agreement_versions WHERE agreement_id = @Id ORDER BY version",
            new { Id = id }, ct))
        .Select(v => new AgreementVersion(v.Version, WireNames.Parse<AgreementState>(v.State), Parse<AgreementTerms>(v.Terms)!, v.Reason, DbTime.FromDb(v.At)))
        .ToList();

    /// <summary>Records a new agreement (version 1) with its history row, event and audit entry; false when the proposal id is taken.</summary>
    public async Task<bool> InsertAsync(Tx tx, Caller caller, AgreementRow row, string action, string? reason)
    {
        var n = await tx.ExecuteAsync(
            """
            INSERT INTO federation_agreements (id, side, peer_name, peer_address, peer_url, peer_fingerprint, peer_certificate, proposal_id, remote_id, remote_version, state,
                terms, reasons, account_id, contract_ids, token_id, credential, api_url, termination_reason, version, created_at, updated_at)
            VALUES (@Id, @Side, @PeerName, @PeerAddress, @PeerUrl, @PeerFingerprint, @PeerCertificate, @ProposalId, @RemoteId, @RemoteVersion, @State,
                @Terms, @Reasons, @AccountId, @ContractIds, @TokenId, @Credential, @ApiUrl, @TerminationReason, @Version, @CreatedAt, @UpdatedAt)
            ON CONFLICT DO NOTHING
            """, row);
        if (n == 0)
        {
            return false;
        }
        await RecordAsync(tx, caller, null, row, action, reason);
        return true;
    }

    /// <summary>
    /// Stores <paramref name="updated"/> over <paramref name="current"/>, conditional on the state and
    /// version read, taking the next version; null when another change came first.
    /// </summary>
    public async Task<AgreementRow?> TransitionAsync(Tx tx, Caller caller, AgreementRow current, AgreementRow updated, string action, string? reason)
    {
        var next = updated with { Version = current.Version + 1, UpdatedAt = Now() };
        var n = await tx.ExecuteAsync(
            """
            UPDATE federation_agreements SET state = @State, terms = @Terms, reasons = @Reasons, remote_id = @RemoteId, remote_version = @RemoteVersion, account_id = @AccountId,
                contract_ids = @ContractIds, token_id = @TokenId, credential = @Credential, api_url = @ApiUrl, termination_reason = @TerminationReason,
                peer_url = @PeerUrl, peer_certificate = @PeerCertificate, version = @Version, updated_at = @UpdatedAt
            WHERE id = @Id AND state = @OldState AND version = @OldVersion
            """,
            new
            {
                next.State, next.Terms, next.Reasons, next.RemoteId, next.RemoteVersion, next.AccountId, next.ContractIds, next.TokenId, next.Credential, next.ApiUrl,
                next.TerminationReason, next.PeerUrl, next.PeerCertificate, next.Version, next.UpdatedAt, next.Id, OldState = current.State, OldVersion = current.Version,
            });
        if (n == 0)
        {
            return null;
        }
        await RecordAsync(tx, caller, current, next, action, reason);
        return next;
    }

    private async Task RecordAsync(Tx tx, Caller caller, AgreementRow? before, AgreementRow after, string action, string? reason)
    {
        await tx.ExecuteAsync(
            "INSERT INTO federation_agreement_versions (agreement_id, version, state, terms, reason, at) VALUES (@Id, @Version, @State, @Terms, @Reason, @At)",
            new { after.Id, after.Version, after.State, after.Terms, Reason = reason, At = after.UpdatedAt });
        var data = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["side"] = after.Side, ["peer"] = after.PeerName, ["state"] = after.State, ["version"] = after.Version.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        if (before is not null)
        {
            data["from"] = before.State;
        }
        var accountId = after.ParsedSide == AgreementSide.Provider ? after.AccountId : null;
        await events.AppendAsync(tx, caller, new LifecycleEvent("federation.agreement." + after.State, after.Id, accountId, data), DbTime.FromDb(after.UpdatedAt));
        var outcome = after.State == Refused ? AuditEvent.Denied : AuditEvent.Success;
        var detail = $"side={after.Side}; peer={after.PeerName}; state={after.State}; version={after.Version}" + (reason is null ? "" : "; reason=" + Clip(reason));
        await audit.AppendAsync(tx, caller, new AuditEvent(action, after.Id, outcome, accountId, detail));
    }

    public static AgreementView ToView(AgreementRow r) => new(
        r.Id, r.ParsedSide, new AgreementPeer(r.PeerName, r.PeerAddress, r.PeerUrl, r.PeerFingerprint), WireNames.Parse<AgreementState>(r.State), r.Version,
        r.ParsedTerms, r.Reasons is null ? [] : Parse<List<string>>(r.Reasons) ?? [], r.RemoteId, r.AccountId, r.ParsedContractIds, r.TerminationReason,
        DbTime.FromDb(r.CreatedAt), DbTime.FromDb(r.UpdatedAt));

    private static string Clip(string s) => s.Length <= 500 ? s : s[..500] + "…";

    // ---- the provider's policy ----------------------------------------------------------

    public async Task<FederationPolicy> GetPolicyAsync(CancellationToken ct)
    {
        var row = await db.QuerySingleOrDefaultAsync<PolicyRow>(
            "SELECT policy AS Policy, version AS Version, updated_at AS UpdatedAt FROM federation_policy WHERE id = 1", null, ct);
        return row is null ? DefaultPolicy : Parse<FederationPolicy>(row.Policy)! with { Version = row.Version, Updated = DbTime.FromDb(row.UpdatedAt) };
    }

    /// <summary>Stores a new policy conditional on <paramref name="expectedVersion"/> (0: none set yet), audited.</summary>
    public async Task<Result<FederationPolicy>> SetPolicyAsync(Caller caller, FederationPolicy policy, long expectedVersion, CancellationToken ct) =>
        await db.WriteAsync<FederationPolicy>(async tx =>
        {
            var now = Now();
            var stored = policy with { Version = expectedVersion + 1, Updated = null };
            var json = Serialize(stored);
            var n = expectedVersion == 0
                ? await tx.ExecuteAsync(
                    "INSERT INTO federation_policy (id, policy, version, updated_at) VALUES (1, @Policy, 1, @Now) ON CONFLICT (id) DO NOTHING",
                    new { Policy = json, Now = now })
                : await tx.ExecuteAsync(
                    "UPDATE federation_policy SET policy = @Policy, version = @Version, updated_at = @Now WHERE id = 1 AND version = @OldVersion",
                    new { Policy = json, Version = expectedVersion + 1, Now = now, OldVersion = expectedVersion });
            if (n == 0)
            {
                var actual = await tx.ExecuteScalarAsync<long?>("SELECT version FROM federation_policy WHERE id = 1") ?? 0;
                return Error.VersionMismatch("Federation policy", "policy", expectedVersion, actual);
            }
            await audit.AppendAsync(tx, caller, new AuditEvent(Actions.Policy, "policy", AuditEvent.Success, null,
                $"version={stored.Version}; peers={string.Join(',', policy.Peers)}; jurisdictions={string.Join(',', policy.Jurisdictions)}; " +
                $"offerings={policy.Offerings.Count}; reserve={policy.CapacityReservePercent}%"));
            return stored with { Updated = DbTime.FromDb(now) };
        }, ct);

    private sealed record VersionRow(long Version, string State, string Terms, string? Reason, long At);

    private sealed record PolicyRow(string Policy, long Version, long UpdatedAt);
}

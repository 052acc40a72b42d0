namespace Welkin.Contracts;

/// <summary>
/// The auditor's evidence for one vault and period (<c>GET /api/v1/vaults/{id}/sox-report</c>): its
/// retention configuration and its history, legal holds, governance bypasses, records written,
/// destructions with their certificates checked, and the audit chain verified against its checkpoints.
/// <paramref name="Intact"/> is true exactly when <paramref name="Findings"/> is empty.
/// </summary>
public sealed record SoxReportView(
    VaultView Vault,
    DateTimeOffset From,
    DateTimeOffset To,
    DateTimeOffset Generated,
    IReadOnlyList<RetentionClassView> Classes,
    IReadOnlyList<AuditEntryView> ConfigurationHistory,
    IReadOnlyList<AuditEntryView> Holds,
    IReadOnlyList<AuditEntryView> Bypasses,
    IReadOnlyList<AuditEntryView> RetentionChanges,
    IReadOnlyList<AuditEntryView> RecordsWritten,
    IReadOnlyList<SoxDestructionView> Destructions,
    SoxAuditChainView AuditChain,
    bool Intact,
    string Verdict,
    IReadOnlyList<SoxFindingView> Findings);

/// <summary>
/// One destruction in the period: its certificate, whether the signature verifies with the cloud's key,
/// and whether it happened at or after retain-until or, before it, by an audited allowed delete
/// (<paramref name="AllowedBy"/> names the audit entry).
/// </summary>
public sealed record SoxDestructionView(
    string RecordId,
    string? Key,
    string? ClassName,
    RetentionMode? Mode,
    DateTimeOffset? RetainUntil,
    DateTimeOffset? DestroyedAt,
    string? Reason,
    string? Method,
    bool SignatureValid,
    bool OnTime,
    string? AllowedBy,
    DestructionCertificateView Certificate);

/// <summary>The whole audit chain checked against the signed checkpoints, and the checkpoints that vouch for the period.</summary>
/// <param name="Checkpoints">The checkpoint file's line numbers signed in the period, and the first one after it.</param>
public sealed record SoxAuditChainView(bool Intact, long Entries, long? FirstEntry, long? LastEntry, IReadOnlyList<long> Checkpoints, IReadOnlyList<AuditFinding> Findings);

/// <summary>Why the verdict is false: a finding's code, what it concerns (a record id, an audit entry) and what was found.</summary>
public sealed record SoxFindingView(string Code, string? Subject, string Detail);

/// <summary>
/// The auditor's evidence for every vault of an account and a period (<c>GET /api/v1/accounts/{id}/sox-report</c>):
/// the report of each vault that existed in the period (deleted ones included), oldest first, and one verdict
/// over them all. <paramref name="Findings"/> gathers the vaults' findings, each once.
/// </summary>
public sealed record AccountSoxReportView(
    string AccountId,
    DateTimeOffset From,
    DateTimeOffset To,
    DateTimeOffset Generated,
    bool Intact,
    string Verdict,
    IReadOnlyList<SoxFindingView> Findings,
    IReadOnlyList<SoxReportView> Vaults);

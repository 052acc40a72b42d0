using System.Globalization;
using System.Text.Json;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Security;

namespace Welkin.Core.Vault;

/// <summary>
/// The auditor's report for a vault and a period: what the vault's retention configuration was and
/// how it changed, which holds were placed and removed, which governance bypasses were used, what was
/// written and destroyed, each destruction's certificate verified and checked against its retain-until,
/// and the audit chain verified against the signed checkpoints. Every finding turns the verdict false:
/// evidence that fails a check proves nothing.
/// </summary>
public sealed partial class SoxReports(IDatabase db, AuditLog audit, AuditCheckpoints checkpoints, AuditKey signingKey, TimeProvider clock)
{
    public const string IntactVerdict = "No record was changed or destroyed before its time.";

    private static readonly string[] Configuration = ["vault.create", "vault.object-lock", "vault.default-retention", "vault.class.create", "vault.delete"];
    private static readonly string[] HoldActions = ["vault.record.hold", "vault.record.release-hold"];
    private static readonly string[] BypassActions = ["vault.record.retention-bypass", "vault.record.delete-bypass"];
    private static readonly string[] DestructionStarts = ["vault.record.delete", "vault.record.delete-bypass", "vault.record.expire", "vault.record.contract-end"];

    public async Task<Result<SoxReportView>> ReportAsync(Caller caller, string vaultId, DateTimeOffset? from, DateTimeOffset? to, CancellationToken ct)
    {
        if (Tenancy.Require(caller, caller.IsProvider ? Permission.AuditReadAll : Permission.AuditReadAccount, "Reading a vault's SOX report") is { } denied)
        {
            return denied;
        }
        if (!Ids.IsValid(vaultId, Ids.Vault))
        {
            return Error.InvalidId(vaultId, "vault");
        }
        var vault = await VaultStore.GetVaultAsync(db, vaultId, ct);
        if (vault is null || !Tenancy.Sees(caller, vault.AccountId))
        {
            return Error.NotFound("Vault", vaultId);
        }
        var now = clock.GetUtcNow();
        var start = from ?? DbTime.FromDb(vault.CreatedAt);
        var end = to ?? now;
        if (start > end)
        {
            return Error.Validation("from", "from must not be after to");
        }
        var anchors = checkpoints.Anchors();
        return await ForVaultAsync(vault, start, end, now, anchors, await audit.VerifyAsync(db, anchors, ct), ct);
    }

    private async Task<SoxReportView> ForVaultAsync(
        VaultRow vault, DateTimeOffset start, DateTimeOffset end, DateTimeOffset now, AuditAnchors anchors, AuditVerification verification, CancellationToken ct)
    {
        var entries = await EntriesAsync(vault, start, end, ct);
        var findings = new List<SoxFindingView>();
        var destructions = await DestructionsAsync(vault.Id, start, end, findings, ct);
        await MissingCertificatesAsync(vault.Id, start, end, findings, ct);
        var chain = Chain(entries, start, end, anchors, verification);
        findings.AddRange(chain.Findings.Select(f => new SoxFindingView(f.Code, f.Seq is { } seq ? $"audit entry {seq}" : "audit log", f.Detail)));

        var classes = (await VaultStore.ClassesAsync(db, vault.Id, ct)).Select(VaultService.ToView).ToList();
        List<AuditEntryView> Of(string[] actions) => entries.Where(e => actions.Contains(e.Action) && e.Outcome == AuditEvent.Success).ToList();
        var intact = findings.Count == 0;
        return new SoxReportView(VaultService.ToView(vault), start, end, now, classes, Of(Configuration), Of(HoldActions), Of(BypassActions),
            Of(["vault.record.retention"]), Of(["vault.record.write"]), destructions, chain, intact,
            intact ? IntactVerdict : Invariant($"It cannot be shown that no record was changed or destroyed before its time: {findings.Count} finding(s)."),
            findings);
    }

    /// <summary>The vault's entries in the period: those that name it as target or in their detail's leading <c>vault=</c>.</summary>
    private async Task<List<AuditEntryView>> EntriesAsync(VaultRow vault, DateTimeOffset start, DateTimeOffset end, CancellationToken ct)
    {
        var prefix = $"vault={vault.Id} ";
        var rows = await AuditLog.EntriesAboutAsync(db, vault.AccountId, DbTime.ToDb(start), DbTime.ToDb(end), vault.Id, prefix + "%", ct);
        // LIKE's '_' matches any character: keep only the exact prefix.
        return rows.Where(r => r.Target == vault.Id || r.Detail?.StartsWith(prefix, StringComparison.Ordinal) == true).Select(AuditLog.ToView).ToList();
    }

    private async Task<List<SoxDestructionView>> DestructionsAsync(string vaultId, DateTimeOffset start, DateTimeOffset end, List<SoxFindingView> findings, CancellationToken ct)
    {
        var rows = await VaultStore.CertificatesIssuedAsync(db, vaultId, DbTime.ToDb(start), DbTime.ToDb(end), ct);
        var result = new List<SoxDestructionView>();
        foreach (var row in rows)
        {
            var certificate = new DestructionCertificateView(row.RecordId, row.VaultId, row.Statement, row.Signature, row.KeyId, DbTime.FromDb(row.IssuedAt));
            var problem = RecordDestruction.Verify(certificate, signingKey.Public);
            if (problem is not null)
            {
                findings.Add(new SoxFindingView("certificate-invalid", row.RecordId, $"The destruction certificate of record {row.RecordId} does not verify: {problem}."));
            }
            var statement = Statement(row.Statement);
            var (onTime, allowedBy) = await TimelinessAsync(row.RecordId, statement, findings, ct);
            result.Add(new SoxDestructionView(row.RecordId, statement?.Key, statement?.ClassName, statement?.Mode, statement?.RetainUntil, statement?.DestroyedAt,
                statement?.Reason, statement?.Method, problem is null, onTime, allowedBy, certificate));
        }
        return result;
    }

    /// <summary>
    /// At or after retain-until is on time. Before it, only a governance record deleted with an audited
    /// bypass was allowed; a compliance record destroyed early, or one with no such entry, is a finding.
    /// </summary>
    private async Task<(bool OnTime, string? AllowedBy)> TimelinessAsync(string recordId, DestructionStatement? statement, List<SoxFindingView> findings, CancellationToken ct)
    {
        if (statement is null)
        {
            return (false, null);
        }
        if (statement.RetainUntil is not { } until || statement.DestroyedAt >= until)
        {
            return (true, null);
        }
        var begun = (await AuditLog.SucceededOnAsync(db, recordId, ct)).LastOrDefault(r => DestructionStarts.Contains(r.Action));
        if (statement.Mode == RetentionMode.Governance && begun?.Action == "vault.record.delete-bypass")
        {
            return (false, Invariant($"audit entry {begun.Seq}: {begun.Action} by {begun.Actor} at {DbTime.FromDb(begun.At):O}"));
        }
        findings.Add(new SoxFindingView("destroyed-early", recordId, Invariant(
            $"Record {recordId} ({statement.Mode?.ToString().ToLowerInvariant() ?? "no"} retention) was destroyed at {statement.DestroyedAt:O}, before its retain-until {until:O}, with no audited governance bypass.")));
        return (false, null);
    }

    private async Task MissingCertificatesAsync(string vaultId, DateTimeOffset start, DateTimeOffset end, List<SoxFindingView> findings, CancellationToken ct)
    {
        var missing = await VaultStore.ShreddedWithoutCertificateAsync(db, vaultId, DbTime.ToDb(start), DbTime.ToDb(end), ct);
        findings.AddRange(missing.Select(id => new SoxFindingView("certificate-missing", id, $"Record {id} was destroyed but its destruction certificate is missing.")));
    }

    /// <summary>The whole chain checked against the checkpoints; the checkpoints signed in the period and the first after it vouch for the period's entries.</summary>
    private SoxAuditChainView Chain(List<AuditEntryView> entries, DateTimeOffset start, DateTimeOffset end, AuditAnchors anchors, AuditVerification verification)
    {
        var signed = (anchors.Checkpoints ?? [])
            .Where(l => l.Checkpoint is { } c && c.KeyId == signingKey.KeyId && c.At >= start)
            .OrderBy(l => l.Number)
            .ToList();
        var vouching = signed.Where(l => l.Checkpoint!.At <= end).Concat(signed.Where(l => l.Checkpoint!.At > end).Take(1)).Select(l => l.Number).ToList();
        return new SoxAuditChainView(verification.Valid, verification.Entries, entries.FirstOrDefault()?.Seq, entries.LastOrDefault()?.Seq, vouching, verification.Findings);
    }

    private static DestructionStatement? Statement(string text)
    {
        try
        {
            return JsonSerializer.Deserialize<DestructionStatement>(text, WelkinJson.Client);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}

using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Security;

namespace Welkin.Core.Vault;

/// <summary>
/// How a record is written. Its retention comes from its class (the class's rule), or from an explicit
/// <paramref name="Mode"/> and <paramref name="RetainUntil"/> (S3's x-amz-object-lock-* headers), or
/// else from the vault's default retention; <paramref name="LegalHold"/> is a hold id placed with it.
/// </summary>
/// <param name="Sha256">The content's declared SHA-256 (lower-case hex): a mismatch keeps nothing.</param>
public sealed record RecordWrite(string? ClassName = null, string? Sha256 = null, RetentionMode? Mode = null, DateTimeOffset? RetainUntil = null, string? LegalHold = null);

public sealed partial class RecordService
{
    /// <summary>
    /// S3's single legal-hold status of a record, kept as the legal hold <paramref name="holdId"/>: ON places
    /// it; OFF removes it and is refused while holds placed by other means remain, so that an OFF that
    /// succeeds leaves the record unheld (as S3's status says) and never lifts a hold it did not place.
    /// </summary>
    public async Task<Result<VaultRecordView>> SetLegalHoldStatusAsync(Caller caller, string vaultId, string recordId, string holdId, bool on, CancellationToken ct)
    {
        if (on)
        {
            return await PlaceHoldAsync(caller, vaultId, recordId, holdId, ct);
        }
        if ((CheckWrite(caller, vaultId, recordId, "Removing a legal hold") ?? CheckHoldId(holdId)) is { } denied)
        {
            return denied;
        }
        var current = await GetAsync(caller, vaultId, recordId, ct);
        if (!current.IsSuccess)
        {
            return current.Error!;
        }
        var others = current.Value.HoldIds.Where(h => h != holdId).ToList();
        if (others.Count > 0)
        {
            return new Error(RetentionRules.LegalHoldRule, ErrorKind.Forbidden,
                $"Record '{recordId}' is also under legal hold(s) {string.Join(", ", others)}, placed through the API; remove them there (rule: legal-hold).");
        }
        return current.Value.HoldIds.Contains(holdId) ? await RemoveHoldAsync(caller, vaultId, recordId, holdId, ct) : current.Value;
    }

    internal static Error? CheckHoldId(string holdId) =>
        holdId is not { Length: > 0 and <= MaxHoldIdLength } || !holdId.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_')
            ? Error.Validation("holdId", $"a hold id is 1-{MaxHoldIdLength} characters of A-Z, a-z, 0-9, '-', '.', '_'")
            : null;

    private Error? CheckLock(Caller caller, RecordWrite write)
    {
        if (write.ClassName is not null && write.Mode is not null)
        {
            return Error.Validation("mode", "a record's retention comes from its class or from an explicit mode and retainUntil, not both");
        }
        return RetentionRules.CheckChange(caller, "", null, null, write.Mode, write.RetainUntil, false, clock.GetUtcNow())
            ?? (write.LegalHold is { } hold ? CheckHoldId(hold) : null);
    }

    /// <summary>
    /// The retention a new record gets: its class's, else its explicit one, else the vault's default,
    /// read in the write's transaction (a rule changed while the bytes streamed in applies).
    /// </summary>
    private static async Task<Result<(string? Mode, DateTimeOffset? Until)>> LockOfAsync(Tx tx, string vaultId, RecordWrite write, RetentionClassRow? retention, DateTimeOffset now)
    {
        if (retention is not null)
        {
            var period = RetentionPeriod.TryParse(retention.Period, out var p) ? p : default;
            return (retention.Mode, period.From(now));
        }
        var vault = await VaultStore.GetVaultAsync(tx, vaultId);
        if (vault is null)
        {
            return Error.NotFound("Vault", vaultId);
        }
        if ((write.Mode is not null || write.LegalHold is not null) && vault.ObjectLock == 0)
        {
            return Error.InvalidState($"Vault '{vaultId}' does not have Object Lock enabled; its records carry no retention or legal hold.");
        }
        if (write.Mode is { } mode)
        {
            // Checked again at the commit: a long upload may have outlived the date it was sent with.
            return write.RetainUntil > now ? (WireNames.Of(mode), write.RetainUntil) : Error.Validation("retainUntil", "retainUntil must be in the future");
        }
        return VaultService.DefaultRetentionOf(vault, now) is { } byDefault ? (byDefault.Mode, byDefault.Until) : ((string?)null, (DateTimeOffset?)null);
    }

    private async Task<IReadOnlyList<string>> PlaceInitialHoldAsync(Tx tx, Caller caller, RecordRow row, string? holdId)
    {
        if (holdId is null)
        {
            return [];
        }
        await VaultStore.InsertHoldAsync(tx, row.Id, holdId, caller.PrincipalId, row.CreatedAt);
        await audit.AppendAsync(tx, caller, new AuditEvent("vault.record.hold", row.Id, AuditEvent.Success, row.AccountId, $"vault={row.VaultId} hold={holdId}"));
        return [holdId];
    }
}

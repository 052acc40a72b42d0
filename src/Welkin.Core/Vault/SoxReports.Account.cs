using Welkin.Contracts;
using Welkin.Core.Accounts;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Security;

namespace Welkin.Core.Vault;

public sealed partial class SoxReports
{
    /// <summary>
    /// The report of every vault the account had in the period (created by its end and not deleted
    /// before its start), the audit chain verified once for all of them; the verdict is true only
    /// when no vault has a finding. The period defaults to the first vault's creation until now.
    /// </summary>
    public async Task<Result<AccountSoxReportView>> AccountReportAsync(Caller caller, string accountId, DateTimeOffset? from, DateTimeOffset? to, CancellationToken ct)
    {
        var permission = caller.IsProvider ? Permission.AuditReadAll : Permission.AuditReadAccount;
        if (!Ids.IsValid(accountId, Ids.Account))
        {
            return Error.InvalidId(accountId, "account");
        }
        var scope = Tenancy.Scope(caller, permission, accountId, "Reading an account's SOX report");
        if (!scope.IsSuccess)
        {
            return scope.Error!;
        }
        if (!await AccountStore.ExistsAsync(db, accountId, ct))
        {
            return Error.NotFound("Account", accountId);
        }
        var now = clock.GetUtcNow();
        var end = to ?? now;
        var vaults = await VaultStore.VaultsInPeriodAsync(db, accountId, from is { } f ? DbTime.ToDb(f) : long.MinValue, DbTime.ToDb(end), ct);
        var start = from ?? (vaults.Count > 0 ? DbTime.FromDb(vaults.Min(v => v.CreatedAt)) : end);
        if (start > end)
        {
            return Error.Validation("from", "from must not be after to");
        }
        var anchors = checkpoints.Anchors();
        var verification = await audit.VerifyAsync(db, anchors, ct);
        var reports = new List<SoxReportView>();
        foreach (var vault in vaults)
        {
            reports.Add(await ForVaultAsync(vault, start, end, now, anchors, verification, ct));
        }
        var findings = reports.SelectMany(r => r.Findings).Distinct().ToList();
        var intact = findings.Count == 0;
        return new AccountSoxReportView(accountId, start, end, now, intact,
            intact ? IntactVerdict : Invariant($"It cannot be shown that no record was changed or destroyed before its time: {findings.Count} finding(s)."),
            findings, reports);
    }
}

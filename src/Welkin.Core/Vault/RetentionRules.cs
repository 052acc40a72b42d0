using System.Globalization;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Security;

namespace Welkin.Core.Vault;

/// <summary>
/// The rules of retention, as S3 Object Lock states them and the white paper's 3.3 requires: a
/// record under compliance retention can be neither shortened, removed nor switched to governance by
/// anyone (the provider's administrators and the account itself included) until it expires; one
/// under governance retention only by a caller holding vault-retention-bypass who says so in the
/// request; lengthening is always allowed; legal holds are independent of retention and forbid
/// destruction while any is placed. Each refusal names its rule in its code.
/// </summary>
public static class RetentionRules
{
    public const string ComplianceRule = "compliance-retention";
    public const string GovernanceRule = "governance-retention";
    public const string LegalHoldRule = "legal-hold";

    /// <summary>The longest retention period a class may name.</summary>
    public const int MaxYears = 100;

    /// <summary>The retention a record is under now, if any (retention that has expired binds nothing).</summary>
    public static bool IsLocked(RetentionMode? mode, DateTimeOffset? until, DateTimeOffset now) => mode is not null && until is { } u && u > now;

    /// <summary>Whether <paramref name="caller"/> may change a record's retention from (mode, until) to (newMode, newUntil).</summary>
    public static Error? CheckChange(
        Caller caller, string recordId, RetentionMode? mode, DateTimeOffset? until, RetentionMode? newMode, DateTimeOffset? newUntil, bool bypass, DateTimeOffset now)
    {
        if ((newMode is null) != (newUntil is null))
        {
            return Error.Validation("retainUntil", "mode and retainUntil are given together (both null removes the retention)");
        }
        if (newUntil is { } n && n <= now)
        {
            return Error.Validation("retainUntil", "retainUntil must be in the future");
        }
        if (newUntil is { } far && far > now.AddYears(MaxYears))
        {
            return Error.Validation("retainUntil", $"retainUntil must be within {MaxYears} years");
        }
        if (!IsLocked(mode, until, now))
        {
            return null;
        }
        var keeps = newUntil is { } next && next >= until!.Value;
        if (mode == RetentionMode.Compliance)
        {
            return keeps && newMode == RetentionMode.Compliance ? null : Compliance(recordId, until!.Value, "shortened, removed or switched to governance");
        }
        // Governance: lengthening (in either mode) is free; anything else needs the bypass.
        return keeps ? null : Bypass(caller, recordId, until!.Value, bypass, "shortened or removed");
    }

    /// <summary>Whether <paramref name="caller"/> may destroy a record now (a delete before its time).</summary>
    public static Error? CheckDelete(Caller caller, string recordId, RetentionMode? mode, DateTimeOffset? until, int holds, bool bypass, DateTimeOffset now)
    {
        if (holds > 0)
        {
            return new Error(LegalHoldRule, ErrorKind.Forbidden,
                string.Create(CultureInfo.InvariantCulture, $"Record '{recordId}' is under {holds} legal hold(s); it cannot be deleted until every hold is removed (rule: legal-hold)."));
        }
        if (!IsLocked(mode, until, now))
        {
            return null;
        }
        return mode == RetentionMode.Compliance
            ? Compliance(recordId, until!.Value, "deleted")
            : Bypass(caller, recordId, until!.Value, bypass, "deleted");
    }

    /// <summary>Whether a record may be destroyed by the expiry sweep: retention over and no legal hold.</summary>
    public static bool IsDue(DateTimeOffset? until, int holds, DateTimeOffset now) => holds == 0 && until is { } u && u <= now;

    private static Error Compliance(string recordId, DateTimeOffset until, string what) =>
        new(ComplianceRule, ErrorKind.Forbidden,
            $"Record '{recordId}' is under compliance retention until {until:O}: it cannot be {what} by anyone until then (rule: compliance-retention).");

    private static Error? Bypass(Caller caller, string recordId, DateTimeOffset until, bool bypass, string what)
    {
        if (bypass && caller.Can(Permission.VaultRetentionBypass))
        {
            return null;
        }
        var why = bypass ? "the caller lacks the vault-retention-bypass permission" : "the request does not ask to bypass governance retention";
        return new Error(GovernanceRule, ErrorKind.Forbidden,
            $"Record '{recordId}' is under governance retention until {until:O}: it can be {what} only with vault-retention-bypass and an explicit bypass; {why} (rule: governance-retention).");
    }
}

/// <summary>
/// The retention periods a class names: ISO 8601 durations of years, months and days (P7Y, P1Y6M,
/// P90D), as CDMI's cdmi_retention_period carries them, counted in calendar terms from the moment a
/// record is written.
/// </summary>
public readonly record struct RetentionPeriod(int Years, int Months, int Days)
{
    public static bool TryParse(string? text, out RetentionPeriod period)
    {
        period = default;
        if (text is null || text.Length is < 3 or > 20 || text[0] != 'P')
        {
            return false;
        }
        int years = 0, months = 0, days = 0, number = -1;
        var order = 0;
        foreach (var c in text.AsSpan(1))
        {
            if (char.IsAsciiDigit(c))
            {
                number = number < 0 ? c - '0' : number * 10 + (c - '0');
                if (number > 100_000)
                {
                    return false;
                }
                continue;
            }
            var rank = c switch { 'Y' => 1, 'M' => 2, 'D' => 3, _ => 0 };
            if (rank == 0 || rank <= order || number < 0)
            {
                return false;
            }
            order = rank;
            (years, months, days) = rank switch { 1 => (number, months, days), 2 => (years, number, days), _ => (years, months, number) };
            number = -1;
        }
        if (number >= 0 || order == 0 || years * 12 + months + days / 31 > RetentionRules.MaxYears * 12 || years + months + days == 0)
        {
            return false;
        }
        period = new RetentionPeriod(years, months, days);
        return true;
    }

    public DateTimeOffset From(DateTimeOffset start) => start.AddYears(Years).AddMonths(Months).AddDays(Days);
}

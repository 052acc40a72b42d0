using System.Globalization;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Security;

namespace Welkin.Core.Vault;

public sealed partial class VaultService
{
    /// <summary>The longest default retention in days (as long as <see cref="RetentionRules.MaxYears"/> of 365 days).</summary>
    public const int MaxDefaultDays = RetentionRules.MaxYears * 365;

    public async Task<Result<DefaultRetentionView>> GetDefaultRetentionAsync(Caller caller, string id, CancellationToken ct)
    {
        var found = await ReadableAsync(caller, id, ct);
        return found.IsSuccess ? ToDefaultView(found.Value) : found.Error!;
    }

    /// <summary>
    /// Sets or removes the vault's default retention, audited as vault.default-retention. With
    /// <paramref name="enableObjectLock"/> (S3's PutObjectLockConfiguration, which names
    /// <c>ObjectLockEnabled</c>) Object Lock is turned on in the same change; without it a vault
    /// without Object Lock refuses.
    /// </summary>
    public async Task<Result<DefaultRetentionView>> SetDefaultRetentionAsync(
        Caller caller, string id, DefaultRetentionRequest request, bool enableObjectLock, CancellationToken ct)
    {
        if (CheckDefault(request) is { } invalid)
        {
            return invalid;
        }
        var mode = request.Mode is { } m ? WireNames.Of(m) : null;
        var period = request.Mode is null ? null
            : request.Days is { } days ? string.Create(CultureInfo.InvariantCulture, $"P{days}D")
            : string.Create(CultureInfo.InvariantCulture, $"P{request.Years}Y");
        var changed = await ChangeAsync(caller, id, request.Version, "Setting the default retention", (tx, row, now) =>
            Task.FromResult<Result<VaultRow>>(row.ObjectLock == 0 && !enableObjectLock
                ? Error.InvalidState($"Vault '{id}' does not have Object Lock enabled; a default retention needs it.")
                : row with { ObjectLock = 1, DefaultMode = mode, DefaultPeriod = period, Version = row.Version + 1, UpdatedAt = now }),
            "vault.default-retention", $"objectLock=true mode={mode ?? "none"} period={period ?? "none"}", ct);
        return changed.IsSuccess ? new DefaultRetentionView(id, true, request.Mode, request.Days, request.Years, changed.Value.Version) : changed.Error!;
    }

    /// <summary>The retention a record written now gets from the vault's default rule, if it has one.</summary>
    internal static (string Mode, DateTimeOffset Until)? DefaultRetentionOf(VaultRow vault, DateTimeOffset now) =>
        vault.ObjectLock != 0 && vault.DefaultMode is { } mode && RetentionPeriod.TryParse(vault.DefaultPeriod, out var period) ? (mode, period.From(now)) : null;

    private static Error? CheckDefault(DefaultRetentionRequest request)
    {
        if (request.Mode is null)
        {
            return request.Days is null && request.Years is null
                ? null
                : Error.Validation("mode", "a default retention names a mode and a period (days or years); none of the three removes it");
        }
        var v = new Validator();
        v.Require(Enum.IsDefined(request.Mode.Value), "mode", "mode must be governance or compliance");
        v.Require((request.Days is null) != (request.Years is null), "days", "a default retention's period is days or years: exactly one of them");
        v.Require(request.Days is null or (> 0 and <= MaxDefaultDays), "days", $"days must be 1-{MaxDefaultDays}");
        v.Require(request.Years is null or (> 0 and <= RetentionRules.MaxYears), "years", $"years must be 1-{RetentionRules.MaxYears}");
        return v.ToError();
    }

    private static DefaultRetentionView ToDefaultView(VaultRow row)
    {
        var period = RetentionPeriod.TryParse(row.DefaultPeriod, out var p) && row.DefaultMode is not null ? p : (RetentionPeriod?)null;
        return new DefaultRetentionView(row.Id, row.ObjectLock != 0, period is null ? null : WireNames.Parse<RetentionMode>(row.DefaultMode!),
            period is { Days: > 0 } d ? d.Days : null, period is { Years: > 0 } y ? y.Years : null, row.Version);
    }
}

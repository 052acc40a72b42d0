namespace Welkin.Contracts;

/// <summary>
/// A vault's default retention (S3 Object Lock's <c>DefaultRetention</c> rule): the retention a record
/// written without a class or an explicit retention gets, counted from its write.
/// </summary>
/// <param name="ObjectLock">Whether the vault has Object Lock (a default retention needs it).</param>
/// <param name="Mode">The default mode; null when the vault has no default retention.</param>
/// <param name="Days">The period in days, when it is given in days.</param>
/// <param name="Years">The period in calendar years, when it is given in years.</param>
public sealed record DefaultRetentionView(string VaultId, bool ObjectLock, RetentionMode? Mode, int? Days, int? Years, long Version);

/// <summary>
/// Sets a vault's default retention: a mode and exactly one of <paramref name="Days"/> (1-36500) or
/// <paramref name="Years"/> (1-100); all three null removes it. Records already written keep theirs.
/// </summary>
public sealed record DefaultRetentionRequest(RetentionMode? Mode = null, int? Days = null, int? Years = null, long? Version = null);

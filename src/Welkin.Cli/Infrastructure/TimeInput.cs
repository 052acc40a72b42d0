using System.Globalization;

namespace Welkin.Cli.Infrastructure;

/// <summary>
/// The one reading of a time on the command line, for every option that takes one: an ISO 8601
/// time or date (<c>2026-12-01T08:00:00Z</c>, <c>2026-12-01</c>; UTC unless an offset is given),
/// an age before now (<c>30m</c>, <c>2h</c>, <c>2d</c>, <c>1w</c>), or <c>now</c>, <c>today</c>,
/// <c>yesterday</c> (midnights UTC).
/// </summary>
internal static class TimeInput
{
    public const string Forms = "an ISO 8601 time or date (2026-12-01T08:00:00Z, 2026-12-01), an age (30m, 2h, 2d, 1w), now, today or yesterday";

    public static DateTimeOffset? Parse(string text, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(text);
        var today = new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero);
        switch (text.Trim().ToLowerInvariant())
        {
            case "now":
                return now;
            case "today":
                return today;
            case "yesterday":
                return today.AddDays(-1);
        }
        if (Age(text.Trim()) is { } age)
        {
            return now - age;
        }
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var instant)
            ? instant
            : null;
    }

    /// <summary>"30s", "30m", "6h", "2d", "1w" as a duration; null for anything else.</summary>
    public static TimeSpan? Age(string text)
    {
        if (text.Length < 2 || !long.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n > 100_000)
        {
            return null;
        }
        return char.ToLowerInvariant(text[^1]) switch
        {
            's' => TimeSpan.FromSeconds(n),
            'm' => TimeSpan.FromMinutes(n),
            'h' => TimeSpan.FromHours(n),
            'd' => TimeSpan.FromDays(n),
            'w' => TimeSpan.FromDays(7 * n),
            _ => null,
        };
    }
}

using System.Globalization;

namespace Welkin.Core.Sla;

/// <summary>Billing periods are calendar months in UTC, named <c>yyyy-MM</c>.</summary>
public static class BillingPeriods
{
    public static (DateTimeOffset Start, DateTimeOffset End) Of(DateTimeOffset instant)
    {
        var t = instant.ToUniversalTime();
        var start = new DateTimeOffset(t.Year, t.Month, 1, 0, 0, 0, TimeSpan.Zero);
        return (start, start.AddMonths(1));
    }

    public static string Name(DateTimeOffset start) => start.ToString("yyyy-MM", CultureInfo.InvariantCulture);

    /// <summary>The period named <paramref name="name"/> (<c>2026-11</c>), or null when it is not one.</summary>
    public static (DateTimeOffset Start, DateTimeOffset End)? Parse(string? name)
    {
        if (name is not { Length: 7 } || name[4] != '-'
            || !int.TryParse(name.AsSpan(0, 4), NumberStyles.None, CultureInfo.InvariantCulture, out var year)
            || !int.TryParse(name.AsSpan(5, 2), NumberStyles.None, CultureInfo.InvariantCulture, out var month)
            || year is < 1970 or > 9998 || month is < 1 or > 12)
        {
            return null;
        }
        var start = new DateTimeOffset(year, month, 1, 0, 0, 0, TimeSpan.Zero);
        return (start, start.AddMonths(1));
    }
}

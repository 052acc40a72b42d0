using System.Globalization;

namespace Welkin.Core.Common;

/// <summary>A calendar month in UTC, the billing period: "2026-11" is [2026-11-01, 2026-12-01).</summary>
public readonly record struct BillingPeriod(int Year, int Month)
{
    public DateTimeOffset Start => new(Year, Month, 1, 0, 0, 0, TimeSpan.Zero);

    public DateTimeOffset End => Start.AddMonths(1);

    public long StartMs => Start.ToUnixTimeMilliseconds();

    public long EndMs => End.ToUnixTimeMilliseconds();

    public long Milliseconds => EndMs - StartMs;

    public BillingPeriod Previous => Of(Start.AddMonths(-1));

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Year:D4}-{Month:D2}");

    public static BillingPeriod Of(DateTimeOffset t)
    {
        var utc = t.ToUniversalTime();
        return new BillingPeriod(utc.Year, utc.Month);
    }

    public static bool TryParse(string? text, out BillingPeriod period)
    {
        period = default;
        if (text is not { Length: 7 } || text[4] != '-'
            || !int.TryParse(text.AsSpan(0, 4), NumberStyles.None, CultureInfo.InvariantCulture, out var year)
            || !int.TryParse(text.AsSpan(5, 2), NumberStyles.None, CultureInfo.InvariantCulture, out var month)
            || year is < 2000 or > 9998 || month is < 1 or > 12)
        {
            return false;
        }
        period = new BillingPeriod(year, month);
        return true;
    }

    public static Result<BillingPeriod> Parse(string? text, string field) =>
        TryParse(text, out var period) ? period : Error.Validation(field, $"{field} must be a calendar month as YYYY-MM (2000-01 to 9998-12)");
}

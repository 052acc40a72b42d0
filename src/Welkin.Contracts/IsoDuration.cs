using System.Globalization;
using System.Text.RegularExpressions;

namespace Welkin.Contracts;

/// <summary>
/// ISO 8601 durations as the clock advance takes them (<c>PnYnMnWnDTnHnMnS</c>, whole numbers except
/// the seconds). The server and the CLI both read them, so both agree on where a duration ends.
/// </summary>
public static partial class IsoDuration
{
    /// <summary>
    /// <paramref name="text"/> added to <paramref name="from"/>; years and months are calendar ones.
    /// Null when malformed or too large.
    /// </summary>
    public static DateTimeOffset? AddTo(string text, DateTimeOffset from)
    {
        ArgumentNullException.ThrowIfNull(text);
        var m = Pattern().Match(text);
        if (!m.Success || text is "P" or "PT" || text.EndsWith('T'))
        {
            return null;
        }
        try
        {
            long Part(string name) => m.Groups[name].Success ? long.Parse(m.Groups[name].Value, CultureInfo.InvariantCulture) : 0;
            var seconds = m.Groups["s"].Success ? decimal.Parse(m.Groups["s"].Value, CultureInfo.InvariantCulture) : 0m;
            var years = Part("y");
            var months = Part("mo");
            if (years > 10 || months > 120)
            {
                return null;
            }
            return from.AddYears((int)years).AddMonths((int)months)
                + TimeSpan.FromDays((Part("w") * 7) + Part("d")) + TimeSpan.FromHours(Part("h")) + TimeSpan.FromMinutes(Part("mi"))
                + TimeSpan.FromMilliseconds((double)Math.Round(seconds * 1000m));
        }
        catch (Exception e) when (e is OverflowException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }

    [GeneratedRegex(@"^P(?:(?<y>\d{1,4})Y)?(?:(?<mo>\d{1,4})M)?(?:(?<w>\d{1,4})W)?(?:(?<d>\d{1,6})D)?(?:T(?:(?<h>\d{1,7})H)?(?:(?<mi>\d{1,9})M)?(?:(?<s>\d{1,10}(?:\.\d{1,3})?)S)?)?$", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}

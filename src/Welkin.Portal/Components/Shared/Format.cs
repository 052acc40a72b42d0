using System.Globalization;
using Welkin.Contracts;

namespace Welkin.Portal.Components.Shared;

/// <summary>How the portal writes numbers, money, times and the API's enums for people.</summary>
public static class Format
{
    private static readonly CultureInfo Culture = CultureInfo.InvariantCulture;

    public static string Kind<T>(T value) where T : struct, Enum => WireNames.Of(value);

    public static string Percent(decimal value) => value.ToString("0.###", Culture) + " %";

    public static string Money(decimal amount, string currency) => amount.ToString("#,0.00", Culture) + " " + currency;

    public static string Time(DateTimeOffset? value) => value is { } t ? t.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", Culture) : "—";

    public static string Number(long value) => value.ToString("#,0", Culture);

    public static string Bytes(long bytes) => bytes switch
    {
        >= 1L << 30 => (bytes / (double)(1L << 30)).ToString("0.##", Culture) + " GiB",
        >= 1L << 20 => (bytes / (double)(1L << 20)).ToString("0.##", Culture) + " MiB",
        >= 1L << 10 => (bytes / (double)(1L << 10)).ToString("0.##", Culture) + " KiB",
        _ => bytes.ToString(Culture) + " B",
    };

    public static string Jurisdictions(PlacementConstraints? constraints) =>
        constraints?.Jurisdictions is { Count: > 0 } j ? string.Join(", ", j) : "any";

    /// <summary>The first rate of a plan, as a one-line price ("0.12 USD per compute-unit-hour").</summary>
    public static string PriceSummary(PricePlan plan) =>
        plan.Rates.Count == 0 ? "free" : string.Join("; ", plan.Rates.Take(2).Select(r => Rate(plan.Currency, r))) + (plan.Rates.Count > 2 ? "; …" : "");

    public static string Rate(PricePlan plan, string metric) =>
        plan.Rates.FirstOrDefault(r => r.Metric == metric) is { } rate ? Rate(plan.Currency, rate) : "—";

    private static string Rate(string currency, PriceRate rate) => $"{rate.Price.ToString("0.####", Culture)} {currency} per {rate.Unit}";
}

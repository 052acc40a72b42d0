using System.Globalization;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Metering;

namespace Welkin.Core.Billing;

/// <summary>
/// What a rate measures: the usage metric its quantity comes from and how many of that metric's
/// units make one unit of the rate. <see cref="PerPeriod"/> rates divide by the milliseconds of the
/// billing period instead, which prorates a partial period by its milliseconds.
/// </summary>
public sealed record RateMeasure(string UsageMetric, long Divisor, bool PerPeriod, string Label)
{
    public decimal DivisorFor(long periodMs) => PerPeriod ? periodMs : Divisor;
}

/// <summary>
/// The rating rules: which (metric, unit) pairs a price plan may hold and what each measures,
/// the checks of tiers and minimum charges, and the rounding policy.
/// </summary>
public static class RatingRules
{
    public const long HourMs = 3_600_000;
    public const long DayMs = 86_400_000;

    /// <summary>Sizes are GiB everywhere, so a GB here is a GiB and a TB 1,024 GiB.</summary>
    public const long GibPerTb = 1_024;

    public const long MibPerGib = 1_024;

    public const int MaxTiers = 20;

    public const string UnitMonth = "unit-month";

    // The label is the metric's name on an invoice, in a business manager's words.
    private static readonly Dictionary<(string Metric, string Unit), RateMeasure> Known = new()
    {
        [("cpu-hour", "hour")] = new(UsageMetrics.VcpuMs, HourMs, false, "CPU hours"),
        [("memory-gb-hour", "hour")] = new(UsageMetrics.MemoryMibMs, MibPerGib * HourMs, false, "memory GB-hours"),
        [("storage-tb-day", "tb-day")] = new(UsageMetrics.StorageGibMs, GibPerTb * DayMs, false, "storage TB-days"),
        [("storage-gb-month", "gb-month")] = new(UsageMetrics.StorageGibMs, 0, true, "storage GB-months"),
    };

    /// <summary>Units held per month: provisioned units at the price, ordered but unprovisioned ones at the discounted price.</summary>
    private static readonly RateMeasure UnitMonths = new(UsageMetrics.UnitProvisionedMs, 0, true, "unit-months");

    /// <summary>The invoice names of units held per month; any other unit is "its name per month".</summary>
    private static readonly Dictionary<string, string> UnitMonthNames = new(StringComparer.Ordinal)
    {
        ["compute-unit"] = "servers per month",
        ["storage-unit"] = "storage units per month",
    };

    /// <summary>What the rate's quantity counts on an invoice: "CPU hours", "storage TB-days", "servers per month".</summary>
    public static string MetricName(PriceRate rate) =>
        IsUnitMonth(rate) ? UnitMonthNames.GetValueOrDefault(rate.Metric) ?? $"{rate.Metric} per month"
        : Known.TryGetValue((rate.Metric, rate.Unit), out var measure) ? measure.Label : $"{rate.Metric} per {rate.Unit}";

    /// <summary>The pairs a plan may hold, for error messages and docs.</summary>
    public static string KnownPairs =>
        string.Join(", ", Known.Keys.Select(k => $"{k.Metric} per {k.Unit}")) + ", and any unit name per " + UnitMonth;

    /// <summary>What <paramref name="rate"/> measures, or null when rating does not know the pair.</summary>
    public static RateMeasure? MeasureOf(PriceRate rate) =>
        rate.Unit == UnitMonth ? UnitMonths : Known.GetValueOrDefault((rate.Metric, rate.Unit));

    public static bool IsUnitMonth(PriceRate rate) => rate.Unit == UnitMonth;

    /// <summary>Half-even (banker's) rounding to the cent: the rounding of every invoice line.</summary>
    public static decimal Round(decimal amount) => decimal.Round(amount, 2, MidpointRounding.ToEven);

    /// <summary>The checks of a rate beyond its metric, unit and price (which <c>OfferingRules</c> checks).</summary>
    public static void ValidateRate(Validator v, PriceRate rate, string at, decimal maxPrice, int maxDecimals)
    {
        if (rate.Metric is not null && rate.Unit is not null && Names.IsValid(rate.Metric) && Names.IsValid(rate.Unit) && MeasureOf(rate) is null)
        {
            v.Add($"{at}.unit", $"{at}: rating does not know {rate.Metric} per {rate.Unit}; it knows {KnownPairs}");
        }
        bool IsPrice(decimal p) => p >= 0 && p < maxPrice && decimal.Round(p, maxDecimals) == p;
        v.Require(rate.MinimumCharge is null || IsPrice(rate.MinimumCharge.Value), $"{at}.minimumCharge",
            $"{at}.minimumCharge must be at least 0 and below {maxPrice:0}, with at most {maxDecimals} decimals");
        var pricing = rate.Pricing ?? PricingModel.Flat;
        if (pricing == PricingModel.Flat)
        {
            v.Require(rate.Tiers is null, $"{at}.tiers", $"{at}.tiers are for tiered or volume pricing");
            return;
        }
        if (rate.Tiers is null || rate.Tiers.Count is < 1 or > MaxTiers)
        {
            v.Add($"{at}.tiers", $"{at}.tiers must hold 1-{MaxTiers} tiers for {WireNames.Of(pricing)} pricing");
            return;
        }
        var previous = 0m;
        for (var i = 0; i < rate.Tiers.Count; i++)
        {
            var tier = rate.Tiers[i];
            var field = $"{at}.tiers[{i}]";
            if (tier is null)
            {
                v.Add(field, $"{field} must not be null");
                continue;
            }
            v.Require(tier.UpTo > previous && tier.UpTo < 1_000_000_000_000m && decimal.Round(tier.UpTo, maxDecimals) == tier.UpTo, $"{field}.upTo",
                $"{field}.upTo must be above the previous tier's ({previous.ToString(CultureInfo.InvariantCulture)}), below 10^12, with at most {maxDecimals} decimals");
            v.Require(IsPrice(tier.Price), $"{field}.price", $"{field}.price must be at least 0 and below {maxPrice:0}, with at most {maxDecimals} decimals");
            previous = Math.Max(previous, tier.UpTo);
        }
    }
}

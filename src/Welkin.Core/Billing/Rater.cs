using System.Globalization;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Metering;

namespace Welkin.Core.Billing;

/// <summary>One price plan version of a contract line; version 1 is the plan of the contract as proposed.</summary>
public sealed record PlanVersion(int Version, long EffectiveFrom, PricePlan Plan);

/// <summary>A contract as rating sees it: when it was active, its lines and each line's plan versions (ascending).</summary>
/// <param name="ActiveFrom">Acceptance (Unix ms); null when never active.</param>
/// <param name="ActiveUntil">Termination (Unix ms); null while not terminated.</param>
public sealed record RatingContract(
    string Id, long? ActiveFrom, long? ActiveUntil, IReadOnlyList<ContractItem> Lines, IReadOnlyDictionary<int, IReadOnlyList<PlanVersion>> Versions, string? Name = null)
{
    /// <summary>The version in effect at <paramref name="at"/>: the latest to take effect at or before it (version 1 before any).</summary>
    public PlanVersion? VersionAt(int item, long at)
    {
        if (!Versions.TryGetValue(item, out var versions) || versions.Count == 0)
        {
            return null;
        }
        PlanVersion? found = null;
        var foundFrom = long.MinValue;
        foreach (var v in versions)
        {
            var from = EffectiveFrom(v);
            if (from <= at && (found is null || from > foundFrom || (from == foundFrom && v.Version > found.Version)))
            {
                found = v;
                foundFrom = from;
            }
        }
        return found;
    }

    /// <summary>Version 1 is in effect from the beginning of the contract, whatever its recorded time.</summary>
    public static long EffectiveFrom(PlanVersion v) => v.Version == 1 ? long.MinValue : v.EffectiveFrom;
}

/// <summary>Metered usage of one contract line and metric, summed over slices starting in [<paramref name="SegmentStart"/>, next boundary).</summary>
public sealed record UsageTotal(string ContractId, int Item, string Metric, long SegmentStart, long Quantity);

/// <summary>An SLA credit of the period (a row of <c>sla_credits</c>).</summary>
public sealed record SlaCredit(string ContractId, string Term, decimal Target, decimal Measured, decimal CreditPercent, string Detail);

/// <summary>What rating covers: usage slices starting in [period start, <paramref name="RatedUntil"/>).</summary>
public sealed record RatingWindow(BillingPeriod Period, long RatedUntil);

public sealed record RatedInvoice(
    IReadOnlyList<InvoiceLineView> Lines, IReadOnlyList<InvoiceTotalView> Totals, IReadOnlyList<InvoicePlanVersion> PlanVersions, IReadOnlyList<InvoiceContract> Contracts);

/// <summary>
/// Turns metered usage into invoice lines. Pure: everything it needs is passed in, so the rules
/// (proration, tiers, minimum charges, unprovisioned discount, SLA credits, rounding) are tested
/// without a database. Each usage slice is rated with the plan version in effect at its start;
/// every line is rounded half-even to the cent and totals are sums of rounded lines.
/// </summary>
public static class Rater
{
    private sealed record Component(PlanVersion Version, PriceRate Rate, RateMeasure Measure, InvoiceLineKind Kind, string UsageMetric, long Raw, decimal Factor, decimal? Discount);

    public static RatedInvoice Rate(RatingWindow window, IEnumerable<RatingContract> contracts, IEnumerable<UsageTotal> usage, IEnumerable<SlaCredit> credits)
    {
        var usageByLine = usage.ToLookup(u => (u.ContractId, u.Item));
        var creditsByContract = credits.ToLookup(c => c.ContractId);
        var lines = new List<InvoiceLineView>();
        var used = new Dictionary<(string, int, int), InvoicePlanVersion>();
        var rated = contracts.OrderBy(c => c.Id, StringComparer.Ordinal).ToList();
        foreach (var contract in rated)
        {
            var first = lines.Count;
            foreach (var line in contract.Lines.OrderBy(l => l.Item))
            {
                RateLine(window, contract, line, usageByLine[(contract.Id, line.Item)], lines, used);
            }
            AddCredits(contract.Id, lines, first, creditsByContract[contract.Id]);
        }
        var totals = lines.GroupBy(l => l.Currency, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g =>
            {
                var charges = g.Where(l => l.Kind != InvoiceLineKind.SlaCredit).Sum(l => l.Amount);
                var creditSum = g.Where(l => l.Kind == InvoiceLineKind.SlaCredit).Sum(l => l.Amount);
                return new InvoiceTotalView(g.Key, Cents(charges), Cents(creditSum), Cents(charges + creditSum));
            }).ToList();
        var versions = used.Values.OrderBy(v => v.ContractId, StringComparer.Ordinal).ThenBy(v => v.Item).ThenBy(v => v.Version).ToList();
        var charged = lines.Select(l => l.ContractId).ToHashSet(StringComparer.Ordinal);
        var named = rated.Where(c => charged.Contains(c.Id)).Select(c => new InvoiceContract(c.Id, c.Name)).ToList();
        return new RatedInvoice(lines, totals, versions, named);
    }

    private static void RateLine(
        RatingWindow window, RatingContract contract, ContractItem line, IEnumerable<UsageTotal> usage, List<InvoiceLineView> lines,
        Dictionary<(string, int, int), InvoicePlanVersion> used)
    {
        var period = window.Period;
        // Usage per (metric, version in effect at the segment's start).
        var quantities = new Dictionary<(string Metric, int Version), long>();
        var versionsUsed = new SortedDictionary<(long, int), PlanVersion>();
        foreach (var u in usage)
        {
            var version = contract.VersionAt(line.Item, u.SegmentStart);
            if (version is null)
            {
                continue;
            }
            quantities[(u.Metric, version.Version)] = quantities.GetValueOrDefault((u.Metric, version.Version)) + u.Quantity;
            versionsUsed[(RatingContract.EffectiveFrom(version), version.Version)] = version;
        }
        var activeStart = Math.Max(period.StartMs, contract.ActiveFrom ?? long.MaxValue);
        var activeEnd = Math.Min(window.RatedUntil, contract.ActiveUntil ?? long.MaxValue);
        var activeMs = Math.Max(0, activeEnd - activeStart);
        var minimumVersion = contract.VersionAt(line.Item, Math.Min(activeStart, window.RatedUntil));
        if (minimumVersion is not null)
        {
            versionsUsed.TryAdd((RatingContract.EffectiveFrom(minimumVersion), minimumVersion.Version), minimumVersion);
        }

        var groups = new Dictionary<(string Metric, string Unit), List<Component>>();
        var order = new List<(string Metric, string Unit)>();
        foreach (var version in versionsUsed.Values)
        {
            foreach (var rate in version.Plan.Rates)
            {
                if (RatingRules.MeasureOf(rate) is not { } measure)
                {
                    continue;
                }
                var key = (rate.Metric, rate.Unit);
                if (!groups.TryGetValue(key, out var components))
                {
                    groups[key] = components = [];
                    order.Add(key);
                }
                if (RatingRules.IsUnitMonth(rate))
                {
                    var provisioned = quantities.GetValueOrDefault((UsageMetrics.UnitProvisionedMs, version.Version));
                    var ordered = quantities.GetValueOrDefault((UsageMetrics.UnitOrderedMs, version.Version));
                    var discount = line.Terms.UnprovisionedDiscountPercent;
                    components.Add(new Component(version, rate, measure, InvoiceLineKind.Charge, UsageMetrics.UnitProvisionedMs, provisioned, 1m, null));
                    components.Add(new Component(version, rate, measure, InvoiceLineKind.Unprovisioned, UsageMetrics.UnitOrderedMs,
                        Math.Max(0, ordered - provisioned), 1m - discount / 100m, discount));
                }
                else
                {
                    components.Add(new Component(version, rate, measure, InvoiceLineKind.Charge, measure.UsageMetric,
                        quantities.GetValueOrDefault((measure.UsageMetric, version.Version)), 1m, null));
                }
            }
        }

        foreach (var key in order)
        {
            var components = groups[key];
            var first = lines.Count;
            Price(contract.Id, line, components, period.Milliseconds, lines);
            for (var i = first; i < lines.Count; i++)
            {
                var v = components.First(c => c.Version.Version == lines[i].PlanVersion).Version;
                used.TryAdd((contract.Id, line.Item, v.Version), new InvoicePlanVersion(contract.Id, line.Item, v.Version, DateTimeOffset.FromUnixTimeMilliseconds(v.EffectiveFrom), v.Plan));
            }
            var minimumRate = minimumVersion?.Plan.Rates.FirstOrDefault(r => (r.Metric, r.Unit) == key);
            if (minimumRate?.MinimumCharge is not > 0m || minimumVersion is null || activeMs == 0)
            {
                continue;
            }
            var minimum = RatingRules.Round(minimumRate.MinimumCharge.Value * activeMs / period.Milliseconds);
            var charged = 0m;
            for (var i = first; i < lines.Count; i++)
            {
                charged += lines[i].Amount;
            }
            if (charged >= minimum)
            {
                continue;
            }
            var currency = minimumVersion.Plan.Currency;
            var prorated = activeMs == period.Milliseconds ? "" : string.Create(CultureInfo.InvariantCulture, $", prorated {activeMs / (decimal)period.Milliseconds:P2}");
            lines.Add(new InvoiceLineView(InvoiceLineKind.Minimum, contract.Id, line.Item, line.OfferingName, minimumRate.Metric, minimumRate.Unit,
                minimumVersion.Version, null, null, null, null, minimumRate.Pricing, null, null, null, null, currency, Cents(minimum - charged),
                string.Create(CultureInfo.InvariantCulture, $"Minimum charge {Money(minimumRate.MinimumCharge.Value)} {currency} per period for {RatingRules.MetricName(minimumRate)}{prorated}"),
                RatingRules.MetricName(minimumRate)));
            used.TryAdd((contract.Id, line.Item, minimumVersion.Version),
                new InvoicePlanVersion(contract.Id, line.Item, minimumVersion.Version, DateTimeOffset.FromUnixTimeMilliseconds(minimumVersion.EffectiveFrom), minimumVersion.Plan));
        }
    }

    /// <summary>Prices the components of one rate (across plan versions, in time order) and appends their lines.</summary>
    private static void Price(string contractId, ContractItem line, List<Component> components, long periodMs, List<InvoiceLineView> lines)
    {
        var volumeTotal = 0m;
        foreach (var c in components)
        {
            volumeTotal += (decimal)c.Raw / c.Measure.DivisorFor(periodMs);
        }
        var position = 0m;
        foreach (var c in components)
        {
            if (c.Raw <= 0)
            {
                continue;
            }
            var divisor = c.Measure.DivisorFor(periodMs);
            var quantity = c.Raw / divisor;
            switch (c.Rate.Pricing ?? PricingModel.Flat)
            {
                case PricingModel.Flat:
                    // The exact amount is raw × price / divisor; dividing last keeps every digit until rounding.
                    lines.Add(Line(contractId, line, c, quantity, c.Rate.Price * c.Factor, RatingRules.Round(c.Raw * c.Rate.Price * c.Factor / divisor), null));
                    break;
                case PricingModel.Volume:
                {
                    var (price, label) = VolumeTier(c.Rate, volumeTotal);
                    lines.Add(Line(contractId, line, c, quantity, price * c.Factor, RatingRules.Round(c.Raw * price * c.Factor / divisor), label));
                    break;
                }
                case PricingModel.Tiered:
                {
                    var tiers = c.Rate.Tiers ?? [];
                    var lower = 0m;
                    for (var i = 0; i <= tiers.Count; i++)
                    {
                        var upper = i < tiers.Count ? tiers[i].UpTo : decimal.MaxValue;
                        var price = i < tiers.Count ? tiers[i].Price : c.Rate.Price;
                        var portion = Math.Min(position + quantity, upper) - Math.Max(position, lower);
                        if (portion > 0)
                        {
                            lines.Add(Line(contractId, line, c, portion, price * c.Factor, RatingRules.Round(portion * price * c.Factor), TierLabel(lower, i < tiers.Count ? upper : null)));
                        }
                        lower = upper;
                    }
                    position += quantity;
                    break;
                }
            }
        }
    }

    private static (decimal Price, string Label) VolumeTier(PriceRate rate, decimal total)
    {
        var tiers = rate.Tiers ?? [];
        var lower = 0m;
        foreach (var tier in tiers)
        {
            if (total <= tier.UpTo)
            {
                return (tier.Price, TierLabel(lower, tier.UpTo));
            }
            lower = tier.UpTo;
        }
        return (rate.Price, TierLabel(lower, null));
    }

    private static string TierLabel(decimal lower, decimal? upper) =>
        upper is { } u ? $"{Number(lower)}-{Number(u)}" : $"{Number(lower)}+";

    private static InvoiceLineView Line(string contractId, ContractItem line, Component c, decimal quantity, decimal unitPrice, decimal amount, string? tier)
    {
        var currency = c.Version.Plan.Currency;
        var metricName = RatingRules.MetricName(c.Rate);
        var what = c.Rate.Description ?? metricName;
        var description = c.Kind == InvoiceLineKind.Unprovisioned
            ? string.Create(CultureInfo.InvariantCulture, $"{what}: ordered, not provisioned ({Number(c.Discount ?? 0)} % off)")
            : what;
        if (tier is not null)
        {
            description += $", tier {tier}";
        }
        return new InvoiceLineView(c.Kind, contractId, line.Item, line.OfferingName, c.Rate.Metric, c.Rate.Unit, c.Version.Version, c.UsageMetric, c.Raw,
            decimal.Round(quantity, 6, MidpointRounding.ToEven), unitPrice, c.Rate.Pricing ?? PricingModel.Flat, tier, c.Discount, null, null, currency, Cents(amount), description,
            metricName);
    }

    /// <summary>SLA credits: percent of the contract's charges per currency, the contract's credits capped at 100 % together.</summary>
    private static void AddCredits(string contractId, List<InvoiceLineView> lines, int first, IEnumerable<SlaCredit> credits)
    {
        var charges = new SortedDictionary<string, decimal>(StringComparer.Ordinal);
        for (var i = first; i < lines.Count; i++)
        {
            charges[lines[i].Currency] = charges.GetValueOrDefault(lines[i].Currency) + lines[i].Amount;
        }
        var granted = 0m;
        foreach (var credit in credits.OrderBy(c => c.Term, StringComparer.Ordinal))
        {
            var percent = Math.Min(Math.Max(credit.CreditPercent, 0m), 100m - granted);
            if (percent <= 0)
            {
                continue;
            }
            granted += percent;
            foreach (var (currency, subtotal) in charges)
            {
                if (subtotal == 0)
                {
                    continue;
                }
                var description = string.Create(CultureInfo.InvariantCulture,
                    $"SLA credit, {credit.Term}: measured {Number(credit.Measured)} against target {Number(credit.Target)}; {Number(percent)} % of {Money(subtotal)} {currency}");
                lines.Add(new InvoiceLineView(InvoiceLineKind.SlaCredit, contractId, null, null, null, null, null, null, null, null, null, null, null, null,
                    credit.Term, percent, currency, Cents(-RatingRules.Round(subtotal * percent / 100m)), description));
            }
        }
    }

    /// <summary>An amount with exactly two decimals, so every amount of the JSON document reads alike (80.00, not 80).</summary>
    private static decimal Cents(decimal amount) => decimal.Round(amount, 2) + 0.00m;

    private static string Number(decimal d) => d.ToString("0.######", CultureInfo.InvariantCulture);

    private static string Money(decimal d) => d.ToString("0.00####", CultureInfo.InvariantCulture);
}

using Welkin.Contracts;
using Welkin.Core.Billing;
using Welkin.Core.Common;
using Welkin.Core.Metering;
using Welkin.Core.Catalog;

namespace Welkin.Core.Tests.Billing;

/// <summary>Rating rules on hand-computed figures. November 2026 has 30 days: 2,592,000,000 ms.</summary>
public sealed class RaterTests
{
    private const string Ctr = "ctr_01h00000000000000000000000";
    private const long Hour = 3_600_000;
    private const long Day = 86_400_000;
    private static readonly BillingPeriod November = new(2026, 11);
    private static readonly long Month = November.Milliseconds;
    private static readonly RatingWindow Whole = new(November, November.EndMs);

    private static ContractItem Line(int item, PricePlan plan, decimal discount = 40m, OfferingKind kind = OfferingKind.Compute) =>
        new(item, "off_01h00000000000000000000000", $"offering {item}", kind, 3, "compute-unit", 3, plan, new SlaTerms(99.9m), new OfferingTerms(1, discount));

    private static PricePlan Usd(params PriceRate[] rates) => new("USD", "month", rates);

    private static RatingContract Contract(IReadOnlyList<ContractItem> lines, long? activeFrom = null, long? activeUntil = null,
        IReadOnlyDictionary<int, IReadOnlyList<PlanVersion>>? versions = null) =>
        new(Ctr, activeFrom ?? November.StartMs - Day, activeUntil, lines,
            versions ?? lines.ToDictionary(l => l.Item, l => (IReadOnlyList<PlanVersion>)[new PlanVersion(1, 0, l.PricePlan)]));

    private static UsageTotal Use(int item, string metric, long quantity, long? segment = null) =>
        new(Ctr, item, metric, segment ?? November.StartMs, quantity);

    private static RatedInvoice Rate(RatingContract contract, IEnumerable<UsageTotal> usage, IEnumerable<SlaCredit>? credits = null, RatingWindow? window = null) =>
        Rater.Rate(window ?? Whole, [contract], usage, credits ?? []);

    [Fact]
    public void Rate_ProviderCoRates_GivesLinesComputedByHand()
    {
        var compute = Line(0, Usd(new PriceRate("compute-unit", "unit-month", 35.00m), new PriceRate("cpu-hour", "hour", 0.13m)));
        var storage = Line(1, Usd(new PriceRate("storage-tb-day", "tb-day", 5.00m)), kind: OfferingKind.Storage);
        var usage = new[]
        {
            // 2 vCPUs for 100 hours: 200 CPU-hours x 0.13 = 26.00
            Use(0, UsageMetrics.VcpuMs, 2 * 100 * Hour),
            // 3 units ordered, 2 provisioned, the whole month: 2 x 35 = 70.00 and 1 x 35 x 0.6 = 21.00
            Use(0, UsageMetrics.UnitOrderedMs, 3 * Month),
            Use(0, UsageMetrics.UnitProvisionedMs, 2 * Month),
            // 500 GiB for 30 days: 500/1024 x 30 = 14.6484375 TB-days x 5 = 73.2421875 -> 73.24
            Use(1, UsageMetrics.StorageGibMs, 500 * Month),
        };

        var invoice = Rate(Contract([compute, storage]), usage);

        invoice.Lines.Select(l => (l.Kind, l.Metric, l.Quantity, l.Amount)).ShouldBe(
        [
            (InvoiceLineKind.Charge, "compute-unit", 2m, 70.00m),
            (InvoiceLineKind.Unprovisioned, "compute-unit", 1m, 21.00m),
            (InvoiceLineKind.Charge, "cpu-hour", 200m, 26.00m),
            (InvoiceLineKind.Charge, "storage-tb-day", 14.648438m, 73.24m),
        ]);
        invoice.Lines[1].UnitPrice.ShouldBe(21.00m);
        invoice.Lines[1].DiscountPercent.ShouldBe(40m);
        invoice.Totals.ShouldBe([new InvoiceTotalView("USD", 190.24m, 0m, 190.24m)]);
        invoice.PlanVersions.Select(v => (v.Item, v.Version)).ShouldBe([(0, 1), (1, 1)]);
    }

    [Fact]
    public void Rate_UnitsOrderedHalfThePeriod_ProratesByMilliseconds()
    {
        var line = Line(0, Usd(new PriceRate("compute-unit", "unit-month", 35.00m)));

        // One unit ordered for 15 of 30 days and never provisioned: 0.5 x 35 x (1 - 0.4) = 10.50
        var invoice = Rate(Contract([line]), [Use(0, UsageMetrics.UnitOrderedMs, 15 * Day)]);

        var only = invoice.Lines.ShouldHaveSingleItem();
        only.Kind.ShouldBe(InvoiceLineKind.Unprovisioned);
        only.Quantity.ShouldBe(0.5m);
        only.Amount.ShouldBe(10.50m);
    }

    [Theory]
    [InlineData(1, "0.12")] // 0.125 -> 0.12 (half to even)
    [InlineData(3, "0.38")] // 0.375 -> 0.38
    [InlineData(5, "0.62")] // 0.625 -> 0.62
    public void Rate_RoundsEachLineHalfEvenToTheCent(int hours, string expected)
    {
        var line = Line(0, Usd(new PriceRate("cpu-hour", "hour", 0.125m)));

        var invoice = Rate(Contract([line]), [Use(0, UsageMetrics.VcpuMs, hours * Hour)]);

        invoice.Lines.ShouldHaveSingleItem().Amount.ShouldBe(decimal.Parse(expected, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Rate_Tiered_PricesEachTiersShare()
    {
        var rate = new PriceRate("cpu-hour", "hour", 0.10m, Pricing: PricingModel.Tiered, Tiers: [new PriceTier(100, 0.15m), new PriceTier(200, 0.13m)]);

        // 250 hours: 100 x 0.15 + 100 x 0.13 + 50 x 0.10 = 15 + 13 + 5
        var invoice = Rate(Contract([Line(0, Usd(rate))]), [Use(0, UsageMetrics.VcpuMs, 250 * Hour)]);

        invoice.Lines.Select(l => (l.Tier, l.Quantity, l.UnitPrice, l.Amount)).ShouldBe(
        [
            ("0-100", 100m, 0.15m, 15.00m),
            ("100-200", 100m, 0.13m, 13.00m),
            ("200+", 50m, 0.10m, 5.00m),
        ]);
        invoice.Totals.Single().Total.ShouldBe(33.00m);
    }

    [Theory]
    [InlineData(150, "0.13", "19.50")]
    [InlineData(100, "0.15", "15.00")]
    [InlineData(250, "0.10", "25.00")]
    public void Rate_Volume_PricesTheWholeQuantityAtTheTierOfTheTotal(int hours, string price, string amount)
    {
        var rate = new PriceRate("cpu-hour", "hour", 0.10m, Pricing: PricingModel.Volume, Tiers: [new PriceTier(100, 0.15m), new PriceTier(200, 0.13m)]);

        var invoice = Rate(Contract([Line(0, Usd(rate))]), [Use(0, UsageMetrics.VcpuMs, hours * Hour)]);

        var line = invoice.Lines.ShouldHaveSingleItem();
        line.UnitPrice.ShouldBe(decimal.Parse(price, System.Globalization.CultureInfo.InvariantCulture));
        line.Amount.ShouldBe(decimal.Parse(amount, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Rate_BelowTheMinimumCharge_AddsTheDifference()
    {
        var line = Line(0, Usd(new PriceRate("cpu-hour", "hour", 0.13m, MinimumCharge: 10m)));

        // 10 hours: 1.30; the minimum of 10.00 adds 8.70
        var invoice = Rate(Contract([line]), [Use(0, UsageMetrics.VcpuMs, 10 * Hour)]);

        invoice.Lines.Select(l => (l.Kind, l.Amount)).ShouldBe([(InvoiceLineKind.Charge, 1.30m), (InvoiceLineKind.Minimum, 8.70m)]);
        invoice.Totals.Single().Charges.ShouldBe(10.00m);
    }

    [Fact]
    public void Rate_MinimumCharge_IsProratedForAContractActiveHalfThePeriod()
    {
        var line = Line(0, Usd(new PriceRate("cpu-hour", "hour", 0.13m, MinimumCharge: 10m)));

        // Accepted on the 16th: active 15 of 30 days, so the minimum is 5.00; no usage at all
        var invoice = Rate(Contract([line], activeFrom: November.StartMs + 15 * Day), []);

        var minimum = invoice.Lines.ShouldHaveSingleItem();
        minimum.Kind.ShouldBe(InvoiceLineKind.Minimum);
        minimum.Amount.ShouldBe(5.00m);
    }

    [Fact]
    public void Rate_EachSliceWithTheVersionInEffectAtItsStart()
    {
        var v1 = Usd(new PriceRate("cpu-hour", "hour", 0.13m));
        var v2 = Usd(new PriceRate("cpu-hour", "hour", 0.26m));
        var line = Line(0, v1);
        var mid = November.StartMs + 15 * Day;
        var contract = Contract([line], versions: new Dictionary<int, IReadOnlyList<PlanVersion>> { [0] = [new PlanVersion(1, 0, v1), new PlanVersion(2, mid, v2)] });

        // 10 hours before the change at 0.13, 10 hours after at 0.26
        var invoice = Rate(contract, [Use(0, UsageMetrics.VcpuMs, 10 * Hour), Use(0, UsageMetrics.VcpuMs, 10 * Hour, mid)]);

        invoice.Lines.Select(l => (l.PlanVersion, l.Amount)).ShouldBe([(1, 1.30m), (2, 2.60m)]);
        invoice.PlanVersions.Select(v => v.Version).ShouldBe([1, 2]);
        invoice.PlanVersions[1].PricePlan.ShouldBe(v2);
    }

    [Fact]
    public void VersionAt_PicksTheLatestVersionEffectiveAtOrBefore()
    {
        var plan = Usd(new PriceRate("cpu-hour", "hour", 1m));
        var contract = Contract([Line(0, plan)], versions: new Dictionary<int, IReadOnlyList<PlanVersion>>
        {
            [0] = [new PlanVersion(1, 500, plan), new PlanVersion(2, 1000, plan), new PlanVersion(3, 1000, plan), new PlanVersion(4, 3000, plan)],
        });

        contract.VersionAt(0, 0)!.Version.ShouldBe(1);
        contract.VersionAt(0, 999)!.Version.ShouldBe(1);
        contract.VersionAt(0, 1000)!.Version.ShouldBe(3);
        contract.VersionAt(0, 2999)!.Version.ShouldBe(3);
        contract.VersionAt(0, 3000)!.Version.ShouldBe(4);
        contract.VersionAt(1, 3000).ShouldBeNull();
    }

    [Fact]
    public void Rate_SlaCredits_TakeAPercentOfTheContractsChargesCappedAt100()
    {
        var line = Line(0, Usd(new PriceRate("cpu-hour", "hour", 1m)));
        var credits = new[]
        {
            new SlaCredit(Ctr, "availability", 99.9m, 97m, 60m, "down 3 %"),
            new SlaCredit(Ctr, "cpu-utilization", 90m, 95m, 70m, "hot"),
        };

        // 100 hours at 1.00 = 100.00; credits 60 % then the remaining 40 %
        var invoice = Rate(Contract([line]), [Use(0, UsageMetrics.VcpuMs, 100 * Hour)], credits);

        invoice.Lines.Where(l => l.Kind == InvoiceLineKind.SlaCredit).Select(l => (l.Term, l.CreditPercent, l.Amount))
            .ShouldBe([("availability", 60m, -60.00m), ("cpu-utilization", 40m, -40.00m)]);
        invoice.Totals.ShouldBe([new InvoiceTotalView("USD", 100.00m, -100.00m, 0m)]);
    }

    [Fact]
    public void Rate_MemoryAndStoragePerGbMonth()
    {
        var line = Line(0, Usd(new PriceRate("memory-gb-hour", "hour", 0.01m), new PriceRate("storage-gb-month", "gb-month", 0.10m)));
        var usage = new[]
        {
            // 6 GiB (6144 MiB) for 720 hours: 4320 GiB-hours x 0.01 = 43.20
            Use(0, UsageMetrics.MemoryMibMs, 6144 * 720 * Hour),
            // 100 GiB for 10 of 30 days: 33.333... GB-months x 0.10 = 3.33
            Use(0, UsageMetrics.StorageGibMs, 100 * 10 * Day),
        };

        var invoice = Rate(Contract([line]), usage);

        invoice.Lines.Select(l => (l.Metric, l.Quantity, l.Amount)).ShouldBe([("memory-gb-hour", 4320m, 43.20m), ("storage-gb-month", 33.333333m, 3.33m)]);
    }

    [Fact]
    public void Rate_TotalsPerCurrency_AreSumsOfRoundedLines()
    {
        var usd = Line(0, Usd(new PriceRate("cpu-hour", "hour", 0.005m)));
        var eur = Line(1, new PricePlan("EUR", "month", [new PriceRate("cpu-hour", "hour", 0.005m)]));

        // Each 1 hour at 0.005 = 0.005 -> 0.00 (half-even), so nothing is due although 3 x 0.005 would round to 0.02
        var invoice = Rate(Contract([usd, eur]), [Use(0, UsageMetrics.VcpuMs, Hour), Use(1, UsageMetrics.VcpuMs, 3 * Hour)]);

        invoice.Totals.ShouldBe([new InvoiceTotalView("EUR", 0.02m, 0m, 0.02m), new InvoiceTotalView("USD", 0.00m, 0m, 0.00m)]);
    }

    [Theory]
    [InlineData("cpu-hour", "day")]
    [InlineData("gpu-hour", "hour")]
    [InlineData("storage-tb-day", "gb-month")]
    public void Validate_RateRatingDoesNotKnow_IsRefused(string metric, string unit)
    {
        var v = new Welkin.Core.Common.Validator();
        OfferingRules.ValidatePricePlan(v, Usd(new PriceRate(metric, unit, 1m)), "pricePlan");

        v.ToError()!.Errors!.Keys.ShouldContain("pricePlan.rates[0].unit");
    }

    [Fact]
    public void Validate_TiersOutOfOrderOrOnAFlatRate_AreRefused()
    {
        var v = new Welkin.Core.Common.Validator();
        OfferingRules.ValidatePricePlan(v, Usd(
            new PriceRate("cpu-hour", "hour", 1m, Pricing: PricingModel.Tiered, Tiers: [new PriceTier(100, 1m), new PriceTier(50, 1m)]),
            new PriceRate("memory-gb-hour", "hour", 1m, Tiers: [new PriceTier(100, 1m)]),
            new PriceRate("storage-tb-day", "tb-day", 1m, Pricing: PricingModel.Volume),
            new PriceRate("compute-unit", "unit-month", 1m, MinimumCharge: -1m)), "pricePlan");

        v.ToError()!.Errors!.Keys.Order().ShouldBe(
            ["pricePlan.rates[0].tiers[1].upTo", "pricePlan.rates[1].tiers", "pricePlan.rates[2].tiers", "pricePlan.rates[3].minimumCharge"]);
    }

    [Theory]
    [InlineData("2026-11", true)]
    [InlineData("2026-1", false)]
    [InlineData("2026-13", false)]
    [InlineData("26-11-01", false)]
    [InlineData("+026-11", false)]
    [InlineData("1999-12", false)]
    public void BillingPeriod_Parses_YearDashMonth(string text, bool valid)
    {
        BillingPeriod.TryParse(text, out var period).ShouldBe(valid);
        if (valid)
        {
            period.Start.ShouldBe(new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero));
            period.Milliseconds.ShouldBe(30 * Day);
        }
    }
}

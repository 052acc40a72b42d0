using Welkin.Contracts;
using Welkin.Core.Federation;

namespace Welkin.Core.Tests.Federation;

public sealed class AgreementEvaluationTests
{
    private const string Small = "off_01aaaaaaaaaaaaaaaaaaaaaaaa";

    private static readonly FederationPolicy Policy = new(
        ["Cloud1"], ["DE", "FR"], [], new Dictionary<string, long> { ["compute-unit"] = 10 }, 20m, EncryptionAtRest: false, IsolationLevel.Shared);

    private static readonly CloudCapacity Capacity = new([new RegionCapacity("DE", "fra", 40, 65536, 1000), new RegionCapacity("US", "iad", 100, 65536, 1000)], 1);

    private static OfferingSpec Spec(string currency = "EUR", decimal perUnitMonth = 73m, decimal availability = 99.95m, IReadOnlyList<string>? only = null) => new(
        "small", OfferingKind.Compute, new PricePlan(currency, "month", [new PriceRate("compute-unit", "unit-month", perUnitMonth)]),
        new SlaTerms(availability), new OfferingTerms(1, 0m), "compute-unit", Constraints: only is null ? null : new PlacementConstraints(only));

    private static Dictionary<string, RequestedOffering> Catalog(OfferingSpec? spec = null, bool published = true, int vcpus = 2) =>
        new() { [Small] = new RequestedOffering(Small, published, spec ?? Spec(), vcpus) };

    private static AgreementTerms Terms(
        IReadOnlyList<string>? jurisdictions = null, int quantity = 4, long units = 4, string currency = "EUR", decimal? maxPrice = null, decimal? availability = null,
        bool encryption = false, IsolationLevel isolation = IsolationLevel.Shared, string period = "monthly") => new(
        new AgreementPolicy(jurisdictions ?? ["DE"], encryption, isolation),
        new AgreementEntitlement(new Dictionary<string, long> { ["compute-unit"] = units }, [new AgreementOffering(Small, quantity)]),
        new AgreementMetering(currency, period, maxPrice, availability));

    private static AgreementVerdict Evaluate(AgreementTerms terms, FederationPolicy? policy = null, Dictionary<string, RequestedOffering>? catalog = null, string peer = "Cloud1") =>
        AgreementEvaluation.Evaluate(policy ?? Policy, peer, terms, catalog ?? Catalog(), Capacity);

    [Fact]
    public void Evaluate_WhenEveryTermHolds_AcceptsAndPlacesInTheIntersection()
    {
        var verdict = Evaluate(Terms(jurisdictions: ["US", "DE", "FR"], maxPrice: 0.06m, availability: 99.9m));

        Assert.True(verdict.Accepted, string.Join(" | ", verdict.Reasons));
        Assert.Equal(["DE", "FR"], verdict.Jurisdictions);
    }

    [Fact]
    public void Evaluate_WhenPeerNotAllowed_NamesThePeer()
    {
        var reason = Assert.Single(Evaluate(Terms(), peer: "Cloud3").Reasons);
        Assert.Contains("no agreement with peer 'Cloud3'", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_WithTheDefaultPolicy_RefusesEveryPeer()
    {
        var verdict = Evaluate(Terms(), AgreementStore.DefaultPolicy);
        Assert.Contains(verdict.Reasons, r => r.Contains("allows no agreements yet", StringComparison.Ordinal));
    }

    [Fact]
    public void Evaluate_WhenPeerIsStar_AllowsAnyPeer()
    {
        Assert.True(Evaluate(Terms(), Policy with { Peers = ["*"] }, peer: "Anyone").Accepted);
    }

    [Fact]
    public void Evaluate_WhenNoJurisdictionIntersects_SaysWhichAreOffered()
    {
        var verdict = Evaluate(Terms(jurisdictions: ["US"]));

        var reason = Assert.Single(verdict.Reasons);
        Assert.StartsWith("Jurisdiction not allowed", reason, StringComparison.Ordinal);
        Assert.Contains("offered: DE, FR", reason, StringComparison.Ordinal);
        Assert.Empty(verdict.Jurisdictions);
    }

    [Fact]
    public void Evaluate_WithoutPolicyJurisdictions_OffersWhereTheCloudRuns()
    {
        Assert.True(Evaluate(Terms(jurisdictions: ["US"]), Policy with { Jurisdictions = [] }).Accepted);
    }

    [Fact]
    public void Evaluate_WhenOfferingMissingOrUnpublished_RefusesIt()
    {
        Assert.Contains(Evaluate(Terms(), catalog: []).Reasons, r => r.Contains("not in this cloud's public catalog", StringComparison.Ordinal));
        Assert.Contains(Evaluate(Terms(), catalog: Catalog(published: false)).Reasons, r => r.Contains("not in this cloud's public catalog", StringComparison.Ordinal));
    }

    [Fact]
    public void Evaluate_WhenOfferingNotInThePolicy_RefusesIt()
    {
        var verdict = Evaluate(Terms(), Policy with { Offerings = ["off_01bbbbbbbbbbbbbbbbbbbbbbbb"] });
        Assert.Contains(verdict.Reasons, r => r.Contains("is not offered to peers", StringComparison.Ordinal));
    }

    [Fact]
    public void Evaluate_WhenUnitsPassTheCap_NamesTheCap()
    {
        var reason = Assert.Single(Evaluate(Terms(units: 12)).Reasons);
        Assert.Equal("Entitlement of compute-unit: 12 asked, at most 10 per peer.", reason);
    }

    [Fact]
    public void Evaluate_WhenOfferingsNeedMoreUnitsThanEntitled_SaysSo()
    {
        var reason = Assert.Single(Evaluate(Terms(quantity: 5, units: 4)).Reasons);
        Assert.Contains("need 5 compute-unit, more than the 4", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_WhenCapacityMinusReserveTooSmall_SaysWhatIsAvailable()
    {
        // DE has 40 free vCPUs, 20% kept: 32; 10 units of 4 vCPUs need 40.
        var verdict = Evaluate(Terms(quantity: 10, units: 10), catalog: Catalog(vcpus: 4));

        var reason = Assert.Single(verdict.Reasons);
        Assert.Contains("need up to 40 vCPUs; 32 are available", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_WhenCurrencyDiffers_RefusesTheOffering()
    {
        Assert.Contains("priced in USD, not EUR", Assert.Single(Evaluate(Terms(), catalog: Catalog(Spec(currency: "USD"))).Reasons), StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_WhenPricePerCpuHourTooHigh_StatesTheRate()
    {
        // 73 per unit-month over 730 hours and 2 vCPUs: 0.05 per vCPU-hour.
        var reason = Assert.Single(Evaluate(Terms(maxPrice: 0.04m)).Reasons);
        Assert.Contains("costs 0.05 EUR per vCPU-hour, more than the 0.04 accepted", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_WhenAvailabilityBelowMinimum_StatesBoth()
    {
        var reason = Assert.Single(Evaluate(Terms(availability: 99.99m)).Reasons);
        Assert.Contains("99.95% availability, less than the 99.99% required", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_WhenEncryptionOrIsolationNotProvided_RefusesEach()
    {
        var verdict = Evaluate(Terms(encryption: true, isolation: IsolationLevel.DedicatedHost));

        Assert.Equal(2, verdict.Reasons.Count);
        Assert.Contains(verdict.Reasons, r => r.StartsWith("Encryption at rest is required", StringComparison.Ordinal));
        Assert.Contains(verdict.Reasons, r => r.StartsWith("Isolation 'dedicated-host' is required", StringComparison.Ordinal));
        Assert.True(Evaluate(Terms(encryption: true, isolation: IsolationLevel.DedicatedHost), Policy with { EncryptionAtRest = true, Isolation = IsolationLevel.DedicatedHost }).Accepted);
    }

    [Fact]
    public void Evaluate_WhenBillingPeriodNotMonthly_Refuses()
    {
        Assert.Contains("bills monthly", Assert.Single(Evaluate(Terms(period: "weekly")).Reasons), StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_WhenOfferingRunsOutsideTheAgreedJurisdictions_Refuses()
    {
        Assert.Contains("runs only in FR", Assert.Single(Evaluate(Terms(), catalog: Catalog(Spec(only: ["FR"]))).Reasons), StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_WhenManyTermsFail_NamesEveryOne()
    {
        var verdict = Evaluate(Terms(jurisdictions: ["US"], units: 12, currency: "USD", encryption: true), peer: "Cloud9");
        Assert.Equal(5, verdict.Reasons.Count);
    }

    [Fact]
    public void Validate_RejectsMalformedTermsWithTheirFields()
    {
        var error = AgreementEvaluation.Validate(Terms(jurisdictions: ["germany"], currency: "euro", quantity: 0));

        Assert.NotNull(error);
        Assert.Contains("terms.policy.jurisdictions", error.Errors!.Keys);
        Assert.Contains("terms.metering.currency", error.Errors!.Keys);
        Assert.Contains("terms.entitlement.offerings[0].quantity", error.Errors!.Keys);
        Assert.Null(AgreementEvaluation.Validate(Terms()));
    }

    [Fact]
    public void ValidatePolicy_RejectsABadReserveAndJurisdiction()
    {
        var error = AgreementEvaluation.Validate(Policy with { CapacityReservePercent = 120m, Jurisdictions = ["de"] });

        Assert.NotNull(error);
        Assert.Contains("capacityReservePercent", error.Errors!.Keys);
        Assert.Contains("jurisdictions", error.Errors!.Keys);
        Assert.Null(AgreementEvaluation.Validate(Policy));
    }
}

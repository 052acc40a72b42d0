using Welkin.Contracts;
using Welkin.Core.Catalog.Description;
using Welkin.Intercloud.Rdf;
using Welkin.Server.Federation;

namespace Welkin.Server.Tests.Federation;

/// <summary>Criteria to SPARQL, run by Redland over a description CatalogGraph builds, and the ranking of what peers answer.</summary>
public sealed class OfferCriteriaTests
{
    private const string Api = "https://de.provider.example/api/v1";
    private static readonly FederatedPeer Peer = new("ProviderCo-DE", "de@exchange.test");
    private static readonly DateTimeOffset Published = new(2026, 11, 3, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Criteria_SelectOnTheDescription_TheOfferingsThatMeetThemAll_WithTheFewestResourcesThatDo()
    {
        var offers = Select(Criteria(vcpus: "4", memory: "8GiB", jurisdiction: "de", maxPrice: "0.20", currency: "eur", availability: "99.9"));

        offers.Select(o => (o.OfferingId, o.Region)).ShouldBe([("off_fit", "fra-1"), ("off_fit", "fra-2")], ignoreOrder: true);
        var offer = offers[0];
        (offer.Vcpus, offer.MemoryMiB, offer.Jurisdiction).ShouldBe((4, 8192L, "DE"));
        (offer.Price, offer.Unit, offer.Currency, offer.Availability).ShouldBe((0.15m, "hour", "EUR", 99.95m));
        (offer.Name, offer.Url, offer.Peer).ShouldBe(("Fit", Api + "/catalog/offerings/off_fit", Peer));
    }

    [Theory]
    [InlineData("vcpus", "off_few_cpus")]
    [InlineData("memory", "off_little_memory")]
    [InlineData("jurisdiction", "off_us")]
    [InlineData("maxPrice", "off_dear")]
    [InlineData("currency", "off_usd")]
    [InlineData("availability", "off_flaky")]
    public void EachCriterion_LeftOut_LetsInTheOfferingOnlyItRefuses(string left, string offering)
    {
        var all = new Dictionary<string, string?>
        {
            ["vcpus"] = "4", ["memory"] = "8GiB", ["jurisdiction"] = "DE", ["maxPrice"] = "0.20", ["currency"] = "EUR", ["availability"] = "99.9",
        };
        Select(Criteria(all["vcpus"], all["memory"], all["jurisdiction"], all["maxPrice"], all["currency"], all["availability"]))
            .Select(o => o.OfferingId).ShouldNotContain(offering);
        all[left] = null;
        if (left == "currency")
        {
            all["maxPrice"] = null;
        }

        Select(Criteria(all["vcpus"], all["memory"], all["jurisdiction"], all["maxPrice"], all["currency"], all["availability"]))
            .Select(o => o.OfferingId).ShouldContain(offering);
    }

    [Fact]
    public void Rank_IsByPrice_ThenAvailabilityDescending_ThenPeerOfferingAndRegion()
    {
        FederatedOffer Offer(string peer, string id, decimal price, decimal availability, string region = "r") =>
            new(new FederatedPeer(peer, peer + "@x"), id, id, "u", 1, 1, "DE", region, price, "hour", "EUR", availability);

        var ranked = OfferCriteria.Rank([Offer("b", "5", 0.2m, 99.9m), Offer("a", "4", 0.1m, 99m), Offer("b", "3", 0.1m, 99.99m), Offer("a", "2", 0.1m, 99.99m),
            Offer("a", "1", 0.1m, 99.99m, "s"), Offer("a", "1", 0.1m, 99.99m, "q")]);

        ranked.Select(o => $"{o.Peer.Name}{o.OfferingId}{o.Region}").ShouldBe(["a1q", "a1s", "a2r", "b3r", "a4r", "b5r"]);
    }

    [Theory]
    [InlineData("512MiB", 512L)]
    [InlineData("8GiB", 8192L)]
    [InlineData("1.5gib", 1536L)]
    [InlineData("1TiB", 1048576L)]
    public void Memory_IsReadWithItsUnit(string memory, long mib) =>
        OfferCriteria.Parse(null, memory, null, null, null, null).Value.MemoryMiB.ShouldBe(mib);

    [Fact]
    public void InvalidCriteria_AreAllNamedInOneError()
    {
        var result = OfferCriteria.Parse("0", "8", "DEU", "x", "EURO", "100.5");

        result.IsSuccess.ShouldBeFalse();
        result.Error!.Code.ShouldBe("validation-failed");
        foreach (var name in new[] { "vcpus", "memory", "jurisdiction", "maxPrice", "currency", "availability" })
        {
            result.Error.Detail.ShouldContain(name);
        }
    }

    private static OfferCriteria Criteria(string? vcpus = null, string? memory = null, string? jurisdiction = null, string? maxPrice = null,
        string? currency = null, string? availability = null) =>
        OfferCriteria.Parse(vcpus, memory, jurisdiction, maxPrice, currency, availability).Value;

    private static List<FederatedOffer> Select(OfferCriteria criteria)
    {
        var engine = new SparqlEngine(SparqlLimits.Default, TimeProvider.System);
        var (graph, loadError) = RdfGraph.Load(TurtleWriter.Write(CatalogGraph.Build(Catalog())), RdfSyntax.Turtle, new Uri(Api + "/catalog/description"),
            engine.Limits, TimeProvider.System);
        loadError.ShouldBeNull();
        using (graph)
        {
            var (results, error) = engine.Query(graph!, criteria.ToSparql());
            error.ShouldBeNull();
            return [.. OfferCriteria.Offers(Peer, results!)];
        }
    }

    private static CatalogSnapshot Catalog()
    {
        var template = new TemplateView("tpl_a", 1, TemplateState.Published, "Flexible", null,
            [new VirtualSystemSpec("app", new HardwareChoices(new Choice<int>([2, 4, 8], 2), new Choice<long>([4096, 8192, 16384], 4096), new Choice<long>([20], 20)))],
            "prn_x", 1, Published, Published, Published, null);
        var fewCpus = new VirtualSystemRestriction("app", Vcpus: new Choice<int>([2], 2));
        var littleMemory = new VirtualSystemRestriction("app", MemoryMiB: new Choice<long>([4096], 4096));
        return new CatalogSnapshot(new DescribedCloud(Api, "ProviderCo-DE"),
            [
                Compute("off_fit", "Fit", "EUR", 0.15m, 99.95m),
                Compute("off_few_cpus", "Few vCPUs", "EUR", 0.10m, 99.95m, [fewCpus]),
                Compute("off_little_memory", "Little memory", "EUR", 0.10m, 99.95m, [littleMemory]),
                Compute("off_us", "US only", "EUR", 0.10m, 99.95m, constraints: new PlacementConstraints(Jurisdictions: ["US"])),
                Compute("off_dear", "Dear", "EUR", 0.30m, 99.95m),
                Compute("off_usd", "Dollars", "USD", 0.10m, 99.95m),
                Compute("off_flaky", "Flaky", "EUR", 0.10m, 99.5m),
            ],
            [template],
            [new CatalogRegion("DE", "fra-1"), new CatalogRegion("DE", "fra-2"), new CatalogRegion("US", "us-east")]);

        OfferingView Compute(string id, string name, string currency, decimal cpuHour, decimal availability,
            IReadOnlyList<VirtualSystemRestriction>? choices = null, PlacementConstraints? constraints = null) =>
            new(id, OfferingState.Published,
                new OfferingSpec(name, OfferingKind.Compute,
                    new PricePlan(currency, "month", [new PriceRate("compute-unit", "unit-month", 35m), new PriceRate("cpu-hour", "hour", cpuHour)]),
                    new SlaTerms(availability), new OfferingTerms(1, 50m), "compute-unit", null, template.Id, 1, choices, Constraints: constraints),
                1, Published, Published, Published, null);
    }
}

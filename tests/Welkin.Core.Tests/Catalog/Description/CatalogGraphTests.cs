using Welkin.Core.Catalog.Description;

namespace Welkin.Core.Tests.Catalog.Description;

public sealed class CatalogGraphTests
{
    private const string Offering = SampleCatalog.Api + "/catalog/offerings/off_01m7zq1av1vwwb1nbrnpn39w41";
    private const string Cloud = SampleCatalog.Api + "/catalog/description#cloud";

    private static readonly IReadOnlyList<Triple> Triples = CatalogGraph.Build(SampleCatalog.Build());

    private static List<RdfTerm> Values(string subject, string predicate) =>
        Triples.Where(t => t.Subject.Value == subject && t.Predicate.Value == predicate).Select(t => t.Value).ToList();

    [Fact]
    public void Build_DescribesEveryPublishedOfferingAsAnOfferOfTheCloud()
    {
        Values(Cloud, Vocabulary.Welkin + "offers").ShouldBe(
        [
            new RdfIri(Offering),
            new RdfIri(SampleCatalog.Api + "/catalog/offerings/off_01m7zq1av1vwwb1nbrnpn39w42"),
        ]);
        Values(Offering, Vocabulary.Type).ShouldBe([new RdfIri(Vocabulary.Welkin + "Offering")]);
        Values(Offering, Vocabulary.Dcterms + "issued").ShouldBe([new RdfLiteral("2026-11-03T10:15:30.123Z", Vocabulary.Xsd + "dateTime")]);
    }

    [Fact]
    public void Build_WritesPricesAsExactDecimalsWithTheirCurrencyAndUnit()
    {
        var rate = Offering + "#rate-1";
        Values(rate, Vocabulary.Type).ShouldBe([new RdfIri(Vocabulary.Schema + "UnitPriceSpecification")]);
        Values(rate, Vocabulary.Schema + "price").ShouldBe([new RdfLiteral("35.00", Vocabulary.Xsd + "decimal")]);
        Values(rate, Vocabulary.Schema + "priceCurrency").ShouldBe([RdfLiteral.Text("EUR")]);
        Values(rate, Vocabulary.Schema + "unitText").ShouldBe([RdfLiteral.Text("unit-month")]);
        Values(Offering + "#rate-2-tier-2", Vocabulary.Welkin + "upTo").ShouldBe([new RdfLiteral("1000", Vocabulary.Xsd + "decimal")]);
        Values(Offering + "#price-plan", Vocabulary.Welkin + "rate").Count.ShouldBe(2);
    }

    [Fact]
    public void Build_AppliesTheOfferingsRestrictionsAndPlacementConstraints()
    {
        Values(Offering + "#vs-web", Vocabulary.Welkin + "vcpus").ShouldBe([RdfLiteral.XsdInteger(4)]);
        Values(Offering + "#vs-web", Vocabulary.Welkin + "memoryMiB").ShouldBe([RdfLiteral.XsdInteger(6144), RdfLiteral.XsdInteger(8192)]);
        Values(Offering + "#vs-web", Vocabulary.Welkin + "operatingSystem").ShouldBe([new RdfIri(Vocabulary.Welkin + "os-debian"), new RdfIri(Vocabulary.Welkin + "os-windows-server")]);
        Values(Offering, Vocabulary.Welkin + "availableIn").Select(r => ((RdfIri)r).Value).ShouldBe(
            [SampleCatalog.Api + "/catalog/description#region-DE-fra-1", SampleCatalog.Api + "/catalog/description#region-DE-fra-2"]);
    }

    [Fact]
    public void Build_ReadsConstraintsAsPlacementDoes_AnEmptyListAllowsNowhere()
    {
        var snapshot = SampleCatalog.Build();
        var offering = snapshot.Offerings[0];
        var nowhere = offering with { Spec = offering.Spec with { Constraints = new Welkin.Contracts.PlacementConstraints(Jurisdictions: [], Regions: null) } };
        var lowerCase = offering with { Spec = offering.Spec with { Constraints = new Welkin.Contracts.PlacementConstraints(Jurisdictions: ["de"]) } };

        foreach (var changed in new[] { nowhere, lowerCase })
        {
            CatalogGraph.Build(snapshot with { Offerings = [changed] })
                .ShouldNotContain(t => t.Subject.Value == Offering && t.Predicate.Value == Vocabulary.Welkin + "availableIn");
        }
        CatalogGraph.Build(snapshot with { Offerings = [offering with { Spec = offering.Spec with { Constraints = null } }] })
            .Count(t => t.Subject.Value == Offering && t.Predicate.Value == Vocabulary.Welkin + "availableIn").ShouldBe(3);
    }

    [Fact]
    public void Build_StatesWhetherAnOfferingMayBurst_OnlyWhenItHasAPolicy()
    {
        Values(Offering, Vocabulary.Welkin + "mayBurst").ShouldBeEmpty();
        var sample = SampleCatalog.Build();
        var bursting = sample with
        {
            Offerings = [sample.Offerings[0] with { Spec = sample.Offerings[0].Spec with { Burst = new Welkin.Contracts.BurstPolicy(true, ["cloud-b"], 0.05m) } }, sample.Offerings[1]],
        };
        CatalogGraph.Build(bursting).Where(t => t.Subject.Value == Offering && t.Predicate.Value == Vocabulary.Welkin + "mayBurst").Select(t => t.Value)
            .ShouldBe([new RdfLiteral("true", Vocabulary.Xsd + "boolean")]);
    }

    [Fact]
    public void Build_FillsTheDefaultServiceCreditsOfTheSla()
    {
        Values(Offering + "#sla", Vocabulary.Welkin + "availabilityTarget").ShouldBe([new RdfLiteral("99.9", Vocabulary.Xsd + "decimal")]);
        Values(Offering + "#sla", Vocabulary.Welkin + "availabilityCreditPercent").ShouldBe([new RdfLiteral("10", Vocabulary.Xsd + "decimal")]);
        Values(Offering + "#sla", Vocabulary.Welkin + "incidentResponseMinutes").ShouldBe([RdfLiteral.XsdInteger(30)]);
    }

    [Fact]
    public void Build_NamesTheCertificateOnlyWhenFederated()
    {
        Values(Cloud, Vocabulary.Welkin + "certificate").Count.ShouldBe(1);
        var alone = CatalogGraph.Build(SampleCatalog.Build(federated: false));
        alone.ShouldNotContain(t => t.Predicate.Value == Vocabulary.Welkin + "certificate" || t.Predicate.Value == Vocabulary.Welkin + "federationEndpoint");
    }

    [Fact]
    public void Build_PercentEncodesWhatIrisMayNotHold()
    {
        var triples = CatalogGraph.Build(SampleCatalog.Build(hostile: true));
        var iris = triples.SelectMany(t => new[] { t.Subject, t.Predicate, t.Value }).OfType<RdfIri>().Select(i => i.Value).ToList();
        iris.ShouldContain(SampleCatalog.Api + "/catalog/description#region-DE-fra%202%3Ex");
        iris.ShouldAllBe(i => !i.Any(c => c <= ' ' || "<>\"{}|^`\\".Contains(c)));
    }

    [Fact]
    public void Iri_EncodesForbiddenCharacters() =>
        CatalogGraph.Iri("https://a.example/x y<z>\"{|}^`\\").Value.ShouldBe("https://a.example/x%20y%3Cz%3E%22%7B%7C%7D%5E%60%5C");
}

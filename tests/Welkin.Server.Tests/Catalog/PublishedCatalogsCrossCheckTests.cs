using Welkin.Intercloud.Rdf;
using Welkin.Testing;
using Welkin.Testing.Rdf;

namespace Welkin.Server.Tests.Catalog;

/// <summary>
/// Redland and Jena ARQ over the same merged dataset: the descriptions three clouds publish (after
/// proving each one's Turtle and JSON-LD the same graph to Jena RIOT) and the ontology. Jena answers
/// every query in one JVM, once per class; Redland answers each in process.
/// </summary>
public sealed class PublishedCatalogsCrossCheckTests(PublishedCatalogsCrossCheckTests.Dataset data) : IClassFixture<PublishedCatalogsCrossCheckTests.Dataset>
{
    private const string Prefixes = """
        PREFIX wk: <https://welkin.dev/ns/cloud#>
        PREFIX dcterms: <http://purl.org/dc/terms/>
        PREFIX schema: <https://schema.org/>
        PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
        PREFIX owl: <http://www.w3.org/2002/07/owl#>

        """;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public enum Expect
    {
        Rows,
        OrderedRows,
        NoRows,
        True,
        False,
    }

    private static readonly Dictionary<string, (Expect Expect, string Query)> Queries = new()
    {
        // The query federated selection sends to every peer, as OfferCriteria writes it (its prefixes are the ones above).
        ["federated-selection"] = (Expect.Rows, string.Join('\n',
            Welkin.Server.Federation.OfferCriteria.Parse("1", "1GiB", "DE", "10", "EUR", "90").Value!.ToSparql().Split('\n').Where(l => !l.StartsWith("PREFIX ", StringComparison.Ordinal)))),
        ["select-jurisdiction-price-availability"] = (Expect.Rows, """
            SELECT ?o ?title ?price ?avail WHERE {
              ?o a wk:Offering ; dcterms:title ?title ; wk:availableIn ?r ; wk:sla ?s ; schema:priceSpecification ?rate ; wk:virtualSystem ?vs .
              ?r wk:jurisdiction ?j . ?j dcterms:identifier "DE" . ?s wk:availabilityTarget ?avail .
              ?rate wk:metric "cpu-hour" ; schema:price ?price . ?vs wk:defaultVcpus ?v
              FILTER(?v >= 4 && ?price <= 0.20 && ?avail >= 99.9) }
            """),
        ["offerings-per-cloud"] = (Expect.Rows, "SELECT ?cloud (COUNT(?o) AS ?n) WHERE { ?cloud a wk:Cloud ; wk:offers ?o } GROUP BY ?cloud"),
        ["cheapest-cpu-hour-per-cloud"] = (Expect.OrderedRows, """
            SELECT ?cloud ?cheapest WHERE { { SELECT ?cloud (MIN(?p) AS ?cheapest) WHERE {
              ?o wk:offeredBy ?cloud ; schema:priceSpecification ?r . ?r wk:metric "cpu-hour" ; schema:price ?p } GROUP BY ?cloud } } ORDER BY ?cheapest
            """),
        ["offerings-per-jurisdiction"] = (Expect.Rows, """
            SELECT ?code (COUNT(?o) AS ?n) WHERE { { SELECT DISTINCT ?code ?o WHERE { ?o wk:availableIn ?r . ?r wk:jurisdiction ?j . ?j dcterms:identifier ?code } } }
            GROUP BY ?code
            """),
        ["availability-per-jurisdiction"] = (Expect.Rows, """
            SELECT ?code (MIN(?a) AS ?worst) (MAX(?a) AS ?best) WHERE {
              ?o wk:availableIn ?r ; wk:sla ?s . ?s wk:availabilityTarget ?a . ?r wk:jurisdiction ?j . ?j dcterms:identifier ?code } GROUP BY ?code
            """),
        ["average-cpu-hour-per-currency"] = (Expect.Rows, """
            SELECT ?cur (AVG(?p) AS ?avg) (SUM(?p) AS ?sum) (COUNT(?r) AS ?n) WHERE {
              ?r a schema:UnitPriceSpecification ; wk:metric "cpu-hour" ; schema:priceCurrency ?cur ; schema:price ?p } GROUP BY ?cur
            """),
        ["rates-per-currency-having"] = (Expect.Rows, """
            SELECT ?cur (COUNT(?r) AS ?n) WHERE { ?r a schema:UnitPriceSpecification ; schema:priceCurrency ?cur } GROUP BY ?cur HAVING(COUNT(?r) > 6)
            """),
        ["offerings-with-several-rates"] = (Expect.Rows, "SELECT ?o (COUNT(?r) AS ?rates) WHERE { ?o schema:priceSpecification ?r } GROUP BY ?o HAVING(COUNT(?r) >= 3)"),
        ["sla-optional-incident-response"] = (Expect.Rows, "SELECT ?o ?minutes WHERE { ?o a wk:Offering ; wk:sla ?s OPTIONAL { ?s wk:incidentResponseMinutes ?minutes } }"),
        ["sla-without-cpu-term"] = (Expect.Rows, "SELECT ?o WHERE { ?o wk:sla ?s OPTIONAL { ?s wk:cpuUtilizationMax ?c } FILTER(!BOUND(?c)) }"),
        ["sla-credits-above-default"] = (Expect.Rows, """
            SELECT ?o ?target ?credit ?perf WHERE { ?o wk:sla ?s . ?s wk:availabilityTarget ?target ; wk:availabilityCreditPercent ?credit
              OPTIONAL { ?s wk:performanceCreditPercent ?perf } FILTER(?credit > 10 || ?perf > 5) }
            """),
        ["ask-storage-in-germany"] = (Expect.True, """
            ASK { ?o wk:kind "storage" ; wk:availableIn ?r . ?r wk:jurisdiction ?j . ?j dcterms:identifier "DE" }
            """),
        ["ask-withdrawn-is-gone"] = (Expect.False, "ASK { ?o dcterms:title ?t FILTER(STRSTARTS(?t, \"Retired\") || ?t = \"Priced web v1\") }"),
        ["ask-no-certificate-unfederated"] = (Expect.False, "ASK { ?c wk:certificate ?x }"),
        ["no-compute-in-france"] = (Expect.NoRows, """
            SELECT ?o WHERE { ?o wk:kind "compute" ; wk:availableIn ?r . ?r wk:jurisdiction ?j . ?j dcterms:identifier "FR" }
            """),
        ["most-expensive-rates"] = (Expect.OrderedRows, """
            SELECT ?rate ?p WHERE { ?rate a schema:UnitPriceSpecification ; schema:price ?p } ORDER BY DESC(?p) ?rate LIMIT 3
            """),
        ["memory-order-offset"] = (Expect.OrderedRows, "SELECT ?vs ?m WHERE { ?vs wk:defaultMemoryMiB ?m } ORDER BY ?m ?vs OFFSET 2 LIMIT 5"),
        ["titles-with-quotes"] = (Expect.Rows, "SELECT ?x ?t WHERE { ?x dcterms:title ?t FILTER(CONTAINS(?t, \"\\\"\")) }"),
        ["titles-non-ascii"] = (Expect.Rows, """
            SELECT ?x ?t (STRLEN(?t) AS ?len) (SUBSTR(?t, 1, 6) AS ?head) WHERE { ?x dcterms:title ?t FILTER(REGEX(?t, "ü|東京|ß|–")) }
            """),
        ["region-city-codes"] = (Expect.Rows, """
            SELECT ?r (STRBEFORE(?id, "-") AS ?area) (STRAFTER(?rest, "-") AS ?city) WHERE {
              ?r a wk:Region ; dcterms:identifier ?id FILTER(STRENDS(?id, "a")) BIND(STRAFTER(?id, "-") AS ?rest) }
            """),
        ["offering-jurisdictions-step-by-step"] = (Expect.Rows, """
            SELECT ?o ?code WHERE { ?o wk:availableIn ?r . ?r wk:jurisdiction ?j . ?j dcterms:identifier ?code }
            """),
        ["rates-in-eur-or-chf"] = (Expect.Rows, "SELECT ?r ?cur WHERE { ?r schema:priceCurrency ?cur FILTER(?cur IN (\"EUR\", \"CHF\")) }"),
        ["offering-labels-concat"] = (Expect.Rows, """
            SELECT ?o (CONCAT(?t, " @ ", ?code) AS ?label) WHERE { ?o dcterms:title ?t ; wk:availableIn ?r . ?r wk:jurisdiction ?j . ?j dcterms:identifier ?code }
            """),
        ["distinct-operating-systems"] = (Expect.Rows, "SELECT DISTINCT ?os WHERE { ?vs wk:operatingSystem ?x . ?x dcterms:identifier ?os }"),
        ["operating-systems-per-cloud-subquery"] = (Expect.Rows, """
            SELECT ?cloud (COUNT(?os) AS ?n) WHERE { { SELECT DISTINCT ?cloud ?os WHERE { ?cloud wk:offers ?o . ?o wk:virtualSystem ?vs . ?vs wk:operatingSystem ?os } } } GROUP BY ?cloud
            """),
        ["hardware-choices"] = (Expect.Rows, """
            SELECT ?vs (MIN(?v) AS ?fewest) (MAX(?v) AS ?most) (COUNT(?v) AS ?choices) WHERE { ?o wk:virtualSystem ?vs . ?vs wk:vcpus ?v } GROUP BY ?vs
            """),
        ["templates-and-versions"] = (Expect.Rows, """
            SELECT ?tpl ?title ?n (COUNT(?o) AS ?offerings) WHERE { ?tpl a wk:ServiceTemplate ; dcterms:title ?title ; wk:templateVersion ?n . ?o wk:template ?tpl }
            GROUP BY ?tpl ?title ?n
            """),
        ["price-tiers-in-order"] = (Expect.OrderedRows, """
            SELECT ?rate ?model ?pos ?upTo ?price WHERE { ?rate wk:pricingModel ?model ; wk:tier ?t . ?t wk:position ?pos ; wk:upTo ?upTo ; schema:price ?price }
            ORDER BY ?rate ?pos
            """),
        ["minimum-charge-coalesce"] = (Expect.Rows, "SELECT ?r (COALESCE(?m, 0) AS ?min) WHERE { ?r a schema:UnitPriceSpecification OPTIONAL { ?r wk:minimumCharge ?m } }"),
        ["size-classes"] = (Expect.Rows, "SELECT ?vs (IF(?v >= 8, \"large\", IF(?v >= 4, \"medium\", \"small\")) AS ?size) WHERE { ?vs wk:defaultVcpus ?v }"),
        ["monthly-cost-bind"] = (Expect.Rows, """
            SELECT ?o ?monthly WHERE { ?o schema:priceSpecification ?r ; wk:virtualSystem ?vs . ?r wk:metric "cpu-hour" ; schema:price ?p .
              ?vs wk:defaultVcpus ?v BIND(?p * ?v * 730 AS ?monthly) FILTER(?monthly < 1000) }
            """),
        ["regions-union-jurisdictions"] = (Expect.Rows, """
            SELECT ?x ?id WHERE { { ?x a wk:Region ; dcterms:identifier ?id } UNION { ?x a wk:Jurisdiction ; dcterms:identifier ?id } }
            """),
        ["clouds-in-de-or-ch"] = (Expect.Rows, """
            SELECT ?cloud ?code WHERE { ?cloud wk:region ?r . ?r wk:jurisdiction ?j . ?j dcterms:identifier ?code FILTER(?code IN ("DE", "CH")) }
            """),
        ["clouds-outside-de"] = (Expect.Rows, """
            SELECT DISTINCT ?cloud ?code WHERE { ?cloud wk:region ?r . ?r wk:jurisdiction ?j . ?j dcterms:identifier ?code FILTER(?code NOT IN ("DE")) }
            """),
        ["interfaces-with-english-labels"] = (Expect.Rows, """
            SELECT ?cloud ?label WHERE { ?cloud wk:supportsInterface ?i . ?i rdfs:label ?label FILTER(langMatches(lang(?label), "en")) }
            """),
        ["storage-values-one-row"] = (Expect.Rows, """
            SELECT ?o ?max ?inc WHERE { ?o wk:kind ?k ; wk:storageMaxGiB ?max ; wk:storageIncrementGiB ?inc VALUES ?k { "storage" } }
            """),
        ["nested-optional-netherlands"] = (Expect.Rows, """
            SELECT ?o ?r ?code WHERE { ?o a wk:Offering OPTIONAL { ?o wk:availableIn ?r OPTIONAL { ?r wk:jurisdiction ?j . ?j dcterms:identifier ?code FILTER(?code = "NL") } } }
            """),
        ["instances-of-ontology-classes"] = (Expect.Rows, "SELECT ?class (COUNT(?x) AS ?n) WHERE { ?x a ?class . ?class a owl:Class } GROUP BY ?class"),
        ["replacement-price-plan"] = (Expect.Rows, """
            SELECT ?o ?t ?metric ?p WHERE { ?o dcterms:title ?t ; schema:priceSpecification ?r . ?r wk:metric ?metric ; schema:price ?p FILTER(STRSTARTS(?t, "Priced web")) }
            """),
        ["distinct-os-count-subquery"] = (Expect.Rows, "SELECT (COUNT(*) AS ?n) WHERE { { SELECT DISTINCT ?os WHERE { ?vs wk:operatingSystem ?os } } }"),
        ["term-tests-and-datatypes"] = (Expect.Rows, """
            SELECT ?o (isIRI(?o) AS ?iri) (DATATYPE(?p) AS ?dt) (isLiteral(?t) AS ?lit) WHERE { ?o dcterms:title ?t ; schema:priceSpecification ?r . ?r schema:price ?p FILTER(?p > 40) }
            """),
    };

    // What Rasqal answers wrongly or cannot run is refused by name; where the refusal suggests a rewrite,
    // Jena's answer to the refused form is Redland's answer to the rewrite.
    private static readonly Dictionary<string, (string Feature, string Query, string? Rewrite)> Refused = new()
    {
        ["count-distinct"] = ("An aggregate over DISTINCT values", """
            SELECT ?cloud (COUNT(DISTINCT ?os) AS ?n) WHERE { ?cloud wk:offers ?o . ?o wk:virtualSystem ?vs . ?vs wk:operatingSystem ?os } GROUP BY ?cloud
            """, "operating-systems-per-cloud-subquery"),
        ["upper-case-non-ascii"] = ("UCASE and LCASE", """
            SELECT ?o (UCASE(?t) AS ?u) (LCASE(?t) AS ?l) WHERE { ?o a wk:Offering ; dcterms:title ?t FILTER(CONTAINS(?t, "ü") || CONTAINS(?t, "ß")) }
            """, null),
        ["nested-strafter"] = ("STRBEFORE or STRAFTER of a computed value", """
            SELECT ?r (STRBEFORE(?id, "-") AS ?area) (STRAFTER(STRAFTER(?id, "-"), "-") AS ?city) WHERE { ?r a wk:Region ; dcterms:identifier ?id FILTER(STRENDS(?id, "a")) }
            """, "region-city-codes"),
        ["property-path"] = ("Property paths", "SELECT ?o ?code WHERE { ?o wk:availableIn/wk:jurisdiction/dcterms:identifier ?code }", "offering-jurisdictions-step-by-step"),
        ["not-exists"] = ("EXISTS and NOT EXISTS", "SELECT ?o WHERE { ?o wk:sla ?s FILTER NOT EXISTS { ?s wk:cpuUtilizationMax ?c } }", "sla-without-cpu-term"),
        ["values-two-rows"] = ("VALUES with more than one row", "SELECT ?r ?cur WHERE { ?r schema:priceCurrency ?cur VALUES ?cur { \"EUR\" \"CHF\" } }", "rates-in-eur-or-chf"),
    };

    public static TheoryData<string> Names => [.. Queries.Keys];

    public static TheoryData<string> RefusedNames => [.. Refused.Keys];

    [Fact]
    public async Task EachDescription_TurtleAndJsonLd_AreTheSameGraphToJenaRiot()
    {
        foreach (var (host, turtle, jsonLd) in data.Catalogs.Descriptions)
        {
            var fromTurtle = (await Jena.NTriplesAsync(turtle, "turtle", Ct)).Split('\n', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
            var fromJsonLd = (await Jena.NTriplesAsync(jsonLd, "jsonld10", Ct)).Split('\n', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);

            fromTurtle.Count.ShouldBeGreaterThan(100, host);
            fromJsonLd.SetEquals(fromTurtle).ShouldBeTrue(host);
            foreach (var withdrawn in data.Catalogs.Withdrawn)
            {
                fromTurtle.ShouldNotContain(triple => triple.Contains(withdrawn, StringComparison.Ordinal));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public async Task Redland_AndJenaArq_GiveEqualResults_OverThreePublishedCatalogs(string name)
    {
        var (expect, _) = Queries[name];
        var (results, error) = data.Engine.Query(data.Graph, Prefixes + Queries[name].Query, Ct);
        error.ShouldBeNull();
        var theirs = (await data.JenaAnswersAsync())[name];
        var ours = results!.ToJson();

        if (expect is Expect.True or Expect.False)
        {
            SparqlResultSets.Boolean(theirs).ShouldBe(expect == Expect.True);
            SparqlResultSets.Boolean(ours).ShouldBe(expect == Expect.True);
            return;
        }
        var expected = SparqlResultSets.Rows(theirs);
        if (expect == Expect.NoRows)
        {
            expected.ShouldBeEmpty();
        }
        else
        {
            expected.ShouldNotBeEmpty();
        }
        var ordered = expect == Expect.OrderedRows;
        SparqlResultSets.Lines(SparqlResultSets.Rows(ours), ordered).ShouldBe(SparqlResultSets.Lines(expected, ordered));
    }

    [Theory]
    [MemberData(nameof(RefusedNames))]
    public async Task WhatRasqalGetsWrong_IsRefusedByName_AndTheSuggestedRewriteGivesJenasAnswer(string name)
    {
        var (feature, query, rewrite) = Refused[name];
        var (results, error) = data.Engine.Query(data.Graph, Prefixes + query, Ct);
        results.ShouldBeNull();
        error!.Code.ShouldBe(SparqlError.UnsupportedCode);
        error.Detail.ShouldStartWith(feature);

        var theirs = SparqlResultSets.Rows((await data.JenaAnswersAsync())[name]);
        theirs.ShouldNotBeEmpty();
        if (rewrite is null)
        {
            return;
        }
        var (rewritten, rewriteError) = data.Engine.Query(data.Graph, Prefixes + Queries[rewrite].Query, Ct);
        rewriteError.ShouldBeNull();
        SparqlResultSets.Lines(SparqlResultSets.Rows(rewritten!.ToJson()), ordered: false).ShouldBe(SparqlResultSets.Lines(theirs, ordered: false));
    }

    /// <summary>The merged descriptions and ontology, loaded once into Redland and answered once by Jena.</summary>
    public sealed class Dataset : IAsyncLifetime
    {
        private Task<Dictionary<string, string>>? _jena;

        public PublishedCatalogs Catalogs { get; } = new();

        public RdfGraph Graph { get; private set; } = null!;

        public SparqlEngine Engine { get; } = new(SparqlLimits.Default, TimeProvider.System);

        private List<string> DataFiles => [Repository.Path("docs", "ontology", "welkin.ttl"), .. Catalogs.Descriptions.Select(d => d.Turtle)];

        public async ValueTask InitializeAsync()
        {
            await Catalogs.InitializeAsync();
            var merged = string.Join("\n", await Task.WhenAll(DataFiles.Select(f => File.ReadAllTextAsync(f))));
            var (graph, error) = RdfGraph.Load(merged, RdfSyntax.Turtle, new Uri("http://cloud-a.test/"), SparqlLimits.Default, TimeProvider.System);
            error.ShouldBeNull();
            Graph = graph!;
        }

        public async ValueTask DisposeAsync()
        {
            Graph?.Dispose();
            await Catalogs.DisposeAsync();
        }

        public Task<Dictionary<string, string>> JenaAnswersAsync() => _jena ??= AnswerAllAsync();

        private async Task<Dictionary<string, string>> AnswerAllAsync()
        {
            var texts = Queries.Select(q => (q.Key, q.Value.Query)).Concat(Refused.Select(q => (q.Key, q.Value.Query))).ToList();
            var names = texts.Select(t => t.Key).ToList();
            var files = names.Select(n => Path.Combine(Catalogs.Directory, n + ".rq")).ToList();
            for (var i = 0; i < names.Count; i++)
            {
                await File.WriteAllTextAsync(files[i], Prefixes + texts[i].Query);
            }
            var answers = await Jena.SparqlBatchAsync(DataFiles, files);
            return names.Zip(answers).ToDictionary(p => p.First, p => p.Second, StringComparer.Ordinal);
        }
    }
}

using System.Text.Json;
using System.Xml.Linq;
using Welkin.Intercloud.Rdf;

namespace Welkin.Intercloud.Tests.Rdf;

public sealed class SparqlEngineTests : IDisposable
{
    private readonly RdfGraph _graph = Load(CatalogData.Turtle);
    private readonly SparqlEngine _engine = new(SparqlLimits.Default, TimeProvider.System);

    public void Dispose() => _graph.Dispose();

    private (SparqlResults? Results, SparqlError? Error) Run(string query, SparqlEngine? engine = null, RdfGraph? graph = null) =>
        (engine ?? _engine).Query(graph ?? _graph, query, TestContext.Current.CancellationToken);

    private static RdfGraph Load(string turtle, SparqlLimits? limits = null)
    {
        var (graph, error) = RdfGraph.Load(turtle, RdfSyntax.Turtle, CatalogData.BaseUri, limits ?? SparqlLimits.Default, TimeProvider.System);
        Assert.Null(error);
        return graph!;
    }

    [Fact]
    public void Select_GivesSparqlJsonAndXmlResults()
    {
        var (results, error) = Run(CatalogData.Prefixes + "SELECT ?o ?label WHERE { ?o a w:Offering ; rdfs:label ?label ; w:vcpus 8 }");

        Assert.Null(error);
        using var json = JsonDocument.Parse(results!.ToJson());
        var binding = json.RootElement.GetProperty("results").GetProperty("bindings").EnumerateArray().Single();
        Assert.Equal("https://cloud.example/catalog/offerings/a-large", binding.GetProperty("o").GetProperty("value").GetString());
        Assert.Equal("uri", binding.GetProperty("o").GetProperty("type").GetString());
        Assert.Equal("large", binding.GetProperty("label").GetProperty("value").GetString());
        Assert.Equal(["o", "label"], json.RootElement.GetProperty("head").GetProperty("vars").EnumerateArray().Select(v => v.GetString()));
        // The XML is sent as UTF-8 bytes, and its declaration says so: a reader of the bytes gets the document.
        using var bytes = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(results.ToXml()));
        var xml = XDocument.Load(bytes);
        Assert.Equal("utf-8", xml.Declaration?.Encoding, ignoreCase: true);
        XNamespace ns = "http://www.w3.org/2005/sparql-results#";
        Assert.Equal("large", xml.Descendants(ns + "binding").Single(b => (string?)b.Attribute("name") == "label").Value);
        Assert.Equal(89, _graph.Triples);
    }

    [Fact]
    public void Ask_GivesABoolean()
    {
        var (yes, _) = Run(CatalogData.Prefixes + "ASK { ?r w:jurisdiction \"DE\" }");
        var (no, _) = Run(CatalogData.Prefixes + "ASK { ?r w:jurisdiction \"US\" }");

        Assert.True(yes!.Boolean);
        Assert.False(no!.Boolean);
        Assert.Equal("""{"head":{},"boolean":true}""", yes.ToJson());
        Assert.Contains("<boolean>false</boolean>", no.ToXml(), StringComparison.Ordinal);
    }

    [Fact]
    public void SyntaxError_IsATypedErrorWithRedlandsMessage()
    {
        var (results, error) = Run("SELECT ?x WHERE { ?x ?y }");

        Assert.Null(results);
        Assert.Equal(SparqlError.SyntaxCode, error!.Code);
        Assert.Contains("syntax", error.Detail, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void BadTurtle_IsATypedErrorWithRaptorsMessage()
    {
        var (graph, error) = RdfGraph.Load("<a> <b> .", RdfSyntax.Turtle, CatalogData.BaseUri, SparqlLimits.Default, TimeProvider.System);

        Assert.Null(graph);
        Assert.Equal(SparqlError.RdfSyntaxCode, error!.Code);
        Assert.Contains("syntax", error.Detail, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("SELECT ?o WHERE { ?o w:price ?p VALUES ?o { <offerings/a-small> <offerings/g-tiny> } }", "VALUES with more than one row")]
    [InlineData("SELECT ?o WHERE { ?o w:price ?p } VALUES (?o ?p) { (<offerings/a-small> <prices/a-small>) (UNDEF UNDEF) }", "VALUES with more than one row")]
    [InlineData("SELECT ?o WHERE { ?o a w:Offering FILTER NOT EXISTS { ?o w:availability ?a } }", "EXISTS and NOT EXISTS")]
    [InlineData("SELECT ?o WHERE { ?o a w:Offering FILTER(exists { ?o w:note ?n }) }", "EXISTS and NOT EXISTS")]
    [InlineData("SELECT ?o WHERE { ?o a w:Offering MINUS { ?o w:availability ?a } }", "MINUS")]
    [InlineData("SELECT ?j WHERE { ?o w:region/w:jurisdiction ?j }", "Property paths")]
    [InlineData("SELECT ?o WHERE { ?o w:cloud|w:region ?x }", "Property paths")]
    [InlineData("SELECT ?o WHERE { ?r ^w:region ?o }", "Property paths")]
    [InlineData("SELECT ?o WHERE { ?o a* ?x }", "Property paths")]
    [InlineData("SELECT ?o WHERE { ?o (w:price/gr:hasCurrency) ?c }", "Property paths")]
    [InlineData("SELECT ?o WHERE { ?o !w:price ?c }", "Property paths")]
    [InlineData("CONSTRUCT { ?o a w:Thing } WHERE { ?o a w:Offering }", "CONSTRUCT")]
    [InlineData("DESCRIBE <offerings/a-small>", "DESCRIBE")]
    [InlineData("SELECT * FROM <file:///etc/passwd> WHERE { ?s ?p ?o }", "FROM and FROM NAMED")]
    [InlineData("SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }", "SERVICE")]
    [InlineData("INSERT DATA { <a> <b> <c> }", "SPARQL Update")]
    [InlineData("SELECT (FLOOR(?p * 10) AS ?f) WHERE { ?pr gr:hasCurrencyValue ?p }", "FLOOR, CEIL and ROUND")]
    [InlineData("SELECT ?p WHERE { ?pr gr:hasCurrencyValue ?p FILTER(round(?p) > 0) }", "FLOOR, CEIL and ROUND")]
    [InlineData("SELECT ?o WHERE { { SELECT ?c WHERE { ?x w:cloud ?c } } ?o w:cloud ?c }", "A subquery joined with other patterns")]
    [InlineData("SELECT ?o WHERE { ?o w:cloud ?c { SELECT ?c WHERE { ?x w:cloud ?c } } }", "A subquery joined with other patterns")]
    [InlineData("SELECT ?o WHERE { { { SELECT ?c WHERE { ?x w:cloud ?c } } } ?o w:cloud ?c }", "A subquery joined with other patterns")]
    [InlineData("SELECT (CONCAT(?l, STR(?v)) AS ?n) WHERE { ?o rdfs:label ?l ; w:vcpus ?v }", "CONCAT of a computed value")]
    [InlineData("SELECT ?o WHERE { ?o rdfs:label ?l FILTER(concat(\"a\", (?l)) = \"x\") }", "CONCAT of a computed value")]
    [InlineData("SELECT (STRAFTER(STRAFTER(?l, \"-\"), \"-\") AS ?n) WHERE { ?o rdfs:label ?l }", "STRBEFORE or STRAFTER of a computed value")]
    [InlineData("SELECT ?o WHERE { ?o rdfs:label ?l FILTER(strbefore(STR(?l), \"M\") = \"\") }", "STRBEFORE or STRAFTER of a computed value")]
    [InlineData("SELECT (STRAFTER(?l, STR(?o)) AS ?n) WHERE { ?o rdfs:label ?l }", "STRBEFORE or STRAFTER of a computed value")]
    [InlineData("SELECT ?j (COUNT(DISTINCT ?c) AS ?n) WHERE { ?c w:region ?r . ?r w:jurisdiction ?j } GROUP BY ?j", "An aggregate over DISTINCT values")]
    [InlineData("SELECT (SUM( distinct ?v) AS ?n) WHERE { ?o w:vcpus ?v }", "An aggregate over DISTINCT values")]
    [InlineData("SELECT (UCASE(?l) AS ?u) WHERE { ?o rdfs:label ?l }", "UCASE and LCASE")]
    [InlineData("SELECT ?o WHERE { ?o rdfs:label ?l FILTER(lcase(?l) = \"x\") }", "UCASE and LCASE")]
    public void UnsupportedFeature_IsRefusedByName(string query, string feature)
    {
        var (results, error) = Run(CatalogData.Prefixes + query);

        Assert.Null(results);
        Assert.Equal(SparqlError.UnsupportedCode, error!.Code);
        Assert.StartsWith(feature, error.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("SELECT ?o WHERE { ?o rdfs:label \"a/b|c^d*e+f?g!h EXISTS MINUS VALUES\" } # MINUS EXISTS ?x/?y")]
    [InlineData("SELECT ?o WHERE { ?o <https://welkin.example/ns#a/b> ?x }")]
    [InlineData("SELECT ?o WHERE { ?o w:minus ?x ; w:exists ?y ; w:values.x ?z }")]
    [InlineData("SELECT * WHERE { ?o w:vcpus ?v FILTER(?v * 2 + 1 > 3 / 1 && !(?v = 4) || ?v - 1 != 0) }")]
    [InlineData("SELECT (COUNT(*) AS ?n) (SUM(?v * 2) AS ?d) WHERE { { SELECT * WHERE { ?o w:vcpus ?v } } }")]
    [InlineData("SELECT ?n WHERE { { SELECT (COUNT(*) AS ?n) WHERE { { SELECT ?o WHERE { ?o w:vcpus ?v } } } } }")]
    [InlineData("SELECT (CONCAT(?l, \"-\", ?l) AS ?n) WHERE { ?o rdfs:label ?l }")]
    [InlineData("SELECT (STRAFTER(?u, \"-\") AS ?n) (STRLEN(STRBEFORE(?l, \"m\")) AS ?b) WHERE { ?o rdfs:label ?l BIND(STR(?l) AS ?u) }")]
    [InlineData("SELECT DISTINCT ?j WHERE { ?r w:jurisdiction ?j }")]
    [InlineData("SELECT (COUNT(*) AS ?n) WHERE { { SELECT DISTINCT ?j WHERE { ?r w:jurisdiction ?j } } }")]
    [InlineData("SELECT ?o WHERE { ?o w:vcpus ?v VALUES ?v { 4 } }")]
    [InlineData("SELECT ?o WHERE { ?o w:vcpus ?v } VALUES (?v ?o) { (+4 <offerings/b-medium>) }")]
    [InlineData("SELECT ?o WHERE { ?o w:vcpus ?v BIND(?v * 2 AS ?w) FILTER(?w > -1) } ORDER BY DESC(?v * 2) LIMIT 3")]
    public void LookAlikes_InStringsIrisCommentsNamesAndExpressions_AreNotRefused(string query)
    {
        var (_, error) = Run(CatalogData.Prefixes + query);

        Assert.Null(error);
    }

    [Fact]
    public void HostileCrossProduct_IsStoppedByTheRowLimit()
    {
        var engine = new SparqlEngine(SparqlLimits.Default with { MaxRows = 1000, MaxCrossProduct = long.MaxValue }, TimeProvider.System);

        var (results, error) = Run("SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }", engine);

        Assert.Null(results);
        Assert.Equal(SparqlError.LimitCode, error!.Code);
        Assert.Contains("1000 rows", error.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void HostileCrossProduct_IsStoppedByTheTimeLimit()
    {
        var clock = new SteppingClock(TimeSpan.FromSeconds(1));
        var engine = new SparqlEngine(SparqlLimits.Default with { MaxRows = int.MaxValue, Timeout = TimeSpan.FromSeconds(30), MaxCrossProduct = long.MaxValue }, clock);

        var (results, error) = Run("SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }", engine);

        Assert.Null(results);
        Assert.Equal(SparqlError.TimeoutCode, error!.Code);
    }

    [Theory]
    [InlineData("SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }")]
    [InlineData("SELECT DISTINCT ?a WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l FILTER(?a = ?l && ?c = 42) } ORDER BY ?a")]
    [InlineData("SELECT (COUNT(*) AS ?n) WHERE { { ?a ?b ?c } { ?d ?e ?f } OPTIONAL { ?g ?h ?i } { ?j ?k ?l } }")]
    public void HostileCrossProduct_ThatRasqalWouldMaterialize_IsRefusedBeforeItRuns(string query)
    {
        var (results, error) = Run(query);

        Assert.Null(results);
        Assert.Equal(SparqlError.LimitCode, error!.Code);
        Assert.Contains("share no variable", error.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("SELECT (COUNT(*) AS ?n) WHERE { ?o w:cloud ?c . ?c w:region ?r . ?r w:jurisdiction ?j . ?o w:price ?p }")]
    [InlineData("SELECT (COUNT(*) AS ?n) WHERE { { ?a w:cloud ?c } UNION { ?a w:region ?c } UNION { ?a w:price ?c } }")]
    [InlineData("SELECT (COUNT(*) AS ?n) WHERE { ?o a w:Offering . ?c a w:Cloud }")]
    public void JoinedPatterns_AndSmallProducts_AreNotRefused(string query)
    {
        var (_, error) = Run(CatalogData.Prefixes + query);

        Assert.Null(error);
    }

    [Fact]
    public void Cancellation_StopsAQueryBetweenRows()
    {
        using var cancel = new CancellationTokenSource();
        cancel.Cancel();

        Assert.ThrowsAny<OperationCanceledException>(() => _engine.Query(_graph, "SELECT * WHERE { ?a ?b ?c }", cancel.Token));
    }

    [Fact]
    public void QueryText_LongerThanTheLimit_IsRefused()
    {
        var engine = new SparqlEngine(SparqlLimits.Default with { MaxQueryLength = 100 }, TimeProvider.System);

        var (_, error) = Run("SELECT * WHERE { ?s ?p ?o } #" + new string('x', 100), engine);

        Assert.Equal(SparqlError.LimitCode, error!.Code);
    }

    [Fact]
    public void Graph_LargerThanTheTripleLimit_IsRefusedWhileLoading()
    {
        var limits = SparqlLimits.Default with { MaxTriples = 50 };

        var (graph, error) = RdfGraph.Load(CatalogData.Turtle, RdfSyntax.Turtle, CatalogData.BaseUri, limits, TimeProvider.System);

        Assert.Null(graph);
        Assert.Equal(SparqlError.LimitCode, error!.Code);
        Assert.Contains("50 triples", error.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Text_LargerThanTheByteLimit_IsRefused()
    {
        var limits = SparqlLimits.Default with { MaxTextBytes = 1000 };

        var (graph, error) = RdfGraph.Load(CatalogData.Turtle, RdfSyntax.Turtle, CatalogData.BaseUri, limits, TimeProvider.System);

        Assert.Null(graph);
        Assert.Equal(SparqlError.LimitCode, error!.Code);
    }

    [Fact]
    public void NTriples_Load()
    {
        using var graph = Load("<http://a.example/s> <http://a.example/p> \"x\"@en .\n<http://a.example/s> <http://a.example/p> _:b .\n");

        Assert.Equal(2, graph.Triples);
    }

    [Fact]
    public async Task QueriesFromManyThreads_AllGiveTheSameAnswer()
    {
        var query = CatalogData.Prefixes + "SELECT ?c (COUNT(?o) AS ?n) WHERE { ?o w:cloud ?c } GROUP BY ?c ORDER BY ?c";
        var expected = Run(query).Results!.ToJson();

        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
            Enumerable.Range(0, 200).Select(_ => Run(query).Results!.ToJson()).Distinct().ToList(), TestContext.Current.CancellationToken)));

        Assert.All(answers, distinct => Assert.Equal([expected], distinct));
    }

    // COUNT(DISTINCT ...) varied between 5 and 6 for DE (it is refused); the rewrite its refusal suggests does not.
    [Fact]
    public void CountOverADistinctSubquery_RepeatedInOneProcess_GivesOneAnswer()
    {
        var query = CatalogData.Prefixes
            + "SELECT ?j (COUNT(?c) AS ?n) WHERE { { SELECT DISTINCT ?j ?c WHERE { ?c w:region ?r . ?r w:jurisdiction ?j } } } GROUP BY ?j";

        var answers = Enumerable.Range(0, 300).Select(_ => Run(query).Results!.ToJson()).Distinct().ToList();

        var rows = Run(query).Results!.Rows.ToDictionary(row => row["j"].Value, row => row["n"].Value);
        Assert.Single(answers);
        Assert.Equal("5", rows["DE"]);
    }

    // Each reading of the clock moves it on, as a long query's would.
    private sealed class SteppingClock(TimeSpan step) : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Interlocked.Add(ref _ticks, step.Ticks);
    }
}

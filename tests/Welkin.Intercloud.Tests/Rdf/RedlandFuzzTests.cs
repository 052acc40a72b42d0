using System.Diagnostics;
using System.Text;
using Welkin.Intercloud.Rdf;

namespace Welkin.Intercloud.Tests.Rdf;

[CollectionDefinition(nameof(RedlandFuzzTests), DisableParallelization = true)]
public sealed class RedlandSerialCollection;

// Whatever text arrives, the binding answers with results or a typed error: it never throws, never
// crashes the process and never leaks what it allocated.
[Collection(nameof(RedlandFuzzTests))]
public sealed class RedlandFuzzTests : IDisposable
{
    private static readonly string[] Vocabulary =
    [
        "SELECT", "ASK", "WHERE", "{", "}", "(", ")", "[", "]", ".", ";", ",", "?x", "?y", "$z", "*", "+", "-", "/", "|", "^", "^^", "!",
        "FILTER", "OPTIONAL", "UNION", "GRAPH", "BIND", "AS", "GROUP", "BY", "ORDER", "HAVING", "LIMIT", "OFFSET", "DISTINCT", "COUNT",
        "SUM", "AVG", "STR", "REGEX", "IN", "NOT", "VALUES", "UNDEF", "a", "<https://cloud.example/x>", "<", ">", "w:vcpus", "rdfs:label",
        "_:b", "\"text\"", "'x'", "\"\"\"long\"\"\"", "@en", "42", "-1.5e3", "true", "#comment\n", "&&", "||", "=", "!=", "PREFIX", "p:",
        "BASE", "\\", "\"unterminated", "\u00e9", "\ud83d\ude00", "%", "CONCAT", "LANG", "IF", "COALESCE", "SELECT *",
    ];

    private readonly RdfGraph _graph;
    private readonly SparqlEngine _engine = new(SparqlLimits.Default with { MaxRows = 500 }, TimeProvider.System);

    public RedlandFuzzTests()
    {
        var (graph, error) = RdfGraph.Load(CatalogData.Turtle, RdfSyntax.Turtle, CatalogData.BaseUri, SparqlLimits.Default, TimeProvider.System);
        Assert.Null(error);
        _graph = graph!;
    }

    public void Dispose() => _graph.Dispose();

    private (SparqlResults? Results, SparqlError? Error) Run(string query) => _engine.Query(_graph, query, TestContext.Current.CancellationToken);

    [Fact]
    public void RandomTokenSoup_GivesResultsOrATypedError()
    {
        var random = new Random(1414);
        var errors = 0;
        for (var n = 0; n < 3000; n++)
        {
            var words = Enumerable.Range(0, random.Next(1, 40)).Select(_ => Vocabulary[random.Next(Vocabulary.Length)]);
            var prefix = random.Next(3) == 0 ? "" : CatalogData.Prefixes + "SELECT * WHERE { ";
            var (results, error) = Run(prefix + string.Join(' ', words));

            Assert.True(results is not null ^ error is not null);
            errors += error is null ? 0 : 1;
        }
        Assert.InRange(errors, 1, 3000);
    }

    [Fact]
    public void HostileQueries_GiveResultsOrATypedError()
    {
        string[] hostile =
        [
            "SELECT ?x WHERE { ?o w:vcpus ?v FILTER(" + new string('(', 5000) + "?v" + new string(')', 5000) + " > 1) }",
            "SELECT ?x WHERE " + new string('{', 3000) + " ?s ?p ?o " + new string('}', 3000),
            "SELECT ?x WHERE { ?s ?p \"" + new string('x', 15_000) + "\" }",
            "SELECT ?x WHERE { ?s ?p ?o FILTER(REGEX(?o, \"(a+)+$\")) }",
            "SELECT ?x WHERE { ?s ?p ?o FILTER(REGEX(?o, \"[\")) }",
            "SELECT (1/0 AS ?x) (xsd:integer(\"abc\") AS ?y) (STRLEN(?unbound) AS ?z) WHERE { }",
            "SELECT ?x WHERE { ?s <" + new string('i', 10_000) + "> ?o }",
            "PREFIX : <x> SELECT * WHERE { :a :b :c }",
            "SELECT * WHERE { ?s ?p ?o } LIMIT -1",
            "SELECT * WHERE { ?s ?p ?o } LIMIT 99999999999999999999999999",
            "SELECT (SUM(?o) AS ?s) (AVG(?o) AS ?a) (MIN(?o) AS ?m) WHERE { ?s ?p ?o } GROUP BY ?p HAVING(COUNT(*) > 1)",
            "ASK",
            "SELECT",
            "",
            "\u0001\u0002\u007f",
            "SELECT ?x WHERE { ?s ?p \"\ud800\" }",
            "SELECT * WHERE { ?s ?p ?o FILTER(?o = \"\\u0000\") }",
        ];
        foreach (var query in hostile)
        {
            var (results, error) = Run(query.StartsWith("PREFIX", StringComparison.Ordinal) ? query : CatalogData.Prefixes + query);

            Assert.True(results is not null ^ error is not null);
        }
    }

    [Fact]
    public void MalformedTurtle_GivesAGraphOrATypedError()
    {
        var random = new Random(1415);
        var original = Encoding.UTF8.GetBytes(CatalogData.Turtle);
        for (var n = 0; n < 400; n++)
        {
            var bytes = (byte[])original.Clone();
            for (var flips = random.Next(1, 8); flips > 0; flips--)
            {
                bytes[random.Next(bytes.Length)] = (byte)random.Next(1, 256);
            }
            var (graph, error) = RdfGraph.Load(bytes, RdfSyntax.Turtle, CatalogData.BaseUri, SparqlLimits.Default, TimeProvider.System);

            Assert.True(graph is not null ^ error is not null);
            graph?.Dispose();
        }
    }

    [Theory]
    [InlineData(new byte[] { 0x3c, 0x61, 0x3e, 0x20, 0x3c, 0x62, 0x3e, 0x20, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x20, 0x2e })]
    [InlineData(new byte[] { 0x3c, 0xed, 0xa0, 0x80, 0x3e, 0x20, 0x3c, 0x62, 0x3e, 0x20, 0x3c, 0x63, 0x3e, 0x20, 0x2e })]
    [InlineData(new byte[] { 0x40, 0x70, 0x72, 0x65, 0x66, 0x69, 0x78, 0x20, 0xc0, 0xaf, 0x3a, 0x20, 0x3c, 0x78, 0x3e, 0x20, 0x2e })]
    [InlineData(new byte[] { 0x3c, 0x61, 0x3e, 0x20, 0x3c, 0x62, 0x3e, 0x20, 0x22, 0x00, 0x22, 0x20, 0x2e })]
    public void InvalidUtf8OrNulInTurtle_GivesAGraphOrATypedError(byte[] turtle)
    {
        var (graph, error) = RdfGraph.Load(turtle, RdfSyntax.Turtle, CatalogData.BaseUri, SparqlLimits.Default, TimeProvider.System);

        Assert.True(graph is not null ^ error is not null);
        if (graph is not null)
        {
            using var _ = graph;
            var (results, queryError) = _engine.Query(graph, "SELECT * WHERE { ?s ?p ?o }", TestContext.Current.CancellationToken);
            Assert.Null(queryError);
            Assert.NotEmpty(results!.ToJson());
            Assert.NotEmpty(results.ToXml());
        }
    }

    [Fact]
    public void HugeLiteral_LoadsAndComesBackWhole()
    {
        var value = new string('λ', 2_000_000);
        using var graph = RdfGraph.Load($"<http://a.example/s> <http://a.example/p> \"{value}\" .", RdfSyntax.Turtle, CatalogData.BaseUri, SparqlLimits.Default, TimeProvider.System).Graph!;

        var (results, error) = _engine.Query(graph, "SELECT ?o WHERE { ?s ?p ?o }", TestContext.Current.CancellationToken);

        Assert.Null(error);
        Assert.Equal(value, results!.Rows.Single()["o"].Value);
    }

    // Thousands of load-query-free cycles free every Redland object they allocate, and the process's
    // memory settles instead of growing with the count (Redland's own allocations inside a query).
    [Fact]
    public void LoadQueryFree_ThousandsOfCycles_DoesNotGrowTheProcess()
    {
        long Cycles(int count)
        {
            var live = RedlandHandle.Live;
            for (var n = 0; n < count; n++)
            {
                using var graph = RdfGraph.Load(CatalogData.Turtle, RdfSyntax.Turtle, CatalogData.BaseUri, SparqlLimits.Default, TimeProvider.System).Graph!;
                Assert.Null(_engine.Query(graph, CatalogData.Prefixes + "SELECT ?o (CONCAT(?l, \"!\") AS ?x) WHERE { ?o rdfs:label ?l } ORDER BY ?l", TestContext.Current.CancellationToken).Error);
                Assert.NotNull(_engine.Query(graph, "SELECT WHERE {", TestContext.Current.CancellationToken).Error);
            }
            Assert.Equal(live, RedlandHandle.Live);
            GC.Collect();
            GC.WaitForPendingFinalizers();
            using var process = Process.GetCurrentProcess();
            return process.PrivateMemorySize64;
        }

        Cycles(500);
        var warm = Cycles(2000);
        var after = Cycles(4000);

        // A leak of even one 89-triple graph per cycle would be several hundred MiB over 4000 cycles.
        Assert.True(after - warm < 32L * 1024 * 1024, $"private memory grew from {warm} to {after} bytes");
    }
}

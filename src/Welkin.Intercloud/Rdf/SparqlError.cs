namespace Welkin.Intercloud.Rdf;

/// <summary>
/// An expected failure of loading RDF or running SPARQL (a syntax error, a refused feature, a limit
/// exceeded): a value with a stable code and a detail that may be shown to the caller.
/// </summary>
public sealed record SparqlError(string Code, string Detail)
{
    public const string SyntaxCode = "sparql-syntax";
    public const string UnsupportedCode = "sparql-unsupported";
    public const string LimitCode = "sparql-limit";
    public const string TimeoutCode = "sparql-timeout";
    public const string RdfSyntaxCode = "rdf-syntax";
    public const string FailedCode = "sparql-failed";

    public static SparqlError Syntax(string detail) => new(SyntaxCode, detail);

    public static SparqlError Unsupported(string feature, string why) =>
        new(UnsupportedCode, $"{feature} is not supported by this cloud's SPARQL engine: {why}.");

    public static SparqlError Limit(string detail) => new(LimitCode, detail);
}

/// <summary>The bounds every load and query runs within.</summary>
/// <param name="MaxQueryLength">Characters of query text.</param>
/// <param name="MaxTriples">Triples in one graph; it also bounds the work Rasqal does without yielding (sorting, grouping).</param>
/// <param name="MaxRows">Result rows; a query that would give more fails rather than answering part.</param>
/// <param name="MaxTextBytes">UTF-8 bytes of RDF text loaded at once.</param>
/// <param name="Timeout">Wall time of a query, checked between result rows and after loading a graph.</param>
/// <param name="MaxCrossProduct">Rows a join of patterns sharing no variable may cost (triples to the power of the parts), judged before the query runs.</param>
public sealed record SparqlLimits(int MaxQueryLength, int MaxTriples, int MaxRows, int MaxTextBytes, TimeSpan Timeout, long MaxCrossProduct)
{
    public static SparqlLimits Default { get; } = new(
        MaxQueryLength: 16 * 1024, MaxTriples: 200_000, MaxRows: 10_000, MaxTextBytes: 32 * 1024 * 1024, Timeout: TimeSpan.FromSeconds(10),
        MaxCrossProduct: 10_000_000);
}

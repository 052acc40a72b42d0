using Welkin.Core.Catalog.Description;
using Welkin.Core.Common;
using Welkin.Core.Security;
using Welkin.Intercloud.Rdf;

namespace Welkin.Server.Federation;

/// <summary>
/// One SPARQL query over this cloud's catalog description as it stands: the description is built,
/// loaded into Redland and queried, and the graph freed. The HTTP endpoint and the federation's IQ
/// answer through it, so both give the same rows. Failures are <see cref="Error"/> values whose code is
/// the engine's (sparql-syntax, sparql-unsupported, sparql-limit, sparql-timeout, sparql-failed).
/// </summary>
public sealed class CatalogQuery(CatalogDescriptionService descriptions, SparqlEngine engine)
{
    public SparqlLimits Limits => engine.Limits;

    public async Task<Result<SparqlResults>> RunAsync(Caller caller, DescribedCloud cloud, string query, CancellationToken ct)
    {
        var triples = await descriptions.DescribeAsync(caller, cloud, ct);
        if (!triples.IsSuccess)
        {
            return triples.Error!;
        }
        var (graph, loadError) = RdfGraph.Load(TurtleWriter.Write(triples.Value), RdfSyntax.Turtle, new Uri(cloud.ApiBase + "/catalog/description"), engine.Limits, TimeProvider.System);
        if (loadError is not null)
        {
            return new Error("description-unavailable", ErrorKind.Unavailable, "The catalog description could not be loaded for querying.") { Cause = loadError.Detail };
        }
        using (graph)
        {
            var (results, error) = engine.Query(graph!, query, ct);
            return error is null ? results! : ToError(error);
        }
    }

    /// <summary>
    /// Query syntax and refused features are the caller's to fix (400); a limit reached by a valid
    /// query cannot be answered as it stands (422); a query out of time may succeed when the cloud is
    /// less busy (503).
    /// </summary>
    public static Error ToError(SparqlError error) => error.Code switch
    {
        SparqlError.SyntaxCode or SparqlError.UnsupportedCode => new(error.Code, ErrorKind.Validation, error.Detail),
        SparqlError.TimeoutCode => new(error.Code, ErrorKind.Unavailable, error.Detail),
        _ => new(error.Code, ErrorKind.Unprocessable, error.Detail),
    };
}

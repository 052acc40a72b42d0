using Welkin.Core.Catalog.Description;
using Welkin.Core.Common;
using Welkin.Core.Security;
using Welkin.Intercloud.Rdf;

namespace Welkin.Server.Federation;

/// <summary>
/// One SPARQL query over this cloud's catalog description as it stands. The loaded graph is kept while
/// the catalog's stamp (<see cref="CatalogDescriptionService.StampAsync"/>: one query of aggregates over
/// offerings and templates, and the fabric's regions) stays the same; any change to an offering or a
/// template changes it, so a publication, a withdrawal or a new price plan shows at the next query, and
/// a catalog that did not change is neither built nor loaded again. One
/// graph is kept per API base (the HTTP endpoint describes the cloud under the host it was called at,
/// the federation under Federation:Url), at most <see cref="MaxGraphs"/>. The HTTP endpoint and the
/// federation's IQ answer through it, so both give the same rows. Failures are <see cref="Error"/>
/// values whose code is the engine's (sparql-syntax, sparql-unsupported, sparql-limit, sparql-timeout,
/// sparql-failed).
/// </summary>
public sealed class CatalogQuery(CatalogDescriptionService descriptions, SparqlEngine engine) : IDisposable
{
    /// <summary>Graphs kept at once; a caller that varies its Host header only makes the oldest go.</summary>
    public const int MaxGraphs = 4;

    // Queries are serialized by Redland anyway; the gate also keeps a graph from being freed while a query reads it.
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, (string Stamp, RdfGraph Graph, long Used)> _graphs = new(StringComparer.Ordinal);
    private long _uses;
    private int _loads;

    public SparqlLimits Limits => engine.Limits;

    /// <summary>How many descriptions were loaded into the engine since start (for tests and diagnostics).</summary>
    public int Loads => Volatile.Read(ref _loads);

    public async Task<Result<SparqlResults>> RunAsync(Caller caller, DescribedCloud cloud, string query, CancellationToken ct)
    {
        // Checked here as well as by the description's service, which a kept graph does not ask.
        if (!caller.Can(Permission.CatalogBrowse))
        {
            return Error.Forbidden("Browsing the catalog needs the catalog-browse permission.");
        }
        var stamp = await descriptions.StampAsync(cloud, ct);
        await _gate.WaitAsync(ct);
        try
        {
            var graph = await GraphAsync(caller, cloud, stamp, ct);
            if (!graph.IsSuccess)
            {
                return graph.Error!;
            }
            var (results, error) = engine.Query(graph.Value!, query, ct);
            return error is null ? results! : ToError(error);
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose()
    {
        foreach (var (_, graph, _) in _graphs.Values)
        {
            graph.Dispose();
        }
        _graphs.Clear();
        _gate.Dispose();
    }

    /// <summary>
    /// The graph of the description under <paramref name="cloud"/>'s API base: the kept one while the
    /// catalog's stamp is the same, else the description built, written and loaded afresh. Null with no
    /// error when the caller may not read the description.
    /// </summary>
    private async Task<Result<RdfGraph>> GraphAsync(Caller caller, DescribedCloud cloud, string stamp, CancellationToken ct)
    {
        var apiBase = cloud.ApiBase;
        if (_graphs.TryGetValue(apiBase, out var kept) && kept.Stamp == stamp)
        {
            _graphs[apiBase] = kept with { Used = ++_uses };
            return kept.Graph;
        }
        var triples = await descriptions.DescribeAsync(caller, cloud, ct);
        if (!triples.IsSuccess)
        {
            return triples.Error!;
        }
        Interlocked.Increment(ref _loads);
        var (graph, error) = RdfGraph.Load(TurtleWriter.Write(triples.Value), RdfSyntax.Turtle, new Uri(apiBase + "/catalog/description"), engine.Limits, TimeProvider.System);
        if (graph is null)
        {
            return new Error("description-unavailable", ErrorKind.Unavailable, "The catalog description could not be loaded for querying.") { Cause = error!.Detail };
        }
        if (_graphs.Remove(apiBase, out var stale))
        {
            stale.Graph.Dispose();
        }
        else if (_graphs.Count >= MaxGraphs)
        {
            var oldest = _graphs.MinBy(g => g.Value.Used);
            _graphs.Remove(oldest.Key);
            oldest.Value.Graph.Dispose();
        }
        _graphs[apiBase] = (stamp, graph, ++_uses);
        return graph;
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

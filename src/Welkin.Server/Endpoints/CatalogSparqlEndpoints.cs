using System.Text;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using Welkin.Core.Common;
using Welkin.Core.Security;
using Welkin.Intercloud.Rdf;
using Welkin.Intercloud.Trust;
using Welkin.Server.Federation;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Endpoints;

/// <summary>
/// The SPARQL 1.1 Protocol query operation over this cloud's catalog description, the same graph
/// <c>GET /api/v1/catalog/description</c> serves at the time of the request. Anonymous, like it.
/// </summary>
public static class CatalogSparqlEndpoints
{
    public const string SparqlQueryMediaType = "application/sparql-query";
    private const string FormMediaType = "application/x-www-form-urlencoded";
    private static readonly string[] Offered = [SparqlResults.JsonMediaType, SparqlResults.XmlMediaType];
    private static readonly string[] DatasetParameters = ["default-graph-uri", "named-graph-uri"];

    public static IEndpointRouteBuilder MapCatalogSparql(this IEndpointRouteBuilder app)
    {
        var sparql = app.MapAnonymousInterface("/api/v1/catalog/sparql", "Service Catalog");
        sparql.MapGet("/", QueryByGet).WithName("catalog.sparql.get")
            .Produces<string>(StatusCodes.Status200OK, SparqlResults.JsonMediaType, SparqlResults.XmlMediaType)
            .WithSummary("Run a SPARQL SELECT or ASK query (the query parameter) over the catalog description; results as JSON or XML by the Accept header (no token needed)");
        sparql.MapPost("/", QueryByPost).WithName("catalog.sparql.post")
            .Accepts<string>(SparqlQueryMediaType, FormMediaType)
            .Produces<string>(StatusCodes.Status200OK, SparqlResults.JsonMediaType, SparqlResults.XmlMediaType)
            .WithSummary("Run a SPARQL SELECT or ASK query, sent as application/sparql-query or as the form field query, over the catalog description (no token needed)");
        return app;
    }

    private static Task<Results<ContentHttpResult, ProblemHttpResult>> QueryByGet(
        Caller caller, CatalogQuery queries, FederationOptions federation, HttpContext context, CancellationToken ct) =>
        AnswerAsync(caller, queries, federation, context, FromParameters(context.Request.Query), ct);

    private static async Task<Results<ContentHttpResult, ProblemHttpResult>> QueryByPost(
        Caller caller, CatalogQuery queries, FederationOptions federation, HttpContext context, CancellationToken ct)
    {
        var request = context.Request;
        var contentType = MediaTypeHeaderValue.TryParse(request.ContentType, out var parsed) ? parsed.MediaType.Value : null;
        var isQuery = string.Equals(contentType, SparqlQueryMediaType, StringComparison.OrdinalIgnoreCase);
        if (!isQuery && !string.Equals(contentType, FormMediaType, StringComparison.OrdinalIgnoreCase))
        {
            return Problems.From(new Error("unsupported-media-type", ErrorKind.UnsupportedMediaType,
                $"A SPARQL query is posted as {SparqlQueryMediaType} or {FormMediaType}."), context);
        }
        // A character is at most 4 UTF-8 bytes, and 3 times that once percent-encoded in a form.
        var text = await ReadBodyAsync(request, queries.Limits.MaxQueryLength * (isQuery ? 4 : 12) + 64, ct);
        if (text is null)
        {
            return Problems.From(TooLong(queries), context);
        }
        var query = isQuery
            ? (Query: (string?)text, Error: (Error?)null)
            : FromParameters(QueryHelpers.ParseQuery(text.StartsWith('?') ? text : "?" + text));
        return await AnswerAsync(caller, queries, federation, context, query, ct);
    }

    private static async Task<Results<ContentHttpResult, ProblemHttpResult>> AnswerAsync(
        Caller caller, CatalogQuery queries, FederationOptions federation, HttpContext context,
        (string? Query, Error? Error) given, CancellationToken ct)
    {
        context.Response.Headers.Vary = "Accept";
        if (CatalogDescriptionEndpoints.Negotiate(context.Request.Headers.Accept, Offered) is not { } mediaType)
        {
            return Problems.From(new Error("not-acceptable", ErrorKind.NotAcceptable,
                $"SPARQL results are served as {string.Join(" or ", Offered)}."), context);
        }
        if (given.Error is not null)
        {
            return Problems.From(given.Error, context);
        }
        if (string.IsNullOrWhiteSpace(given.Query))
        {
            return Problems.From(new Error("missing-query", ErrorKind.Validation, "The request carries no SPARQL query (the query parameter, or an application/sparql-query body)."), context);
        }
        if (given.Query.Length > queries.Limits.MaxQueryLength)
        {
            return Problems.From(TooLong(queries), context);
        }
        var results = await queries.RunAsync(caller, CatalogDescriptionEndpoints.Cloud(federation, context), given.Query, ct);
        if (!results.IsSuccess)
        {
            return Problems.From(results.Error!, context);
        }
        context.Response.Headers.CacheControl = "no-cache";
        var body = mediaType == SparqlResults.JsonMediaType ? results.Value.ToJson() : results.Value.ToXml();
        return TypedResults.Content(body, mediaType + "; charset=utf-8", Encoding.UTF8);
    }

    private static Error TooLong(CatalogQuery queries) =>
        new(SparqlError.LimitCode, ErrorKind.PayloadTooLarge, $"The query is longer than the limit of {queries.Limits.MaxQueryLength} characters.");

    private static (string? Query, Error? Error) FromParameters(IEnumerable<KeyValuePair<string, StringValues>> parameters)
    {
        var all = parameters.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        if (DatasetParameters.FirstOrDefault(all.ContainsKey) is { } dataset)
        {
            return (null, new Error(SparqlError.UnsupportedCode, ErrorKind.Validation,
                $"{dataset} is not supported by this cloud's SPARQL endpoint: it queries the catalog description only."));
        }
        if (!all.TryGetValue("query", out var query))
        {
            return (null, null);
        }
        return query.Count > 1
            ? (null, new Error("validation-failed", ErrorKind.Validation, "The query parameter is given more than once."))
            : (query.ToString(), null);
    }

    private static async Task<string?> ReadBodyAsync(HttpRequest request, int maxBytes, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > maxBytes)
            {
                return null;
            }
            buffer.Write(chunk, 0, read);
        }
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}

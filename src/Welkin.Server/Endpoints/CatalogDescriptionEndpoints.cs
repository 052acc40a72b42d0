using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using Welkin.Core.Catalog.Description;
using Welkin.Core.Common;
using Welkin.Core.Security;
using Welkin.Intercloud.Trust;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Endpoints;

/// <summary>
/// The public catalog as RDF in Welkin's ontology (docs/ontology/welkin.ttl), at one stable URL for
/// every format: Turtle or JSON-LD by content negotiation. Anonymous, like the catalog it describes.
/// </summary>
public static class CatalogDescriptionEndpoints
{
    private static readonly string[] Offered = [TurtleWriter.MediaType, JsonLdWriter.MediaType];

    public static IEndpointRouteBuilder MapCatalogDescription(this IEndpointRouteBuilder app)
    {
        var description = app.MapAnonymousInterface("/api/v1/catalog/description", "Service Catalog");
        description.MapGet("/", Describe).WithName("catalog.description")
            .Produces<string>(StatusCodes.Status200OK, TurtleWriter.MediaType, JsonLdWriter.MediaType)
            .WithSummary("Describe the published catalog in RDF: text/turtle or application/ld+json by the Accept header (no token needed)");
        return app;
    }

    private static async Task<Results<ContentHttpResult, StatusCodeHttpResult, ProblemHttpResult>> Describe(
        Caller caller, CatalogDescriptionService descriptions, FederationOptions federation, HttpContext context, CancellationToken ct)
    {
        context.Response.Headers.Vary = "Accept";
        if (Negotiate(context.Request.Headers.Accept) is not { } mediaType)
        {
            return Problems.From(new Error("not-acceptable", ErrorKind.NotAcceptable,
                $"The catalog description is served as {string.Join(" or ", Offered)}."), context);
        }
        var request = context.Request;
        var triples = await descriptions.DescribeAsync(caller, Cloud(federation, context), ct);
        if (!triples.IsSuccess)
        {
            return Problems.From(triples.Error!, context);
        }
        var body = mediaType == TurtleWriter.MediaType ? TurtleWriter.Write(triples.Value) : JsonLdWriter.Write(triples.Value);
        // The description is built at every request, so a change to the catalog shows in the next one;
        // the strong ETag spares a caller that polls the body when nothing changed.
        var etag = "\"" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(body)).AsSpan(0, 16)) + "\"";
        context.Response.Headers.ETag = etag;
        context.Response.Headers.CacheControl = "no-cache";
        if (request.Headers.IfNoneMatch.Any(v => v is not null && v.Split(',').Any(t => t.Trim() == etag || t.Trim() == "*")))
        {
            return TypedResults.StatusCode(StatusCodes.Status304NotModified);
        }
        return TypedResults.Content(body, mediaType + "; charset=utf-8", Encoding.UTF8);
    }

    /// <summary>This cloud as its description names it, from the request's own address.</summary>
    internal static DescribedCloud Cloud(FederationOptions federation, HttpContext context)
    {
        var fingerprint = federation.Enabled ? context.RequestServices.GetService<FederationCredentials>()?.Fingerprint : null;
        var request = context.Request;
        return new DescribedCloud($"{request.Scheme}://{request.Host}{request.PathBase}/api/v1",
            federation.Enabled ? federation.Name : null, federation.Enabled ? federation.Url : null, fingerprint);
    }

    internal static string? Negotiate(StringValues accept) => Negotiate(accept, Offered);

    /// <summary>
    /// RFC 9110 12.5.1: the offered type with the highest quality, each type weighed by the most
    /// specific range that matches it; the first offered when the caller says nothing or ties.
    /// </summary>
    internal static string? Negotiate(StringValues accept, IReadOnlyList<string> offers)
    {
        if (StringValues.IsNullOrEmpty(accept) || !MediaTypeHeaderValue.TryParseList(accept, out var ranges) || ranges.Count == 0)
        {
            return StringValues.IsNullOrEmpty(accept) ? offers[0] : null;
        }
        string? best = null;
        var bestQuality = 0.0;
        foreach (var offered in offers)
        {
            var slash = offered.IndexOf('/', StringComparison.Ordinal);
            var matches = ranges
                .Select(r => (Range: r, Specificity: Specificity(r, offered, offered[..slash])))
                .Where(m => m.Specificity >= 0)
                .OrderByDescending(m => m.Specificity)
                .ToList();
            if (matches.Count == 0)
            {
                continue;
            }
            var quality = matches[0].Range.Quality ?? 1.0;
            if (quality > bestQuality)
            {
                (best, bestQuality) = (offered, quality);
            }
        }
        return best;
    }

    private static int Specificity(MediaTypeHeaderValue range, string offered, string type) =>
        range.MediaType.Equals(offered, StringComparison.OrdinalIgnoreCase) ? 2
        : range.MatchesAllSubTypes && range.Type.Equals(type, StringComparison.OrdinalIgnoreCase) ? 1
        : range.MatchesAllTypes ? 0
        : -1;
}

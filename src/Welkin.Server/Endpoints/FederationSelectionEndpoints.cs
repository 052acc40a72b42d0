using Microsoft.AspNetCore.Http.HttpResults;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Security;
using Welkin.Server.Federation;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Endpoints;

/// <summary>Federated selection: this cloud asks its trusted peers, over the exchange, for offerings or any SPARQL query.</summary>
public static class FederationSelectionEndpoints
{
    private const int MaxPeers = 100;

    public static IEndpointRouteBuilder MapFederationSelection(this IEndpointRouteBuilder app)
    {
        var federation = app.MapInterface("/api/v1/federation", "Federation");
        federation.MapGet("/offers", FindOffers).WithName("federation.offer-find")
            .WithSummary("Find offerings of the trusted peers by vcpus, memory, jurisdiction, maxPrice (per cpu-hour, with currency) and availability, ranked by price then availability; names the peers that did not answer");
        federation.MapPost("/query", Query).WithName("federation.query")
            .WithSummary("Run a SPARQL query at the trusted peers (all, or those named) over their catalog descriptions; each answer as SPARQL results JSON, and the peers that did not answer");
        return app;
    }

    private static async Task<Results<Ok<FederatedOfferList>, ProblemHttpResult>> FindOffers(
        Caller caller, HttpContext context, CancellationToken ct,
        string? vcpus = null, string? memory = null, string? jurisdiction = null, string? maxPrice = null, string? currency = null, string? availability = null)
    {
        if (Refused(caller, context) is { } refused)
        {
            return Problems.From(refused, context);
        }
        var criteria = OfferCriteria.Parse(vcpus, memory, jurisdiction, maxPrice, currency, availability);
        if (!criteria.IsSuccess)
        {
            return Problems.From(criteria.Error!, context);
        }
        return TypedResults.Ok(await context.RequestServices.GetRequiredService<FederatedSelection>().FindAsync(criteria.Value, ct));
    }

    private static async Task<Results<Ok<FederatedQueryResult>, ProblemHttpResult>> Query(
        FederatedQueryRequest? request, Caller caller, CatalogQuery queries, HttpContext context, CancellationToken ct)
    {
        if (Refused(caller, context) is { } refused)
        {
            return Problems.From(refused, context);
        }
        if (string.IsNullOrWhiteSpace(request?.Sparql))
        {
            return Problems.From(new Error("validation-failed", ErrorKind.Validation, "sparql must hold the query to run."), context);
        }
        if (request.Sparql.Length > queries.Limits.MaxQueryLength)
        {
            return Problems.From(new Error("validation-failed", ErrorKind.Validation, $"sparql is longer than the limit of {queries.Limits.MaxQueryLength} characters."), context);
        }
        if (request.Peers is { Count: > MaxPeers } || request.Peers?.Any(string.IsNullOrWhiteSpace) == true)
        {
            return Problems.From(new Error("validation-failed", ErrorKind.Validation, $"peers, when given, names 1 to {MaxPeers} peers, none empty."), context);
        }
        var result = await context.RequestServices.GetRequiredService<FederatedSelection>().QueryAsync(request.Sparql, request.Peers, ct);
        return result.IsSuccess ? TypedResults.Ok(result.Value) : Problems.From(result.Error!, context);
    }

    private static Error? Refused(Caller caller, HttpContext context)
    {
        if (!caller.Can(Permission.FabricRead))
        {
            return Error.Forbidden("Asking the federation's peers needs the operator or provider-admin role.");
        }
        return context.RequestServices.GetService<FederatedSelection>() is null
            ? new Error("federation-off", ErrorKind.Conflict, "This cloud is not part of a federation (no Federation section is configured).")
            : null;
    }
}

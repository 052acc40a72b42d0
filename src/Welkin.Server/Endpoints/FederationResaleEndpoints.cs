using Microsoft.AspNetCore.Http.HttpResults;
using Welkin.Contracts;
using Welkin.Core.Security;
using Welkin.Server.Federation;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Endpoints;

/// <summary>A broker's resales of peers' offerings, for the provider admin (docs/federation.md, "A broker cloud").</summary>
public static class FederationResaleEndpoints
{
    public static IEndpointRouteBuilder MapFederationResales(this IEndpointRouteBuilder app)
    {
        var resales = app.MapInterface("/api/v1/federation/resales", "Federation");
        resales.MapPost("/", Create).WithName("federation.resale-create")
            .WithSummary("Resell a peer's offering covered by an agreement in force: publish it here with this cloud's template, its prices plus a margin (provider admin)");
        resales.MapGet("/", List).WithName("federation.resale-list").WithSummary("List this cloud's resales, all or those of one agreement (provider admin)");
        resales.MapGet("/{id}", Get).WithName("federation.resale-get").WithSummary("Show one resale (provider admin)");
        return app;
    }

    private static async Task<Results<Created<ResaleView>, ProblemHttpResult>> Create(
        ResaleRequest request, Caller caller, Resales resales, HttpContext context, CancellationToken ct) =>
        (await resales.CreateAsync(caller, request, ct)).ToCreated(context, r => $"/api/v1/federation/resales/{r.Id}");

    private static async Task<Results<Ok<IReadOnlyList<ResaleView>>, ProblemHttpResult>> List(
        Caller caller, Resales resales, HttpContext context, CancellationToken ct, string? agreement = null) =>
        (await resales.ListAsync(caller, agreement, ct)).ToOk(context);

    private static async Task<Results<Ok<ResaleView>, ProblemHttpResult>> Get(
        string id, Caller caller, Resales resales, HttpContext context, CancellationToken ct) =>
        (await resales.GetAsync(caller, id, ct)).ToOk(context);
}

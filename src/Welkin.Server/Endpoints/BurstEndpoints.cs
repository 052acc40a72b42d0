using Microsoft.AspNetCore.Http.HttpResults;
using Welkin.Contracts;
using Welkin.Core.Federation;
using Welkin.Core.Security;
using Welkin.Server.Federation;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Endpoints;

/// <summary>
/// Bursting, for the provider admin (docs/federation.md, "Bursting"): the cloud's bursting policy,
/// and the reconciliation of a peer's charges with this cloud's revenue from the machines it placed there.
/// </summary>
public static class BurstEndpoints
{
    public static IEndpointRouteBuilder MapBursting(this IEndpointRouteBuilder app)
    {
        var burst = app.MapInterface("/api/v1/federation/burst", "Federation");
        burst.MapGet("/", GetPolicy).WithName("federation.burst-get")
            .WithSummary("Show the cloud's bursting policy: whether machines may burst to peers' pools, to which peers, under which price ceiling (provider admin)");
        burst.MapPut("/", SetPolicy).WithName("federation.burst-set")
            .WithSummary("Replace the cloud's bursting policy; its version must be the one replaced (0 before the first) (provider admin)");

        var agreements = app.MapInterface("/api/v1/federation/agreements", "Federation");
        agreements.MapGet("/{id}/reconciliation", Reconcile).WithName("federation.agreement-reconciliation")
            .WithSummary("Reconcile an agreement this cloud consumes for a billing period: the peer's charges, this cloud's revenue from the machines it placed there, and the difference (provider admin)");
        return app;
    }

    private static async Task<Results<Ok<CloudBurstPolicy>, ProblemHttpResult>> GetPolicy(
        Caller caller, BurstPolicies policies, HttpContext context, CancellationToken ct) =>
        FederationAgreements.RequireAdmin(caller) is { } denied ? Problems.From(denied, context) : TypedResults.Ok(await policies.GetAsync(ct));

    private static async Task<Results<Ok<CloudBurstPolicy>, ProblemHttpResult>> SetPolicy(
        CloudBurstPolicy policy, Caller caller, BurstPolicies policies, HttpContext context, CancellationToken ct)
    {
        if (FederationAgreements.RequireAdmin(caller) is { } denied)
        {
            return Problems.From(denied, context);
        }
        return (await policies.SetAsync(caller, policy, policy.Version, ct)).ToOk(context);
    }

    private static async Task<Results<Ok<AgreementReconciliation>, ProblemHttpResult>> Reconcile(
        string id, string? period, Caller caller, BurstReconciliation reconciliation, HttpContext context, CancellationToken ct) =>
        (await reconciliation.ReconcileAsync(caller, id, period, ct)).ToOk(context);
}

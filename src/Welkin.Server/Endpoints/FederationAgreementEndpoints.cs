using Microsoft.AspNetCore.Http.HttpResults;
using Welkin.Contracts;
using Welkin.Core.Federation;
using Welkin.Core.Security;
using Welkin.Server.Federation;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Endpoints;

/// <summary>
/// Federation agreements and the federation policy, for the provider admin (docs/federation.md,
/// "Federation agreements"): this cloud's agreements on both sides, and the policy it evaluates peers' proposals against.
/// </summary>
public static class FederationAgreementEndpoints
{
    public static IEndpointRouteBuilder MapFederationAgreements(this IEndpointRouteBuilder app)
    {
        var policy = app.MapInterface("/api/v1/federation/policy", "Federation");
        policy.MapGet("/", GetPolicy).WithName("federation.policy-get")
            .WithSummary("Show the federation policy peers' agreement proposals are evaluated against (provider admin)");
        policy.MapPut("/", SetPolicy).WithName("federation.policy-set")
            .WithSummary("Replace the federation policy; its version must be the one replaced (0 before the first) (provider admin)");

        var agreements = app.MapInterface("/api/v1/federation/agreements", "Federation");
        agreements.MapPost("/", Request).WithName("federation.agreement-request")
            .WithSummary("Ask a trusted peer for a federation agreement: recorded proposed, then proposed to the peer over mutual TLS (provider admin)");
        agreements.MapGet("/", List).WithName("federation.agreement-list").WithSummary("List this cloud's federation agreements, as consumer and as provider (provider admin)");
        agreements.MapGet("/{id}", Get).WithName("federation.agreement-get").WithSummary("Show one federation agreement with its versions (provider admin)");
        agreements.MapPut("/{id}", Amend).WithName("federation.agreement-amend")
            .WithSummary("Amend an agreement this cloud consumes: the provider re-evaluates the new terms (provider admin)");
        agreements.MapPost("/{id}/terminate", Terminate).WithName("federation.agreement-terminate")
            .WithSummary("Terminate a federation agreement and tell the peer (provider admin)");
        agreements.MapGet("/{id}/usage", Usage).WithName("federation.agreement-usage")
            .WithSummary("Read the provider's usage and invoices for an agreement this cloud consumes, with the agreement's credential (provider admin)");
        return app;
    }

    private static async Task<Results<Ok<FederationPolicy>, ProblemHttpResult>> GetPolicy(
        Caller caller, AgreementStore store, HttpContext context, CancellationToken ct) =>
        FederationAgreements.RequireAdmin(caller) is { } denied ? Problems.From(denied, context) : TypedResults.Ok(await store.GetPolicyAsync(ct));

    private static async Task<Results<Ok<FederationPolicy>, ProblemHttpResult>> SetPolicy(
        FederationPolicy policy, Caller caller, AgreementStore store, HttpContext context, CancellationToken ct)
    {
        if (FederationAgreements.RequireAdmin(caller) is { } denied)
        {
            return Problems.From(denied, context);
        }
        if (AgreementEvaluation.Validate(policy) is { } invalid)
        {
            return Problems.From(invalid, context);
        }
        return (await store.SetPolicyAsync(caller, policy, policy.Version, ct)).ToOk(context);
    }

    private static async Task<Results<Created<AgreementView>, ProblemHttpResult>> Request(
        AgreementRequest request, Caller caller, FederationAgreements agreements, HttpContext context, CancellationToken ct) =>
        (await agreements.RequestAsync(caller, request, ct)).ToCreated(context, a => $"/api/v1/federation/agreements/{a.Id}");

    private static async Task<Results<Ok<IReadOnlyList<AgreementView>>, ProblemHttpResult>> List(
        Caller caller, FederationAgreements agreements, HttpContext context, CancellationToken ct) =>
        (await agreements.ListAsync(caller, ct)).ToOk(context);

    private static async Task<Results<Ok<AgreementDetail>, ProblemHttpResult>> Get(
        string id, Caller caller, FederationAgreements agreements, HttpContext context, CancellationToken ct) =>
        (await agreements.GetAsync(caller, id, ct)).ToOk(context);

    private static async Task<Results<Ok<AgreementView>, ProblemHttpResult>> Amend(
        string id, AgreementAmendment amendment, Caller caller, FederationAgreements agreements, HttpContext context, CancellationToken ct) =>
        (await agreements.AmendAsync(caller, id, amendment, ct)).ToOk(context);

    private static async Task<Results<Ok<AgreementView>, ProblemHttpResult>> Terminate(
        string id, AgreementTermination request, Caller caller, FederationAgreements agreements, HttpContext context, CancellationToken ct) =>
        (await agreements.TerminateAsync(caller, id, request, ct)).ToOk(context);

    private static async Task<Results<Ok<AgreementUsage>, ProblemHttpResult>> Usage(
        string id, Caller caller, FederationAgreements agreements, HttpContext context, CancellationToken ct) =>
        (await agreements.UsageAsync(caller, id, ct)).ToOk(context);
}

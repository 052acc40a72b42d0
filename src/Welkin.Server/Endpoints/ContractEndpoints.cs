using Microsoft.AspNetCore.Http.HttpResults;
using Welkin.Contracts;
using Welkin.Core.Accounts;
using Welkin.Core.Contracts;
using Welkin.Core.Security;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Endpoints;

/// <summary>Contracts (Service Manager): request, accept or reject a proposal, amend, terminate; account quotas and closing.</summary>
public static class ContractEndpoints
{
    public static IEndpointRouteBuilder MapContracts(this IEndpointRouteBuilder app)
    {
        var group = app.MapInterface("/api/v1/contracts", "Service Manager");
        group.MapPost("/", Request).WithName("contract.request").WithSummary("Request a contract for offerings; it starts as proposed").WithIdempotency();
        group.MapGet("/", List).WithName("contract.list").WithSummary("List contracts");
        group.MapGet("/{id}", Get).WithName("contract.get").WithSummary("Get one contract with the use of each line");
        group.MapPost("/{id}/accept", Accept).WithName("contract.accept").WithSummary("Accept a proposed contract");
        group.MapPost("/{id}/reject", Reject).WithName("contract.reject").WithSummary("Reject a proposed contract");
        group.MapPost("/{id}/amendments", Amend).WithName("contract.amend").WithSummary("Amend an active contract");
        group.MapGet("/{id}/revisions", Revisions).WithName("contract.revisions").WithSummary("List a contract's revisions, oldest first");
        group.MapPost("/{id}/terminate", Terminate).WithName("contract.terminate").WithSummary("Terminate a contract (asynchronous: answers with its job)");

        var accounts = app.MapInterface("/api/v1/accounts", "Service Manager");
        accounts.MapGet("/{id}/quotas", Quotas).WithName("account.quotas").WithSummary("Get an account's quotas per unit");
        accounts.MapPost("/{id}/close", Close).WithName("account.close").WithSummary("Close an account, ending the relationship");
        return app;
    }

    private static async Task<Results<Created<ContractView>, ProblemHttpResult>> Request(
        ContractRequest request, Caller caller, ContractService contracts, HttpContext context, CancellationToken ct) =>
        (await contracts.RequestAsync(caller, request, context.Once<ContractView>(StatusCodes.Status201Created, Location), ct)).ToCreated(context, Location);

    private static string Location(ContractView contract) => $"/api/v1/contracts/{contract.Id}";

    private static async Task<Results<Ok<Page<ContractView>>, ProblemHttpResult>> List(
        [AsParameters] ContractListQuery query, Caller caller, ContractService contracts, HttpContext context, CancellationToken ct) =>
        (await contracts.ListAsync(caller, query, ct)).ToOk(context);

    private static async Task<Results<Ok<ContractView>, ProblemHttpResult>> Get(
        string id, Caller caller, ContractService contracts, HttpContext context, CancellationToken ct) =>
        (await contracts.GetAsync(caller, id, ct)).ToOk(context);

    private static async Task<Results<Ok<ContractView>, ProblemHttpResult>> Accept(
        string id, ContractTransitionRequest request, Caller caller, ContractService contracts, HttpContext context, CancellationToken ct) =>
        (await contracts.AcceptAsync(caller, id, request, ct)).ToOk(context);

    private static async Task<Results<Ok<ContractView>, ProblemHttpResult>> Reject(
        string id, ContractTransitionRequest request, Caller caller, ContractService contracts, HttpContext context, CancellationToken ct) =>
        (await contracts.RejectAsync(caller, id, request, ct)).ToOk(context);

    private static async Task<Results<Ok<ContractView>, ProblemHttpResult>> Amend(
        string id, ContractAmendmentRequest request, Caller caller, ContractService contracts, HttpContext context, CancellationToken ct) =>
        (await contracts.AmendAsync(caller, id, request, ct)).ToOk(context);

    private static async Task<Results<Ok<IReadOnlyList<ContractRevisionView>>, ProblemHttpResult>> Revisions(
        string id, Caller caller, ContractService contracts, HttpContext context, CancellationToken ct) =>
        (await contracts.RevisionsAsync(caller, id, ct)).ToOk(context);

    private static async Task<Results<Accepted<AcceptedView<ContractView>>, ProblemHttpResult>> Terminate(
        string id, ContractTransitionRequest request, Caller caller, ContractService contracts, HttpContext context, CancellationToken ct) =>
        (await contracts.TerminateAsync(caller, id, request, ct)).ToAccepted(context);

    private static async Task<Results<Ok<IReadOnlyList<QuotaView>>, ProblemHttpResult>> Quotas(
        string id, Caller caller, ContractService contracts, HttpContext context, CancellationToken ct) =>
        (await contracts.QuotasAsync(caller, id, ct)).ToOk(context);

    private static async Task<Results<Ok<CloseAccountResponse>, ProblemHttpResult>> Close(
        string id, CloseAccountRequest request, Caller caller, AccountClosing closing, HttpContext context, CancellationToken ct) =>
        (await closing.CloseAsync(caller, id, request, ct)).ToOk(context);
}

using Microsoft.AspNetCore.Http.HttpResults;
using Welkin.Contracts;
using Welkin.Core.Accounts;
using Welkin.Core.Common;
using Welkin.Core.Security;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Endpoints;

/// <summary>
/// Accounts: sign-up (through the Service Catalog), the provider's approval of pending accounts, the
/// relationship's limits and requests for limits beyond the self-service ceiling (Security Manager).
/// </summary>
public static class AccountEndpoints
{
    public static IEndpointRouteBuilder MapAccounts(this IEndpointRouteBuilder app)
    {
        app.MapAnonymousInterface("/api/v1/catalog", "Service Catalog")
            .MapPost("/sign-up", SignUp).WithName("account.sign-up").WithMetadata(OptionalToken.Instance).RequireRateLimiting(CredentialRateLimit.Policy)
            .WithSummary("Sign up an account with its account-admin and first token (pending until approved when sign-up is by approval; a provider-admin's token when it is closed)");

        var group = app.MapInterface("/api/v1/accounts", "Security Manager");
        group.MapGet("/", List).WithName("account.list").WithSummary("List the accounts the caller may see (?state=pending: those awaiting approval)");
        group.MapGet("/{id}", Get).WithName("account.get").WithSummary("Get one account");
        group.MapPut("/{id}/limits", SetLimits).WithName("account.set-limits")
            .WithSummary("Set an account's limits (an account-admin up to the provider's ceiling; never below what the account holds)");
        group.MapPost("/{id}/approve", Approve).WithName("account.approve").WithSummary("Approve a pending account (provider admin)");
        group.MapPost("/{id}/refuse", Refuse).WithName("account.refuse").WithSummary("Refuse a pending account, with a reason (provider admin)");

        var requests = app.MapInterface("/api/v1/limit-requests", "Security Manager");
        requests.MapPost("/", CreateRequest).WithName("limit-request.create").WithSummary("Ask the provider for limits above the self-service ceiling (account-admin)");
        requests.MapGet("/", ListRequests).WithName("limit-request.list").WithSummary("List the limit requests the caller may see");
        requests.MapGet("/{id}", GetRequest).WithName("limit-request.get").WithSummary("Get one limit request");
        requests.MapPost("/{id}/approve", ApproveRequest).WithName("limit-request.approve")
            .WithSummary("Approve a limit request: its limits are applied to the account (provider admin)");
        requests.MapPost("/{id}/refuse", RefuseRequest).WithName("limit-request.refuse").WithSummary("Refuse a limit request, with a reason (provider admin)");
        return app;
    }

    private static async Task<Results<Created<SignUpResponse>, ProblemHttpResult>> SignUp(
        SignUpRequest request, AccountService accounts, HttpContext context, CancellationToken ct) =>
        (await accounts.SignUpAsync(TokenAuthenticationHandler.CallerOf(context), request, ct)).ToCreated(context, r => $"/api/v1/accounts/{r.Account.Id}");

    private static async Task<Results<Ok<Page<AccountView>>, ProblemHttpResult>> List(
        [AsParameters] AccountListQuery query, Caller caller, AccountService accounts, HttpContext context, CancellationToken ct) =>
        (await accounts.ListAsync(caller, query, ct)).ToOk(context);

    private static async Task<Results<Ok<AccountView>, ProblemHttpResult>> Get(
        string id, Caller caller, AccountService accounts, HttpContext context, CancellationToken ct) =>
        (await accounts.GetAsync(caller, id, ct)).ToOk(context);

    private static async Task<Results<Ok<AccountView>, ProblemHttpResult>> SetLimits(
        string id, SetLimitsRequest request, Caller caller, AccountService accounts, HttpContext context, CancellationToken ct) =>
        (await accounts.SetLimitsAsync(caller, id, request, ct)).ToOk(context);

    private static async Task<Results<Ok<AccountView>, ProblemHttpResult>> Approve(
        string id, DecisionRequest request, Caller caller, AccountService accounts, HttpContext context, CancellationToken ct) =>
        (await accounts.ApproveAsync(caller, id, request, ct)).ToOk(context);

    private static async Task<Results<Ok<AccountView>, ProblemHttpResult>> Refuse(
        string id, DecisionRequest request, Caller caller, AccountService accounts, HttpContext context, CancellationToken ct) =>
        (await accounts.RefuseAsync(caller, id, request, ct)).ToOk(context);

    private static async Task<Results<Created<LimitRequestView>, ProblemHttpResult>> CreateRequest(
        CreateLimitRequest request, Caller caller, LimitRequestService requests, HttpContext context, CancellationToken ct) =>
        (await requests.CreateAsync(caller, request, ct)).ToCreated(context, r => $"/api/v1/limit-requests/{r.Id}");

    private static async Task<Results<Ok<Page<LimitRequestView>>, ProblemHttpResult>> ListRequests(
        [AsParameters] LimitRequestListQuery query, Caller caller, LimitRequestService requests, HttpContext context, CancellationToken ct) =>
        (await requests.ListAsync(caller, query, ct)).ToOk(context);

    private static async Task<Results<Ok<LimitRequestView>, ProblemHttpResult>> GetRequest(
        string id, Caller caller, LimitRequestService requests, HttpContext context, CancellationToken ct) =>
        (await requests.GetAsync(caller, id, ct)).ToOk(context);

    private static async Task<Results<Ok<LimitRequestView>, ProblemHttpResult>> ApproveRequest(
        string id, DecisionRequest request, Caller caller, LimitRequestService requests, HttpContext context, CancellationToken ct) =>
        (await requests.ApproveAsync(caller, id, request, ct)).ToOk(context);

    private static async Task<Results<Ok<LimitRequestView>, ProblemHttpResult>> RefuseRequest(
        string id, DecisionRequest request, Caller caller, LimitRequestService requests, HttpContext context, CancellationToken ct) =>
        (await requests.RefuseAsync(caller, id, request, ct)).ToOk(context);
}

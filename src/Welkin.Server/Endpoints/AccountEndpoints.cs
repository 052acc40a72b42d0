using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Welkin.Contracts;
using Welkin.Core.Accounts;
using Welkin.Core.Common;
using Welkin.Core.Security;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Endpoints;

/// <summary>Accounts: sign-up (through the Service Catalog) and the relationship's limits (Security Manager).</summary>
public static class AccountEndpoints
{
    public static IEndpointRouteBuilder MapAccounts(this IEndpointRouteBuilder app)
    {
        app.MapAnonymousInterface("/api/v1/catalog", "Service Catalog")
            .MapPost("/sign-up", SignUp).WithName("account.sign-up").WithMetadata(OptionalToken.Instance).RequireRateLimiting(CredentialRateLimit.Policy)
            .WithSummary("Sign up an account with its account-admin and first token (a provider-admin's token when sign-up is closed)");

        var group = app.MapInterface("/api/v1/accounts", "Security Manager");
        group.MapGet("/", List).WithName("account.list").WithSummary("List the accounts the caller may see");
        group.MapGet("/{id}", Get).WithName("account.get").WithSummary("Get one account");
        group.MapPut("/{id}/limits", SetLimits).WithName("account.set-limits").WithSummary("Set an account's limits");
        return app;
    }

    private static async Task<Results<Created<SignUpResponse>, ProblemHttpResult>> SignUp(
        SignUpRequest request, AccountService accounts, IOptions<WelkinOptions> options, HttpContext context, CancellationToken ct)
    {
        var caller = TokenAuthenticationHandler.CallerOf(context);
        if (!options.Value.OpenSignUp && !caller.Can(Permission.AccountsWriteAll))
        {
            return Problems.From(Error.Forbidden("Sign-up on this cloud is by invitation: a provider-admin creates accounts."), context);
        }
        return (await accounts.SignUpAsync(caller, request, ct)).ToCreated(context, r => $"/api/v1/accounts/{r.Account.Id}");
    }

    private static async Task<Results<Ok<Page<AccountView>>, ProblemHttpResult>> List(
        [AsParameters] AccountListQuery query, Caller caller, AccountService accounts, HttpContext context, CancellationToken ct) =>
        (await accounts.ListAsync(caller, query, ct)).ToOk(context);

    private static async Task<Results<Ok<AccountView>, ProblemHttpResult>> Get(
        string id, Caller caller, AccountService accounts, HttpContext context, CancellationToken ct) =>
        (await accounts.GetAsync(caller, id, ct)).ToOk(context);

    private static async Task<Results<Ok<AccountView>, ProblemHttpResult>> SetLimits(
        string id, SetLimitsRequest request, Caller caller, AccountService accounts, HttpContext context, CancellationToken ct) =>
        (await accounts.SetLimitsAsync(caller, id, request, ct)).ToOk(context);
}

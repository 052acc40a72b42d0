using Microsoft.AspNetCore.Http.HttpResults;
using Welkin.Contracts;
using Welkin.Core.Security;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Endpoints;

/// <summary>Security Manager: login, who-am-i, principals, tokens, roles.</summary>
public static class SecurityEndpoints
{
    public static IEndpointRouteBuilder MapSecurityManager(this IEndpointRouteBuilder app)
    {
        app.MapAnonymousInterface("/api/v1/auth", "Security Manager")
            .MapPost("/login", Login).WithName("auth.login").RequireRateLimiting(CredentialRateLimit.Policy)
            .WithSummary("Log in with a name and password and receive a new API token");

        var group = app.MapInterface("/api/v1", "Security Manager");
        group.MapGet("/me", Me).WithName("me.get").WithSummary("Describe the caller: principal, account, roles and permissions");
        group.MapGet("/roles", ListRoles).WithName("role.list").WithSummary("List the roles and the permissions each one grants");
        group.MapGet("/principals", ListPrincipals).WithName("principal.list").WithSummary("List principals");
        group.MapPost("/principals", CreatePrincipal).WithName("principal.create").WithSummary("Create a principal (a person or a service) with its roles");
        group.MapGet("/principals/{id}", GetPrincipal).WithName("principal.get").WithSummary("Get one principal");
        group.MapPatch("/principals/{id}", UpdatePrincipal).WithName("principal.update").WithSummary("Change a principal's roles, display name, state or password");
        group.MapGet("/principals/{id}/tokens", ListTokens).WithName("token.list").WithSummary("List a principal's API tokens, without their secrets");
        group.MapPost("/principals/{id}/tokens", CreateToken).WithName("token.create").WithSummary("Issue an API token for a principal; its secret is shown once").WithIdempotency();
        group.MapDelete("/tokens/{id}", RevokeToken).WithName("token.revoke").WithSummary("Revoke an API token");
        return app;
    }

    private static async Task<Results<Ok<LoginResponse>, ProblemHttpResult>> Login(
        LoginRequest request, SecurityManager security, HttpContext context, CancellationToken ct)
    {
        var address = context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        return (await security.LoginAsync(request, address, context.TraceIdentifier, ct)).ToOk(context);
    }

    private static async Task<Results<Ok<WhoAmI>, ProblemHttpResult>> Me(Caller caller, SecurityManager security, HttpContext context, CancellationToken ct) =>
        (await security.WhoAmIAsync(caller, ct)).ToOk(context);

    private static Ok<IReadOnlyList<RoleView>> ListRoles() =>
        TypedResults.Ok<IReadOnlyList<RoleView>>(Enum.GetValues<Role>()
            .Select(r => new RoleView(r, RolePermissions.IsProviderRole(r) ? "provider" : "account", RolePermissions.Of(r).Select(RolePermissions.Name).ToList()))
            .ToList());

    private static async Task<Results<Ok<Page<PrincipalView>>, ProblemHttpResult>> ListPrincipals(
        [AsParameters] PrincipalListQuery query, Caller caller, SecurityManager security, HttpContext context, CancellationToken ct) =>
        (await security.ListPrincipalsAsync(caller, query, ct)).ToOk(context);

    private static async Task<Results<Created<PrincipalView>, ProblemHttpResult>> CreatePrincipal(
        CreatePrincipalRequest request, Caller caller, SecurityManager security, HttpContext context, CancellationToken ct) =>
        (await security.CreatePrincipalAsync(caller, request, ct)).ToCreated(context, p => $"/api/v1/principals/{p.Id}");

    private static async Task<Results<Ok<PrincipalView>, ProblemHttpResult>> GetPrincipal(
        string id, Caller caller, SecurityManager security, HttpContext context, CancellationToken ct) =>
        (await security.GetPrincipalAsync(caller, id, ct)).ToOk(context);

    private static async Task<Results<Ok<PrincipalView>, ProblemHttpResult>> UpdatePrincipal(
        string id, UpdatePrincipalRequest request, Caller caller, SecurityManager security, HttpContext context, CancellationToken ct) =>
        (await security.UpdatePrincipalAsync(caller, id, request, ct)).ToOk(context);

    private static async Task<Results<Ok<IReadOnlyList<TokenView>>, ProblemHttpResult>> ListTokens(
        string id, Caller caller, SecurityManager security, HttpContext context, CancellationToken ct) =>
        (await security.ListTokensAsync(caller, id, ct)).ToOk(context);

    private static async Task<Results<Created<IssuedToken>, ProblemHttpResult>> CreateToken(
        string id, CreateTokenRequest request, Caller caller, SecurityManager security, HttpContext context, CancellationToken ct) =>
        (await security.CreateTokenAsync(caller, id, request, context.Once<IssuedToken>(StatusCodes.Status201Created, _ => $"/api/v1/principals/{id}/tokens"), ct))
            .ToCreated(context, _ => $"/api/v1/principals/{id}/tokens");

    private static async Task<Results<Ok<TokenView>, ProblemHttpResult>> RevokeToken(
        string id, Caller caller, SecurityManager security, HttpContext context, CancellationToken ct) =>
        (await security.RevokeTokenAsync(caller, id, ct)).ToOk(context);
}

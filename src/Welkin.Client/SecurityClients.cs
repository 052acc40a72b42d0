using Welkin.Contracts;

namespace Welkin.Client;

/// <summary>Password login and who-am-I (<c>/api/v1/auth/login</c>, <c>/api/v1/me</c>).</summary>
public sealed class AuthClient
{
    private readonly ApiConnection _api;

    internal AuthClient(ApiConnection api) => _api = api;

    /// <summary>Exchanges a name and password for a new API token. Needs no token.</summary>
    public Task<LoginResponse> LoginAsync(LoginRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<LoginResponse>(HttpMethod.Post, _api.Resolve("api/v1/auth/login"), request, ct);

    /// <summary>The calling principal, its account and its effective permissions.</summary>
    public Task<WhoAmI> WhoAmIAsync(CancellationToken ct = default) =>
        _api.GetAsync<WhoAmI>(_api.Resolve("api/v1/me"), ct);
}

/// <summary>The roles of the Security Manager (<c>/api/v1/roles</c>).</summary>
public sealed class RolesClient
{
    private readonly ApiConnection _api;

    internal RolesClient(ApiConnection api) => _api = api;

    /// <summary>Every role with its scope (provider or account) and permissions.</summary>
    public Task<IReadOnlyList<RoleView>> ListAsync(CancellationToken ct = default) =>
        _api.GetAsync<IReadOnlyList<RoleView>>(_api.Resolve("api/v1/roles"), ct);
}

/// <summary>Principals (<c>/api/v1/principals</c>).</summary>
public sealed class PrincipalsClient
{
    private readonly ApiConnection _api;

    internal PrincipalsClient(ApiConnection api) => _api = api;

    /// <summary>A page of principals, of one account when <paramref name="accountId"/> is given.</summary>
    /// <param name="accountId">Only this account's principals; null for the caller's scope.</param>
    /// <param name="after">The <see cref="Page{T}.Next"/> cursor of the previous page.</param>
    /// <param name="limit">Page size; null for the server's default.</param>
    /// <param name="ct">Cancels the request.</param>
    public Task<Page<PrincipalView>> ListAsync(string? accountId = null, string? after = null, int? limit = null, CancellationToken ct = default) =>
        _api.GetAsync<Page<PrincipalView>>(_api.Resolve("api/v1/principals", ("accountId", accountId), ("after", after), ("limit", limit)), ct);

    /// <summary>Creates a principal with roles, in the caller's account or, for the provider, in <see cref="CreatePrincipalRequest.AccountId"/>.</summary>
    public Task<PrincipalView> CreateAsync(CreatePrincipalRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<PrincipalView>(HttpMethod.Post, _api.Resolve("api/v1/principals"), request, ct);

    /// <summary>One principal.</summary>
    public Task<PrincipalView> GetAsync(string id, CancellationToken ct = default) =>
        _api.GetAsync<PrincipalView>(_api.Resolve("api/v1/principals/" + ApiConnection.Segment(id)), ct);

    /// <summary>Changes roles, display name, state or password; null members stay unchanged.</summary>
    public Task<PrincipalView> UpdateAsync(string id, UpdatePrincipalRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<PrincipalView>(HttpMethod.Patch, _api.Resolve("api/v1/principals/" + ApiConnection.Segment(id)), request, ct);
}

/// <summary>API tokens (<c>/api/v1/principals/{id}/tokens</c>, <c>/api/v1/tokens/{id}</c>).</summary>
public sealed class TokensClient
{
    private readonly ApiConnection _api;

    internal TokensClient(ApiConnection api) => _api = api;

    /// <summary>The tokens of a principal (never their secrets).</summary>
    public Task<IReadOnlyList<TokenView>> ListAsync(string principalId, CancellationToken ct = default) =>
        _api.GetAsync<IReadOnlyList<TokenView>>(_api.Resolve($"api/v1/principals/{ApiConnection.Segment(principalId)}/tokens"), ct);

    /// <summary>Issues a token for a principal. The secret is in the answer and cannot be read again.</summary>
    public Task<IssuedToken> CreateAsync(string principalId, CreateTokenRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<IssuedToken>(HttpMethod.Post, _api.Resolve($"api/v1/principals/{ApiConnection.Segment(principalId)}/tokens"), request, ct);

    /// <summary>Revokes a token; it stops working at once.</summary>
    public Task<TokenView> RevokeAsync(string tokenId, CancellationToken ct = default) =>
        _api.SendJsonAsync<TokenView>(HttpMethod.Delete, _api.Resolve("api/v1/tokens/" + ApiConnection.Segment(tokenId)), null, ct);
}

/// <summary>Accounts (<c>/api/v1/accounts</c>) and sign-up through the catalog (<c>/api/v1/catalog/sign-up</c>).</summary>
public sealed class AccountsClient
{
    private readonly ApiConnection _api;

    internal AccountsClient(ApiConnection api) => _api = api;

    /// <summary>
    /// Signs up a new account with its first account-admin. Anonymous when the cloud allows open
    /// sign-up, otherwise a provider-admin token is needed. The answer holds the admin's token, once.
    /// </summary>
    public Task<SignUpResponse> SignUpAsync(SignUpRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<SignUpResponse>(HttpMethod.Post, _api.Resolve("api/v1/catalog/sign-up"), request, ct);

    /// <summary>A page of the accounts the caller may see; <paramref name="state"/> <c>pending</c> lists those awaiting approval.</summary>
    public Task<Page<AccountView>> ListAsync(string? after = null, int? limit = null, string? state = null, CancellationToken ct = default) =>
        _api.GetAsync<Page<AccountView>>(_api.Resolve("api/v1/accounts", ("after", after), ("limit", limit), ("state", state)), ct);

    /// <summary>Approves a pending account (provider admin).</summary>
    public Task<AccountView> ApproveAsync(string id, DecisionRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<AccountView>(HttpMethod.Post, _api.Resolve($"api/v1/accounts/{ApiConnection.Segment(id)}/approve"), request, ct);

    /// <summary>Refuses a pending account, with a reason (provider admin).</summary>
    public Task<AccountView> RefuseAsync(string id, DecisionRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<AccountView>(HttpMethod.Post, _api.Resolve($"api/v1/accounts/{ApiConnection.Segment(id)}/refuse"), request, ct);

    /// <summary>Asks the provider for limits above the self-service ceiling (account-admin).</summary>
    public Task<LimitRequestView> RequestLimitsAsync(CreateLimitRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<LimitRequestView>(HttpMethod.Post, _api.Resolve("api/v1/limit-requests"), request, ct);

    /// <summary>A page of the limit requests the caller may see, of one account or state if given.</summary>
    public Task<Page<LimitRequestView>> ListLimitRequestsAsync(
        string? accountId = null, string? state = null, string? after = null, int? limit = null, CancellationToken ct = default) =>
        _api.GetAsync<Page<LimitRequestView>>(
            _api.Resolve("api/v1/limit-requests", ("accountId", accountId), ("state", state), ("after", after), ("limit", limit)), ct);

    /// <summary>One limit request.</summary>
    public Task<LimitRequestView> GetLimitRequestAsync(string id, CancellationToken ct = default) =>
        _api.GetAsync<LimitRequestView>(_api.Resolve("api/v1/limit-requests/" + ApiConnection.Segment(id)), ct);

    /// <summary>Approves a limit request: its limits are applied to the account (provider admin).</summary>
    public Task<LimitRequestView> ApproveLimitRequestAsync(string id, DecisionRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<LimitRequestView>(HttpMethod.Post, _api.Resolve($"api/v1/limit-requests/{ApiConnection.Segment(id)}/approve"), request, ct);

    /// <summary>Refuses a limit request, with a reason (provider admin).</summary>
    public Task<LimitRequestView> RefuseLimitRequestAsync(string id, DecisionRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<LimitRequestView>(HttpMethod.Post, _api.Resolve($"api/v1/limit-requests/{ApiConnection.Segment(id)}/refuse"), request, ct);

    /// <summary>One account.</summary>
    public Task<AccountView> GetAsync(string id, CancellationToken ct = default) =>
        _api.GetAsync<AccountView>(_api.Resolve("api/v1/accounts/" + ApiConnection.Segment(id)), ct);

    /// <summary>Replaces the account's limits (unit name to maximum).</summary>
    public Task<AccountView> SetLimitsAsync(string id, SetLimitsRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<AccountView>(HttpMethod.Put, _api.Resolve($"api/v1/accounts/{ApiConnection.Segment(id)}/limits"), request, ct);
}

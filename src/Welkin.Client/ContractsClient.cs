using Welkin.Contracts;

namespace Welkin.Client;

/// <summary>Contracts (<c>/api/v1/contracts</c>): request, accept or reject a proposal, amend, terminate.</summary>
public sealed class ContractsClient
{
    private readonly ApiConnection _api;

    internal ContractsClient(ApiConnection api) => _api = api;

    /// <summary>Requests lines on published offerings; the answer is a proposal (state proposed) to accept before it expires.</summary>
    public Task<ContractView> RequestAsync(ContractRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<ContractView>(HttpMethod.Post, _api.Resolve("api/v1/contracts"), request, ct);

    /// <summary>A page of the contracts the caller may see, optionally of one state or account.</summary>
    public Task<Page<ContractView>> ListAsync(string? state = null, string? accountId = null, string? after = null, int? limit = null, CancellationToken ct = default) =>
        _api.GetAsync<Page<ContractView>>(_api.Resolve("api/v1/contracts", ("state", state), ("accountId", accountId), ("after", after), ("limit", limit)), ct);

    /// <summary>One contract, with how much of each line is provisioned.</summary>
    public Task<ContractView> GetAsync(string id, CancellationToken ct = default) =>
        _api.GetAsync<ContractView>(_api.Resolve("api/v1/contracts/" + ApiConnection.Segment(id)), ct);

    /// <summary>Accepts a proposal: the contract becomes active and its term starts.</summary>
    public Task<ContractView> AcceptAsync(string id, ContractTransitionRequest? request = null, CancellationToken ct = default) =>
        _api.SendJsonAsync<ContractView>(HttpMethod.Post, _api.Resolve($"api/v1/contracts/{ApiConnection.Segment(id)}/accept"), request ?? new ContractTransitionRequest(), ct);

    /// <summary>Declines a proposal; its units go back to the account.</summary>
    public Task<ContractView> RejectAsync(string id, ContractTransitionRequest? request = null, CancellationToken ct = default) =>
        _api.SendJsonAsync<ContractView>(HttpMethod.Post, _api.Resolve($"api/v1/contracts/{ApiConnection.Segment(id)}/reject"), request ?? new ContractTransitionRequest(), ct);

    /// <summary>Changes quantities, adds lines, or changes the term or name of an active contract.</summary>
    public Task<ContractView> AmendAsync(string id, ContractAmendmentRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<ContractView>(HttpMethod.Post, _api.Resolve($"api/v1/contracts/{ApiConnection.Segment(id)}/amendments"), request, ct);

    /// <summary>Every revision of the contract, oldest first.</summary>
    public Task<IReadOnlyList<ContractRevisionView>> RevisionsAsync(string id, CancellationToken ct = default) =>
        _api.GetAsync<IReadOnlyList<ContractRevisionView>>(_api.Resolve($"api/v1/contracts/{ApiConnection.Segment(id)}/revisions"), ct);

    /// <summary>Terminates the contract; the answer holds the <c>contract.terminate</c> job to poll.</summary>
    public Task<AcceptedView<ContractView>> TerminateAsync(string id, ContractTransitionRequest? request = null, CancellationToken ct = default) =>
        _api.SendJsonAsync<AcceptedView<ContractView>>(HttpMethod.Post, _api.Resolve($"api/v1/contracts/{ApiConnection.Segment(id)}/terminate"),
            request ?? new ContractTransitionRequest(), ct);

    /// <summary>Per unit: the account's limit, what its contracts hold and what is provisioned.</summary>
    public Task<IReadOnlyList<QuotaView>> QuotasAsync(string accountId, CancellationToken ct = default) =>
        _api.GetAsync<IReadOnlyList<QuotaView>>(_api.Resolve($"api/v1/accounts/{ApiConnection.Segment(accountId)}/quotas"), ct);

    /// <summary>Closes the account: terminates its contracts, disables its principals and revokes their tokens.</summary>
    public Task<CloseAccountResponse> CloseAccountAsync(string accountId, CloseAccountRequest? request = null, CancellationToken ct = default) =>
        _api.SendJsonAsync<CloseAccountResponse>(HttpMethod.Post, _api.Resolve($"api/v1/accounts/{ApiConnection.Segment(accountId)}/close"),
            request ?? new CloseAccountRequest(), ct);
}

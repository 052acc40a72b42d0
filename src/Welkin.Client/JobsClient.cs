using Welkin.Contracts;

namespace Welkin.Client;

/// <summary>Asynchronous work (<c>/api/v1/jobs</c>): what a 202 answer hands back to poll.</summary>
public sealed class JobsClient
{
    private readonly ApiConnection _api;

    internal JobsClient(ApiConnection api) => _api = api;

    /// <summary>One job: its state, progress and, when finished, its result or error.</summary>
    public Task<JobView> GetAsync(string id, CancellationToken ct = default) =>
        _api.GetAsync<JobView>(_api.Resolve("api/v1/jobs/" + ApiConnection.Segment(id)), ct);

    /// <summary>A page of jobs, optionally of one state, target or action.</summary>
    public Task<Page<JobView>> ListAsync(
        JobState? state = null, string? target = null, string? action = null, string? accountId = null, string? after = null, int? limit = null,
        CancellationToken ct = default) =>
        _api.GetAsync<Page<JobView>>(_api.Resolve("api/v1/jobs",
            ("state", state), ("target", target), ("action", action), ("accountId", accountId), ("after", after), ("limit", limit)), ct);
}

using Welkin.Contracts;

namespace Welkin.Client;

/// <summary>Metering (<c>/api/v1/accounts/{id}/usage</c>, <c>/api/v1/contracts/{id}/usage</c>, <c>/report</c>): usage, its reconciliation and contract reports.</summary>
public sealed class UsageClient
{
    private readonly ApiConnection _api;

    internal UsageClient(ApiConnection api) => _api = api;

    /// <summary>An account's usage over [from, to) (default: this month so far), optionally of one contract and grouped (contract, metric, resource, hour).</summary>
    public Task<UsageReport> AccountAsync(string accountId, DateTimeOffset? from = null, DateTimeOffset? to = null, string? contractId = null, string? groupBy = null,
        CancellationToken ct = default) =>
        _api.GetAsync<UsageReport>(_api.Resolve($"api/v1/accounts/{ApiConnection.Segment(accountId)}/usage",
            ("from", Time(from)), ("to", Time(to)), ("contractId", contractId), ("groupBy", groupBy)), ct);

    /// <summary>A contract's usage over [from, to), optionally grouped (contract, metric, resource, hour).</summary>
    public Task<UsageReport> ContractAsync(string contractId, DateTimeOffset? from = null, DateTimeOffset? to = null, string? groupBy = null, CancellationToken ct = default) =>
        _api.GetAsync<UsageReport>(_api.Resolve($"api/v1/contracts/{ApiConnection.Segment(contractId)}/usage",
            ("from", Time(from)), ("to", Time(to)), ("groupBy", groupBy)), ct);

    /// <summary>Checks the account's usage records against its event log over [from, to).</summary>
    public Task<ReconciliationReport> ReconcileAsync(string accountId, DateTimeOffset? from = null, DateTimeOffset? to = null, CancellationToken ct = default) =>
        _api.GetAsync<ReconciliationReport>(_api.Resolve($"api/v1/accounts/{ApiConnection.Segment(accountId)}/usage/reconciliation",
            ("from", Time(from)), ("to", Time(to))), ct);

    /// <summary>The contract report: timeline and active servers by hour of day and by day.</summary>
    public Task<ContractReport> ContractReportAsync(string contractId, DateTimeOffset? from = null, DateTimeOffset? to = null, CancellationToken ct = default) =>
        _api.GetAsync<ContractReport>(_api.Resolve($"api/v1/contracts/{ApiConnection.Segment(contractId)}/report", ("from", Time(from)), ("to", Time(to))), ct);

    /// <summary>The contract report as an SVG chart (the document's text).</summary>
    public async Task<string> ContractReportSvgAsync(string contractId, DateTimeOffset? from = null, DateTimeOffset? to = null, CancellationToken ct = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get,
            _api.Resolve($"api/v1/contracts/{ApiConnection.Segment(contractId)}/report.svg", ("from", Time(from)), ("to", Time(to))));
        using var response = await _api.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct);
        return await response.Content.ReadAsStringAsync(ct);
    }

    private static string? Time(DateTimeOffset? t) => t?.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture);
}

using Welkin.Contracts;

namespace Welkin.Client;

/// <summary>The server clock (<c>/api/v1/clock</c>): its mode and time, and in simulation mode advancing it.</summary>
public sealed class ClockClient
{
    private readonly ApiConnection _api;

    internal ClockClient(ApiConnection api) => _api = api;

    /// <summary>"real" or "virtual", and the server's time.</summary>
    public Task<ClockView> GetAsync(CancellationToken ct = default) => _api.GetAsync<ClockView>(_api.Resolve("api/v1/clock"), ct);

    /// <summary>Advances the virtual clock (simulation mode only; clock-advance permission), running every tick and timer on the way.</summary>
    public Task<ClockAdvanceView> AdvanceAsync(ClockAdvanceRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<ClockAdvanceView>(HttpMethod.Post, _api.Resolve("api/v1/clock/advance"), request with { Background = false }, ct);

    /// <summary>
    /// Starts an advance in the background and returns at once with its job (progress: simulated time covered out of
    /// the time asked; result: the <see cref="ClockAdvanceView"/>) and the clock as it stood.
    /// </summary>
    public Task<AcceptedView<ClockView>> StartAdvanceAsync(ClockAdvanceRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<AcceptedView<ClockView>>(HttpMethod.Post, _api.Resolve("api/v1/clock/advance"), request with { Background = true }, ct);
}

/// <summary>SLA reports of contracts and scaling policies of instances.</summary>
public sealed class SlaClient
{
    private readonly ApiConnection _api;

    internal SlaClient(ApiConnection api) => _api = api;

    /// <summary>Target, measure and credit per SLA term of a contract in a billing period (<c>yyyy-MM</c>; default: the current one).</summary>
    public Task<SlaReportView> ReportAsync(string contractId, string? period = null, CancellationToken ct = default) =>
        _api.GetAsync<SlaReportView>(_api.Resolve($"api/v1/contracts/{ApiConnection.Segment(contractId)}/sla", ("period", period)), ct);

    /// <summary>The instance's scaling policy.</summary>
    public Task<ScalingPolicyView> GetPolicyAsync(string instanceId, CancellationToken ct = default) =>
        _api.GetAsync<ScalingPolicyView>(_api.Resolve($"api/v1/instances/{ApiConnection.Segment(instanceId)}/scaling-policy"), ct);

    /// <summary>Sets (creates or replaces) the instance's scaling policy.</summary>
    public Task<ScalingPolicyView> SetPolicyAsync(string instanceId, ScalingPolicyRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<ScalingPolicyView>(HttpMethod.Put, _api.Resolve($"api/v1/instances/{ApiConnection.Segment(instanceId)}/scaling-policy"), request, ct);

    /// <summary>Removes the instance's scaling policy.</summary>
    public async Task ClearPolicyAsync(string instanceId, CancellationToken ct = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Delete, _api.Resolve($"api/v1/instances/{ApiConnection.Segment(instanceId)}/scaling-policy"));
        using var response = await _api.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct);
    }

    /// <summary>Acknowledges a failed machine's incident (operators, fabric-write): its response time ends.</summary>
    public Task<MachineView> AcknowledgeAsync(string machineId, CancellationToken ct = default) =>
        _api.SendJsonAsync<MachineView>(HttpMethod.Post, _api.Resolve($"api/v1/fabric/machines/{ApiConnection.Segment(machineId)}/acknowledge"), null, ct);
}

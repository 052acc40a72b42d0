using Welkin.Contracts;

namespace Welkin.Client;

/// <summary>Service instances (<c>/api/v1/instances</c>): provision from an active contract, scale, terminate.</summary>
public sealed class InstancesClient
{
    private readonly ApiConnection _api;

    internal InstancesClient(ApiConnection api) => _api = api;

    /// <summary>Provisions an instance; the answer holds the <c>instance.provision</c> job to poll.</summary>
    public Task<AcceptedView<InstanceView>> ProvisionAsync(ProvisionRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<AcceptedView<InstanceView>>(HttpMethod.Post, _api.Resolve("api/v1/instances"), request, ct);

    /// <summary>
    /// Provisions an instance under <paramref name="idempotencyKey"/> (the <c>Idempotency-Key</c> header): a retry
    /// with the same key and request gets the first answer (the same instance and job) instead of a second instance.
    /// </summary>
    public Task<AcceptedView<InstanceView>> ProvisionAsync(ProvisionRequest request, string idempotencyKey, CancellationToken ct = default) =>
        _api.SendJsonAsync<AcceptedView<InstanceView>>(HttpMethod.Post, _api.Resolve("api/v1/instances"), request, ct, idempotencyKey);

    /// <summary>A page of the instances the caller may see, optionally of one contract, state or account.</summary>
    public Task<Page<InstanceView>> ListAsync(
        string? contractId = null, InstanceState? state = null, string? accountId = null, string? after = null, int? limit = null, CancellationToken ct = default) =>
        _api.GetAsync<Page<InstanceView>>(_api.Resolve("api/v1/instances",
            ("contractId", contractId), ("state", state), ("accountId", accountId), ("after", after), ("limit", limit)), ct);

    /// <summary>One instance with its machine ids.</summary>
    public Task<InstanceView> GetAsync(string id, CancellationToken ct = default) =>
        _api.GetAsync<InstanceView>(_api.Resolve("api/v1/instances/" + ApiConnection.Segment(id)), ct);

    /// <summary>Scales one virtual system to a number of machines (Change Resource Capacity).</summary>
    public Task<AcceptedView<InstanceView>> ScaleAsync(string id, ScaleRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<AcceptedView<InstanceView>>(HttpMethod.Post, _api.Resolve($"api/v1/instances/{ApiConnection.Segment(id)}/scale"), request, ct);

    /// <summary>Terminates every machine of the instance; their units go back to the contract.</summary>
    public Task<AcceptedView<InstanceView>> TerminateAsync(string id, MachineActionRequest? request = null, CancellationToken ct = default) =>
        _api.SendJsonAsync<AcceptedView<InstanceView>>(HttpMethod.Post, _api.Resolve($"api/v1/instances/{ApiConnection.Segment(id)}/terminate"),
            request ?? new MachineActionRequest(), ct);
}

/// <summary>Machines (<c>/api/v1/machines</c>): CIMI actions, resize, console and metrics.</summary>
public sealed class MachinesClient
{
    /// <summary>The actions <see cref="ActAsync"/> accepts.</summary>
    public static readonly IReadOnlyList<string> Actions = ["start", "stop", "pause", "resume", "reboot", "destroy"];

    private readonly ApiConnection _api;

    internal MachinesClient(ApiConnection api) => _api = api;

    /// <summary>A page of the machines the caller may see, optionally of one instance, state or account.</summary>
    public Task<Page<MachineView>> ListAsync(
        string? instanceId = null, MachineState? state = null, string? accountId = null, string? after = null, int? limit = null, CancellationToken ct = default) =>
        _api.GetAsync<Page<MachineView>>(_api.Resolve("api/v1/machines",
            ("instanceId", instanceId), ("state", state), ("accountId", accountId), ("after", after), ("limit", limit)), ct);

    /// <summary>One machine: state, host, sizes, access.</summary>
    public Task<MachineView> GetAsync(string id, CancellationToken ct = default) =>
        _api.GetAsync<MachineView>(_api.Resolve("api/v1/machines/" + ApiConnection.Segment(id)), ct);

    /// <summary>start, stop, pause, resume, reboot or destroy; the answer holds the job to poll.</summary>
    public Task<AcceptedView<MachineView>> ActAsync(string id, string action, MachineActionRequest? request = null, CancellationToken ct = default)
    {
        if (!Actions.Contains(action))
        {
            throw new ArgumentOutOfRangeException(nameof(action), action, "one of " + string.Join(", ", Actions));
        }
        return _api.SendJsonAsync<AcceptedView<MachineView>>(HttpMethod.Post, _api.Resolve($"api/v1/machines/{ApiConnection.Segment(id)}/{action}"),
            request ?? new MachineActionRequest(), ct);
    }

    /// <summary>New vCPUs and memory within the offering's choices (a running machine is restarted).</summary>
    public Task<AcceptedView<MachineView>> ResizeAsync(string id, ResizeRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<AcceptedView<MachineView>>(HttpMethod.Post, _api.Resolve($"api/v1/machines/{ApiConnection.Segment(id)}/resize"), request, ct);

    /// <summary>Moves a machine to another host (operators): live when it runs, cold when it is inactive.</summary>
    public Task<AcceptedView<MachineView>> MigrateAsync(string id, MigrateRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<AcceptedView<MachineView>>(HttpMethod.Post, _api.Resolve($"api/v1/machines/{ApiConnection.Segment(id)}/migrate"), request, ct);

    /// <summary>Moves a machine to a peer cloud's host pool, or back to this cloud's (operators; cold).</summary>
    public Task<AcceptedView<MachineView>> MoveAsync(string id, MoveRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<AcceptedView<MachineView>>(HttpMethod.Post, _api.Resolve($"api/v1/machines/{ApiConnection.Segment(id)}/move"), request, ct);

    /// <summary>Prepares this cloud to receive a peer's running machine live (clouds only, under an agreement's credential).</summary>
    public Task<IncomingMachineView> PrepareIncomingAsync(IncomingMachineRequest request, string? idempotencyKey = null, CancellationToken ct = default) =>
        _api.SendJsonAsync<IncomingMachineView>(HttpMethod.Post, _api.Resolve("api/v1/machines/incoming"), request, ct, idempotencyKey);

    /// <summary>Runs an incoming machine whose disks and state have all arrived; it is running (and billed) from now.</summary>
    public Task<MachineView> CompleteIncomingAsync(string id, CancellationToken ct = default) =>
        _api.SendJsonAsync<MachineView>(HttpMethod.Post, _api.Resolve($"api/v1/machines/incoming/{ApiConnection.Segment(id)}/complete"), null, ct);

    /// <summary>Removes an incoming machine that will not come; one already removed is removed.</summary>
    public Task<MachineView> AbortIncomingAsync(string id, CancellationToken ct = default) =>
        _api.SendJsonAsync<MachineView>(HttpMethod.Delete, _api.Resolve($"api/v1/machines/incoming/{ApiConnection.Segment(id)}"), null, ct);

    /// <summary>What a machine needs at home to move there live (clouds only, for their machines here).</summary>
    public Task<OutgoingMachineView> DescribeOutgoingAsync(string id, CancellationToken ct = default) =>
        _api.GetAsync<OutgoingMachineView>(_api.Resolve($"api/v1/machines/{ApiConnection.Segment(id)}/outgoing"), ct);

    /// <summary>Starts sending a machine live to where the calling cloud prepared it.</summary>
    public Task<SendView> SendAsync(string id, SendMachineRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<SendView>(HttpMethod.Post, _api.Resolve($"api/v1/machines/{ApiConnection.Segment(id)}/send"), request, ct);

    /// <summary>Where a machine's live move home stands.</summary>
    public Task<SendView> SendStatusAsync(string id, CancellationToken ct = default) =>
        _api.GetAsync<SendView>(_api.Resolve($"api/v1/machines/{ApiConnection.Segment(id)}/send"), ct);

    /// <summary>Confirms the calling cloud runs the guest now; the machine here ends.</summary>
    public Task<SendView> HandoverAsync(string id, CancellationToken ct = default) =>
        _api.SendJsonAsync<SendView>(HttpMethod.Post, _api.Resolve($"api/v1/machines/{ApiConnection.Segment(id)}/send/handover"), null, ct);

    /// <summary>Gives up a machine's live move home; the guest runs on here.</summary>
    public Task<SendView> CancelSendAsync(string id, CancellationToken ct = default) =>
        _api.SendJsonAsync<SendView>(HttpMethod.Delete, _api.Resolve($"api/v1/machines/{ApiConnection.Segment(id)}/send"), null, ct);

    /// <summary>The tail of the machine's serial console.</summary>
    public async Task<string> ConsoleAsync(string id, CancellationToken ct = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, _api.Resolve($"api/v1/machines/{ApiConnection.Segment(id)}/console"));
        using var response = await _api.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct);
        return await response.Content.ReadAsStringAsync(ct);
    }

    /// <summary>
    /// Opens the machine's VNC display (<c>GET /api/v1/machines/{id}/console/vnc</c>) as a WebSocket carrying RFB in
    /// binary messages (subprotocol <c>binary</c>); the caller owns and closes the socket. Refusals throw
    /// <see cref="WelkinApiException"/>: 404 (no such machine of the account), 409 <c>no-display</c>,
    /// <c>invalid-state</c> (not running) or <c>too-many-consoles</c>.
    /// </summary>
    public Task<System.Net.WebSockets.WebSocket> OpenVncConsoleAsync(string id, CancellationToken ct = default) =>
        _api.ConnectWebSocketAsync(_api.Resolve($"api/v1/machines/{ApiConnection.Segment(id)}/console/vnc"), "binary", ct);

    /// <summary>The machine's counters now.</summary>
    public Task<MachineMetricsView> MetricsAsync(string id, CancellationToken ct = default) =>
        _api.GetAsync<MachineMetricsView>(_api.Resolve($"api/v1/machines/{ApiConnection.Segment(id)}/metrics"), ct);
}

/// <summary>The event log (<c>/api/v1/events</c>): lifecycle and usage events with exact sizes and times.</summary>
public sealed class EventsClient
{
    private readonly ApiConnection _api;

    internal EventsClient(ApiConnection api) => _api = api;

    /// <summary>A page of events the caller may read, oldest first.</summary>
    /// <param name="type">An exact type, or a prefix ending in '.' ("machine.").</param>
    /// <param name="target">Only events of this resource.</param>
    /// <param name="since">Only events at or after this time.</param>
    /// <param name="until">Only events before this time.</param>
    /// <param name="after">The last event number seen: only later events.</param>
    /// <param name="accountId">Only this account's events (provider roles).</param>
    /// <param name="limit">At most this many (1-1000).</param>
    /// <param name="ct">Cancels the request.</param>
    public Task<Page<EventView>> ListAsync(
        string? type = null, string? target = null, DateTimeOffset? since = null, DateTimeOffset? until = null, long? after = null,
        string? accountId = null, int? limit = null, CancellationToken ct = default) =>
        _api.GetAsync<Page<EventView>>(_api.Resolve("api/v1/events",
            ("type", type), ("target", target), ("since", since?.ToString("O")), ("until", until?.ToString("O")), ("after", after),
            ("accountId", accountId), ("limit", limit)), ct);
}

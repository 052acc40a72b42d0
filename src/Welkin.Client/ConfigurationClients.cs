using Welkin.Contracts;

namespace Welkin.Client;

/// <summary>Volumes (<c>/api/v1/volumes</c>): block storage from storage lines of active contracts, attached to machines.</summary>
public sealed class VolumesClient
{
    private readonly ApiConnection _api;

    internal VolumesClient(ApiConnection api) => _api = api;

    /// <summary>Creates a volume of a whole number of the storage line's increments.</summary>
    public Task<VolumeView> CreateAsync(CreateVolumeRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<VolumeView>(HttpMethod.Post, _api.Resolve("api/v1/volumes"), request, ct);

    /// <summary>
    /// Creates a volume under <paramref name="idempotencyKey"/> (the <c>Idempotency-Key</c> header): a retry with the same
    /// key and request gets the volume the first created.
    /// </summary>
    public Task<VolumeView> CreateAsync(CreateVolumeRequest request, string idempotencyKey, CancellationToken ct = default) =>
        _api.SendJsonAsync<VolumeView>(HttpMethod.Post, _api.Resolve("api/v1/volumes"), request, ct, idempotencyKey);

    /// <summary>A page of volumes (deleted ones only when <paramref name="state"/> asks for them).</summary>
    public Task<Page<VolumeView>> ListAsync(
        string? contractId = null, string? machineId = null, VolumeState? state = null, string? accountId = null, string? after = null, int? limit = null,
        CancellationToken ct = default) =>
        _api.GetAsync<Page<VolumeView>>(_api.Resolve("api/v1/volumes",
            ("contractId", contractId), ("machineId", machineId), ("state", state), ("accountId", accountId), ("after", after), ("limit", limit)), ct);

    /// <summary>One volume: size, state, the machine and device it is attached to.</summary>
    public Task<VolumeView> GetAsync(string id, CancellationToken ct = default) =>
        _api.GetAsync<VolumeView>(_api.Resolve("api/v1/volumes/" + ApiConnection.Segment(id)), ct);

    /// <summary>Attaches the volume to a machine of the same account; the answer holds the <c>volume.attach</c> job.</summary>
    public Task<AcceptedView<VolumeView>> AttachAsync(string id, AttachVolumeRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<AcceptedView<VolumeView>>(HttpMethod.Post, _api.Resolve($"api/v1/volumes/{ApiConnection.Segment(id)}/attach"), request, ct);

    /// <summary>Detaches the volume; the answer holds the <c>volume.detach</c> job.</summary>
    public Task<AcceptedView<VolumeView>> DetachAsync(string id, DetachVolumeRequest? request = null, CancellationToken ct = default) =>
        _api.SendJsonAsync<AcceptedView<VolumeView>>(HttpMethod.Post, _api.Resolve($"api/v1/volumes/{ApiConnection.Segment(id)}/detach"),
            request ?? new DetachVolumeRequest(), ct);

    /// <summary>Deletes a detached volume; its increments go back to the contract line.</summary>
    public Task<VolumeView> DeleteAsync(string id, long? version = null, CancellationToken ct = default) =>
        _api.SendJsonAsync<VolumeView>(HttpMethod.Delete, _api.Resolve("api/v1/volumes/" + ApiConnection.Segment(id), ("version", version)), null, ct);
}

/// <summary>Tenant networks (<c>/api/v1/networks</c>): private IPv4 networks machines connect to.</summary>
public sealed class NetworksClient
{
    private readonly ApiConnection _api;

    internal NetworksClient(ApiConnection api) => _api = api;

    /// <summary>Creates a network (default CIDR 10.0.0.0/24).</summary>
    public Task<NetworkView> CreateAsync(CreateNetworkRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<NetworkView>(HttpMethod.Post, _api.Resolve("api/v1/networks"), request, ct);

    /// <summary>A page of networks (deleted ones only when <paramref name="state"/> asks for them).</summary>
    public Task<Page<NetworkView>> ListAsync(NetworkState? state = null, string? accountId = null, string? after = null, int? limit = null, CancellationToken ct = default) =>
        _api.GetAsync<Page<NetworkView>>(_api.Resolve("api/v1/networks", ("state", state), ("accountId", accountId), ("after", after), ("limit", limit)), ct);

    /// <summary>One network with its attachments (machine, address, MAC).</summary>
    public Task<NetworkView> GetAsync(string id, CancellationToken ct = default) =>
        _api.GetAsync<NetworkView>(_api.Resolve("api/v1/networks/" + ApiConnection.Segment(id)), ct);

    /// <summary>Connects a machine (it gets the lowest free address); the answer holds the <c>network.connect</c> job.</summary>
    public Task<AcceptedView<NetworkView>> ConnectAsync(string id, ConnectNetworkRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<AcceptedView<NetworkView>>(HttpMethod.Post, _api.Resolve($"api/v1/networks/{ApiConnection.Segment(id)}/connect"), request, ct);

    /// <summary>Disconnects a machine; the answer holds the <c>network.disconnect</c> job.</summary>
    public Task<AcceptedView<NetworkView>> DisconnectAsync(string id, DisconnectNetworkRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<AcceptedView<NetworkView>>(HttpMethod.Post, _api.Resolve($"api/v1/networks/{ApiConnection.Segment(id)}/disconnect"), request, ct);

    /// <summary>Deletes a network no machine is connected to.</summary>
    public Task<NetworkView> DeleteAsync(string id, long? version = null, CancellationToken ct = default) =>
        _api.SendJsonAsync<NetworkView>(HttpMethod.Delete, _api.Resolve("api/v1/networks/" + ApiConnection.Segment(id), ("version", version)), null, ct);
}

/// <summary>Configurable properties of machines and instances (<c>PUT .../configuration</c>).</summary>
public sealed class ConfigurationClient
{
    private readonly ApiConnection _api;

    internal ConfigurationClient(ApiConnection api) => _api = api;

    /// <summary>Sets properties of one machine; the answer holds the <c>machine.configure</c> job.</summary>
    public Task<AcceptedView<MachineView>> ConfigureMachineAsync(string id, ConfigurationRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<AcceptedView<MachineView>>(HttpMethod.Put, _api.Resolve($"api/v1/machines/{ApiConnection.Segment(id)}/configuration"), request, ct);

    /// <summary>Sets properties of every machine of an instance that defines them.</summary>
    public Task<AcceptedView<InstanceView>> ConfigureInstanceAsync(string id, ConfigurationRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<AcceptedView<InstanceView>>(HttpMethod.Put, _api.Resolve($"api/v1/instances/{ApiConnection.Segment(id)}/configuration"), request, ct);
}

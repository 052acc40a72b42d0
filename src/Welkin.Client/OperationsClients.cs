using Welkin.Contracts;

namespace Welkin.Client;

/// <summary>The audit log (<c>/api/v1/audit</c>).</summary>
public sealed class AuditClient
{
    private readonly ApiConnection _api;

    internal AuditClient(ApiConnection api) => _api = api;

    /// <summary>A page of audit entries in sequence order.</summary>
    /// <param name="accountId">Only this account's entries.</param>
    /// <param name="after">Entries after this sequence number (the previous page's <see cref="Page{T}.Next"/>).</param>
    /// <param name="limit">Page size; null for the server's default.</param>
    /// <param name="ct">Cancels the request.</param>
    public Task<Page<AuditEntryView>> ListAsync(string? accountId = null, long? after = null, int? limit = null, CancellationToken ct = default) =>
        _api.GetAsync<Page<AuditEntryView>>(_api.Resolve("api/v1/audit", ("accountId", accountId), ("after", after), ("limit", limit)), ct);

    /// <summary>Recomputes the hash chain and reports whether the log is intact.</summary>
    public Task<AuditVerification> VerifyAsync(CancellationToken ct = default) =>
        _api.SendJsonAsync<AuditVerification>(HttpMethod.Post, _api.Resolve("api/v1/audit/verify"), null, ct);

    /// <summary>A page of the signed checkpoints, oldest first.</summary>
    /// <param name="after">Checkpoints after this number (the previous page's <see cref="Page{T}.Next"/>).</param>
    /// <param name="limit">Page size; null for the server's default.</param>
    /// <param name="ct">Cancels the request.</param>
    public Task<Page<AuditCheckpointView>> ListCheckpointsAsync(long? after = null, int? limit = null, CancellationToken ct = default) =>
        _api.GetAsync<Page<AuditCheckpointView>>(_api.Resolve("api/v1/audit/checkpoints", ("after", after), ("limit", limit)), ct);

    /// <summary>Has the server sign the log's head now and append the checkpoint to its checkpoint file.</summary>
    public Task<AuditCheckpointView> CheckpointAsync(CancellationToken ct = default) =>
        _api.SendJsonAsync<AuditCheckpointView>(HttpMethod.Post, _api.Resolve("api/v1/audit/checkpoints"), null, ct);

    /// <summary>The public key that signs checkpoints.</summary>
    public Task<AuditSigningKeyView> SigningKeyAsync(CancellationToken ct = default) =>
        _api.GetAsync<AuditSigningKeyView>(_api.Resolve("api/v1/audit/signing-key"), ct);
}

/// <summary>The compute fabric (<c>/api/v1/fabric</c>).</summary>
public sealed class FabricClient
{
    private readonly ApiConnection _api;

    internal FabricClient(ApiConnection api) => _api = api;

    /// <summary>The hosts of the cloud's compute fabric.</summary>
    public Task<IReadOnlyList<HostView>> ListHostsAsync(CancellationToken ct = default) =>
        _api.GetAsync<IReadOnlyList<HostView>>(_api.Resolve("api/v1/fabric/hosts"), ct);

    /// <summary>A host's state: down or up, free capacity after overcommit, machines on it.</summary>
    public Task<HostStatusView> GetHostAsync(string name, CancellationToken ct = default) =>
        _api.GetAsync<HostStatusView>(_api.Resolve("api/v1/fabric/hosts/" + ApiConnection.Segment(name)), ct);

    /// <summary>Fails a host (its machines go to error) or brings it back.</summary>
    public Task<HostStatusView> SetHostStateAsync(string name, HostStateRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<HostStatusView>(HttpMethod.Post, _api.Resolve($"api/v1/fabric/hosts/{ApiConnection.Segment(name)}/state"), request, ct);

    /// <summary>Sets a simulated machine's load (simulated fabric only).</summary>
    public Task<LoadView> SetMachineLoadAsync(string id, LoadRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<LoadView>(HttpMethod.Put, _api.Resolve($"api/v1/fabric/machines/{ApiConnection.Segment(id)}/load"), request, ct);

    /// <summary>Sets an instance's total simulated demand, spread over its running machines (simulated fabric only).</summary>
    public Task<LoadView> SetInstanceLoadAsync(string id, LoadRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<LoadView>(HttpMethod.Put, _api.Resolve($"api/v1/fabric/instances/{ApiConnection.Segment(id)}/load"), request, ct);
}

/// <summary>Health probes (<c>/health/live</c>, <c>/health/ready</c>).</summary>
public sealed class HealthClient
{
    private readonly ApiConnection _api;

    internal HealthClient(ApiConnection api) => _api = api;

    /// <summary>Whether the server process answers.</summary>
    public Task<bool> IsLiveAsync(CancellationToken ct = default) => ProbeAsync("health/live", ct);

    /// <summary>Whether the server can serve requests (its database is reachable and migrated).</summary>
    public Task<bool> IsReadyAsync(CancellationToken ct = default) => ProbeAsync("health/ready", ct);

    private async Task<bool> ProbeAsync(string path, CancellationToken ct)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, _api.Resolve(path));
            using var response = await _api.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct);
            return true;
        }
        catch (WelkinApiException e) when (e.StatusCode == 503)
        {
            return false;
        }
    }
}

/// <summary>The peer clouds of this cloud's federation (<c>/api/v1/federation/peers</c>), the federation policy and federation agreements.</summary>
public sealed class FederationClient
{
    private readonly ApiConnection _api;

    internal FederationClient(ApiConnection api) => _api = api;

    /// <summary>Whether federation is on, and every peer this cloud has heard from with its presence, capacity and trust state.</summary>
    public Task<PeerList> ListPeersAsync(CancellationToken ct = default) =>
        _api.GetAsync<PeerList>(_api.Resolve("api/v1/federation/peers"), ct);

    /// <summary>One peer, by its federation name or its bare XMPP address.</summary>
    public Task<PeerView> GetPeerAsync(string nameOrAddress, CancellationToken ct = default) =>
        _api.GetAsync<PeerView>(_api.Resolve("api/v1/federation/peers/" + ApiConnection.Segment(nameOrAddress)), ct);

    /// <summary>Stops trusting a peer whatever its presence says; every agreement with it is terminated (provider admin).</summary>
    public Task<PeerView> DistrustPeerAsync(string nameOrAddress, string reason, CancellationToken ct = default) =>
        _api.SendJsonAsync<PeerView>(HttpMethod.Post, _api.Resolve($"api/v1/federation/peers/{ApiConnection.Segment(nameOrAddress)}/distrust"), new PeerDistrust(reason), ct);

    /// <summary>Undoes <see cref="DistrustPeerAsync"/>: the peer's next presence is judged on its certificate again (provider admin).</summary>
    public Task<PeerView> TrustPeerAsync(string nameOrAddress, CancellationToken ct = default) =>
        _api.SendJsonAsync<PeerView>(HttpMethod.Post, _api.Resolve($"api/v1/federation/peers/{ApiConnection.Segment(nameOrAddress)}/trust"), null, ct);

    /// <summary>The federation policy peers' agreement proposals are evaluated against (provider admin).</summary>
    public Task<FederationPolicy> GetPolicyAsync(CancellationToken ct = default) =>
        _api.GetAsync<FederationPolicy>(_api.Resolve("api/v1/federation/policy"), ct);

    /// <summary>Replaces the federation policy; <see cref="FederationPolicy.Version"/> must be the version replaced (0 before the first).</summary>
    public Task<FederationPolicy> SetPolicyAsync(FederationPolicy policy, CancellationToken ct = default) =>
        _api.SendJsonAsync<FederationPolicy>(HttpMethod.Put, _api.Resolve("api/v1/federation/policy"), policy, ct);

    /// <summary>This cloud's federation agreements, as consumer and as provider.</summary>
    public Task<IReadOnlyList<AgreementView>> ListAgreementsAsync(CancellationToken ct = default) =>
        _api.GetAsync<IReadOnlyList<AgreementView>>(_api.Resolve("api/v1/federation/agreements"), ct);

    /// <summary>One agreement with the history of its versions.</summary>
    public Task<AgreementDetail> GetAgreementAsync(string id, CancellationToken ct = default) =>
        _api.GetAsync<AgreementDetail>(_api.Resolve("api/v1/federation/agreements/" + ApiConnection.Segment(id)), ct);

    /// <summary>
    /// Asks a trusted peer for an agreement. A refusal throws with problem code <c>agreement-refused</c>
    /// (its <c>reasons</c> name every refused term); an unreachable peer <c>peer-unreachable</c> (503), the request kept and sent again.
    /// </summary>
    public Task<AgreementView> RequestAgreementAsync(AgreementRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<AgreementView>(HttpMethod.Post, _api.Resolve("api/v1/federation/agreements"), request, ct);

    /// <summary>Changes the terms of an agreement this cloud consumes; the provider evaluates them again.</summary>
    public Task<AgreementView> AmendAgreementAsync(string id, AgreementAmendment amendment, CancellationToken ct = default) =>
        _api.SendJsonAsync<AgreementView>(HttpMethod.Put, _api.Resolve("api/v1/federation/agreements/" + ApiConnection.Segment(id)), amendment, ct);

    /// <summary>Ends an agreement (either side) and tells the peer.</summary>
    public Task<AgreementView> TerminateAgreementAsync(string id, string reason, CancellationToken ct = default) =>
        _api.SendJsonAsync<AgreementView>(HttpMethod.Post, _api.Resolve($"api/v1/federation/agreements/{ApiConnection.Segment(id)}/terminate"),
            new AgreementTermination(reason), ct);

    /// <summary>The provider's usage and invoices for an agreement this cloud consumes, read from the provider with the agreement's credential.</summary>
    public Task<AgreementUsage> GetAgreementUsageAsync(string id, CancellationToken ct = default) =>
        _api.GetAsync<AgreementUsage>(_api.Resolve($"api/v1/federation/agreements/{ApiConnection.Segment(id)}/usage"), ct);

    /// <summary>
    /// The reconciliation of an agreement this cloud consumes for a billing period (YYYY-MM; default the
    /// current one): the peer's charges, this cloud's revenue from the machines it placed there, and the difference.
    /// </summary>
    public Task<AgreementReconciliation> ReconcileAgreementAsync(string id, string? period = null, CancellationToken ct = default) =>
        _api.GetAsync<AgreementReconciliation>(_api.Resolve($"api/v1/federation/agreements/{ApiConnection.Segment(id)}/reconciliation", ("period", period)), ct);

    /// <summary>The cloud's bursting policy (provider admin).</summary>
    public Task<CloudBurstPolicy> GetBurstPolicyAsync(CancellationToken ct = default) =>
        _api.GetAsync<CloudBurstPolicy>(_api.Resolve("api/v1/federation/burst"), ct);

    /// <summary>Replaces the cloud's bursting policy; <see cref="CloudBurstPolicy.Version"/> must be the version replaced (0 before the first).</summary>
    public Task<CloudBurstPolicy> SetBurstPolicyAsync(CloudBurstPolicy policy, CancellationToken ct = default) =>
        _api.SendJsonAsync<CloudBurstPolicy>(HttpMethod.Put, _api.Resolve("api/v1/federation/burst"), policy, ct);

    /// <summary>
    /// Federated selection: the trusted peers' offerings that meet every criterion given (memory as
    /// "8GiB"; maxPrice per cpu-hour, in currency), ranked by price then availability, and the peers that did not answer.
    /// </summary>
    public Task<FederatedOfferList> FindOffersAsync(
        int? vcpus = null, string? memory = null, string? jurisdiction = null, decimal? maxPrice = null, string? currency = null,
        decimal? availability = null, CancellationToken ct = default) =>
        _api.GetAsync<FederatedOfferList>(_api.Resolve("api/v1/federation/offers",
            ("vcpus", vcpus), ("memory", memory), ("jurisdiction", jurisdiction), ("maxPrice", maxPrice), ("currency", currency), ("availability", availability)), ct);

    /// <summary>Resells a peer's offering an agreement in force covers, at its prices plus a margin (provider admin; a retry gives the same resale).</summary>
    public Task<ResaleView> ResellAsync(ResaleRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<ResaleView>(HttpMethod.Post, _api.Resolve("api/v1/federation/resales"), request, ct);

    /// <summary>This cloud's resales, all or those of one agreement.</summary>
    public Task<IReadOnlyList<ResaleView>> ListResalesAsync(string? agreementId = null, CancellationToken ct = default) =>
        _api.GetAsync<IReadOnlyList<ResaleView>>(_api.Resolve("api/v1/federation/resales", ("agreement", agreementId)), ct);

    /// <summary>A SPARQL query run at the trusted peers (all, or those named) over their catalog descriptions.</summary>
    public Task<FederatedQueryResult> QueryPeersAsync(string sparql, IReadOnlyList<string>? peers = null, CancellationToken ct = default) =>
        _api.SendJsonAsync<FederatedQueryResult>(HttpMethod.Post, _api.Resolve("api/v1/federation/query"), new FederatedQueryRequest(sparql, peers), ct);
}

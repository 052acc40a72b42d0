namespace Welkin.Contracts;

// Federation agreements: what one cloud (the consumer) obtains from a trusted peer (the provider) —
// an account of kind cloud with a certificate-bound credential, and a contract on the offerings it
// asked for — under terms both sides record as a versioned data artifact.

public enum AgreementState
{
    /// <summary>Recorded by the consumer, not yet answered by the provider.</summary>
    Proposed,

    /// <summary>Accepted: the account, credential and contract exist on the provider.</summary>
    Active,

    /// <summary>In force with terms changed since it was first accepted (its version counts the changes).</summary>
    Amended,

    /// <summary>The provider's policy refused it; the reasons say which terms.</summary>
    Refused,

    /// <summary>Ended by either side, or because either side stopped trusting the other: the credential is revoked.</summary>
    Terminated,
}

/// <summary>Which side of an agreement this cloud is on.</summary>
public enum AgreementSide
{
    /// <summary>This cloud uses the peer's services.</summary>
    Consumer,

    /// <summary>The peer uses this cloud's services.</summary>
    Provider,
}

/// <summary>The isolation a consumer requires for its machines on the provider.</summary>
public enum IsolationLevel
{
    /// <summary>Machines share hosts with other accounts' machines.</summary>
    Shared,

    /// <summary>Machines run on hosts that no other account uses.</summary>
    DedicatedHost,
}

/// <summary>The consumer's policy: where its workloads may run and the security it requires.</summary>
/// <param name="Jurisdictions">ISO 3166 country codes the consumer accepts (at least one).</param>
public sealed record AgreementPolicy(
    IReadOnlyList<string> Jurisdictions,
    bool EncryptionAtRest = false,
    IsolationLevel MinimumIsolation = IsolationLevel.Shared);

/// <summary>One offering of the provider's catalog the consumer wants, and how many of it (machines, or storage increments).</summary>
public sealed record AgreementOffering(string OfferingId, int Quantity);

/// <summary>What the consumer asks to be entitled to: account limits per unit, and the offerings for its contract.</summary>
/// <param name="Units">Unit name (compute-unit, storage-unit, ...) to the maximum the account may hold.</param>
public sealed record AgreementEntitlement(IReadOnlyDictionary<string, long> Units, IReadOnlyList<AgreementOffering> Offerings);

/// <summary>The metering terms the consumer accepts.</summary>
/// <param name="Currency">ISO 4217 currency of every price plan of the requested offerings.</param>
/// <param name="BillingPeriod">"monthly" (the only period Welkin bills).</param>
/// <param name="MaxPricePerCpuHour">The highest per-vCPU-hour rate the consumer accepts; null: any.</param>
/// <param name="MinimumAvailability">The lowest SLA availability target (percent) the consumer accepts; null: any, an offering without SLA included.</param>
public sealed record AgreementMetering(
    string Currency,
    string BillingPeriod = "monthly",
    decimal? MaxPricePerCpuHour = null,
    decimal? MinimumAvailability = null);

/// <summary>The terms of an agreement: policy, entitlement, metering.</summary>
public sealed record AgreementTerms(AgreementPolicy Policy, AgreementEntitlement Entitlement, AgreementMetering Metering);

/// <summary>The peer cloud of an agreement, as its federation certificate names it.</summary>
public sealed record AgreementPeer(string Name, string? Address, string? Url, string Fingerprint);

/// <summary>One version of an agreement's terms, and what became of it.</summary>
public sealed record AgreementVersion(long Version, AgreementState State, AgreementTerms Terms, string? Reason, DateTimeOffset At);

/// <summary>
/// A federation agreement as this cloud records it. On the provider side <see cref="AccountId"/> and
/// <see cref="ContractIds"/> are local; on the consumer side they are the provider's, and
/// <see cref="RemoteId"/> is the provider's id of the agreement (the consumer's id travels as the proposal id).
/// </summary>
/// <param name="Reasons">Why it was refused, one reason per term the provider's policy did not allow.</param>
public sealed record AgreementView(
    string Id,
    AgreementSide Side,
    AgreementPeer Peer,
    AgreementState State,
    long Version,
    AgreementTerms Terms,
    IReadOnlyList<string> Reasons,
    string? RemoteId,
    string? AccountId,
    IReadOnlyList<string> ContractIds,
    string? TerminationReason,
    DateTimeOffset Created,
    DateTimeOffset Updated);

/// <summary>An agreement with the history of its versions (<c>GET /api/v1/federation/agreements/{id}</c>).</summary>
public sealed record AgreementDetail(AgreementView Agreement, IReadOnlyList<AgreementVersion> Versions);

/// <summary><c>POST /api/v1/federation/agreements</c>: ask a trusted peer (federation name or bare XMPP address) for an agreement.</summary>
public sealed record AgreementRequest(string Peer, AgreementTerms Terms);

/// <summary>Changes an agreement's terms; <see cref="Version"/> is the version the change is based on.</summary>
public sealed record AgreementAmendment(AgreementTerms Terms, long Version);

/// <summary><c>POST /api/v1/federation/peers/{peer}/distrust</c>: why this cloud stops trusting the peer.</summary>
public sealed record PeerDistrust(string Reason);

/// <summary>Ends an agreement; the reason is recorded on both sides.</summary>
public sealed record AgreementTermination(string Reason);

// On the wire between clouds (federation listener, mutual TLS).

/// <summary><c>POST /federation/v1/agreements</c>: the consumer's proposal; <see cref="ProposalId"/> is its own id, which makes a retry safe.</summary>
public sealed record AgreementProposal(string ProposalId, AgreementTerms Terms);

/// <summary>
/// The provider's acceptance: its agreement id, the account opened for the consumer, the contract(s),
/// and the credential — a token bound to the consumer's federation certificate, useless without it.
/// </summary>
/// <param name="ApiUrl">The provider's API base URL to call with the credential (on its federation listener).</param>
public sealed record AgreementAcceptance(
    string AgreementId,
    long Version,
    AgreementState State,
    string AccountId,
    IReadOnlyList<string> ContractIds,
    string Credential,
    DateTimeOffset? CredentialExpires,
    string ApiUrl);

/// <summary><c>PUT /federation/v1/agreements/{id}</c>: amended terms, based on <see cref="Version"/>.</summary>
public sealed record AgreementAmendProposal(AgreementTerms Terms, long Version);

/// <summary>The provider's answer to an amendment.</summary>
public sealed record AgreementAmendAnswer(string AgreementId, long Version, AgreementState State, IReadOnlyList<string> ContractIds);

/// <summary>Either side tells the other an agreement ended (<c>POST /federation/v1/agreements/{id}/terminate</c>).</summary>
public sealed record AgreementTerminationNotice(string Reason);

/// <summary>
/// <c>GET /api/v1/federation/agreements/{id}/usage</c> on the consumer: the provider's usage and invoices
/// for the agreement's account, read through the provider's API with the agreement's credential.
/// </summary>
public sealed record AgreementUsage(string AgreementId, AgreementPeer Peer, UsageReport Usage, IReadOnlyList<InvoiceView> Invoices);

/// <summary>
/// The provider's federation policy (provider-admin): whom it federates with, where, and how much it
/// lets any one peer take. Evaluated against every proposal and amendment.
/// </summary>
/// <param name="Peers">Federation names of the peers allowed agreements; "*" for any trusted peer; empty: none.</param>
/// <param name="Jurisdictions">The jurisdictions this cloud offers to peers (a subset of where it runs); empty: all it runs in.</param>
/// <param name="Offerings">Offering ids peers may contract; empty: every published offering.</param>
/// <param name="MaxUnits">Per peer, the most of each unit one agreement may hold (compute-unit, storage-unit, ...); a unit not named: none.</param>
/// <param name="CapacityReservePercent">The share of the cloud's free vCPUs kept for its own consumers: an agreement may not take more than the rest.</param>
/// <param name="EncryptionAtRest">Whether this cloud's disks are encrypted at rest (a consumer requiring it is refused otherwise).</param>
/// <param name="Isolation">The strongest isolation this cloud provides to a peer's machines.</param>
public sealed record FederationPolicy(
    IReadOnlyList<string> Peers,
    IReadOnlyList<string> Jurisdictions,
    IReadOnlyList<string> Offerings,
    IReadOnlyDictionary<string, long> MaxUnits,
    decimal CapacityReservePercent,
    bool EncryptionAtRest,
    IsolationLevel Isolation,
    long Version = 0,
    DateTimeOffset? Updated = null);

namespace Welkin.Contracts;

// Bursting (docs/federation.md, "Bursting"): the cloud's own policy, and the reconciliation of what
// a peer charges this cloud with what this cloud earns from the machines it placed there.

/// <summary>The cloud's bursting policy (<c>GET/PUT /api/v1/federation/burst</c>, provider admin).</summary>
/// <param name="Version">The version replaced on a PUT (0 before the first); the stored version on a GET.</param>
public sealed record CloudBurstPolicy(
    bool Enabled,
    IReadOnlyList<string>? Peers = null,
    decimal? MaxPricePerCpuHour = null,
    long Version = 0,
    DateTimeOffset? Updated = null)
{
    public BurstPolicy AsPolicy() => new(Enabled, Peers, MaxPricePerCpuHour);
}

/// <summary>One currency's amounts of a reconciliation: the peer's charges (cost), this cloud's revenue, and revenue less cost.</summary>
/// <param name="Cost">What the peer's invoice totals: its charges less its SLA credits to this cloud.</param>
/// <param name="Margin">Revenue less cost.</param>
/// <param name="PeerCharges">The peer's charges before its SLA credits.</param>
/// <param name="PeerCredits">The peer's SLA credits to this cloud under the agreement (zero or negative, as on its invoice).</param>
/// <param name="CreditsGranted">
/// The SLA credits this cloud granted in the period on the contracts of the machines it placed in the peer's pools (zero or
/// negative, as on its consumers' invoices; a credit belongs to a whole contract).
/// </param>
/// <param name="NetMargin">Revenue with the credits granted, less cost: what an outage cost this cloud beyond what the peer credited.</param>
public sealed record ReconciledAmount(
    string Currency, decimal Cost, decimal Revenue, decimal Margin, decimal PeerCharges = 0m, decimal PeerCredits = 0m, decimal CreditsGranted = 0m, decimal NetMargin = 0m);

/// <summary>A machine this cloud placed in the peer's pool, with its usage and revenue in the period.</summary>
/// <param name="Revenue">What this cloud's plans charge for the machine's usage of the period (by currency).</param>
public sealed record ReconciledMachine(
    string MachineId, string AccountId, string ContractId, string Pool, IReadOnlyList<UsageQuantity> Usage, IReadOnlyList<InvoiceTotalView> Revenue);

/// <summary>
/// <c>GET /api/v1/federation/agreements/{id}/reconciliation?period=YYYY-MM</c>: per agreement this
/// cloud consumes and billing period, the peer's charges to this cloud under the agreement (its invoice
/// of the period, or its preview while the period is open), this cloud's revenue from the machines it
/// placed in the peer's pools, and the difference. A broker reads the same report as cost, revenue and margin.
/// </summary>
/// <param name="PeerInvoice">The peer's invoice the cost is taken from (null: the peer has not issued one; the cost is its preview).</param>
public sealed record AgreementReconciliation(
    string AgreementId,
    AgreementPeer Peer,
    string Period,
    DateTimeOffset PeriodStart,
    DateTimeOffset PeriodEnd,
    string? PeerInvoice,
    bool PeerInvoiceIssued,
    IReadOnlyList<ReconciledAmount> Amounts,
    IReadOnlyList<ReconciledMachine> Machines);

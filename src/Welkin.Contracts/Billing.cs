namespace Welkin.Contracts;

// Data artifacts of rating and invoicing: price plan versions of contract lines, invoices and
// their lines. Money is an exact decimal; amounts are rounded half-even to the cent per line.

/// <summary>
/// One version of a contract line's price plan. Version 1 is the plan copied from the offering
/// when the contract was proposed; later versions take effect at <paramref name="EffectiveFrom"/>.
/// A usage slice is rated with the version in effect at its start.
/// </summary>
public sealed record PricePlanVersionView(
    string ContractId,
    int Item,
    int Version,
    DateTimeOffset EffectiveFrom,
    PricePlan PricePlan,
    string? CreatedBy,
    string? Reason,
    DateTimeOffset Created);

/// <summary>A new price plan version for one line, effective from a future instant or the start of a period not yet invoiced.</summary>
public sealed record AddPricePlanVersionRequest(int Item, DateTimeOffset EffectiveFrom, PricePlan PricePlan, string? Reason = null);

/// <param name="Period">The billing period, a calendar month in UTC: "2026-11".</param>
public sealed record IssueInvoiceRequest(string Period);

public enum InvoiceKind
{
    /// <summary>A whole billing period.</summary>
    Period,

    /// <summary>The last invoice of a closed account: from the period start to the closing.</summary>
    Final,
}

public enum InvoiceState
{
    /// <summary>Computed on request and not stored.</summary>
    Preview,

    /// <summary>Stored and immutable.</summary>
    Issued,
}

public enum InvoiceLineKind
{
    /// <summary>Metered usage, or provisioned units, at the rate's price.</summary>
    Charge,

    /// <summary>Units ordered but not provisioned, at the price less the offering's discount.</summary>
    Unprovisioned,

    /// <summary>What a rate's minimum charge adds to the lines of that rate.</summary>
    Minimum,

    /// <summary>A service credit for an SLA term missed in the period (negative).</summary>
    SlaCredit,
}

/// <summary>
/// One line of an invoice: one contract line, rate, plan version and (for tiered pricing) tier.
/// <paramref name="Quantity"/> is in the rate's unit, shown to six decimals; the amount is
/// computed from the exact quantity and rounded half-even to the cent.
/// </summary>
/// <param name="UsageMetric">The metered metric the quantity comes from (vcpu-ms, storage-gib-ms, unit-ordered-ms, ...).</param>
/// <param name="UsageQuantity">The exact metered quantity, in the usage metric's integer unit.</param>
/// <param name="UnitPrice">The price per unit applied, after the unprovisioned discount.</param>
/// <param name="Tier">For tiered and volume pricing: the tier applied, "0-1000", "1000+".</param>
/// <param name="Term">For SLA credits: the SLA term missed.</param>
/// <param name="MetricName">What the quantity counts, in words a business manager reads: "CPU hours", "storage TB-days", "servers per month".</param>
public sealed record InvoiceLineView(
    InvoiceLineKind Kind,
    string ContractId,
    int? Item,
    string? Offering,
    string? Metric,
    string? Unit,
    int? PlanVersion,
    string? UsageMetric,
    long? UsageQuantity,
    decimal? Quantity,
    decimal? UnitPrice,
    PricingModel? Pricing,
    string? Tier,
    decimal? DiscountPercent,
    string? Term,
    decimal? CreditPercent,
    string Currency,
    decimal Amount,
    string Description,
    string? MetricName = null);

/// <summary>Tax-free totals of one currency: charges, SLA credits (negative) and what is due.</summary>
public sealed record InvoiceTotalView(string Currency, decimal Charges, decimal Credits, decimal Total);

/// <summary>A price plan version an invoice used, as it stood when the invoice was made.</summary>
public sealed record InvoicePlanVersion(string ContractId, int Item, int Version, DateTimeOffset EffectiveFrom, PricePlan PricePlan);

/// <summary>Who sends or receives the invoice: the provider (configured), or the bill-to account.</summary>
/// <param name="Address">Postal address, lines separated by "\n"; null when none is set.</param>
/// <param name="AccountId">The bill-to account; null for the provider.</param>
/// <param name="AccountName">The bill-to account's short name; its display name is <paramref name="Name"/>.</param>
public sealed record InvoiceParty(string Name, string? Address, string? AccountId = null, string? AccountName = null);

/// <summary>A contract an invoice charges, with the name the account gave it.</summary>
public sealed record InvoiceContract(string Id, string? Name);

/// <param name="Id">Null for a preview.</param>
/// <param name="PeriodEnd">End of the period the invoice covers: the month's end, or the closing of the account for a final invoice.</param>
/// <param name="RatedUntil">Usage up to this instant is included (the period end, or now for a preview of the current period).</param>
/// <param name="Number">The invoice number, sequential per provider and never reused ("WK-2026-000123"), assigned when the invoice is issued; null for a preview (and for invoices issued before numbering).</param>
/// <param name="IssueDate">The UTC date of issue; null for a preview.</param>
/// <param name="DueDate">Issue date plus <paramref name="PaymentTermsDays"/>; null for a preview.</param>
/// <param name="Provider">The provider as configured when the invoice was made.</param>
/// <param name="BillTo">The account billed, with its billing address as it stood when the invoice was made.</param>
/// <param name="Contracts">The contracts the lines charge, with their names.</param>
public sealed record InvoiceView(
    string? Id,
    string AccountId,
    string Period,
    InvoiceKind Kind,
    InvoiceState State,
    DateTimeOffset PeriodStart,
    DateTimeOffset PeriodEnd,
    DateTimeOffset RatedUntil,
    IReadOnlyList<InvoiceLineView> Lines,
    IReadOnlyList<InvoiceTotalView> Totals,
    IReadOnlyList<InvoicePlanVersion> PlanVersions,
    string? IssuedBy,
    DateTimeOffset? Issued,
    string? Number = null,
    DateOnly? IssueDate = null,
    DateOnly? DueDate = null,
    int? PaymentTermsDays = null,
    InvoiceParty? Provider = null,
    InvoiceParty? BillTo = null,
    IReadOnlyList<InvoiceContract>? Contracts = null);

/// <summary>An invoice in a list: its number, period, kind and totals.</summary>
public sealed record InvoiceSummaryView(
    string Id,
    string AccountId,
    string Period,
    InvoiceKind Kind,
    DateTimeOffset PeriodStart,
    DateTimeOffset PeriodEnd,
    IReadOnlyList<InvoiceTotalView> Totals,
    int Lines,
    string IssuedBy,
    DateTimeOffset Issued,
    string? Number = null);

/// <summary>The account's billing address, printed on its invoices as the bill-to address.</summary>
/// <param name="Address">Lines separated by "\n"; null or empty removes it.</param>
public sealed record SetBillingAddressRequest(string? Address, long? Version = null);

/// <summary>An account's billing address and the account's version after the change.</summary>
public sealed record BillingAddressView(string AccountId, string? Address, long Version);

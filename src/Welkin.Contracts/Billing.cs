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
    string Description);

/// <summary>Tax-free totals of one currency: charges, SLA credits (negative) and what is due.</summary>
public sealed record InvoiceTotalView(string Currency, decimal Charges, decimal Credits, decimal Total);

/// <summary>A price plan version an invoice used, as it stood when the invoice was made.</summary>
public sealed record InvoicePlanVersion(string ContractId, int Item, int Version, DateTimeOffset EffectiveFrom, PricePlan PricePlan);

/// <param name="Id">Null for a preview.</param>
/// <param name="PeriodEnd">End of the period the invoice covers: the month's end, or the closing of the account for a final invoice.</param>
/// <param name="RatedUntil">Usage up to this instant is included (the period end, or now for a preview of the current period).</param>
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
    DateTimeOffset? Issued);

/// <summary>An invoice in a list: its period, kind and totals.</summary>
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
    DateTimeOffset Issued);

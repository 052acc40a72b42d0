namespace Welkin.Contracts;

// Data artifacts of the Service Catalog. The template model maps onto DMTF OVF (DSP0243):
// a template with one virtual system is a VirtualSystem, with several a VirtualSystemCollection;
// hardware choices are VirtualHardwareSection items (RASD ResourceType 3 CPU, 4 memory, 17 disk)
// with DeploymentOptionSection configurations for the alternatives; software choices and
// properties are ProductSection properties (PropertyType names follow OVF's ovf:type).

public enum TemplateState
{
    Draft,
    Published,
    Retired,
}

public enum OfferingState
{
    Draft,
    Published,
    Withdrawn,
}

public enum OfferingKind
{
    /// <summary>Virtual systems built from a template.</summary>
    Compute,

    /// <summary>Storage as a service, sold in fixed increments (Table 1: 100 GB).</summary>
    Storage,
}

/// <summary>ProductSection property types (OVF 2.0 9.5: string, boolean, sint64, real64).</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720", Justification = "The members are the JSON values \"string\" and \"int\".")]
public enum PropertyType
{
    String,
    Boolean,
    Int,
    Real,
}

public enum ImageFormat
{
    Raw,
    Qcow2,
    Vmdk,
}

public enum ImageState
{
    Available,
    Deleted,
}

/// <summary>A set of allowed values and the default picked when a request says nothing.</summary>
public sealed record Choice<T>(IReadOnlyList<T> Allowed, T Default);

public sealed record HardwareChoices(Choice<int> Vcpus, Choice<long> MemoryMiB, Choice<long> DiskGiB);

public sealed record SoftwareChoices(Choice<string>? OperatingSystem = null, Choice<string>? HttpServer = null, Choice<string>? DatabaseManager = null);

/// <summary>A typed configurable property (OVF ProductSection Property). Values travel as strings, as in OVF.</summary>
/// <param name="Password">
/// A secret (OVF's <c>ovf:password</c>), always a string. Its values reach the machine but are never shown back:
/// views show them as <c>"********"</c>, a template view shows its default as null (the stored default still
/// applies at provision), and OVF exports write <c>ovf:password="true"</c> without a value.
/// </param>
public sealed record PropertyDefinition(
    string Key,
    PropertyType Type,
    string? Default = null,
    string? Label = null,
    string? Description = null,
    IReadOnlyList<string>? AllowedValues = null,
    bool UserConfigurable = true,
    bool Password = false);

/// <summary>
/// A disk of a virtual system beyond its system disk (an OVF Disk the system attaches after its first
/// bootable one): created at provision, empty or holding its image's content, attached to every
/// machine of the system after the system disk, deleted with the machine, exported as a disk of its own.
/// </summary>
/// <param name="Name">Unique within the virtual system; the OVF disk id it came from, normalised.</param>
/// <param name="SizeGiB">
/// The sizes a consumer may choose and the default. 0 among the allowed values means the disk may be
/// left out; a default of 0 leaves it out unless asked (an OVF disk that only some deployment
/// configurations have, the default configuration not among them).
/// </param>
/// <param name="ImageId">An image whose content the volume starts with; empty when null.</param>
public sealed record DataVolumeSpec(string Name, Choice<long> SizeGiB, string? ImageId = null);

/// <summary>One tier of a service: an OVF VirtualSystem.</summary>
/// <param name="DataVolumes">Disks beyond the system disk, in the order they are attached (vdb, vdc, …).</param>
public sealed record VirtualSystemSpec(
    string Name,
    HardwareChoices Hardware,
    SoftwareChoices? Software = null,
    string? ImageId = null,
    IReadOnlyList<PropertyDefinition>? Properties = null,
    IReadOnlyList<DataVolumeSpec>? DataVolumes = null);

public sealed record TemplateSpec(string Name, IReadOnlyList<VirtualSystemSpec> VirtualSystems, string? Description = null);

public sealed record UpdateTemplateRequest(TemplateSpec Spec, long? Version = null);

/// <summary>Starts the next version of a template as a draft, from the given spec or a copy of the latest.</summary>
public sealed record NewTemplateVersionRequest(TemplateSpec? Spec = null);

/// <summary>Publish or retire one version (the latest when omitted).</summary>
public sealed record TemplateTransitionRequest(int? TemplateVersion = null, long? Version = null);

/// <param name="TemplateVersion">1, 2, 3... per template.</param>
/// <param name="Version">Row version for optimistic concurrency.</param>
public sealed record TemplateView(
    string Id,
    int TemplateVersion,
    TemplateState State,
    string Name,
    string? Description,
    IReadOnlyList<VirtualSystemSpec> VirtualSystems,
    string Owner,
    long Version,
    DateTimeOffset Created,
    DateTimeOffset Updated,
    DateTimeOffset? Published,
    DateTimeOffset? Retired);

/// <summary>How an offering narrows one virtual system of its template: each choice a subset of the template's (one value = fixed).</summary>
public sealed record VirtualSystemRestriction(
    string VirtualSystem,
    Choice<int>? Vcpus = null,
    Choice<long>? MemoryMiB = null,
    Choice<long>? DiskGiB = null,
    Choice<string>? OperatingSystem = null,
    Choice<string>? HttpServer = null,
    Choice<string>? DatabaseManager = null,
    IReadOnlyDictionary<string, string>? FixedProperties = null);

public sealed record StorageSpec(long IncrementGiB, long MaxGiB);

/// <summary>How a rate turns a quantity into an amount.</summary>
public enum PricingModel
{
    /// <summary>Quantity times <see cref="PriceRate.Price"/>.</summary>
    Flat,

    /// <summary>Graduated: each tier's share of the quantity at that tier's price, beyond the last tier at <see cref="PriceRate.Price"/>.</summary>
    Tiered,

    /// <summary>The whole quantity at the price of the tier the total falls into (beyond the last tier: <see cref="PriceRate.Price"/>).</summary>
    Volume,
}

/// <summary>One tier of tiered or volume pricing: quantities up to <paramref name="UpTo"/> (in the rate's unit) cost <paramref name="Price"/> each.</summary>
public sealed record PriceTier(decimal UpTo, decimal Price);

/// <summary>
/// One rate of a price plan. Metric names what is measured (compute-unit, storage-unit, cpu-hour,
/// memory-gb-hour, storage-tb-day, storage-gb-month); Unit the quantity the price is per
/// (unit-month, hour, tb-day, gb-month). docs/api-billing.md lists the pairs rating understands.
/// </summary>
/// <param name="Pricing">Flat when omitted.</param>
/// <param name="Tiers">Ascending tiers for tiered and volume pricing.</param>
/// <param name="MinimumCharge">The least this rate charges a contract line per billing period (prorated for a partial period).</param>
public sealed record PriceRate(
    string Metric,
    string Unit,
    decimal Price,
    string? Description = null,
    PricingModel? Pricing = null,
    IReadOnlyList<PriceTier>? Tiers = null,
    decimal? MinimumCharge = null);

public sealed record PricePlan(string Currency, string BillingPeriod, IReadOnlyList<PriceRate> Rates);

/// <summary>
/// What the provider promises per billing period, and the service credit (percent of the
/// contract's charges of the period) each kind of breach earns; a missing credit percent takes
/// the default (<see cref="DefaultAvailabilityCreditPercent"/>, ...).
/// </summary>
/// <param name="PerformanceCreditPercent">Credit for a CPU-utilization or page-fault breach (each term its own).</param>
/// <param name="UnknownCountsAsDowntime">
/// Whether time a wanted machine spends unknown (its peer cloud cannot be reached) counts as downtime;
/// null or true: it does; false: it counts neither as up nor as down.
/// </param>
public sealed record SlaTerms(
    decimal AvailabilityPercent,
    decimal? CpuUtilizationPercentMax = null,
    long? PageFaultsPerSecondMax = null,
    int? IncidentResponseMinutes = null,
    decimal? AvailabilityCreditPercent = null,
    decimal? PerformanceCreditPercent = null,
    decimal? ResponseCreditPercent = null,
    bool? UnknownCountsAsDowntime = null)
{
    public const decimal DefaultAvailabilityCreditPercent = 10m;
    public const decimal DefaultPerformanceCreditPercent = 5m;
    public const decimal DefaultResponseCreditPercent = 5m;
}

public sealed record PlacementConstraints(IReadOnlyList<string>? Jurisdictions = null, IReadOnlyList<string>? Regions = null);

/// <param name="UnprovisionedDiscountPercent">Table 1: units ordered but not provisioned are paid for at a discount.</param>
public sealed record OfferingTerms(int MinimumPeriodMonths, decimal UnprovisionedDiscountPercent);

/// <param name="LimitUnit">The account limit one ordered unit of this offering draws on (compute-unit, storage-unit, ...).</param>
public sealed record OfferingSpec(
    string Name,
    OfferingKind Kind,
    PricePlan PricePlan,
    SlaTerms Sla,
    OfferingTerms Terms,
    string LimitUnit,
    string? Description = null,
    string? TemplateId = null,
    int? TemplateVersion = null,
    IReadOnlyList<VirtualSystemRestriction>? Choices = null,
    StorageSpec? Storage = null,
    PlacementConstraints? Constraints = null,
    BurstPolicy? Burst = null);

/// <summary>
/// Whether machines may burst to peer clouds when no local host can take them (docs/federation.md,
/// "Bursting"): on an offering (absent: off) and for the whole cloud; both must allow it.
/// </summary>
/// <param name="Peers">Federation names of the peers machines may burst to; null: any peer with a pool.</param>
/// <param name="MaxPricePerCpuHour">The most a peer's per-vCPU-hour rate may be, in the offering's currency; null: no ceiling.</param>
public sealed record BurstPolicy(bool Enabled, IReadOnlyList<string>? Peers = null, decimal? MaxPricePerCpuHour = null);

public sealed record UpdateOfferingRequest(OfferingSpec Spec, long? Version = null);

public sealed record OfferingTransitionRequest(long? Version = null);

public sealed record OfferingView(
    string Id,
    OfferingState State,
    OfferingSpec Spec,
    long Version,
    DateTimeOffset Created,
    DateTimeOffset Updated,
    DateTimeOffset? Published,
    DateTimeOffset? Withdrawn);

public sealed record ImageView(
    string Id,
    string Name,
    string? Description,
    ImageFormat Format,
    long SizeBytes,
    string Sha256,
    ImageState State,
    long Version,
    DateTimeOffset Created,
    ImageBoot? Boot = null);

/// <summary>
/// How a disk image boots on a fabric of real machines by direct kernel boot (as OpenStack's
/// kernel_id and ramdisk_id properties): the kernel and initial ramdisk, themselves images, the
/// kernel command line, and the line the guest prints on its serial console once it is up, which
/// the fabric waits for before it reports the machine running. All optional.
/// </summary>
public sealed record ImageBoot(string? KernelImageId = null, string? RamdiskImageId = null, string? CommandLine = null, string? ReadyMarker = null);

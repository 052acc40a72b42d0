using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Text.Json;
using Welkin.Client;
using Welkin.Contracts;

namespace Welkin.Portal.Components.Shared;

/// <summary>The provider's template form for the common case: one virtual system, its hardware choices and image.</summary>
public sealed class TemplateInput
{
    [Required, StringLength(200)]
    public string? Name { get; set; }

    [StringLength(2000)]
    public string? Description { get; set; }

    [Required, StringLength(63)]
    public string? SystemName { get; set; } = "web";

    /// <summary>Allowed values, comma-separated; the first is the default.</summary>
    [Required, StringLength(200)]
    public string? Vcpus { get; set; } = "2";

    [Required, StringLength(200)]
    public string? MemoryMiB { get; set; } = "4096";

    [Required, StringLength(200)]
    public string? DiskGiB { get; set; } = "20";

    [StringLength(200)]
    public string? OperatingSystems { get; set; }

    [StringLength(100)]
    public string? ImageId { get; set; }

    /// <summary>The spec the form describes, or the field errors that stop it.</summary>
    public (TemplateSpec? Spec, WelkinProblem? Problem) ToSpec()
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var vcpus = CatalogForms.Choices(Vcpus, "vcpus", errors, s => int.Parse(s, NumberStyles.None, CultureInfo.InvariantCulture));
        var memory = CatalogForms.Choices(MemoryMiB, "memoryMiB", errors, s => long.Parse(s, NumberStyles.None, CultureInfo.InvariantCulture));
        var disk = CatalogForms.Choices(DiskGiB, "diskGiB", errors, s => long.Parse(s, NumberStyles.None, CultureInfo.InvariantCulture));
        var os = string.IsNullOrWhiteSpace(OperatingSystems) ? null : CatalogForms.Choices(OperatingSystems, "operatingSystem", errors, s => s);
        if (errors.Count > 0)
        {
            return (null, CatalogForms.Invalid(errors));
        }
        var system = new VirtualSystemSpec(
            SystemName!.Trim(),
            new HardwareChoices(vcpus!, memory!, disk!),
            os is null ? null : new SoftwareChoices(os),
            string.IsNullOrWhiteSpace(ImageId) ? null : ImageId.Trim());
        return (new TemplateSpec(Name!.Trim(), [system], string.IsNullOrWhiteSpace(Description) ? null : Description.Trim()), null);
    }
}

/// <summary>A template or its next version as the API's JSON request, for what the form above cannot say.</summary>
public sealed class TemplateJsonInput
{
    [Required, StringLength(200_000)]
    public string? Json { get; set; }

    /// <summary>Whether the JSON replaces the latest version's draft rather than starting a new version.</summary>
    public bool ReplaceDraft { get; set; }
}

/// <summary>The provider's offering form: the spec's common fields, up to four rates of the price plan.</summary>
public sealed class OfferingInput
{
    [StringLength(100)]
    public string? Id { get; set; }

    public long? Version { get; set; }

    /// <summary>"choices" when the form is posted only to show the chosen template version's choices.</summary>
    [StringLength(20)]
    public string? Step { get; set; }

    [Required, StringLength(200)]
    public string? Name { get; set; }

    [StringLength(2000)]
    public string? Description { get; set; }

    public OfferingKind Kind { get; set; } = OfferingKind.Compute;

    /// <summary>"templateId/version" of a published template version.</summary>
    [StringLength(120)]
    public string? Template { get; set; }

    [Required, StringLength(3, MinimumLength = 3)]
    public string? Currency { get; set; } = "USD";

    [Required, StringLength(20)]
    public string? BillingPeriod { get; set; } = "month";

    [StringLength(63)] public string? Rate1Metric { get; set; } = "compute-unit";
    [StringLength(63)] public string? Rate1Unit { get; set; } = "unit-month";
    public decimal? Rate1Price { get; set; }
    [StringLength(63)] public string? Rate2Metric { get; set; } = "cpu-hour";
    [StringLength(63)] public string? Rate2Unit { get; set; } = "hour";
    public decimal? Rate2Price { get; set; }
    [StringLength(63)] public string? Rate3Metric { get; set; } = "memory-gb-hour";
    [StringLength(63)] public string? Rate3Unit { get; set; } = "hour";
    public decimal? Rate3Price { get; set; }
    [StringLength(63)] public string? Rate4Metric { get; set; }
    [StringLength(63)] public string? Rate4Unit { get; set; }
    public decimal? Rate4Price { get; set; }

    [Range(0, 100)]
    public decimal AvailabilityPercent { get; set; } = 99.9m;

    [Range(0, 100)]
    public decimal? AvailabilityCreditPercent { get; set; }

    [Range(0, 120)]
    public int TermMonths { get; set; } = 1;

    [Range(0, 100)]
    public decimal UnprovisionedDiscountPercent { get; set; } = 50m;

    [Required, StringLength(63)]
    public string? LimitUnit { get; set; } = "compute-unit";

    /// <summary>Comma-separated jurisdictions; empty for any.</summary>
    [StringLength(500)]
    public string? Jurisdictions { get; set; }

    [Range(1, 1_000_000)]
    public long? StorageIncrementGiB { get; set; }

    [Range(1, 100_000_000)]
    public long? StorageMaxGiB { get; set; }

    public static OfferingInput From(OfferingView offering)
    {
        var spec = offering.Spec;
        var input = new OfferingInput
        {
            Id = offering.Id,
            Version = offering.Version,
            Name = spec.Name,
            Description = spec.Description,
            Kind = spec.Kind,
            Template = spec.TemplateId is null ? null : $"{spec.TemplateId}/{spec.TemplateVersion}",
            Currency = spec.PricePlan.Currency,
            BillingPeriod = spec.PricePlan.BillingPeriod,
            AvailabilityPercent = spec.Sla.AvailabilityPercent,
            AvailabilityCreditPercent = spec.Sla.AvailabilityCreditPercent,
            TermMonths = spec.Terms.MinimumPeriodMonths,
            UnprovisionedDiscountPercent = spec.Terms.UnprovisionedDiscountPercent,
            LimitUnit = spec.LimitUnit,
            Jurisdictions = spec.Constraints?.Jurisdictions is { Count: > 0 } j ? string.Join(", ", j) : null,
            StorageIncrementGiB = spec.Storage?.IncrementGiB,
            StorageMaxGiB = spec.Storage?.MaxGiB,
        };
        var rates = spec.PricePlan.Rates;
        input.Rate1Metric = input.Rate1Unit = input.Rate2Metric = input.Rate2Unit = input.Rate3Metric = input.Rate3Unit = null;
        (input.Rate1Metric, input.Rate1Unit, input.Rate1Price) = Row(rates, 0);
        (input.Rate2Metric, input.Rate2Unit, input.Rate2Price) = Row(rates, 1);
        (input.Rate3Metric, input.Rate3Unit, input.Rate3Price) = Row(rates, 2);
        (input.Rate4Metric, input.Rate4Unit, input.Rate4Price) = Row(rates, 3);
        return input;
    }

    private static (string?, string?, decimal?) Row(IReadOnlyList<PriceRate> rates, int i) =>
        i < rates.Count ? (rates[i].Metric, rates[i].Unit, rates[i].Price) : (null, null, null);

    /// <summary>
    /// The spec the form describes. Fields of another spec (tiers, restrictions, burst) are kept from
    /// <paramref name="existing"/>; the page puts the restrictions of its own fields in.
    /// </summary>
    public (OfferingSpec? Spec, WelkinProblem? Problem) ToSpec(OfferingSpec? existing)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var rates = new List<PriceRate>();
        foreach (var (i, metric, unit, price) in new[] { (1, Rate1Metric, Rate1Unit, Rate1Price), (2, Rate2Metric, Rate2Unit, Rate2Price), (3, Rate3Metric, Rate3Unit, Rate3Price), (4, Rate4Metric, Rate4Unit, Rate4Price) })
        {
            if (price is null)
            {
                continue;
            }
            if (string.IsNullOrWhiteSpace(metric) || string.IsNullOrWhiteSpace(unit))
            {
                errors[$"rate {i}"] = ["A priced rate needs a metric and a unit."];
                continue;
            }
            var kept = existing?.PricePlan.Rates.FirstOrDefault(r => r.Metric == metric.Trim() && r.Unit == unit.Trim());
            rates.Add(kept is null ? new PriceRate(metric.Trim(), unit.Trim(), price.Value) : kept with { Price = price.Value });
        }
        string? templateId = null;
        int? templateVersion = null;
        if (!string.IsNullOrWhiteSpace(Template))
        {
            var slash = Template.LastIndexOf('/');
            if (slash <= 0 || !int.TryParse(Template.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var version))
            {
                errors["template"] = ["Choose a published template version."];
            }
            else
            {
                templateId = Template[..slash];
                templateVersion = version;
            }
        }
        if (errors.Count > 0)
        {
            return (null, CatalogForms.Invalid(errors));
        }
        var jurisdictions = CatalogForms.List(Jurisdictions);
        var sla = (existing?.Sla ?? new SlaTerms(AvailabilityPercent)) with
        {
            AvailabilityPercent = AvailabilityPercent,
            AvailabilityCreditPercent = AvailabilityCreditPercent,
        };
        var spec = new OfferingSpec(
            Name!.Trim(),
            Kind,
            new PricePlan(Currency!.Trim().ToUpperInvariant(), BillingPeriod!.Trim(), rates),
            sla,
            new OfferingTerms(TermMonths, UnprovisionedDiscountPercent),
            LimitUnit!.Trim(),
            string.IsNullOrWhiteSpace(Description) ? null : Description.Trim(),
            Kind == OfferingKind.Compute ? templateId : null,
            Kind == OfferingKind.Compute ? templateVersion : null,
            Kind == OfferingKind.Compute && existing?.TemplateId == templateId && existing?.TemplateVersion == templateVersion ? existing?.Choices : null,
            Kind == OfferingKind.Storage && StorageIncrementGiB is { } increment ? new StorageSpec(increment, StorageMaxGiB ?? increment) : null,
            jurisdictions.Count > 0 ? new PlacementConstraints(jurisdictions, existing?.Constraints?.Regions) : existing?.Constraints?.Regions is { Count: > 0 } regions ? new PlacementConstraints(Regions: regions) : null,
            existing?.Burst);
        return (spec, null);
    }
}

public static class CatalogForms
{
    public static WelkinProblem Invalid(IReadOnlyDictionary<string, string[]> errors) =>
        new(400, "validation-failed", "The form has errors", Errors: errors);

    public static List<string> List(string? text) =>
        (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();

    /// <summary>"2, 4, 8" as a choice whose default is the first value.</summary>
    public static Choice<T>? Choices<T>(string? text, string field, Dictionary<string, string[]> errors, Func<string, T> parse)
    {
        var values = new List<T>();
        foreach (var item in List(text))
        {
            try
            {
                values.Add(parse(item));
            }
            catch (Exception e) when (e is FormatException or OverflowException)
            {
                errors[field] = [$"'{item}' is not a whole number."];
                return null;
            }
        }
        if (values.Count == 0)
        {
            errors[field] = ["Give at least one value."];
            return null;
        }
        return new Choice<T>(values, values[0]);
    }

    /// <summary>Reads a JSON request the API will validate; a syntax error is answered as the API answers one.</summary>
    public static (T? Value, WelkinProblem? Problem) Parse<T>(string? json) where T : class
    {
        try
        {
            return (JsonSerializer.Deserialize<T>(json ?? "", WelkinJson.Server) ?? throw new JsonException("The JSON is null."), null);
        }
        catch (JsonException e)
        {
            return (null, new WelkinProblem(400, "malformed-json", "The JSON cannot be read", WelkinJson.Describe(e)));
        }
    }

    public static string Json<T>(T value) => JsonSerializer.Serialize(value, Indented);

    private static readonly JsonSerializerOptions Indented = new(WelkinJson.Client) { WriteIndented = true };
}

using Welkin.Contracts;
using Welkin.Core.Billing;
using Welkin.Core.Common;

namespace Welkin.Core.Catalog;

/// <summary>
/// What makes an offering spec valid. <see cref="Validate"/> checks the spec on its own;
/// <see cref="ValidateChoices"/> checks a compute offering's restrictions against the
/// template version they narrow, which <see cref="OfferingService"/> loads.
/// </summary>
public static class OfferingRules
{
    public const int MaxRates = 50;
    public const decimal MaxPrice = 1_000_000m;
    public const int MaxPriceDecimals = 6;
    public const int MaxMinimumPeriodMonths = 120;
    public const long MaxStorageIncrementGiB = 65_536;
    public const long MaxStorageGiB = 16_777_216;
    public const int MaxConstraintValues = 64;
    public const int MaxConstraintLength = 64;
    public const int MaxRateDescriptionLength = 200;

    /// <summary>Billing periods rating understands; only calendar months for now.</summary>
    public static readonly IReadOnlyList<string> BillingPeriods = ["month"];

    /// <param name="at">Prefix of field names: "" when the spec is the body, "spec." when it is nested.</param>
    public static Validator Validate(OfferingSpec? spec, string at = "")
    {
        var v = new Validator();
        if (spec is null)
        {
            return v.Add(at.TrimEnd('.') is { Length: > 0 } f ? f : "spec", "the offering spec is required");
        }
        CatalogRules.RequireText(v, spec.Name, at + "name", CatalogRules.MaxNameLength);
        CatalogRules.OptionalText(v, spec.Description, at + "description", CatalogRules.MaxDescriptionLength);
        v.Require(Names.IsValid(spec.LimitUnit), at + "limitUnit", $"{at}limitUnit {Names.Rule}");
        ValidatePricePlan(v, spec.PricePlan, at + "pricePlan");
        ValidateSla(v, spec.Sla, at + "sla");
        ValidateTerms(v, spec.Terms, at + "terms");
        ValidateConstraints(v, spec.Constraints, at + "constraints");
        Federation.BurstPolicies.Validate(v, spec.Burst, at + "burst.");
        switch (spec.Kind)
        {
            case OfferingKind.Compute:
                v.Require(Ids.IsValid(spec.TemplateId, Ids.Template), at + "templateId", $"{at}templateId must be a template id (a compute offering is made from a template)");
                v.Require(spec.TemplateVersion is >= 1, at + "templateVersion", $"{at}templateVersion must be a template version number (1 or more)");
                v.Require(spec.Storage is null, at + "storage", $"{at}storage is only for storage offerings");
                if (spec.Choices is not null && spec.Choices.Count > TemplateRules.MaxVirtualSystems)
                {
                    v.Add(at + "choices", $"{at}choices holds at most {TemplateRules.MaxVirtualSystems} restrictions");
                }
                break;
            case OfferingKind.Storage:
                ValidateStorage(v, spec.Storage, at + "storage");
                v.Require(spec.TemplateId is null, at + "templateId", $"{at}templateId is only for compute offerings");
                v.Require(spec.TemplateVersion is null, at + "templateVersion", $"{at}templateVersion is only for compute offerings");
                v.Require(spec.Choices is null, at + "choices", $"{at}choices is only for compute offerings");
                v.Require(spec.Burst is null, at + "burst", $"{at}burst is only for compute offerings");
                break;
            default:
                v.Add(at + "kind", $"{at}kind must be compute or storage");
                break;
        }
        return v;
    }

    /// <summary>Each restriction names a virtual system of the template and narrows its choices to a subset.</summary>
    public static void ValidateChoices(Validator v, IReadOnlyList<VirtualSystemRestriction>? choices, TemplateSpec template, string at = "")
    {
        if (choices is null || choices.Count > TemplateRules.MaxVirtualSystems)
        {
            return;
        }
        var systems = template.VirtualSystems.ToDictionary(s => s.Name, StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < choices.Count; i++)
        {
            var field = $"{at}choices[{i}]";
            var r = choices[i];
            if (r is null)
            {
                v.Add(field, $"{field} must not be null");
                continue;
            }
            if (r.VirtualSystem is null || !systems.TryGetValue(r.VirtualSystem, out var system))
            {
                v.Add($"{field}.virtualSystem", $"{field}.virtualSystem names no virtual system of the template");
                continue;
            }
            if (!seen.Add(r.VirtualSystem))
            {
                v.Add($"{field}.virtualSystem", $"{field}.virtualSystem restricts '{r.VirtualSystem}' a second time");
            }
            Narrow(v, r.Vcpus, system.Hardware.Vcpus, $"{field}.vcpus");
            Narrow(v, r.MemoryMiB, system.Hardware.MemoryMiB, $"{field}.memoryMiB");
            Narrow(v, r.DiskGiB, system.Hardware.DiskGiB, $"{field}.diskGiB");
            Narrow(v, r.OperatingSystem, system.Software?.OperatingSystem, $"{field}.operatingSystem");
            Narrow(v, r.HttpServer, system.Software?.HttpServer, $"{field}.httpServer");
            Narrow(v, r.DatabaseManager, system.Software?.DatabaseManager, $"{field}.databaseManager");
            ValidateFixedProperties(v, r.FixedProperties, system, $"{field}.fixedProperties");
        }
    }

    private static void Narrow<T>(Validator v, Choice<T>? restriction, Choice<T>? offered, string field)
    {
        if (restriction is null)
        {
            return;
        }
        if (offered is null)
        {
            v.Add(field, $"{field} restricts a choice the template does not offer");
            return;
        }
        CatalogRules.ValidateChoice(v, restriction, field, offered.Allowed.Contains, "must be one of the template's allowed values");
    }

    private static void ValidateFixedProperties(Validator v, IReadOnlyDictionary<string, string>? fixedProperties, VirtualSystemSpec system, string field)
    {
        if (fixedProperties is null)
        {
            return;
        }
        if (fixedProperties.Count > TemplateRules.MaxProperties)
        {
            v.Add(field, $"{field} holds at most {TemplateRules.MaxProperties} values");
            return;
        }
        foreach (var (key, value) in fixedProperties)
        {
            var at = $"{field}.{CatalogRules.Clip(key, 80)}";
            var property = system.Properties?.FirstOrDefault(p => p.Key == key);
            if (property is null)
            {
                v.Add(at, $"{at}: the virtual system has no property '{CatalogRules.Clip(key, 80)}'");
            }
            else if (property.Password)
            {
                // An offering is shown to every consumer; a value it fixed would be a secret shown in clear.
                v.Add(at, $"{at}: '{CatalogRules.Clip(key, 80)}' is a password property; an offering cannot fix it");
            }
            else if (!TemplateRules.Accepts(property, value))
            {
                v.Add(at, property.AllowedValues is null
                    ? $"{at} {CatalogRules.TypeRule(property.Type)}"
                    : $"{at} {CatalogRules.TypeRule(property.Type)} and one of the property's allowed values");
            }
        }
    }

    /// <summary>A price plan on its own: currency, period, rates (and the rating rules of each rate).</summary>
    public static void ValidatePricePlan(Validator v, PricePlan? plan, string field)
    {
        if (plan is null)
        {
            v.Add(field, $"{field} is required");
            return;
        }
        v.Require(plan.Currency is { Length: 3 } c && c.All(char.IsAsciiLetterUpper), $"{field}.currency",
            $"{field}.currency must be an ISO 4217 code of three upper-case letters");
        v.Require(plan.BillingPeriod is not null && BillingPeriods.Contains(plan.BillingPeriod), $"{field}.billingPeriod",
            $"{field}.billingPeriod must be one of: {string.Join(", ", BillingPeriods)}");
        if (plan.Rates is null || plan.Rates.Count is < 1 or > MaxRates)
        {
            v.Add($"{field}.rates", $"{field}.rates must hold 1-{MaxRates} rates");
            return;
        }
        var seen = new HashSet<(string, string)>();
        for (var i = 0; i < plan.Rates.Count; i++)
        {
            var at = $"{field}.rates[{i}]";
            var rate = plan.Rates[i];
            if (rate is null)
            {
                v.Add(at, $"{at} must not be null");
                continue;
            }
            v.Require(Names.IsValid(rate.Metric), $"{at}.metric", $"{at}.metric {Names.Rule}");
            v.Require(Names.IsValid(rate.Unit), $"{at}.unit", $"{at}.unit {Names.Rule}");
            v.Require(rate.Price >= 0 && rate.Price < MaxPrice && decimal.Round(rate.Price, MaxPriceDecimals) == rate.Price, $"{at}.price",
                $"{at}.price must be at least 0 and below {MaxPrice:0}, with at most {MaxPriceDecimals} decimals");
            CatalogRules.OptionalText(v, rate.Description, $"{at}.description", MaxRateDescriptionLength);
            RatingRules.ValidateRate(v, rate, at, MaxPrice, MaxPriceDecimals);
            if (rate.Metric is not null && rate.Unit is not null && !seen.Add((rate.Metric, rate.Unit)))
            {
                v.Add(at, $"{at} prices {rate.Metric} per {rate.Unit} a second time");
            }
        }
    }

    private static void ValidateSla(Validator v, SlaTerms? sla, string field)
    {
        if (sla is null)
        {
            v.Add(field, $"{field} is required");
            return;
        }
        v.Require(sla.AvailabilityPercent is > 0 and <= 100, $"{field}.availabilityPercent", $"{field}.availabilityPercent must be above 0 and at most 100");
        v.Require(sla.CpuUtilizationPercentMax is null or (>= 0 and <= 100), $"{field}.cpuUtilizationPercentMax",
            $"{field}.cpuUtilizationPercentMax must be 0-100");
        v.Require(sla.PageFaultsPerSecondMax is null or >= 0, $"{field}.pageFaultsPerSecondMax", $"{field}.pageFaultsPerSecondMax must not be negative");
        v.Require(sla.IncidentResponseMinutes is null or >= 0, $"{field}.incidentResponseMinutes", $"{field}.incidentResponseMinutes must not be negative");
        v.Require(sla.AvailabilityCreditPercent is null or (>= 0 and <= 100), $"{field}.availabilityCreditPercent", $"{field}.availabilityCreditPercent must be 0-100");
        v.Require(sla.PerformanceCreditPercent is null or (>= 0 and <= 100), $"{field}.performanceCreditPercent", $"{field}.performanceCreditPercent must be 0-100");
        v.Require(sla.ResponseCreditPercent is null or (>= 0 and <= 100), $"{field}.responseCreditPercent", $"{field}.responseCreditPercent must be 0-100");
    }

    private static void ValidateTerms(Validator v, OfferingTerms? terms, string field)
    {
        if (terms is null)
        {
            v.Add(field, $"{field} is required");
            return;
        }
        v.Require(terms.MinimumPeriodMonths is >= 0 and <= MaxMinimumPeriodMonths, $"{field}.minimumPeriodMonths",
            $"{field}.minimumPeriodMonths must be 0-{MaxMinimumPeriodMonths}");
        v.Require(terms.UnprovisionedDiscountPercent is >= 0 and <= 100, $"{field}.unprovisionedDiscountPercent",
            $"{field}.unprovisionedDiscountPercent must be 0-100");
    }

    private static void ValidateStorage(Validator v, StorageSpec? storage, string field)
    {
        if (storage is null)
        {
            v.Add(field, $"{field} is required for a storage offering");
            return;
        }
        if (storage.IncrementGiB is < 1 or > MaxStorageIncrementGiB)
        {
            v.Add($"{field}.incrementGiB", $"{field}.incrementGiB must be 1-{MaxStorageIncrementGiB}");
            return;
        }
        v.Require(storage.MaxGiB >= storage.IncrementGiB && storage.MaxGiB <= MaxStorageGiB && storage.MaxGiB % storage.IncrementGiB == 0,
            $"{field}.maxGiB", $"{field}.maxGiB must be a multiple of incrementGiB, at most {MaxStorageGiB}");
    }

    private static void ValidateConstraints(Validator v, PlacementConstraints? constraints, string field)
    {
        if (constraints is null)
        {
            return;
        }
        foreach (var (name, values) in new[] { ("jurisdictions", constraints.Jurisdictions), ("regions", constraints.Regions) })
        {
            var at = $"{field}.{name}";
            if (values is null)
            {
                continue;
            }
            if (values.Count > MaxConstraintValues)
            {
                v.Add(at, $"{at} holds at most {MaxConstraintValues} values");
                continue;
            }
            for (var i = 0; i < values.Count; i++)
            {
                if (string.IsNullOrWhiteSpace(values[i]) || values[i].Length > MaxConstraintLength)
                {
                    v.Add($"{at}[{i}]", $"{at}[{i}] must be 1-{MaxConstraintLength} characters");
                }
            }
        }
    }
}

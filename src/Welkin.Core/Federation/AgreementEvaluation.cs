using System.Globalization;
using Welkin.Contracts;
using Welkin.Core.Common;

namespace Welkin.Core.Federation;

/// <summary>An offering a peer asked for, as this cloud's catalog has it; <paramref name="VcpusPerUnit"/> is the largest machine one unit of it may be.</summary>
public sealed record RequestedOffering(string Id, bool Published, OfferingSpec Spec, int VcpusPerUnit);

/// <summary>The outcome of evaluating terms: every failed term's reason (none: accepted), and the jurisdictions the contract is placed in.</summary>
public sealed record AgreementVerdict(IReadOnlyList<string> Reasons, IReadOnlyList<string> Jurisdictions)
{
    public bool Accepted => Reasons.Count == 0;
}

/// <summary>
/// The provider's decision on an agreement's terms against its <see cref="FederationPolicy"/>. Every
/// term is checked and every failure named, so a refused consumer learns all it would have to change.
/// </summary>
public static class AgreementEvaluation
{
    /// <summary>Hours in a billing month, to compare a per-unit monthly rate with a per-vCPU-hour price.</summary>
    public const decimal HoursPerMonth = 730m;

    public const string Monthly = "monthly";

    /// <summary>The shape of terms (400 when wrong), before any policy is asked.</summary>
    public static Error? Validate(AgreementTerms? terms, string at = "terms")
    {
        var v = new Validator();
        if (terms?.Policy is null || terms.Entitlement is null || terms.Metering is null)
        {
            return v.Add(at, $"{at} needs policy, entitlement and metering").ToError();
        }
        v.Require(terms.Policy.Jurisdictions is { Count: > 0 and <= 50 } && terms.Policy.Jurisdictions.All(IsCountry),
            at + ".policy.jurisdictions", "jurisdictions must hold 1-50 ISO 3166 country codes (two upper-case letters)");
        v.Require(Enum.IsDefined(terms.Policy.MinimumIsolation), at + ".policy.minimumIsolation", "minimumIsolation must be shared or dedicated-host");
        v.Require(terms.Entitlement.Offerings is { Count: > 0 and <= Contracts.ContractService.MaxItems }, at + ".entitlement.offerings",
            $"offerings must hold 1-{Contracts.ContractService.MaxItems} offerings");
        foreach (var (o, i) in (terms.Entitlement.Offerings ?? []).Select((o, i) => (o, i)))
        {
            v.Require(o is not null && Ids.IsValid(o.OfferingId, Ids.Offering), $"{at}.entitlement.offerings[{i}].offeringId", "offeringId must be an offering id (off_…)");
            v.Require(o is not null && o.Quantity is >= 1 and <= Contracts.ContractService.MaxQuantity, $"{at}.entitlement.offerings[{i}].quantity",
                $"quantity must be between 1 and {Contracts.ContractService.MaxQuantity}");
        }
        v.Require(terms.Entitlement.Units is { Count: > 0 and <= 20 } && terms.Entitlement.Units.All(u => u.Key.Length is > 0 and <= 50 && u.Value is >= 0 and <= Accounts.AccountService.MaxLimit),
            at + ".entitlement.units", $"units must name 1-20 units, each 0-{Accounts.AccountService.MaxLimit}");
        v.Require(terms.Metering.Currency is { Length: 3 } c && c.All(char.IsAsciiLetterUpper), at + ".metering.currency", "currency must be an ISO 4217 code (three upper-case letters)");
        v.Require(terms.Metering.MaxPricePerCpuHour is null or >= 0, at + ".metering.maxPricePerCpuHour", "maxPricePerCpuHour must not be negative");
        v.Require(terms.Metering.MinimumAvailability is null or (>= 0 and <= 100), at + ".metering.minimumAvailability", "minimumAvailability must be a percentage (0-100)");
        return v.ToError();
    }

    /// <summary>A policy's shape (400 when wrong).</summary>
    public static Error? Validate(FederationPolicy? policy)
    {
        var v = new Validator();
        if (policy is null || policy.Peers is null || policy.Jurisdictions is null || policy.Offerings is null || policy.MaxUnits is null)
        {
            return v.Add("policy", "the policy needs peers, jurisdictions, offerings and maxUnits (each may be empty)").ToError();
        }
        v.Require(policy.Peers.Count <= 200 && policy.Peers.All(p => p is { Length: > 0 and <= 200 }), "peers", "peers must hold at most 200 federation names (or \"*\")");
        v.Require(policy.Jurisdictions.Count <= 50 && policy.Jurisdictions.All(IsCountry), "jurisdictions", "jurisdictions must be ISO 3166 country codes (two upper-case letters)");
        v.Require(policy.Offerings.Count <= 1000 && policy.Offerings.All(o => Ids.IsValid(o, Ids.Offering)), "offerings", "offerings must be offering ids (off_…)");
        v.Require(policy.MaxUnits.Count <= 20 && policy.MaxUnits.All(u => u.Key.Length is > 0 and <= 50 && u.Value is >= 0 and <= Accounts.AccountService.MaxLimit),
            "maxUnits", $"maxUnits must name at most 20 units, each 0-{Accounts.AccountService.MaxLimit}");
        v.Require(policy.CapacityReservePercent is >= 0 and <= 100, "capacityReservePercent", "capacityReservePercent must be a percentage (0-100)");
        v.Require(Enum.IsDefined(policy.Isolation), "isolation", "isolation must be shared or dedicated-host");
        return v.ToError();
    }

    /// <summary>
    /// Evaluates <paramref name="terms"/> from <paramref name="peer"/> (its federation name) against
    /// <paramref name="policy"/>, the requested offerings as the catalog has them (a missing one absent
    /// from <paramref name="offerings"/>) and the capacity free now.
    /// </summary>
    public static AgreementVerdict Evaluate(
        FederationPolicy policy, string peer, AgreementTerms terms, IReadOnlyDictionary<string, RequestedOffering> offerings, CloudCapacity capacity)
    {
        var reasons = new List<string>();
        if (!policy.Peers.Any(p => p == "*" || string.Equals(p, peer, StringComparison.OrdinalIgnoreCase)))
        {
            reasons.Add(policy.Peers.Count == 0
                ? "This cloud's federation policy allows no agreements yet."
                : $"This cloud's federation policy allows no agreement with peer '{peer}'.");
        }
        var offered = policy.Jurisdictions.Count > 0
            ? policy.Jurisdictions
            : capacity.Regions.Select(r => r.Jurisdiction).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var jurisdictions = terms.Policy.Jurisdictions.Where(j => offered.Contains(j, StringComparer.OrdinalIgnoreCase)).Distinct(StringComparer.Ordinal).ToList();
        if (jurisdictions.Count == 0)
        {
            reasons.Add($"Jurisdiction not allowed: none of the jurisdictions accepted ({string.Join(", ", terms.Policy.Jurisdictions)}) is offered to peers here "
                + $"(offered: {(offered.Count == 0 ? "none" : string.Join(", ", offered))}).");
        }
        if (terms.Policy.EncryptionAtRest && !policy.EncryptionAtRest)
        {
            reasons.Add("Encryption at rest is required, and this cloud's disks are not encrypted at rest.");
        }
        if (terms.Policy.MinimumIsolation > policy.Isolation)
        {
            reasons.Add($"Isolation '{WireNames.Of(terms.Policy.MinimumIsolation)}' is required; this cloud provides peers at most '{WireNames.Of(policy.Isolation)}'.");
        }
        if (!string.Equals(terms.Metering.BillingPeriod, Monthly, StringComparison.Ordinal))
        {
            reasons.Add($"Billing period '{terms.Metering.BillingPeriod}' is not offered: this cloud bills monthly.");
        }
        foreach (var (unit, asked) in terms.Entitlement.Units.OrderBy(u => u.Key, StringComparer.Ordinal))
        {
            var max = policy.MaxUnits.TryGetValue(unit, out var m) ? m : 0;
            if (asked > max)
            {
                reasons.Add($"Entitlement of {unit}: {asked} asked, at most {max} per peer.");
            }
        }
        var found = EvaluateOfferings(policy, terms, offerings, jurisdictions, reasons);
        EvaluateUnits(terms, found, reasons);
        EvaluateCapacity(policy, found, capacity, jurisdictions, reasons);
        return new AgreementVerdict(reasons, jurisdictions);
    }

    private static List<(RequestedOffering Offering, int Quantity)> EvaluateOfferings(
        FederationPolicy policy, AgreementTerms terms, IReadOnlyDictionary<string, RequestedOffering> offerings, List<string> jurisdictions, List<string> reasons)
    {
        var found = new List<(RequestedOffering, int)>();
        foreach (var asked in terms.Entitlement.Offerings)
        {
            if (!offerings.TryGetValue(asked.OfferingId, out var o) || !o.Published)
            {
                reasons.Add($"Offering '{asked.OfferingId}' is not in this cloud's public catalog.");
                continue;
            }
            if (policy.Offerings.Count > 0 && !policy.Offerings.Contains(o.Id, StringComparer.Ordinal))
            {
                reasons.Add($"Offering '{o.Spec.Name}' ({o.Id}) is not offered to peers.");
                continue;
            }
            found.Add((o, asked.Quantity));
            if (!string.Equals(o.Spec.PricePlan.Currency, terms.Metering.Currency, StringComparison.OrdinalIgnoreCase))
            {
                reasons.Add($"Offering '{o.Spec.Name}' is priced in {o.Spec.PricePlan.Currency}, not {terms.Metering.Currency}.");
            }
            if (terms.Metering.MaxPricePerCpuHour is { } max && PricePerCpuHour(o) is { } rate && rate > max)
            {
                reasons.Add($"Offering '{o.Spec.Name}' costs {rate.ToString("0.####", CultureInfo.InvariantCulture)} {o.Spec.PricePlan.Currency} per vCPU-hour, "
                    + $"more than the {max.ToString("0.####", CultureInfo.InvariantCulture)} accepted.");
            }
            if (terms.Metering.MinimumAvailability is { } least && o.Spec.Sla.AvailabilityPercent < least)
            {
                reasons.Add($"Offering '{o.Spec.Name}' promises {o.Spec.Sla.AvailabilityPercent.ToString(CultureInfo.InvariantCulture)}% availability, "
                    + $"less than the {least.ToString(CultureInfo.InvariantCulture)}% required.");
            }
            if (o.Spec.Constraints?.Jurisdictions is { Count: > 0 } own && jurisdictions.Count > 0
                && !own.Any(j => jurisdictions.Contains(j, StringComparer.OrdinalIgnoreCase)))
            {
                reasons.Add($"Offering '{o.Spec.Name}' runs only in {string.Join(", ", own)}, outside the jurisdictions agreed ({string.Join(", ", jurisdictions)}).");
            }
        }
        return found;
    }

    private static void EvaluateUnits(AgreementTerms terms, List<(RequestedOffering Offering, int Quantity)> found, List<string> reasons)
    {
        foreach (var group in found.GroupBy(f => f.Offering.Spec.LimitUnit, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var needed = group.Sum(f => (long)f.Quantity);
            var entitled = terms.Entitlement.Units.TryGetValue(group.Key, out var e) ? e : 0;
            if (needed > entitled)
            {
                reasons.Add($"The offerings need {needed} {group.Key}, more than the {entitled} of the entitlement.");
            }
        }
    }

    private static void EvaluateCapacity(
        FederationPolicy policy, List<(RequestedOffering Offering, int Quantity)> found, CloudCapacity capacity, List<string> jurisdictions, List<string> reasons)
    {
        var needed = found.Where(f => f.Offering.Spec.Kind != OfferingKind.Storage).Sum(f => (long)f.Quantity * f.Offering.VcpusPerUnit);
        if (needed == 0 || jurisdictions.Count == 0)
        {
            return;
        }
        var free = capacity.Regions.Where(r => jurisdictions.Contains(r.Jurisdiction, StringComparer.OrdinalIgnoreCase)).Sum(r => r.FreeVcpus);
        var available = (long)Math.Floor(free * (100m - policy.CapacityReservePercent) / 100m);
        if (needed > available)
        {
            reasons.Add($"Capacity: the offerings need up to {needed} vCPUs; {available} are available to peers in {string.Join(", ", jurisdictions)} "
                + $"({free} free, {policy.CapacityReservePercent.ToString(CultureInfo.InvariantCulture)}% kept in reserve).");
        }
    }

    /// <summary>
    /// What one vCPU costs per hour under the offering's plan: its cpu-hour rate, plus its per-unit monthly
    /// rate spread over the hours of a month and the vCPUs of the largest machine a unit may be. Null: not priced by compute.
    /// </summary>
    public static decimal? PricePerCpuHour(RequestedOffering o)
    {
        decimal? total = null;
        foreach (var rate in o.Spec.PricePlan.Rates)
        {
            if (rate.Metric == "cpu-hour" && rate.Unit == "hour")
            {
                total = (total ?? 0) + rate.Price;
            }
            else if (rate.Metric == o.Spec.LimitUnit && rate.Unit == "unit-month" && o.Spec.Kind != OfferingKind.Storage && o.VcpusPerUnit > 0)
            {
                total = (total ?? 0) + rate.Price / (HoursPerMonth * o.VcpusPerUnit);
            }
        }
        return total is null ? null : Math.Round(total.Value, 6);
    }

    private static bool IsCountry(string? code) => code is { Length: 2 } && code.All(char.IsAsciiLetterUpper);
}

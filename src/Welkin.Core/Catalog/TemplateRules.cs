using System.Text.RegularExpressions;
using Welkin.Contracts;
using Welkin.Core.Common;

namespace Welkin.Core.Catalog;

/// <summary>
/// What makes a template spec valid. Pure: the database-backed part (images exist and are
/// available) is done by <see cref="TemplateService"/> with <see cref="ImageReferences"/>.
/// </summary>
public static partial class TemplateRules
{
    public const int MaxVirtualSystems = 20;
    public const int MaxVcpus = 256;
    public const long MinMemoryMiB = 64;
    public const long MaxMemoryMiB = 4_194_304;
    public const long MaxDiskGiB = 65_536;
    public const int MaxSoftwareLength = 100;
    public const int MaxProperties = 100;
    public const int MaxPropertyAllowedValues = 100;
    public const int MaxLabelLength = 200;
    public const int MaxDataVolumes = 16;

    /// <param name="at">Prefix of field names: "" when the spec is the body, "spec." when it is nested.</param>
    public static Validator Validate(TemplateSpec? spec, string at = "")
    {
        var v = new Validator();
        if (spec is null)
        {
            return v.Add(at.TrimEnd('.') is { Length: > 0 } f ? f : "spec", "the template spec is required");
        }
        CatalogRules.RequireText(v, spec.Name, at + "name", CatalogRules.MaxNameLength);
        CatalogRules.OptionalText(v, spec.Description, at + "description", CatalogRules.MaxDescriptionLength);
        if (spec.VirtualSystems is null || spec.VirtualSystems.Count is < 1 or > MaxVirtualSystems)
        {
            return v.Add(at + "virtualSystems", $"a template has 1-{MaxVirtualSystems} virtual systems");
        }
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < spec.VirtualSystems.Count; i++)
        {
            var field = $"{at}virtualSystems[{i}]";
            var system = spec.VirtualSystems[i];
            if (system is null)
            {
                v.Add(field, $"{field} must not be null");
                continue;
            }
            if (!Names.IsValid(system.Name))
            {
                v.Add($"{field}.name", $"{field}.name {Names.Rule}");
            }
            else if (!names.Add(system.Name))
            {
                v.Add($"{field}.name", $"{field}.name repeats the name '{system.Name}'");
            }
            ValidateHardware(v, system.Hardware, $"{field}.hardware");
            ValidateSoftware(v, system.Software, $"{field}.software");
            if (system.ImageId is not null && !Ids.IsValid(system.ImageId, Ids.Image))
            {
                v.Add($"{field}.imageId", $"{field}.imageId is not a valid image id");
            }
            ValidateProperties(v, system.Properties, $"{field}.properties");
            ValidateDataVolumes(v, system.DataVolumes, $"{field}.dataVolumes");
        }
        return v;
    }

    /// <summary>The well-formed image ids a spec names (systems' and their data volumes'), with the field each sits in.</summary>
    public static IReadOnlyList<(string Field, string ImageId)> ImageReferences(TemplateSpec spec, string at = "") =>
        (spec.VirtualSystems ?? [])
            .SelectMany((s, i) => new[] { (Field: $"{at}virtualSystems[{i}].imageId", s?.ImageId) }
                .Concat((s?.DataVolumes ?? []).Select((d, j) => (Field: $"{at}virtualSystems[{i}].dataVolumes[{j}].imageId", d?.ImageId))))
            .Where(r => Ids.IsValid(r.ImageId, Ids.Image))
            .Select(r => (r.Field, r.ImageId!))
            .ToList();

    /// <summary>
    /// At most <see cref="MaxDataVolumes"/> volumes, each with a Welkin name unique in its system, sizes
    /// of 0 (left out) to <see cref="MaxDiskGiB"/> GiB with at least one that is not 0, and a valid image id if any.
    /// </summary>
    private static void ValidateDataVolumes(Validator v, IReadOnlyList<DataVolumeSpec>? volumes, string field)
    {
        if (volumes is null)
        {
            return;
        }
        if (volumes.Count > MaxDataVolumes)
        {
            v.Add(field, $"{field} holds at most {MaxDataVolumes} data volumes");
            return;
        }
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var j = 0; j < volumes.Count; j++)
        {
            var at = $"{field}[{j}]";
            var volume = volumes[j];
            if (volume is null)
            {
                v.Add(at, $"{at} must not be null");
                continue;
            }
            if (!Names.IsValid(volume.Name))
            {
                v.Add($"{at}.name", $"{at}.name {Names.Rule}");
            }
            else if (!names.Add(volume.Name))
            {
                v.Add($"{at}.name", $"{at}.name repeats the name '{volume.Name}'");
            }
            CatalogRules.ValidateChoice(v, volume.SizeGiB, $"{at}.sizeGiB", n => n is >= 0 and <= MaxDiskGiB, $"must be 0-{MaxDiskGiB} GiB (0: left out)");
            if (volume.SizeGiB?.Allowed is { Count: > 0 } allowed && allowed.All(n => n == 0))
            {
                v.Add($"{at}.sizeGiB.allowed", $"{at}.sizeGiB.allowed must hold a size that is not 0");
            }
            if (volume.ImageId is not null && !Ids.IsValid(volume.ImageId, Ids.Image))
            {
                v.Add($"{at}.imageId", $"{at}.imageId is not a valid image id");
            }
        }
    }

    private static void ValidateHardware(Validator v, HardwareChoices? hardware, string field)
    {
        if (hardware is null)
        {
            v.Add(field, $"{field} is required");
            return;
        }
        CatalogRules.ValidateChoice(v, hardware.Vcpus, $"{field}.vcpus", n => n is >= 1 and <= MaxVcpus, $"must be 1-{MaxVcpus}");
        CatalogRules.ValidateChoice(v, hardware.MemoryMiB, $"{field}.memoryMiB", n => n is >= MinMemoryMiB and <= MaxMemoryMiB,
            $"must be {MinMemoryMiB}-{MaxMemoryMiB} MiB");
        CatalogRules.ValidateChoice(v, hardware.DiskGiB, $"{field}.diskGiB", n => n is >= 1 and <= MaxDiskGiB, $"must be 1-{MaxDiskGiB} GiB");
    }

    private static void ValidateSoftware(Validator v, SoftwareChoices? software, string field)
    {
        if (software is null)
        {
            return;
        }
        foreach (var (name, choice) in Software(software))
        {
            if (choice is not null)
            {
                CatalogRules.ValidateChoice(v, choice, $"{field}.{name}", IsSoftwareName, $"must be 1-{MaxSoftwareLength} characters");
            }
        }
    }

    internal static IEnumerable<(string Name, Choice<string>? Choice)> Software(SoftwareChoices? software) =>
    [
        ("operatingSystem", software?.OperatingSystem),
        ("httpServer", software?.HttpServer),
        ("databaseManager", software?.DatabaseManager),
    ];

    private static bool IsSoftwareName(string s) => !string.IsNullOrWhiteSpace(s) && s.Length <= MaxSoftwareLength;

    private static void ValidateProperties(Validator v, IReadOnlyList<PropertyDefinition>? properties, string field)
    {
        if (properties is null)
        {
            return;
        }
        if (properties.Count > MaxProperties)
        {
            v.Add(field, $"{field} holds at most {MaxProperties} properties");
            return;
        }
        var keys = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < properties.Count; i++)
        {
            var at = $"{field}[{i}]";
            var p = properties[i];
            if (p is null)
            {
                v.Add(at, $"{at} must not be null");
                continue;
            }
            if (p.Key is null || !PropertyKey().IsMatch(p.Key))
            {
                v.Add($"{at}.key", $"{at}.key must be a letter followed by up to 79 letters, digits, '_', '.' or '-'");
            }
            else if (!keys.Add(p.Key))
            {
                v.Add($"{at}.key", $"{at}.key repeats the key '{p.Key}'");
            }
            if (!Enum.IsDefined(p.Type))
            {
                v.Add($"{at}.type", $"{at}.type is not a property type");
                continue;
            }
            CatalogRules.OptionalText(v, p.Label, $"{at}.label", MaxLabelLength);
            CatalogRules.OptionalText(v, p.Description, $"{at}.description", CatalogRules.MaxDescriptionLength);
            if (p.Default is not null && !CatalogRules.ParsesAs(p.Type, p.Default))
            {
                v.Add($"{at}.default", $"{at}.default {CatalogRules.TypeRule(p.Type)}");
            }
            // A secret is free text (OVF 2.0 9.5 allows ovf:password on strings); a list of allowed secrets would be shown to everyone.
            if (p.Password && p.Type != PropertyType.String)
            {
                v.Add($"{at}.type", $"{at}.type must be string for a password property");
            }
            if (p.Password && p.AllowedValues is not null)
            {
                v.Add($"{at}.allowedValues", $"{at}.allowedValues must be left out for a password property");
                continue;
            }
            if (p.AllowedValues is null)
            {
                continue;
            }
            if (p.AllowedValues.Count is < 1 or > MaxPropertyAllowedValues)
            {
                v.Add($"{at}.allowedValues", $"{at}.allowedValues must hold 1-{MaxPropertyAllowedValues} values when given");
                continue;
            }
            for (var j = 0; j < p.AllowedValues.Count; j++)
            {
                if (!CatalogRules.ParsesAs(p.Type, p.AllowedValues[j]))
                {
                    v.Add($"{at}.allowedValues[{j}]", $"{at}.allowedValues[{j}] {CatalogRules.TypeRule(p.Type)}");
                }
            }
            if (p.AllowedValues.Distinct(StringComparer.Ordinal).Count() != p.AllowedValues.Count)
            {
                v.Add($"{at}.allowedValues", $"{at}.allowedValues must not repeat a value");
            }
            if (p.Default is not null && !p.AllowedValues.Contains(p.Default, StringComparer.Ordinal))
            {
                v.Add($"{at}.default", $"{at}.default must be one of allowedValues");
            }
        }
    }

    /// <summary>Whether <paramref name="value"/> is acceptable for the property: its type and, if listed, its allowed values.</summary>
    public static bool Accepts(PropertyDefinition property, string? value) =>
        CatalogRules.ParsesAs(property.Type, value)
        && (property.AllowedValues is null || property.AllowedValues.Contains(value!, StringComparer.Ordinal));

    // \z, not $: $ would let a trailing newline through.
    [GeneratedRegex(@"^[A-Za-z][A-Za-z0-9_.-]{0,79}\z", RegexOptions.CultureInvariant)]
    private static partial Regex PropertyKey();
}

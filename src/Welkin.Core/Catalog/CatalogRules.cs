using System.Globalization;
using Welkin.Contracts;
using Welkin.Core.Common;

namespace Welkin.Core.Catalog;

/// <summary>Checks shared by templates and offerings: text lengths, value sets, typed property values, access.</summary>
public static class CatalogRules
{
    public const int MaxNameLength = 200;
    public const int MaxDescriptionLength = 2000;
    public const int MaxChoiceValues = 32;
    public const int MaxPropertyValueLength = 1024;

    /// <summary>Required, not blank, at most <paramref name="max"/> characters.</summary>
    public static void RequireText(Validator v, string? value, string field, int max)
    {
        if (string.IsNullOrWhiteSpace(value) || value.Length > max)
        {
            v.Add(field, $"{field} must be 1-{max} characters and not blank");
        }
    }

    public static void OptionalText(Validator v, string? value, string field, int max)
    {
        if (value is not null && value.Length > max)
        {
            v.Add(field, $"{field} must be at most {max} characters");
        }
    }

    /// <summary>
    /// A choice offers 1-32 distinct values, each acceptable to <paramref name="valueRule"/>, and a
    /// default among them.
    /// </summary>
    public static void ValidateChoice<T>(Validator v, Choice<T>? choice, string field, Func<T, bool> valueOk, string valueRule)
    {
        if (choice is null)
        {
            v.Add(field, $"{field} is required");
            return;
        }
        if (choice.Allowed is null || choice.Allowed.Count is < 1 or > MaxChoiceValues)
        {
            v.Add($"{field}.allowed", $"{field}.allowed must hold 1-{MaxChoiceValues} values");
            return;
        }
        for (var i = 0; i < choice.Allowed.Count; i++)
        {
            var value = choice.Allowed[i];
            if (value is null || !valueOk(value))
            {
                v.Add($"{field}.allowed[{i}]", $"{field}.allowed[{i}] {valueRule}");
            }
        }
        if (choice.Allowed.Distinct().Count() != choice.Allowed.Count)
        {
            v.Add($"{field}.allowed", $"{field}.allowed must not repeat a value");
        }
        if (choice.Default is null || !choice.Allowed.Contains(choice.Default))
        {
            v.Add($"{field}.default", $"{field}.default must be one of the allowed values");
        }
    }

    /// <summary>OVF carries property values as strings; each must read as its declared type.</summary>
    public static bool ParsesAs(PropertyType type, string? value) =>
        value is not null && value.Length <= MaxPropertyValueLength && type switch
        {
            PropertyType.String => true,
            PropertyType.Boolean => value is "true" or "false",
            PropertyType.Int => long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _),
            PropertyType.Real => decimal.TryParse(value, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out _),
            _ => false,
        };

    public static string TypeRule(PropertyType type) => type switch
    {
        PropertyType.Boolean => "must be true or false",
        PropertyType.Int => "must be a whole number (64-bit)",
        PropertyType.Real => "must be a decimal number such as 12.5",
        _ => $"must be at most {MaxPropertyValueLength} characters",
    };

    /// <summary>Parses an optional state filter of a list query.</summary>
    public static Result<T?> ParseFilter<T>(string? value, string field) where T : struct, Enum
    {
        if (value is null)
        {
            return (T?)null;
        }
        return Filters.EnumValue<T>(value, field) is { } invalid ? invalid : WireNames.Parse<T>(value);
    }

    internal static string Clip(string? s, int max = 60) => s is null ? "" : s.Length <= max ? s : s[..max] + "…";
}

/// <summary>A table's count of rows, latest update and sum of row versions: a value that any insert, update or delete changes.</summary>
internal sealed record TableStamp(long Total, long Updated, long Versions)
{
    public override string ToString() => $"{Total}:{Updated}:{Versions}";
}

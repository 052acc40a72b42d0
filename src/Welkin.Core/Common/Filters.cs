using Welkin.Contracts;

namespace Welkin.Core.Common;

/// <summary>Checks of the query parameters that list operations share.</summary>
public static class Filters
{
    /// <summary>Null when <paramref name="value"/> is absent or one of <typeparamref name="T"/>'s wire names; else a 400 naming the allowed values.</summary>
    public static Error? EnumValue<T>(string? value, string field) where T : struct, Enum =>
        value is null || WireNames.TryParse<T>(value, out _)
            ? null
            : Error.Validation(field, $"{field} must be one of: {string.Join(", ", Enum.GetValues<T>().Select(WireNames.Of))}");
}

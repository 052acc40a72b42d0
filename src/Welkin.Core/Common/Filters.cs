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

    /// <summary>Null when <paramref name="id"/> is absent or a well-formed id with <paramref name="prefix"/>; else 400 invalid-id naming the <paramref name="kind"/>.</summary>
    public static Error? Id(string? id, string prefix, string kind) =>
        id is null || Ids.IsValid(id, prefix) ? null : Error.InvalidId(id, kind);

    /// <summary>The checks every paged list makes: the <c>after</c> cursor is an id of the listed kind, and <c>state</c> one of its states.</summary>
    public static Error? Page<TState>(string? after, string prefix, string kind, string? state) where TState : struct, Enum =>
        Id(after, prefix, kind) ?? EnumValue<TState>(state, "state");
}

using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Welkin.Contracts;

/// <summary>
/// The JSON conventions of the Welkin API: camelCase members, kebab-case enum values,
/// nulls omitted. The server rejects members it does not know; clients ignore them so
/// that an older client keeps working against a newer server.
/// </summary>
public static class WelkinJson
{
    public static JsonSerializerOptions Server { get; } = Create(strict: true);

    public static JsonSerializerOptions Client { get; } = Create(strict: false);

    public static void Configure(JsonSerializerOptions options, bool strict)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
        options.DictionaryKeyPolicy = null;
        options.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
        options.NumberHandling = JsonNumberHandling.Strict;
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower, allowIntegerValues: false));
        options.RespectNullableAnnotations = true;
        // The server omits null members when writing, so a reader must take a missing member as
        // null: only the server (reading requests) insists on every constructor parameter.
        options.RespectRequiredConstructorParameters = strict;
        options.UnmappedMemberHandling = strict ? JsonUnmappedMemberHandling.Disallow : JsonUnmappedMemberHandling.Skip;
        options.MaxDepth = 32;
    }

    /// <summary>
    /// What is wrong with a document <see cref="Server"/> refused, in the document's own terms (field
    /// names and JSON paths, never a .NET type): "unknown field 'virtualSytems' (did you mean
    /// 'virtualSystems'?)", "missing field 'name'", "the value at $.roles[0] is not valid".
    /// </summary>
    public static string Describe(JsonException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var message = exception.Message;
        var path = exception.Path is { Length: > 0 } p ? p : "$";
        if (Quoted(message, "The JSON property '") is { } field && Quoted(message, "contained in type '") is { } typeName)
        {
            var at = path == "$." + field || path == "$" ? "" : $" at {path}";
            return $"unknown field '{field}'{at}{Spelling.Hint(field, FieldsOf(typeName))}";
        }
        if (message.Contains("was missing required properties", StringComparison.Ordinal)
            && message[(message.IndexOf("including: ", StringComparison.Ordinal) + "including: ".Length)..].TrimEnd('.') is { Length: > 0 } missing)
        {
            var inside = path == "$" ? "" : $" in {path}";
            return $"missing field{(missing.Contains(',', StringComparison.Ordinal) ? "s" : "")} {missing}{inside}";
        }
        return message.Contains("null value", StringComparison.Ordinal)
            ? $"the value at {path} may not be null"
            : $"the value at {path} is not valid";
    }

    private static string? Quoted(string message, string before)
    {
        var start = message.IndexOf(before, StringComparison.Ordinal);
        if (start < 0)
        {
            return null;
        }
        start += before.Length;
        var end = message.IndexOf('\'', start);
        return end < 0 ? null : message[start..end];
    }

    // The serializer names the type whose members did not match only in its message; the type's
    // JSON field names are what a caller can choose from.
    private static IEnumerable<string> FieldsOf(string typeName)
    {
        var type = AppDomain.CurrentDomain.GetAssemblies()
            .Select(a => a.GetType(typeName, throwOnError: false))
            .FirstOrDefault(t => t is not null);
        if (type is null)
        {
            return [];
        }
        var info = Server.GetTypeInfo(type);
        return info.Kind == JsonTypeInfoKind.Object ? info.Properties.Select(p => p.Name) : [];
    }

    private static JsonSerializerOptions Create(bool strict)
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        Configure(options, strict);
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}

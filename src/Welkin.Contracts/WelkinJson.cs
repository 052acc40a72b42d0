using System.Text.Json;
using System.Text.Json.Serialization;

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

    private static JsonSerializerOptions Create(bool strict)
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        Configure(options, strict);
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}

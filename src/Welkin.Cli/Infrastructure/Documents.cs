using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Welkin.Contracts;
using YamlDotNet.Serialization;

namespace Welkin.Cli.Infrastructure;

/// <summary>
/// The renderings of a result for programs: the JSON document as YAML, and bare values. Both start
/// from the JSON document, so field names and values are the same in every format.
/// </summary>
internal static class Documents
{
    private static readonly ISerializer YamlWriter = new SerializerBuilder().WithQuotingNecessaryStrings().Build();

    public static string Yaml(JsonElement document) => YamlWriter.Serialize(Plain(document));

    /// <summary>
    /// Checks the <c>--column</c> paths against the rows' type before anything is printed, and
    /// returns them; without any, the row's <c>id</c>, else every top-level field.
    /// </summary>
    public static IReadOnlyList<string> Fields(Type rowType, IReadOnlyList<string> columns)
    {
        var info = WelkinJson.Client.GetTypeInfo(rowType);
        if (columns.Count == 0)
        {
            return info.Kind != JsonTypeInfoKind.Object ? [] : info.Properties.Any(p => p.Name == "id") ? ["id"] : info.Properties.Select(p => p.Name).ToList();
        }
        foreach (var column in columns)
        {
            Check(info, column);
        }
        return columns;
    }

    /// <summary>
    /// One row as a line: the fields' values separated by tabs (objects and lists as compact JSON,
    /// nulls empty); control characters become spaces so that a row stays one line.
    /// </summary>
    public static string Line(JsonElement row, IReadOnlyList<string> fields) =>
        fields.Count == 0 ? OneLine(Text(row)) : string.Join('\t', fields.Select(f => OneLine(Text(Select(row, f)))));

    private static string OneLine(string text) => new(text.Select(c => char.IsControl(c) ? ' ' : c).ToArray());

    private static void Check(JsonTypeInfo info, string path)
    {
        var type = info;
        var parent = "the result";
        foreach (var segment in path.Split('.'))
        {
            if (type.Kind == JsonTypeInfoKind.Dictionary || type.Type == typeof(JsonElement))
            {
                return;
            }
            var names = type.Kind == JsonTypeInfoKind.Object ? type.Properties.Select(p => p.Name).ToList() : [];
            var property = type.Kind == JsonTypeInfoKind.Object
                ? type.Properties.FirstOrDefault(p => string.Equals(p.Name, segment, StringComparison.OrdinalIgnoreCase))
                : null;
            if (property is null)
            {
                var where = names.Count == 0 ? $" ({parent} has no fields)" : Spelling.Hint(segment, names);
                throw new CliException($"Unknown field '{segment}' in --column {path}{where}.");
            }
            parent = $"'{property.Name}'";
            type = WelkinJson.Client.GetTypeInfo(property.PropertyType);
        }
    }

    private static JsonElement? Select(JsonElement row, string path)
    {
        JsonElement? current = row;
        foreach (var segment in path.Split('.'))
        {
            if (current is not { ValueKind: JsonValueKind.Object } element)
            {
                return null;
            }
            current = element.TryGetProperty(segment, out var exact) ? exact
                : element.EnumerateObject().Where(p => string.Equals(p.Name, segment, StringComparison.OrdinalIgnoreCase)).Select(p => (JsonElement?)p.Value).FirstOrDefault();
        }
        return current;
    }

    private static string Text(JsonElement? value) => value switch
    {
        null or { ValueKind: JsonValueKind.Null } => "",
        { ValueKind: JsonValueKind.String } text => text.GetString() ?? "",
        { } other => other.GetRawText(),
    };

    private static object? Plain(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => element.EnumerateObject().ToDictionary(p => p.Name, p => Plain(p.Value), StringComparer.Ordinal),
        JsonValueKind.Array => element.EnumerateArray().Select(Plain).ToList(),
        JsonValueKind.String => element.GetString(),
        JsonValueKind.Number => element.TryGetInt64(out var whole) ? whole : element.TryGetDecimal(out var exact) ? exact : element.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };
}

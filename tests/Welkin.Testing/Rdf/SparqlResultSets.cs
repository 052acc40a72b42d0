using System.Text.Json;

namespace Welkin.Testing.Rdf;

/// <summary>
/// SPARQL JSON results as comparable text, so Redland's answer and Jena ARQ's can be compared as equal
/// multisets of bindings (equal sequences where ORDER BY fixes the order). The one normalization: a
/// literal typed xsd:string equals the simple literal (RDF 1.1 makes them the same term; Jena writes no
/// datatype, Rasqal sometimes does).
/// </summary>
public static class SparqlResultSets
{
    private const string XsdString = "http://www.w3.org/2001/XMLSchema#string";

    /// <summary>The answer of an ASK query, or null for a SELECT's results.</summary>
    public static bool? Boolean(string json)
    {
        using var results = JsonDocument.Parse(json);
        return results.RootElement.TryGetProperty("boolean", out var answer) ? answer.GetBoolean() : null;
    }

    /// <summary>One line per solution ("name=kind|value|datatype|language" per bound variable, by name), in the results' order.</summary>
    public static List<string> Rows(string json)
    {
        using var results = JsonDocument.Parse(json);
        return
        [
            .. results.RootElement.GetProperty("results").GetProperty("bindings").EnumerateArray().Select(row => string.Join(" ", row.EnumerateObject()
                .OrderBy(binding => binding.Name, StringComparer.Ordinal)
                .Select(binding => $"{binding.Name}={Term(binding.Value)}"))),
        ];
    }

    /// <summary>The rows as one text: in their order when <paramref name="ordered"/>, else sorted (a multiset).</summary>
    public static string Lines(IEnumerable<string> rows, bool ordered) => string.Join("\n", ordered ? rows : rows.Order(StringComparer.Ordinal));

    private static string Term(JsonElement term)
    {
        var type = term.GetProperty("type").GetString();
        var datatype = term.TryGetProperty("datatype", out var d) && d.GetString() != XsdString ? d.GetString() : null;
        var language = term.TryGetProperty("xml:lang", out var l) ? l.GetString() : null;
        return $"{(type == "typed-literal" ? "literal" : type)}|{term.GetProperty("value").GetString()}|{datatype}|{language}";
    }
}

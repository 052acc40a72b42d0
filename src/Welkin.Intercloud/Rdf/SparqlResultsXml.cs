using System.Xml.Linq;

namespace Welkin.Intercloud.Rdf;

/// <summary>Reads a SPARQL Query Results XML document (W3C REC 2013-03-21) another party sent, refusing what does not follow it.</summary>
public static class SparqlResultsXml
{
    private static readonly XNamespace Ns = SparqlResults.XmlNamespace;

    /// <summary>The results the <c>sparql</c> element carries, or null with what is wrong with it.</summary>
    public static (SparqlResults? Results, string? Problem) Parse(XElement? sparql)
    {
        if (sparql?.Name != Ns + "sparql")
        {
            return (null, "the answer holds no SPARQL results document");
        }
        var variables = sparql.Element(Ns + "head")?.Elements(Ns + "variable").Select(v => v.Attribute("name")?.Value).ToList() ?? [];
        if (variables.Any(string.IsNullOrEmpty))
        {
            return (null, "a variable of the results has no name");
        }
        if (sparql.Element(Ns + "boolean") is { } boolean)
        {
            return boolean.Value.Trim() switch
            {
                "true" => (new SparqlResults([], [], true), null),
                "false" => (new SparqlResults([], [], false), null),
                _ => (null, "the boolean of the results is neither true nor false"),
            };
        }
        if (sparql.Element(Ns + "results") is not { } results)
        {
            return (null, "the results document has neither results nor a boolean");
        }
        var rows = new List<IReadOnlyDictionary<string, RdfTerm>>();
        foreach (var result in results.Elements(Ns + "result"))
        {
            var row = new Dictionary<string, RdfTerm>(StringComparer.Ordinal);
            foreach (var binding in result.Elements(Ns + "binding"))
            {
                var name = binding.Attribute("name")?.Value;
                if (name is null || !variables.Contains(name) || Term(binding.Elements().FirstOrDefault()) is not { } term || !row.TryAdd(name, term))
                {
                    return (null, "a binding of the results is not valid");
                }
            }
            rows.Add(row);
        }
        return (new SparqlResults(variables!, rows, null), null);
    }

    private static RdfTerm? Term(XElement? value)
    {
        if (value is null || value.Name.Namespace != Ns)
        {
            return null;
        }
        return value.Name.LocalName switch
        {
            "uri" => new RdfTerm(RdfTermKind.Iri, value.Value),
            "bnode" => new RdfTerm(RdfTermKind.Blank, value.Value),
            "literal" => new RdfTerm(RdfTermKind.Literal, value.Value, value.Attribute("datatype")?.Value, value.Attribute(XNamespace.Xml + "lang")?.Value),
            _ => null,
        };
    }
}

using System.Text;
using System.Text.Json;

namespace Welkin.Core.Catalog.Description;

/// <summary>
/// Writes triples as JSON-LD 1.0 (W3C, 2014): a @context of the known prefixes and a @graph of node
/// objects, one per subject. Every value is explicit (@id for IRIs, @value with @type for typed
/// literals), so the document means the same to a 1.0 and a 1.1 processor and needs no remote context.
/// </summary>
public static class JsonLdWriter
{
    public const string MediaType = "application/ld+json";

    public static string Write(IReadOnlyList<Triple> triples)
    {
        ArgumentNullException.ThrowIfNull(triples);
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteStartObject("@context");
            foreach (var (prefix, ns) in Vocabulary.Prefixes)
            {
                json.WriteString(prefix, ns);
            }
            json.WriteEndObject();
            json.WriteStartArray("@graph");
            foreach (var subject in triples.GroupBy(t => t.Subject))
            {
                WriteNode(json, subject.Key, subject);
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void WriteNode(Utf8JsonWriter json, RdfIri subject, IEnumerable<Triple> triples)
    {
        json.WriteStartObject();
        json.WriteString("@id", subject.Value);
        foreach (var predicate in triples.GroupBy(t => t.Predicate))
        {
            if (predicate.Key.Value == Vocabulary.Type)
            {
                json.WriteStartArray("@type");
                foreach (var type in predicate)
                {
                    json.WriteStringValue(((RdfIri)type.Value).Value);
                }
                json.WriteEndArray();
                continue;
            }
            json.WriteStartArray(predicate.Key.Value);
            foreach (var triple in predicate)
            {
                WriteValue(json, triple.Value);
            }
            json.WriteEndArray();
        }
        json.WriteEndObject();
    }

    private static void WriteValue(Utf8JsonWriter json, RdfTerm term)
    {
        json.WriteStartObject();
        switch (term)
        {
            case RdfIri iri:
                json.WriteString("@id", iri.Value);
                break;
            case RdfLiteral literal:
                json.WriteString("@value", literal.Lexical);
                if (literal.Datatype != Vocabulary.XsdString)
                {
                    json.WriteString("@type", literal.Datatype);
                }
                break;
            default:
                throw new ArgumentException($"Unknown RDF term {term.GetType().Name}.", nameof(term));
        }
        json.WriteEndObject();
    }
}

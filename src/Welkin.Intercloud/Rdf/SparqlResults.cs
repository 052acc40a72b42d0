using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Xml;

namespace Welkin.Intercloud.Rdf;

public enum RdfTermKind
{
    Iri,
    Literal,
    Blank,
}

/// <summary>An RDF term bound in a result row; a literal's datatype and language are null when absent.</summary>
public sealed record RdfTerm(RdfTermKind Kind, string Value, string? Datatype = null, string? Language = null);

/// <summary>
/// The answer of a SELECT (variables and rows, an unbound variable absent from its row) or of an ASK
/// (<see cref="Boolean"/>), written as SPARQL 1.1 Query Results JSON or XML.
/// </summary>
public sealed record SparqlResults(IReadOnlyList<string> Variables, IReadOnlyList<IReadOnlyDictionary<string, RdfTerm>> Rows, bool? Boolean)
{
    public const string JsonMediaType = "application/sparql-results+json";
    public const string XmlMediaType = "application/sparql-results+xml";
    public const string XmlNamespace = "http://www.w3.org/2005/sparql-results#";

    // SPARQL 1.1 Query Results JSON Format (W3C REC 2013-03-21) section 3.
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteStartObject("head");
            if (Boolean is null)
            {
                json.WriteStartArray("vars");
                foreach (var variable in Variables)
                {
                    json.WriteStringValue(variable);
                }
                json.WriteEndArray();
            }
            json.WriteEndObject();
            if (Boolean is { } answer)
            {
                json.WriteBoolean("boolean", answer);
            }
            else
            {
                WriteJsonBindings(json);
            }
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private void WriteJsonBindings(Utf8JsonWriter json)
    {
        json.WriteStartObject("results");
        json.WriteStartArray("bindings");
        foreach (var row in Rows)
        {
            json.WriteStartObject();
            foreach (var (name, term) in row)
            {
                json.WriteStartObject(name);
                json.WriteString("type", term.Kind switch { RdfTermKind.Iri => "uri", RdfTermKind.Blank => "bnode", _ => "literal" });
                json.WriteString("value", term.Value);
                if (term.Language is not null)
                {
                    json.WriteString("xml:lang", term.Language);
                }
                if (term.Datatype is not null)
                {
                    json.WriteString("datatype", term.Datatype);
                }
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    // SPARQL Query Results XML Format (Second Edition, W3C REC 2013-03-21).
    public string ToXml()
    {
        var text = new StringBuilder();
        var settings = new XmlWriterSettings { Encoding = Encoding.UTF8, Indent = false, CheckCharacters = false };
        using (var xml = XmlWriter.Create(new Utf8StringWriter(text), settings))
        {
            xml.WriteStartDocument();
            xml.WriteStartElement("sparql", XmlNamespace);
            xml.WriteStartElement("head", XmlNamespace);
            foreach (var variable in Boolean is null ? Variables : [])
            {
                xml.WriteStartElement("variable", XmlNamespace);
                xml.WriteAttributeString("name", variable);
                xml.WriteEndElement();
            }
            xml.WriteEndElement();
            if (Boolean is { } answer)
            {
                xml.WriteElementString("boolean", XmlNamespace, answer ? "true" : "false");
            }
            else
            {
                WriteXmlResults(xml);
            }
            xml.WriteEndElement();
        }
        return text.ToString();
    }

    private void WriteXmlResults(XmlWriter xml)
    {
        xml.WriteStartElement("results", XmlNamespace);
        foreach (var row in Rows)
        {
            xml.WriteStartElement("result", XmlNamespace);
            foreach (var (name, term) in row)
            {
                xml.WriteStartElement("binding", XmlNamespace);
                xml.WriteAttributeString("name", name);
                xml.WriteStartElement(term.Kind switch { RdfTermKind.Iri => "uri", RdfTermKind.Blank => "bnode", _ => "literal" }, XmlNamespace);
                if (term.Language is not null)
                {
                    xml.WriteAttributeString("xml", "lang", null, term.Language);
                }
                if (term.Datatype is not null)
                {
                    xml.WriteAttributeString("datatype", term.Datatype);
                }
                xml.WriteString(XmlSafe(term.Value));
                xml.WriteEndElement();
                xml.WriteEndElement();
            }
            xml.WriteEndElement();
        }
        xml.WriteEndElement();
    }

    // XML 1.0 cannot carry most control characters even escaped; RDF literals can hold them.
    private static string XmlSafe(string value) =>
        value.Any(c => c < 0x20 && c is not '\t' and not '\n' and not '\r' || c is '\uFFFE' or '\uFFFF')
            ? new string([.. value.Select(c => c < 0x20 && c is not '\t' and not '\n' and not '\r' || c is '\uFFFE' or '\uFFFF' ? '\uFFFD' : c)])
            : value;

    /// <summary>So the declaration says what the body is sent as (UTF-8), not the UTF-16 of .NET strings.</summary>
    private sealed class Utf8StringWriter(StringBuilder text) : StringWriter(text, CultureInfo.InvariantCulture)
    {
        public override Encoding Encoding => Encoding.UTF8;
    }
}

using System.Globalization;

namespace Welkin.Core.Catalog.Description;

/// <summary>An RDF term of a catalog description: an IRI or a literal. Descriptions use no blank nodes, so two serializations compare triple by triple.</summary>
public abstract record RdfTerm;

public sealed record RdfIri(string Value) : RdfTerm;

/// <summary>A literal with its datatype IRI (xsd:string when plain).</summary>
public sealed record RdfLiteral(string Lexical, string Datatype) : RdfTerm
{
    public static RdfLiteral Text(string value) => new(value, Vocabulary.XsdString);

    public static RdfLiteral XsdInteger(long value) => new(value.ToString(CultureInfo.InvariantCulture), Vocabulary.Xsd + "integer");

    // XSD 1.1 decimal lexical form: no exponent, '.' as separator; the scale is kept as stored.
    public static RdfLiteral XsdDecimal(decimal value) => new(value.ToString(CultureInfo.InvariantCulture), Vocabulary.Xsd + "decimal");

    public static RdfLiteral XsdBoolean(bool value) => new(value ? "true" : "false", Vocabulary.Xsd + "boolean");

    public static RdfLiteral XsdDateTime(DateTimeOffset value) =>
        new(value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture), Vocabulary.Xsd + "dateTime");

}

public sealed record Triple(RdfIri Subject, RdfIri Predicate, RdfTerm Value);

/// <summary>The namespaces of a catalog description: Welkin's ontology (docs/ontology/welkin.ttl) and the vocabularies it reuses.</summary>
public static class Vocabulary
{
    public const string Welkin = "https://welkin.dev/ns/cloud#";
    public const string RdfNs = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
    public const string Xsd = "http://www.w3.org/2001/XMLSchema#";
    public const string XsdString = Xsd + "string";
    public const string Dcterms = "http://purl.org/dc/terms/";
    public const string Schema = "https://schema.org/";
    public const string Org = "http://www.w3.org/ns/org#";
    public const string Skos = "http://www.w3.org/2004/02/skos/core#";

    public const string Type = RdfNs + "type";

    /// <summary>Prefixes the writers use, in the order they print them.</summary>
    public static readonly IReadOnlyList<(string Prefix, string Namespace)> Prefixes =
    [
        ("wk", Welkin), ("dcterms", Dcterms), ("schema", Schema), ("org", Org), ("skos", Skos), ("rdf", RdfNs), ("xsd", Xsd),
    ];
}

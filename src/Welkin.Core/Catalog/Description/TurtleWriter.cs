using System.Globalization;
using System.Text;

namespace Welkin.Core.Catalog.Description;

/// <summary>
/// Writes triples as Turtle (W3C RDF 1.1 Turtle): the known prefixes, one block per subject, IRIs
/// in angle brackets unless a prefixed name says the same, literals escaped per section 6.4.
/// </summary>
public static class TurtleWriter
{
    public const string MediaType = "text/turtle";

    public static string Write(IReadOnlyList<Triple> triples)
    {
        ArgumentNullException.ThrowIfNull(triples);
        var b = new StringBuilder();
        foreach (var (prefix, ns) in Vocabulary.Prefixes)
        {
            b.Append("@prefix ").Append(prefix).Append(": <").Append(ns).Append("> .\n");
        }
        foreach (var subject in triples.GroupBy(t => t.Subject))
        {
            b.Append('\n').Append(Term(subject.Key));
            var first = true;
            foreach (var predicate in subject.GroupBy(t => t.Predicate))
            {
                b.Append(first ? "\n    " : " ;\n    ");
                first = false;
                b.Append(predicate.Key.Value == Vocabulary.Type ? "a" : Term(predicate.Key)).Append(' ');
                b.AppendJoin(", ", predicate.Select(t => Term(t.Value)));
            }
            b.Append(" .\n");
        }
        return b.ToString();
    }

    private static string Term(RdfTerm term) => term switch
    {
        RdfIri iri => Iri(iri.Value),
        RdfLiteral literal => Literal(literal),
        _ => throw new ArgumentException($"Unknown RDF term {term.GetType().Name}.", nameof(term)),
    };

    private static string Iri(string value)
    {
        foreach (var (prefix, ns) in Vocabulary.Prefixes)
        {
            if (value.Length > ns.Length && value.StartsWith(ns, StringComparison.Ordinal) && IsSimpleLocalName(value.AsSpan(ns.Length)))
            {
                return prefix + ":" + value[ns.Length..];
            }
        }
        if (value.Any(CatalogGraph.IsForbiddenInIri))
        {
            // Turtle 6.4: UCHAR escapes in an IRIREF must not encode these characters either.
            throw new ArgumentException("An IRI holds a character Turtle forbids; build IRIs with CatalogGraph.Iri.", nameof(value));
        }
        return "<" + value + ">";
    }

    // A conservative PN_LOCAL: ASCII letters and digits, '-' and '_' inside, starting with a letter.
    private static bool IsSimpleLocalName(ReadOnlySpan<char> local)
    {
        if (!char.IsAsciiLetter(local[0]) || local[^1] == '-')
        {
            return false;
        }
        foreach (var c in local)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not '-' and not '_')
            {
                return false;
            }
        }
        return true;
    }

    private static string Literal(RdfLiteral literal)
    {
        if (literal.Datatype == Vocabulary.Xsd + "integer" && IsInteger(literal.Lexical))
        {
            return literal.Lexical;
        }
        var quoted = Quote(literal.Lexical);
        return literal.Datatype == Vocabulary.XsdString ? quoted : quoted + "^^" + Iri(literal.Datatype);
    }

    private static bool IsInteger(string lexical) =>
        lexical.Length > 0 && lexical.Select((c, i) => char.IsAsciiDigit(c) || (i == 0 && c == '-' && lexical.Length > 1)).All(ok => ok);

    // Turtle 6.4 STRING_LITERAL_QUOTE: '"', '\', LF and CR must be escaped; other controls are escaped
    // too so the text stays readable. Characters outside the BMP are written as themselves in UTF-8.
    private static string Quote(string text)
    {
        var b = new StringBuilder(text.Length + 2).Append('"');
        foreach (var c in text)
        {
            switch (c)
            {
                case '"': b.Append("\\\""); break;
                case '\\': b.Append("\\\\"); break;
                case '\n': b.Append("\\n"); break;
                case '\r': b.Append("\\r"); break;
                case '\t': b.Append("\\t"); break;
                case '\b': b.Append("\\b"); break;
                case '\f': b.Append("\\f"); break;
                default:
                    if (c < ' ' || c == '\u007f')
                    {
                        b.Append("\\u").Append(((int)c).ToString("X4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        b.Append(c);
                    }
                    break;
            }
        }
        return b.Append('"').ToString();
    }
}

using System.Text;
using System.Xml.Linq;
using Welkin.Intercloud.Rdf;

namespace Welkin.Intercloud.Federation;

/// <summary>
/// SPARQL between clouds as an IQ payload: a get carrying <c>&lt;query xmlns="urn:welkin:federation:sparql:1"&gt;</c>
/// with the query text is answered with <c>&lt;results&gt;</c> in the same namespace wrapping the SPARQL
/// Query Results XML document, or with a stanza error whose application-specific condition (in the
/// same namespace) names the engine's code, e.g. <c>&lt;sparql-syntax/&gt;</c>.
/// </summary>
public static class SparqlPayload
{
    public const string Namespace = "urn:welkin:federation:sparql:1";

    /// <summary>The application condition of an answer refused for its size.</summary>
    public const string TooLargeCondition = "answer-too-large";

    /// <summary>The application condition of a sender over its query budget.</summary>
    public const string BudgetCondition = "query-budget";

    public static readonly XName QueryName = XName.Get("query", Namespace);
    public static readonly XName ResultsName = XName.Get("results", Namespace);

    public static XElement Query(string sparql) => new(QueryName, sparql);

    public static XElement Results(SparqlResults results) => new(ResultsName, XElement.Parse(results.ToXml()));

    /// <summary>The UTF-8 size of <paramref name="payload"/> as it is sent.</summary>
    public static int Bytes(XElement payload) => Encoding.UTF8.GetByteCount(payload.ToString(SaveOptions.DisableFormatting));

    public static XElement Condition(string code) => new(XName.Get(code, Namespace));

    /// <summary>The results an IQ result carries, or null with what is wrong with it.</summary>
    public static (SparqlResults? Results, string? Problem) Read(XElement? iq) =>
        iq?.Element(ResultsName) is { } wrapped
            ? SparqlResultsXml.Parse(wrapped.Elements().FirstOrDefault())
            : (null, "the answer holds no SPARQL results");
}

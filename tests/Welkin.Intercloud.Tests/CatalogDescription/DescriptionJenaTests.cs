using System.Text.RegularExpressions;
using Welkin.Core.Catalog.Description;
using Welkin.Core.Tests.Catalog.Description;
using Welkin.Testing;
using Welkin.Testing.Rdf;

namespace Welkin.Intercloud.Tests.CatalogDescription;

/// <summary>The catalog description's Turtle and JSON-LD, and the ontology, as Apache Jena's RIOT reads them.</summary>
public sealed partial class DescriptionJenaTests : IDisposable
{
    private const string Owl = "http://www.w3.org/2002/07/owl#";

    private readonly string _dir = Directory.CreateDirectory(TempDirectories.NewPath("welkin-description-")).FullName;

    public void Dispose() => TempDirectories.TryDelete(_dir);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TurtleAndJsonLd_ParseToTheSameTriples(bool hostile)
    {
        var triples = CatalogGraph.Build(SampleCatalog.Build(hostile));

        var fromTurtle = await ParseAsync(TurtleWriter.Write(triples), "description.ttl", "turtle");
        var fromJsonLd = await ParseAsync(JsonLdWriter.Write(triples), "description.jsonld", "jsonld10");

        fromTurtle.Count.ShouldBe(triples.Count);
        fromJsonLd.SetEquals(fromTurtle).ShouldBeTrue(
            $"only in Turtle: {string.Join('\n', fromTurtle.Except(fromJsonLd).Take(5))}\nonly in JSON-LD: {string.Join('\n', fromJsonLd.Except(fromTurtle).Take(5))}");
    }

    [Fact]
    public async Task Turtle_KeepsHostileTextAndTypedLiteralsExactly()
    {
        var triples = CatalogGraph.Build(SampleCatalog.Build(hostile: true));

        var parsed = await ParseAsync(TurtleWriter.Write(triples), "description.ttl", "turtle");

        parsed.ShouldContain(t => t.EndsWith("<http://purl.org/dc/terms/title> " + NTriplesString(SampleCatalog.Hostile) + " .", StringComparison.Ordinal));
        parsed.ShouldContain("<" + SampleCatalog.Api + "/catalog/offerings/off_01m7zq1av1vwwb1nbrnpn39w41#rate-1> <https://schema.org/price> \"35.00\"^^<http://www.w3.org/2001/XMLSchema#decimal> .");
        parsed.ShouldContain(t => t.Contains("\"2026-11-03T10:15:30.123Z\"^^<http://www.w3.org/2001/XMLSchema#dateTime>", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Ontology_ParsesAndDeclaresEveryClassAndPropertyTheDescriptionUses()
    {
        var ontology = await Jena.NTriplesAsync(Path.Combine(RepositoryRoot(), "docs", "ontology", "welkin.ttl"), "turtle", TestContext.Current.CancellationToken);
        var declared = ontology.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => Declaration().Match(line))
            .Where(m => m.Success && m.Groups["kind"].Value is "Class" or "ObjectProperty" or "DatatypeProperty" or "NamedIndividual")
            .Select(m => m.Groups["subject"].Value)
            .ToHashSet(StringComparer.Ordinal);

        var triples = CatalogGraph.Build(SampleCatalog.Build(hostile: true));
        var used = triples.Where(t => t.Predicate.Value != Vocabulary.Type).Select(t => t.Predicate.Value)
            .Concat(triples.Where(t => t.Predicate.Value == Vocabulary.Type).Select(t => ((RdfIri)t.Value).Value))
            .Concat(triples.Where(t => t.Predicate.Value == Vocabulary.Welkin + "supportsInterface").Select(t => ((RdfIri)t.Value).Value))
            .Distinct().ToList();

        used.Count.ShouldBeGreaterThan(50);
        used.Where(term => !declared.Contains(term)).ShouldBeEmpty();
    }

    private async Task<HashSet<string>> ParseAsync(string text, string name, string syntax)
    {
        var file = Path.Combine(_dir, name);
        await File.WriteAllTextAsync(file, text, TestContext.Current.CancellationToken);
        var ntriples = await Jena.NTriplesAsync(file, syntax, TestContext.Current.CancellationToken);
        return ntriples.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
    }

    // As RIOT writes N-Triples: these five are escaped, every other character is written as itself.
    private static string NTriplesString(string text) =>
        "\"" + text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)
            .Replace("\n", "\\n", StringComparison.Ordinal).Replace("\r", "\\r", StringComparison.Ordinal).Replace("\t", "\\t", StringComparison.Ordinal) + "\"";

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Welkin.slnx")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("Welkin.slnx not found above the test's directory.");
    }

    [GeneratedRegex(@"^<(?<subject>[^>]+)> <http://www\.w3\.org/1999/02/22-rdf-syntax-ns#type> <http://www\.w3\.org/2002/07/owl#(?<kind>\w+)> \.$")]
    private static partial Regex Declaration();
}

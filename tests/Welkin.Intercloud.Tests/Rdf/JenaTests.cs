using System.Text.Json;
using Welkin.Testing;
using Welkin.Testing.Rdf;

namespace Welkin.Intercloud.Tests.Rdf;

// The independent RDF party the description and SPARQL tests compare against starts and answers.
public sealed class JenaTests : IDisposable
{
    private readonly string _dir = Directory.CreateDirectory(TempDirectories.NewPath("welkin-jena-")).FullName;

    public void Dispose() => TempDirectories.TryDelete(_dir);

    [Fact]
    public async Task Arq_AnswersASelect_AndRiotReadsTurtleAndJsonLdToTheSameTriples()
    {
        var ct = TestContext.Current.CancellationToken;
        var turtle = Path.Combine(_dir, "data.ttl");
        var jsonLd = Path.Combine(_dir, "data.jsonld");
        var query = Path.Combine(_dir, "q.rq");
        await File.WriteAllTextAsync(turtle, "@prefix ex: <http://example.org/> .\nex:a ex:p 1 .\nex:b ex:p 2 .\n", ct);
        await File.WriteAllTextAsync(jsonLd, """[{"@id":"http://example.org/a","http://example.org/p":[{"@value":1}]},{"@id":"http://example.org/b","http://example.org/p":[{"@value":2}]}]""", ct);
        await File.WriteAllTextAsync(query, "SELECT ?s WHERE { ?s <http://example.org/p> ?o FILTER(?o > 1) }", ct);

        using var results = JsonDocument.Parse(await Jena.SparqlAsync(turtle, query, ct));
        var fromTurtle = (await Jena.NTriplesAsync(turtle, "turtle", ct)).Split('\n', StringSplitOptions.RemoveEmptyEntries).Order();
        var fromJsonLd = (await Jena.NTriplesAsync(jsonLd, "jsonld10", ct)).Split('\n', StringSplitOptions.RemoveEmptyEntries).Order();

        var binding = results.RootElement.GetProperty("results").GetProperty("bindings").EnumerateArray().Single();
        Assert.Equal("http://example.org/b", binding.GetProperty("s").GetProperty("value").GetString());
        Assert.Equal(fromTurtle, fromJsonLd);
        Assert.Equal(2, fromTurtle.Count());
    }

    [Fact]
    public async Task Riot_RefusesTurtleThatIsNotWellFormed()
    {
        var bad = Path.Combine(_dir, "bad.ttl");
        await File.WriteAllTextAsync(bad, "<http://example.org/a> <http://example.org/p> .\n", TestContext.Current.CancellationToken);

        await Assert.ThrowsAsync<InvalidOperationException>(() => Jena.NTriplesAsync(bad, "turtle", TestContext.Current.CancellationToken));
    }
}

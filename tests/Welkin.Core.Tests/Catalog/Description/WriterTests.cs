using System.Text.Json;
using Welkin.Core.Catalog.Description;

namespace Welkin.Core.Tests.Catalog.Description;

public sealed class WriterTests
{
    private static readonly RdfIri S = new("https://a.example/s");
    private static readonly RdfIri P = new(Vocabulary.Welkin + "p");

    [Theory]
    [InlineData("plain", "\"plain\"")]
    [InlineData("q\"b\\", "\"q\\\"b\\\\\"")]
    [InlineData("a\nb\rc\td", "\"a\\nb\\rc\\td\"")]
    [InlineData("\u0001\u007f", "\"\\u0001\\u007F\"")]
    [InlineData("日本 🚀", "\"日本 🚀\"")]
    public void Turtle_EscapesStringLiterals(string text, string expected) =>
        TurtleWriter.Write([new Triple(S, P, RdfLiteral.Text(text))]).ShouldContain("wk:p " + expected + " .");

    [Fact]
    public void Turtle_WritesIntegersBareAndOtherTypesWithTheirDatatype()
    {
        var turtle = TurtleWriter.Write(
        [
            new Triple(S, P, RdfLiteral.XsdInteger(-4)),
            new Triple(S, P, RdfLiteral.XsdDecimal(5m)),
            new Triple(S, P, RdfLiteral.XsdDateTime(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.FromHours(2)))),
        ]);
        turtle.ShouldContain("wk:p -4, \"5\"^^xsd:decimal, \"2026-01-02T01:04:05.000Z\"^^xsd:dateTime .");
    }

    [Fact]
    public void Turtle_UsesPrefixedNamesOnlyForSimpleLocalNames()
    {
        var turtle = TurtleWriter.Write([new Triple(S, new RdfIri(Vocabulary.Welkin + "a.b"), new RdfIri(Vocabulary.Welkin + "os-debian"))]);
        turtle.ShouldContain("<https://welkin.dev/ns/cloud#a.b> wk:os-debian .");
    }

    [Fact]
    public void Turtle_RefusesAnIriWithForbiddenCharacters() =>
        Should.Throw<ArgumentException>(() => TurtleWriter.Write([new Triple(new RdfIri("https://a.example/x y"), P, RdfLiteral.Text("v"))]));

    [Fact]
    public void JsonLd_WritesAContextAndExplicitValues()
    {
        var json = JsonLdWriter.Write(
        [
            new Triple(S, new RdfIri(Vocabulary.Type), new RdfIri(Vocabulary.Welkin + "Cloud")),
            new Triple(S, P, RdfLiteral.XsdDecimal(0.13m)),
            new Triple(S, P, RdfLiteral.Text("say \"hi\"\n")),
            new Triple(S, P, new RdfIri("https://a.example/o")),
        ]);
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        root.GetProperty("@context").GetProperty("wk").GetString().ShouldBe(Vocabulary.Welkin);
        var node = root.GetProperty("@graph")[0];
        node.GetProperty("@id").GetString().ShouldBe(S.Value);
        node.GetProperty("@type")[0].GetString().ShouldBe(Vocabulary.Welkin + "Cloud");
        var values = node.GetProperty(P.Value);
        values[0].GetProperty("@value").GetString().ShouldBe("0.13");
        values[0].GetProperty("@type").GetString().ShouldBe(Vocabulary.Xsd + "decimal");
        values[1].GetProperty("@value").GetString().ShouldBe("say \"hi\"\n");
        values[1].TryGetProperty("@type", out _).ShouldBeFalse();
        values[2].GetProperty("@id").GetString().ShouldBe("https://a.example/o");
    }
}

using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Welkin.Contracts;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Testing;
using Welkin.Testing.Rdf;

namespace Welkin.Server.Tests.Catalog;

public sealed class CatalogDescriptionTests(WelkinApp app) : IClassFixture<WelkinApp>
{
    private const string Path = "/api/v1/catalog/description";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(null, "text/turtle")]
    [InlineData("text/turtle", "text/turtle")]
    [InlineData("application/ld+json", "application/ld+json")]
    [InlineData("*/*", "text/turtle")]
    [InlineData("text/html, application/*;q=0.8", "application/ld+json")]
    [InlineData("text/turtle;q=0.5, application/ld+json", "application/ld+json")]
    [InlineData("text/*;q=0.2, application/ld+json;q=0.1", "text/turtle")]
    public async Task Get_WithoutAToken_AnswersTheNegotiatedFormat(string? accept, string expected)
    {
        var response = await GetAsync(accept);

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.ShouldBe(expected);
        response.Headers.Vary.ShouldContain("Accept");
        response.Headers.ETag.ShouldNotBeNull();
        var body = await response.Content.ReadAsStringAsync(Ct);
        if (expected == "text/turtle")
        {
            body.ShouldStartWith("@prefix wk: <https://welkin.dev/ns/cloud#> .");
        }
        else
        {
            using var json = JsonDocument.Parse(body);
            json.RootElement.GetProperty("@context").GetProperty("wk").GetString().ShouldBe("https://welkin.dev/ns/cloud#");
        }
    }

    [Theory]
    [InlineData("application/json")]
    [InlineData("text/html")]
    [InlineData("text/turtle;q=0, application/ld+json;q=0")]
    public async Task Get_AskingForAnotherFormat_Answers406(string accept) =>
        await (await GetAsync(accept)).ProblemAsync(HttpStatusCode.NotAcceptable, "not-acceptable");

    [Fact]
    public async Task Get_ReflectsPublishingReplacingAndWithdrawingAtOnce()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var manager = await app.ProviderPrincipalAsync(Role.CatalogManager);
        var prefix = CatalogApi.UniquePrefix("rdf");
        var template = await developer.PublishedTemplateAsync(CatalogApi.Template(prefix + "template"));
        var first = await manager.CreateOfferingAsync(CatalogApi.Compute(prefix + "\"quoted\" <web>", template.Id));
        var before = await GetAsync("text/turtle");
        (await before.Content.ReadAsStringAsync(Ct)).ShouldNotContain(first.Id);

        await manager.PublishOfferingAsync(first.Id);
        var published = await DescriptionAsync();
        published.ShouldContain($"<http://localhost/api/v1/catalog/offerings/{first.Id}>\n    a wk:Offering ;");
        published.ShouldContain($"dcterms:title \"{prefix}\\\"quoted\\\" <web>\"");
        published.ShouldContain($"<http://localhost/api/v1/catalog/offerings/{first.Id}#rate-1>\n    a schema:UnitPriceSpecification ;\n    schema:price \"40\"^^xsd:decimal");

        // A published offering is frozen: a new price is a replacement offering, published, and the old one withdrawn.
        var spec = CatalogApi.Compute(prefix + "repriced", template.Id);
        var replacement = await manager.CreateOfferingAsync(spec with { PricePlan = spec.PricePlan with { Rates = [new PriceRate("compute-unit", "unit-month", 42.50m)] } });
        await manager.PublishOfferingAsync(replacement.Id);
        var withdraw = await manager.PostAsJsonAsync($"/api/v1/offerings/{first.Id}/withdraw", new OfferingTransitionRequest(), WelkinJson.Client, Ct);
        withdraw.StatusCode.ShouldBe(HttpStatusCode.OK);

        var after = await GetAsync("text/turtle");
        var text = await after.Content.ReadAsStringAsync(Ct);
        text.ShouldNotContain(first.Id);
        text.ShouldContain($"<http://localhost/api/v1/catalog/offerings/{replacement.Id}#rate-1>\n    a schema:UnitPriceSpecification ;\n    schema:price \"42.50\"^^xsd:decimal");
        after.Headers.ETag.ShouldNotBe(before.Headers.ETag);
    }

    [Fact]
    public async Task Get_TurtleAndJsonLd_AreTheSameTriplesToJena()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var manager = await app.ProviderPrincipalAsync(Role.CatalogManager);
        var prefix = CatalogApi.UniquePrefix("jena");
        var template = await developer.PublishedTemplateAsync(CatalogApi.Template(prefix + "naïve \"tpl\" <x> 日本"));
        var offering = await manager.CreateOfferingAsync(CatalogApi.Compute(prefix + "🚀 \\ 'web' > {db}", template.Id));
        await manager.PublishOfferingAsync(offering.Id);
        var dir = Directory.CreateDirectory(TempDirectories.NewPath("welkin-description-")).FullName;
        try
        {
            var turtle = System.IO.Path.Combine(dir, "d.ttl");
            var jsonLd = System.IO.Path.Combine(dir, "d.jsonld");
            await File.WriteAllTextAsync(turtle, await (await GetAsync("text/turtle")).Content.ReadAsStringAsync(Ct), Ct);
            await File.WriteAllTextAsync(jsonLd, await (await GetAsync("application/ld+json")).Content.ReadAsStringAsync(Ct), Ct);

            var fromTurtle = (await Jena.NTriplesAsync(turtle, "turtle", Ct)).Split('\n', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
            var fromJsonLd = (await Jena.NTriplesAsync(jsonLd, "jsonld10", Ct)).Split('\n', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);

            fromJsonLd.SetEquals(fromTurtle).ShouldBeTrue();
            fromTurtle.ShouldContain($"<http://localhost/api/v1/catalog/offerings/{offering.Id}> <http://purl.org/dc/terms/title> \"{prefix}🚀 \\\\ 'web' > {{db}}\" .");
        }
        finally
        {
            TempDirectories.TryDelete(dir);
        }
    }

    [Fact]
    public async Task Get_WithTheCurrentETag_AnswersNotModified()
    {
        var first = await GetAsync("application/ld+json");
        var request = new HttpRequestMessage(HttpMethod.Get, Path);
        request.Headers.Accept.ParseAdd("application/ld+json");
        request.Headers.IfNoneMatch.Add(first.Headers.ETag!);

        var second = await app.Anonymous().SendAsync(request, Ct);

        second.StatusCode.ShouldBe(HttpStatusCode.NotModified);
        second.Headers.ETag.ShouldBe(first.Headers.ETag);
    }

    private async Task<string> DescriptionAsync() => await (await GetAsync("text/turtle")).Content.ReadAsStringAsync(Ct);

    private async Task<HttpResponseMessage> GetAsync(string? accept)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, Path);
        if (accept is not null)
        {
            request.Headers.TryAddWithoutValidation("Accept", accept);
        }
        return await app.Anonymous().SendAsync(request, Ct);
    }
}

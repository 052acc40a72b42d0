using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Xml.Linq;
using Welkin.Contracts;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Server.Federation;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Testing;
using Welkin.Testing.Rdf;

namespace Welkin.Server.Tests.Catalog;

public sealed class CatalogSparqlTests(WelkinApp app) : IClassFixture<WelkinApp>
{
    private const string Path = "/api/v1/catalog/sparql";

    private const string Offerings = """
        PREFIX wk: <https://welkin.dev/ns/cloud#>
        PREFIX dcterms: <http://purl.org/dc/terms/>
        SELECT ?offering ?title WHERE { ?offering a wk:Offering ; dcterms:title ?title } ORDER BY ?offering
        """;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Query_ByGetByPostedQueryAndByPostedForm_GivesTheSameAnswer()
    {
        var offering = await PublishedOfferingAsync("forms");

        var byGet = await AnswerAsync(await GetAsync(Offerings));
        var byQuery = await AnswerAsync(await PostQueryAsync(Offerings));
        var byForm = await AnswerAsync(await PostFormAsync(new() { ["query"] = Offerings }));

        Bindings(byGet).ShouldContain(row => row["offering"] == $"uri http://localhost/api/v1/catalog/offerings/{offering.Id}");
        Bindings(byQuery).ShouldBe(Bindings(byGet));
        Bindings(byForm).ShouldBe(Bindings(byGet));
    }

    [Fact]
    public async Task Query_AskingForXml_AnswersSparqlResultsXml()
    {
        var offering = await PublishedOfferingAsync("xml");

        var response = await GetAsync(Offerings, "application/sparql-results+xml");

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/sparql-results+xml");
        XNamespace ns = "http://www.w3.org/2005/sparql-results#";
        var xml = XDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        xml.Root!.Name.ShouldBe(ns + "sparql");
        xml.Descendants(ns + "uri").Select(u => u.Value).ShouldContain($"http://localhost/api/v1/catalog/offerings/{offering.Id}");
    }

    [Fact]
    public async Task Query_AfterWithdrawing_NoLongerFindsTheOffering()
    {
        var manager = await app.ProviderPrincipalAsync(Role.CatalogManager);
        var offering = await PublishedOfferingAsync("withdrawn");
        var ask = $"ASK {{ <http://localhost/api/v1/catalog/offerings/{offering.Id}> ?p ?o }}";
        (await AnswerAsync(await GetAsync(ask))).RootElement.GetProperty("boolean").GetBoolean().ShouldBeTrue();

        var withdraw = await manager.PostAsJsonAsync($"/api/v1/offerings/{offering.Id}/withdraw", new OfferingTransitionRequest(), WelkinJson.Client, Ct);
        withdraw.StatusCode.ShouldBe(HttpStatusCode.OK);

        (await AnswerAsync(await GetAsync(ask))).RootElement.GetProperty("boolean").GetBoolean().ShouldBeFalse();
    }

    [Fact]
    public async Task Query_AfterAPublicationOrAWithdrawal_SeesIt_ThoughTheGraphBeforeWasKept()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var manager = await app.ProviderPrincipalAsync(Role.CatalogManager);
        var prefix = CatalogApi.UniquePrefix("fresh");
        var template = await developer.PublishedTemplateAsync(CatalogApi.Template(prefix + "template"));
        var offering = await manager.CreateOfferingAsync(CatalogApi.Compute(prefix + "offering", template.Id));
        var ask = $"ASK {{ <http://localhost/api/v1/catalog/offerings/{offering.Id}> ?p ?o }}";
        var queries = app.Services.GetRequiredService<CatalogQuery>();
        // Twice: the second query is answered from the graph the first one loaded.
        (await AnswerAsync(await GetAsync(ask))).RootElement.GetProperty("boolean").GetBoolean().ShouldBeFalse();
        var loads = queries.Loads;
        (await AnswerAsync(await GetAsync(ask))).RootElement.GetProperty("boolean").GetBoolean().ShouldBeFalse();
        queries.Loads.ShouldBe(loads);

        await manager.PublishOfferingAsync(offering.Id);

        (await AnswerAsync(await GetAsync(ask))).RootElement.GetProperty("boolean").GetBoolean().ShouldBeTrue();
        queries.Loads.ShouldBeGreaterThan(loads);

        (await manager.PostAsJsonAsync($"/api/v1/offerings/{offering.Id}/withdraw", new OfferingTransitionRequest(), WelkinJson.Client, TestContext.Current.CancellationToken))
            .StatusCode.ShouldBe(HttpStatusCode.OK);

        (await AnswerAsync(await GetAsync(ask))).RootElement.GetProperty("boolean").GetBoolean().ShouldBeFalse();
    }

    [Fact]
    public async Task Query_UsingMinus_Answers400NamingIt()
    {
        var problem = await (await GetAsync("SELECT ?s WHERE { ?s ?p ?o MINUS { ?s a ?t } }")).ProblemAsync(HttpStatusCode.BadRequest, "sparql-unsupported");

        problem.GetProperty("detail").GetString().ShouldStartWith("MINUS is not supported");
    }

    [Fact]
    public async Task Query_NamingADataset_Answers400NamingTheParameter()
    {
        var problem = await (await PostFormAsync(new() { ["query"] = "ASK {}", ["default-graph-uri"] = "http://example.org/g" }))
            .ProblemAsync(HttpStatusCode.BadRequest, "sparql-unsupported");

        problem.GetProperty("detail").GetString().ShouldStartWith("default-graph-uri is not supported");
    }

    [Fact]
    public async Task Query_WithASyntaxError_Answers400() =>
        await (await GetAsync("SELECT ?s WHERE { ?s ?p")).ProblemAsync(HttpStatusCode.BadRequest, "sparql-syntax");

    [Fact]
    public async Task Query_Missing_Answers400()
    {
        await (await app.Anonymous().GetAsync(Path, Ct)).ProblemAsync(HttpStatusCode.BadRequest, "missing-query");
        await (await PostQueryAsync("  ")).ProblemAsync(HttpStatusCode.BadRequest, "missing-query");
        await (await PostFormAsync(new() { ["other"] = "x" })).ProblemAsync(HttpStatusCode.BadRequest, "missing-query");
    }

    [Fact]
    public async Task Query_LongerThanTheLimit_Answers413() =>
        await (await PostQueryAsync("ASK {}" + new string(' ', 17 * 1024))).ProblemAsync(HttpStatusCode.RequestEntityTooLarge, "sparql-limit");

    [Fact]
    public async Task Query_AskingForAnotherFormat_Answers406() =>
        await (await GetAsync("ASK {}", "text/turtle")).ProblemAsync(HttpStatusCode.NotAcceptable, "not-acceptable");

    [Fact]
    public async Task Query_PostedAsJson_Answers415() =>
        await (await app.Anonymous().PostAsync(Path, new StringContent("{}", Encoding.UTF8, "application/json"), Ct))
            .ProblemAsync(HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");

    [Fact]
    public async Task Query_GivesTheBindingsJenaGivesOverTheServedTurtle()
    {
        await PublishedOfferingAsync("jena \"q\" 日本");
        const string query = """
            PREFIX wk: <https://welkin.dev/ns/cloud#>
            PREFIX dcterms: <http://purl.org/dc/terms/>
            PREFIX schema: <http://schema.org/>
            SELECT ?offering ?title ?price WHERE {
              ?offering a wk:Offering ; dcterms:title ?title .
              OPTIONAL { ?rate schema:price ?price . FILTER(STRSTARTS(STR(?rate), STR(?offering))) }
            }
            """;
        var dir = Directory.CreateDirectory(TempDirectories.NewPath("welkin-sparql-")).FullName;
        try
        {
            var data = System.IO.Path.Combine(dir, "d.ttl");
            var queryFile = System.IO.Path.Combine(dir, "q.rq");
            var turtle = await app.Anonymous().GetStringAsync("/api/v1/catalog/description", Ct);
            var served = Bindings(await AnswerAsync(await GetAsync(query)));
            await File.WriteAllTextAsync(data, turtle, Ct);
            await File.WriteAllTextAsync(queryFile, query, Ct);

            using var jena = JsonDocument.Parse(await Jena.SparqlAsync(data, queryFile, Ct));

            served.ShouldNotBeEmpty();
            served.ShouldBe(Bindings(jena), ignoreOrder: true);
        }
        finally
        {
            TempDirectories.TryDelete(dir);
        }
    }

    private async Task<OfferingView> PublishedOfferingAsync(string name)
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var manager = await app.ProviderPrincipalAsync(Role.CatalogManager);
        var prefix = CatalogApi.UniquePrefix("sparql");
        var template = await developer.PublishedTemplateAsync(CatalogApi.Template(prefix + "template"));
        var offering = await manager.CreateOfferingAsync(CatalogApi.Compute(prefix + name, template.Id));
        await manager.PublishOfferingAsync(offering.Id);
        return offering;
    }

    /// <summary>Each row as variable to "type value [datatype|lang]", in the order given.</summary>
    private static List<Dictionary<string, string>> Bindings(JsonDocument results) =>
        results.RootElement.GetProperty("results").GetProperty("bindings").EnumerateArray()
            .Select(row => row.EnumerateObject().ToDictionary(b => b.Name, b => Term(b.Value), StringComparer.Ordinal))
            .ToList();

    private static string Term(JsonElement term)
    {
        var text = term.GetProperty("type").GetString() + " " + term.GetProperty("value").GetString();
        if (term.TryGetProperty("datatype", out var datatype))
        {
            text += " ^^" + datatype.GetString();
        }
        if (term.TryGetProperty("xml:lang", out var language))
        {
            text += " @" + language.GetString();
        }
        return text;
    }

    private static async Task<JsonDocument> AnswerAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync(Ct);
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/sparql-results+json");
        return JsonDocument.Parse(text);
    }

    private async Task<HttpResponseMessage> GetAsync(string query, string? accept = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, Path + "?query=" + Uri.EscapeDataString(query));
        if (accept is not null)
        {
            request.Headers.TryAddWithoutValidation("Accept", accept);
        }
        return await app.Anonymous().SendAsync(request, Ct);
    }

    private async Task<HttpResponseMessage> PostQueryAsync(string query) =>
        await app.Anonymous().PostAsync(Path, new StringContent(query, Encoding.UTF8, "application/sparql-query"), Ct);

    private async Task<HttpResponseMessage> PostFormAsync(Dictionary<string, string> fields) =>
        await app.Anonymous().PostAsync(Path, new FormUrlEncodedContent(fields), Ct);
}

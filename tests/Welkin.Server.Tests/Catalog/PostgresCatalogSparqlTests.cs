using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Welkin.Contracts;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Catalog;

/// <summary>The SPARQL endpoint on PostgreSQL: the catalog's stamp (aggregates over offerings and templates) reads there too, and follows a publication.</summary>
public sealed class PostgresCatalogSparqlTests(PostgresWelkinApp app) : IClassFixture<PostgresWelkinApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Query_OnPostgres_SeesAPublicationAfterAKeptGraph()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var manager = await app.ProviderPrincipalAsync(Role.CatalogManager);
        var prefix = CatalogApi.UniquePrefix("pg");
        var template = await developer.PublishedTemplateAsync(CatalogApi.Template(prefix + "template"));
        var offering = await manager.CreateOfferingAsync(CatalogApi.Compute(prefix + "offering", template.Id));
        var ask = Uri.EscapeDataString($"ASK {{ <http://localhost/api/v1/catalog/offerings/{offering.Id}> ?p ?o }}");

        (await AskAsync(ask)).ShouldBeFalse();
        (await AskAsync(ask)).ShouldBeFalse();
        await manager.PublishOfferingAsync(offering.Id);

        (await AskAsync(ask)).ShouldBeTrue();
    }

    private async Task<bool> AskAsync(string escaped)
    {
        var response = await app.Anonymous().GetAsync("/api/v1/catalog/sparql?query=" + escaped, Ct);
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        using var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        return answer.RootElement.GetProperty("boolean").GetBoolean();
    }
}

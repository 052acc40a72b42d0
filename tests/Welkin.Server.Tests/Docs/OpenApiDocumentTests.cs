using System.Net;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Server.Infrastructure;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Testing;

namespace Welkin.Server.Tests.Docs;

/// <summary>
/// docs/openapi.json is the API reference checked into the repository. This test fails when the
/// running server's document differs from it; run the suite with WELKIN_UPDATE_DOCS=1 to rewrite it.
/// </summary>
public sealed class OpenApiDocumentTests(WelkinApp app) : IClassFixture<WelkinApp>
{
    [Fact]
    public async Task OpenApiDocument_IsServedAnonymously_AndMatchesDocs()
    {
        var response = await app.Anonymous().GetAsync("/api/v1/openapi.json", TestContext.Current.CancellationToken);
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var served = Normalize(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));

        using var doc = JsonDocument.Parse(served);
        doc.RootElement.GetProperty("openapi").GetString().ShouldStartWith("3.");
        doc.RootElement.GetProperty("paths").TryGetProperty("/api/v1/principals/{id}", out _).ShouldBeTrue();

        var path = Repository.Path("docs", "openapi.json");
        if (Environment.GetEnvironmentVariable("WELKIN_UPDATE_DOCS") == "1")
        {
            await File.WriteAllTextAsync(path, served, TestContext.Current.CancellationToken);
        }
        File.Exists(path).ShouldBeTrue("docs/openapi.json is missing: run the tests with WELKIN_UPDATE_DOCS=1");
        Normalize(await File.ReadAllTextAsync(path, TestContext.Current.CancellationToken))
            .ShouldBe(served, "docs/openapi.json is stale: run the tests with WELKIN_UPDATE_DOCS=1 and commit it");
    }

    [Fact]
    public async Task EveryOperation_HasASummary()
    {
        using var doc = await ServedAsync();

        var missing = Operations(doc)
            .Where(o => !o.Operation.TryGetProperty("summary", out var summary) || string.IsNullOrWhiteSpace(summary.GetString()))
            .Select(o => o.Key)
            .ToList();

        missing.ShouldBeEmpty("These operations have no summary (add .WithSummary on their Map line): " + string.Join(", ", missing));
    }

    [Fact]
    public async Task BearerScheme_IsRequiredByAuthenticatedOperations_AndNotByAnonymousOnes()
    {
        using var doc = await ServedAsync();
        var scheme = doc.RootElement.GetProperty("components").GetProperty("securitySchemes").GetProperty(OpenApiSetup.BearerScheme);
        scheme.GetProperty("type").GetString().ShouldBe("http");
        scheme.GetProperty("scheme").GetString().ShouldBe("bearer");
        scheme.GetProperty("description").GetString()!.ShouldContain("wkn_");

        var anonymous = app.Services.GetRequiredService<EndpointDataSource>().Endpoints
            .Where(e => e.Metadata.GetMetadata<IEndpointNameMetadata>() is not null)
            .ToDictionary(e => e.Metadata.GetMetadata<IEndpointNameMetadata>()!.EndpointName, e => e.Metadata.GetMetadata<IAllowAnonymous>() is not null, StringComparer.Ordinal);
        var operations = Operations(doc).ToList();
        foreach (var (key, operation) in operations)
        {
            var id = operation.GetProperty("operationId").GetString()!;
            anonymous.ShouldContainKey(id, $"{key}: operationId '{id}' names no endpoint");
            var requirements = operation.TryGetProperty("security", out var security) ? security.EnumerateArray().ToList() : [];
            if (anonymous[id])
            {
                // Anonymous: no requirement, or the token is optional (an empty requirement among them).
                (requirements.Count == 0 || requirements.Any(r => !r.EnumerateObject().Any())).ShouldBeTrue($"{key} is anonymous but requires a token");
            }
            else
            {
                requirements.Count.ShouldBe(1, $"{key} needs a token but does not declare exactly one security requirement");
                requirements[0].EnumerateObject().Select(p => p.Name).ShouldBe([OpenApiSetup.BearerScheme], $"{key}");
            }
        }
        operations.Select(o => o.Operation.GetProperty("operationId").GetString()).ShouldContain("auth.login");
        anonymous.Count(a => a.Value).ShouldBeGreaterThanOrEqualTo(4, "login, sign-up and the published catalog are anonymous");
    }

    [Fact]
    public async Task EveryOperation_AnswersClientAndServerErrorsWithTheProblemSchema()
    {
        using var doc = await ServedAsync();
        var problem = doc.RootElement.GetProperty("components").GetProperty("schemas").GetProperty(OpenApiSetup.ProblemSchema);
        problem.GetProperty("properties").EnumerateObject().Select(p => p.Name)
            .ShouldBeSubsetOf(["type", "title", "status", "detail", "instance", "code", "correlationId", "traceId", "errors"]);
        foreach (var member in new[] { "type", "title", "status", "detail", "instance", "code", "correlationId", "errors" })
        {
            problem.GetProperty("properties").TryGetProperty(member, out _).ShouldBeTrue($"the problem schema lacks '{member}'");
        }

        foreach (var (key, operation) in Operations(doc))
        {
            foreach (var status in new[] { "4XX", "5XX" })
            {
                operation.GetProperty("responses").TryGetProperty(status, out var response).ShouldBeTrue($"{key} declares no {status} response");
                response.GetProperty("content").GetProperty(OpenApiSetup.ProblemMediaType).GetProperty("schema").GetProperty("$ref").GetString()
                    .ShouldBe("#/components/schemas/" + OpenApiSetup.ProblemSchema, $"{key} {status}");
            }
        }
    }

    private async Task<JsonDocument> ServedAsync()
    {
        var response = await app.Anonymous().GetAsync("/api/v1/openapi.json", TestContext.Current.CancellationToken);
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    private static IEnumerable<(string Key, JsonElement Operation)> Operations(JsonDocument doc) =>
        doc.RootElement.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Select(op => ($"{op.Name.ToUpperInvariant()} {path.Name}", op.Value)));

    private static string Normalize(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var root = JsonSerializer.SerializeToNode(doc.RootElement)!.AsObject();
        // The server list depends on the host the test runs on.
        root.Remove("servers");
        // Relaxed escaping keeps the file readable ("account's", "wkn_…"); it is never embedded in HTML.
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n";
    }
}

using System.Net;
using System.Text.Json;
using Welkin.Server.Tests.Infrastructure;

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

        var path = Path.Combine(RepositoryRoot(), "docs", "openapi.json");
        if (Environment.GetEnvironmentVariable("WELKIN_UPDATE_DOCS") == "1")
        {
            await File.WriteAllTextAsync(path, served, TestContext.Current.CancellationToken);
        }
        File.Exists(path).ShouldBeTrue("docs/openapi.json is missing: run the tests with WELKIN_UPDATE_DOCS=1");
        Normalize(await File.ReadAllTextAsync(path, TestContext.Current.CancellationToken))
            .ShouldBe(served, "docs/openapi.json is stale: run the tests with WELKIN_UPDATE_DOCS=1 and commit it");
    }

    private static string Normalize(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var root = JsonSerializer.SerializeToNode(doc.RootElement)!.AsObject();
        // The server list depends on the host the test runs on.
        root.Remove("servers");
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    internal static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Welkin.slnx")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("Repository root (Welkin.slnx) not found above the test directory.");
    }
}

using System.Net.Http.Headers;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Welkin.Contracts;
using Welkin.Core.Jobs;
using Welkin.Core.Security;

namespace Welkin.Testing.Clouds;

/// <summary>
/// A Welkin cloud in-process on the real HTTP pipeline, with its own temporary data directory and,
/// when <see cref="Postgres"/> is set, its own PostgreSQL cluster instead of SQLite.
/// Share one per test class; each test makes its own tenant with <see cref="SignUpAsync"/>.
/// </summary>
public class WelkinApp : WebApplicationFactory<Program>, IAsyncLifetime
{
    public string DataDir { get; } = TestServers.NewDataDirectory();

    /// <summary>Extra settings ("Section:Key" → value) applied before start.</summary>
    protected virtual IDictionary<string, string?> Settings => new Dictionary<string, string?>();

    /// <summary>The settings of every test server (<see cref="TestServers.Settings"/>), applied before <see cref="Settings"/>.</summary>
    protected virtual IReadOnlyDictionary<string, string> CommonSettings => TestServers.Settings;

    /// <summary>Set by a fixture that runs the cloud on a private PostgreSQL cluster.</summary>
    protected PostgresCluster? Postgres { get; init; }

    /// <summary>A clock the tests move (a <see cref="FakeTimeProvider"/>), for a fixture whose cloud must not run on real time.</summary>
    protected virtual TimeProvider? ServerClock => null;

    public string AdminToken => TestServers.AdminToken(DataDir);

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment(TestServers.Environment);
        builder.UseSetting("Welkin:DataDir", DataDir);
        if (Postgres is not null)
        {
            builder.UseSetting("Database:Provider", "postgresql");
            builder.UseSetting("Database:ConnectionString", Postgres.ConnectionString);
        }
        foreach (var (key, value) in CommonSettings)
        {
            builder.UseSetting(key, value);
        }
        foreach (var (key, value) in Settings)
        {
            builder.UseSetting(key, value);
        }
        if (ServerClock is { } clock)
        {
            builder.ConfigureTestServices(services =>
            {
                services.RemoveAll<TimeProvider>();
                services.AddSingleton<TimeProvider>(clock);
            });
        }
    }

    public HttpClient Anonymous() => CreateClient();

    public HttpClient As(string token)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    public HttpClient Admin() => As(AdminToken);

    /// <summary>Signs up a fresh account (unique name) and returns it with a client authenticated as its account-admin.</summary>
    public async Task<(SignUpResponse SignUp, HttpClient Client)> SignUpAsync(string prefix = "acct")
    {
        var name = $"{prefix}-{Guid.NewGuid():n}"[..Math.Min(prefix.Length + 13, 63)];
        var response = await Anonymous().PostAsJsonAsync("/api/v1/catalog/sign-up",
            new SignUpRequest(name, $"{prefix} Inc.", new SignUpAdmin("admin")), WelkinJson.Client);
        response.EnsureSuccessStatusCode();
        var body = (await response.Content.ReadFromJsonAsync<SignUpResponse>(WelkinJson.Client))!;
        return (body, As(body.Token.Secret));
    }

    /// <summary>Creates a provider principal with the given roles and returns a client authenticated as it.</summary>
    public async Task<HttpClient> ProviderPrincipalAsync(params Role[] roles)
    {
        var admin = Admin();
        var name = "p-" + Guid.NewGuid().ToString("n")[..12];
        var created = await admin.PostAsJsonAsync("/api/v1/principals", new CreatePrincipalRequest(name, roles), WelkinJson.Client);
        created.EnsureSuccessStatusCode();
        var principal = (await created.Content.ReadFromJsonAsync<PrincipalView>(WelkinJson.Client))!;
        var token = await admin.PostAsJsonAsync($"/api/v1/principals/{principal.Id}/tokens", new CreateTokenRequest("test"), WelkinJson.Client);
        token.EnsureSuccessStatusCode();
        return As((await token.Content.ReadFromJsonAsync<IssuedToken>(WelkinJson.Client))!.Secret);
    }

    public virtual async ValueTask InitializeAsync()
    {
        if (Postgres is not null)
        {
            await Postgres.InitializeAsync();
        }
        // Starting the server here runs migrations and bootstrap before the first test.
        _ = Server;
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        GC.SuppressFinalize(this);
        if (Postgres is not null)
        {
            await Postgres.DisposeAsync();
        }
        TempDirectories.TryDelete(DataDir);
    }
}

public static class JobWaits
{
    /// <summary>Reads the job from the server's queue until it finishes (the test's cancellation bounds the wait).</summary>
    public static Task<JobView> FinishedAsync(WelkinApp app, string jobId)
    {
        var queue = app.Services.GetRequiredService<JobQueue>();
        return Polling.FinishedAsync(async ct => (await queue.GetAsync(Caller.System("test"), jobId, ct)).Value, TestContext.Current.CancellationToken);
    }
}

public static class HttpAssertions
{
    public static async Task<T> ReadAsync<T>(this HttpResponseMessage response, System.Net.HttpStatusCode expected = System.Net.HttpStatusCode.OK)
    {
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(expected, text);
        return System.Text.Json.JsonSerializer.Deserialize<T>(text, WelkinJson.Client)!;
    }

    /// <summary>Asserts an RFC 9457 problem with the given status and code, and returns it.</summary>
    public static async Task<System.Text.Json.JsonElement> ProblemAsync(this HttpResponseMessage response, System.Net.HttpStatusCode status, string code)
    {
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(status, text);
        response.Content.Headers.ContentType?.MediaType.ShouldBe("application/problem+json", text);
        var json = System.Text.Json.JsonDocument.Parse(text).RootElement;
        json.GetProperty("code").GetString().ShouldBe(code, text);
        return json;
    }
}

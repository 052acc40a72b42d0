using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using Welkin.Contracts;
using Welkin.Core.Security;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Security;

/// <summary>
/// A cloud that hashes passwords at the production count, one at a time with two waiting, and
/// whose per-address limit does not bind: a flood of sign-ups from one address reaches the
/// hashing bound.
/// </summary>
public sealed class FloodedApp : WelkinApp
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Security:PasswordIterations"] = PasswordHasher.DefaultIterations.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Security:PasswordHashConcurrency"] = "1",
        ["Security:PasswordHashQueueLimit"] = "2",
    };
}

/// <summary>The latency figures of the same situation are the benchmark's (bench/README.md); this test asserts only outcomes.</summary>
public sealed class PasswordFloodTests(FloodedApp app) : IClassFixture<FloodedApp>
{
    private const int Flooders = 6;
    private const int SignUpsPerFlooder = 4;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task SignUpFlood_AnotherTenantsRequestsAllSucceed_AndTheFloodIsAnsweredOrRefusedWithRetryAfter()
    {
        var (_, tenant) = await app.SignUpAsync("tenant");
        var flood = new ConcurrentBag<(HttpStatusCode Status, bool RetryAfter)>();
        var tenantStatuses = new ConcurrentBag<HttpStatusCode>();
        using var flooding = new CancellationTokenSource();

        var tenantLoop = Task.Run(async () =>
        {
            while (!flooding.IsCancellationRequested)
            {
                using var response = await tenant.GetAsync("/api/v1/me", Ct);
                tenantStatuses.Add(response.StatusCode);
            }
        }, Ct);
        await Task.WhenAll(Enumerable.Range(0, Flooders).Select(f => Task.Run(async () =>
        {
            var client = app.Anonymous();
            for (var i = 0; i < SignUpsPerFlooder; i++)
            {
                var name = $"flood-{f}-{i}-{Guid.NewGuid():n}"[..30];
                using var response = await client.PostAsJsonAsync("/api/v1/catalog/sign-up",
                    new SignUpRequest(name, "Flood", new SignUpAdmin("admin", Password: "correct horse battery staple")), WelkinJson.Client, Ct);
                flood.Add((response.StatusCode, response.Headers.Contains("Retry-After")));
            }
        }, Ct)));
        await flooding.CancelAsync();
        await tenantLoop;

        tenantStatuses.ShouldNotBeEmpty();
        tenantStatuses.ShouldAllBe(s => s == HttpStatusCode.OK);
        flood.Count.ShouldBe(Flooders * SignUpsPerFlooder);
        flood.ShouldAllBe(r => r.Status == HttpStatusCode.Created || ((r.Status == HttpStatusCode.ServiceUnavailable || r.Status == HttpStatusCode.TooManyRequests) && r.RetryAfter));
        flood.ShouldContain(r => r.Status == HttpStatusCode.Created);
        // Six clients and room for three: the bound refused some rather than queueing them all.
        flood.ShouldContain(r => r.Status == HttpStatusCode.ServiceUnavailable);
    }
}

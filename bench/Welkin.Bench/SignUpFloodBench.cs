using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Welkin.Contracts;

namespace Welkin.Bench;

/// <summary>
/// One tenant's <c>GET /api/v1/me</c> latency on a real server process while anonymous clients
/// flood it with sign-ups carrying passwords (PBKDF2 at the production 600,000 iterations): first
/// with no flood (the baseline of the same run), then during the flood, once with hashing
/// unbounded (as before the bound existed) and once with the server's defaults. The per-address
/// limit is raised in both, since every client here shares 127.0.0.1: what is measured is the
/// hashing bound.
/// </summary>
internal static class SignUpFloodBench
{
    private const int MaxFloodInFlight = 512;

    public static async Task RunAsync(string[] args)
    {
        var seconds = args.Length > 0 ? double.Parse(args[0], CultureInfo.InvariantCulture) : 15;
        var rate = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 60;
        var root = args.Length > 2 ? args[2] : Path.Combine(Path.GetTempPath(), "welkin-flood-bench-" + Guid.NewGuid().ToString("n"));
        var duration = TimeSpan.FromSeconds(seconds);
        Console.WriteLine($"welkin-bench signup-flood: {Environment.ProcessorCount} cores, {seconds} s per phase, {rate} sign-ups/s offered, directory {root}");
        try
        {
            foreach (var (name, bounded) in new[] { ("unbounded hashing (before)", false), ("bounded hashing (defaults)", true) })
            {
                var dir = Path.Combine(root, bounded ? "bounded" : "unbounded");
                Directory.CreateDirectory(dir);
                await using var server = await ServerProcess.StartAsync(dir, (port, dataDir) => Settings(port, dataDir, bounded));
                var signUp = await ServerProcess.ReadAsync<SignUpResponse>(await server.Client(null).PostAsJsonAsync("/api/v1/catalog/sign-up",
                    new SignUpRequest("tenant", "Tenant", new SignUpAdmin("admin")), WelkinJson.Client));
                var tenant = server.Client(signUp.Token.Secret);
                await MeasureAsync(tenant, TimeSpan.FromSeconds(3), CancellationToken.None);
                var baseline = await MeasureAsync(tenant, duration, CancellationToken.None);
                Console.WriteLine($"{name}: no flood     GET /me {baseline}");
                using var flooding = new CancellationTokenSource();
                var flood = FloodAsync(server, rate, flooding.Token);
                var during = await MeasureAsync(tenant, duration, CancellationToken.None);
                await flooding.CancelAsync();
                var answers = await flood;
                Console.WriteLine($"{name}: during flood GET /me {during}");
                Console.WriteLine($"  flood answers: {string.Join(", ", answers.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key} x{kv.Value}"))}");
                await server.StopAsync();
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private sealed record Latencies(double P50, double P95, double P99, int Count, int Failed)
    {
        public override string ToString() =>
            string.Create(CultureInfo.InvariantCulture, $"p50 {P50,7:0.0} ms, p95 {P95,7:0.0} ms, p99 {P99,7:0.0} ms, {Count} requests, {Failed} failed");
    }

    private static async Task<Latencies> MeasureAsync(HttpClient tenant, TimeSpan duration, CancellationToken ct)
    {
        var times = new List<double>();
        var failed = 0;
        var until = Stopwatch.StartNew();
        while (until.Elapsed < duration)
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                using var response = await tenant.GetAsync("/api/v1/me", ct);
                failed += response.StatusCode == HttpStatusCode.OK ? 0 : 1;
            }
            catch (HttpRequestException)
            {
                failed++;
            }
            catch (TaskCanceledException)
            {
                failed++;
            }
            times.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        times.Sort();
        double At(double p) => times.Count == 0 ? double.NaN : times[Math.Min(times.Count - 1, (int)(p * times.Count))];
        return new Latencies(At(0.50), At(0.95), At(0.99), times.Count, failed);
    }

    /// <summary>Offers <paramref name="rate"/> sign-ups a second, each with a password, until cancelled; returns how each was answered.</summary>
    private static async Task<IReadOnlyDictionary<string, int>> FloodAsync(ServerProcess server, int rate, CancellationToken ct)
    {
        var answers = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var inFlight = new List<Task>();
        var client = server.Client(null);
        var clock = Stopwatch.StartNew();
        var sent = 0L;
        while (!ct.IsCancellationRequested)
        {
            inFlight.RemoveAll(t => t.IsCompleted);
            var due = (long)(clock.Elapsed.TotalSeconds * rate);
            for (; sent < due; sent++)
            {
                if (inFlight.Count >= MaxFloodInFlight)
                {
                    answers.AddOrUpdate("not sent (512 in flight)", 1, (_, n) => n + 1);
                    continue;
                }
                var name = "flood-" + Guid.NewGuid().ToString("n")[..20];
                inFlight.Add(SignUpAsync(client, name, answers));
            }
            await Task.Delay(5, CancellationToken.None);
        }
        await Task.WhenAll(inFlight);
        return answers;
    }

    private static async Task SignUpAsync(HttpClient client, string name, ConcurrentDictionary<string, int> answers)
    {
        string key;
        try
        {
            using var response = await client.PostAsJsonAsync("/api/v1/catalog/sign-up",
                new SignUpRequest(name, "Flood", new SignUpAdmin("admin", Password: "correct horse battery staple")), WelkinJson.Client);
            key = ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture);
        }
        catch (HttpRequestException)
        {
            key = "connection error";
        }
        catch (TaskCanceledException)
        {
            key = "timeout";
        }
        answers.AddOrUpdate(key, 1, (_, n) => n + 1);
    }

    private static Dictionary<string, object> Settings(int port, string dataDir, bool bounded)
    {
        var security = new Dictionary<string, object> { ["CredentialRequestLimit"] = 1_000_000 };
        if (!bounded)
        {
            security["PasswordHashConcurrency"] = 1024;
            security["PasswordHashQueueLimit"] = 1_000_000;
        }
        return new Dictionary<string, object>
        {
            ["Logging"] = new Dictionary<string, object>
            {
                ["LogLevel"] = new Dictionary<string, string> { ["Default"] = "Information", ["Microsoft.AspNetCore"] = "Warning", ["Microsoft.Hosting.Lifetime"] = "Warning" },
            },
            ["Welkin"] = new Dictionary<string, object> { ["Port"] = port, ["Bind"] = "127.0.0.1", ["DataDir"] = dataDir, ["Fabric"] = "simulated" },
            ["Database"] = new Dictionary<string, string> { ["Provider"] = "sqlite" },
            ["Security"] = security,
        };
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Welkin.Contracts;

namespace Welkin.Bench;

/// <summary>
/// Provisioning throughput through the HTTP API: a real welkin-server process on a loopback
/// port with a temporary data directory and a large simulated fabric whose operations take no
/// time, one tenant with big limits and active contracts, and N concurrent clients posting
/// <c>POST /api/v1/instances</c> (one machine each) for a fixed time. In the same run and the
/// same directory: the raw durable-commit rate of a SQLite file, the yardstick the ratio uses.
/// </summary>
internal static class ProvisionBench
{
    private const int ContractLines = 10_000;

    private static readonly string[] TimingKeys = ["Create", "Start", "Stop", "Pause", "Resume", "Reboot", "Resize", "Destroy", "Attach", "Detach"];

    public static async Task RunAsync(string[] args)
    {
        var seconds = args.Length > 0 ? double.Parse(args[0], CultureInfo.InvariantCulture) : 20;
        var clientCounts = args.Length > 1 ? args[1].Split(',').Select(c => int.Parse(c, CultureInfo.InvariantCulture)).ToArray() : [16, 32, 64];
        var hosts = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 2000;
        var root = args.Length > 3 ? args[3] : Path.Combine(Path.GetTempPath(), "welkin-provision-" + Guid.NewGuid().ToString("n"));
        Directory.CreateDirectory(root);
        Console.WriteLine($"welkin-bench provision: {Environment.ProcessorCount} cores, {seconds} s per case, {hosts} simulated hosts, directory {root}");
        try
        {
            foreach (var clients in clientCounts)
            {
                var dir = Path.Combine(root, $"clients-{clients}");
                Directory.CreateDirectory(dir);
                var raw = await RawSqlite.CommitsPerSecondAsync(Path.Combine(dir, "raw.db"), 1, TimeSpan.FromSeconds(5));
                await using var server = await ServerProcess.StartAsync(dir, (port, dataDir) => Settings(port, dataDir, hosts));
                var result = await LoadAsync(server, clients, TimeSpan.FromSeconds(seconds));
                Console.WriteLine(
                    $"clients={clients,3}: {result.PerSecond,6:0} provisions/s (202), p50 {result.P50,6:0.0} ms, p99 {result.P99,6:0.0} ms, "
                    + $"{result.Errors} errors | machines running {result.MachinesPerSecond,6:0}/s end to end ({result.FailedJobs} failed jobs) "
                    + $"| raw durable commits {raw,6:0}/s | ratio {result.PerSecond / raw:0.00}");
                // The ceiling the HTTP stack and token authentication set on the same two cores:
                // the same clients reading who they are, no write at all.
                var baseline = await BaselineAsync(server, clients, TimeSpan.FromSeconds(Math.Min(seconds, 10)));
                Console.WriteLine($"  baseline: {baseline,6:0} GET /api/v1/me/s with the same clients (HTTP, authentication, JSON; no write)");
            }
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(root, recursive: true);
        }
    }

    private sealed record Outcome(double PerSecond, double P50, double P99, long Errors, double MachinesPerSecond, string FailedJobs);

    private static async Task<Outcome> LoadAsync(ServerProcess server, int clients, TimeSpan duration)
    {
        var admin = server.Client(server.AdminToken);
        var tenant = await SetUpTenantAsync(server, admin, contracts: 8);
        var warmUp = TimeSpan.FromSeconds(3);
        var accepted = 0L;
        var errors = 0L;
        string? firstError = null;
        var latencies = new List<double>[clients];
        var clock = Stopwatch.StartNew();
        var cpu = Task.Run(async () =>
        {
            await Task.Delay(warmUp);
            var before = (server.CpuTime, Interlocked.Read(ref accepted));
            await Task.Delay(duration);
            return (server.CpuTime - before.CpuTime, Interlocked.Read(ref accepted) - before.Item2);
        });
        await Task.WhenAll(Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
        {
            var mine = latencies[c] = new List<double>(100_000);
            var n = c;
            while (clock.Elapsed < warmUp + duration)
            {
                var request = new ProvisionRequest(tenant.Contracts[n++ % tenant.Contracts.Count], VirtualSystems: [new VirtualSystemChoice("web", 1)]);
                var started = Stopwatch.GetTimestamp();
                using var response = await tenant.Client.PostAsJsonAsync("/api/v1/instances", request, WelkinJson.Client);
                var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                var measured = clock.Elapsed >= warmUp && clock.Elapsed < warmUp + duration;
                Interlocked.Increment(ref accepted);
                if (response.StatusCode != HttpStatusCode.Accepted)
                {
                    Interlocked.Increment(ref errors);
                    firstError ??= $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
                }
                else if (measured)
                {
                    mine.Add(ms);
                }
            }
        })));
        var loadEnded = clock.Elapsed;
        var (cpuUsed, requests) = await cpu;
        var failed = await DrainAsync(admin);
        var drained = clock.Elapsed;
        if (firstError is not null)
        {
            Console.WriteLine($"  first refused request: {firstError}");
        }
        var all = latencies.SelectMany(l => l).Order().ToArray();
        var machines = accepted - errors;
        Console.WriteLine($"  {machines} instances accepted in {loadEnded.TotalSeconds:0.0} s; all provision jobs finished {(drained - loadEnded).TotalSeconds:0.0} s after the load");
        Console.WriteLine($"  server CPU while measured: {cpuUsed.TotalMilliseconds * 1000 / Math.Max(1, requests):0} µs per provision ({cpuUsed.TotalSeconds / duration.TotalSeconds:0.00} cores busy)");
        return new Outcome(
            all.Length / duration.TotalSeconds,
            Percentile(all, 0.50),
            Percentile(all, 0.99),
            errors,
            machines / drained.TotalSeconds,
            failed);
    }

    private static async Task<double> BaselineAsync(ServerProcess server, int clients, TimeSpan duration)
    {
        var client = server.Client(server.AdminToken);
        var done = 0L;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            while (clock.Elapsed < duration)
            {
                using var response = await client.GetAsync("/api/v1/me");
                response.EnsureSuccessStatusCode();
                Interlocked.Increment(ref done);
            }
        })));
        return done / clock.Elapsed.TotalSeconds;
    }

    internal sealed record Tenant(HttpClient Client, IReadOnlyList<string> Contracts, string Token);

    /// <summary>A template and compute offering, an account whose limits never bind, and active contracts of 10,000 machines each.</summary>
    internal static async Task<Tenant> SetUpTenantAsync(ServerProcess server, HttpClient admin, int contracts)
    {
        var spec = new TemplateSpec("bench-template",
        [
            new VirtualSystemSpec(
                "web",
                new HardwareChoices(new Choice<int>([1], 1), new Choice<long>([1024], 1024), new Choice<long>([10], 10)),
                new SoftwareChoices(new Choice<string>(["debian"], "debian"))),
        ], "Benchmark template");
        var template = await ServerProcess.ReadAsync<TemplateView>(await admin.PostAsJsonAsync("/api/v1/templates", spec, WelkinJson.Client));
        template = await ServerProcess.ReadAsync<TemplateView>(await admin.PostAsJsonAsync($"/api/v1/templates/{template.Id}/publish", new TemplateTransitionRequest(null), WelkinJson.Client));
        var offeringSpec = new OfferingSpec("bench-compute", OfferingKind.Compute,
            new PricePlan("USD", "month", [new PriceRate("compute-unit", "unit-month", 40m)]),
            new SlaTerms(99.9m, 90m), new OfferingTerms(1, 50m), "compute-unit", TemplateId: template.Id, TemplateVersion: 1);
        var offering = await ServerProcess.ReadAsync<OfferingView>(await admin.PostAsJsonAsync("/api/v1/offerings", offeringSpec, WelkinJson.Client));
        await ServerProcess.ReadAsync<OfferingView>(await admin.PostAsJsonAsync($"/api/v1/offerings/{offering.Id}/publish", new OfferingTransitionRequest(), WelkinJson.Client));

        var signUp = await ServerProcess.ReadAsync<SignUpResponse>(await server.Client(null).PostAsJsonAsync("/api/v1/catalog/sign-up",
            new SignUpRequest("bench", "Bench Inc.", new SignUpAdmin("admin")), WelkinJson.Client));
        await ServerProcess.ReadAsync<AccountView>(await admin.PutAsJsonAsync($"/api/v1/accounts/{signUp.Account.Id}/limits",
            new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = 10_000_000, ["storage-unit"] = 10_000_000 }), WelkinJson.Client));
        var client = server.Client(signUp.Token.Secret);
        var ids = new List<string>();
        for (var i = 0; i < contracts; i++)
        {
            var proposed = await ServerProcess.ReadAsync<ContractView>(await client.PostAsJsonAsync("/api/v1/contracts",
                new ContractRequest([new ContractItemRequest(offering.Id, ContractLines)], Name: $"bench-{i}"), WelkinJson.Client));
            await ServerProcess.ReadAsync<ContractView>(await client.PostAsJsonAsync($"/api/v1/contracts/{proposed.Id}/accept", new ContractTransitionRequest(), WelkinJson.Client));
            ids.Add(proposed.Id);
        }
        return new Tenant(client, ids, signUp.Token.Secret);
    }

    /// <summary>Waits until no job is queued or running; returns how many failed ("0", or a count).</summary>
    internal static async Task<string> DrainAsync(HttpClient admin)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromMinutes(5))
        {
            var queued = await ServerProcess.ReadAsync<Page<JobView>>(await admin.GetAsync("/api/v1/jobs?state=queued&limit=1"));
            var running = await ServerProcess.ReadAsync<Page<JobView>>(await admin.GetAsync("/api/v1/jobs?state=running&limit=1"));
            if (queued.Items.Count == 0 && running.Items.Count == 0)
            {
                break;
            }
            await Task.Delay(50);
        }
        var failed = await ServerProcess.ReadAsync<Page<JobView>>(await admin.GetAsync("/api/v1/jobs?state=failed&limit=500"));
        var count = failed.Next is null ? failed.Items.Count.ToString(CultureInfo.InvariantCulture) : "500+";
        return failed.Items.Count == 0 ? count : $"{count}, first: {failed.Items[0].Action} {failed.Items[0].ErrorCode} {failed.Items[0].ErrorDetail}";
    }

    internal static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];

    internal static object Settings(int port, string dataDir, int hosts)
    {
        var zero = "00:00:00";
        return new Dictionary<string, object>
        {
            ["Logging"] = new Dictionary<string, object>
            {
                ["LogLevel"] = new Dictionary<string, string>
                {
                    ["Default"] = "Information",
                    ["Microsoft.AspNetCore"] = "Warning",
                    ["Microsoft.Hosting.Lifetime"] = "Warning",
                },
            },
            ["Welkin"] = new Dictionary<string, object> { ["Port"] = port, ["Bind"] = "127.0.0.1", ["DataDir"] = dataDir, ["Fabric"] = "simulated" },
            ["Database"] = new Dictionary<string, string> { ["Provider"] = "sqlite" },
            ["Fabric"] = new Dictionary<string, object>
            {
                ["Timing"] = TimingKeys.ToDictionary(k => k, _ => zero),
                // Each host forwards SSH on an address of its own, as real hosts do, so a long
                // run does not exhaust one address's ports.
                ["ManagementAddresses"] = Enumerable.Range(0, hosts).ToDictionary(i => $"bench-{i:00000}", i => $"10.{i / 65536 % 256}.{i / 256 % 256}.{i % 256}"),
                ["Hosts"] = Enumerable.Range(0, hosts).Select(i => new Dictionary<string, object>
                {
                    ["Name"] = $"bench-{i:00000}",
                    ["Region"] = $"region-{i % 4}",
                    ["Jurisdiction"] = i % 3 == 0 ? "DE" : "US",
                    ["Cores"] = 64,
                    ["MemoryMiB"] = 262_144,
                    ["DiskGiB"] = 8_000,
                }).ToList(),
            },
        };
    }
}

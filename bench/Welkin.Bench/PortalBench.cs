using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Microsoft.Playwright;
using Welkin.Contracts;
using Welkin.Testing.Clouds;

namespace Welkin.Bench;

/// <summary>
/// The portal's page of 1,000 machines against the API calls that feed it, in one run on one server process:
/// time, bytes and server CPU of the API's pages the page reads (<c>GET /api/v1/machines</c>, 500 machines at most
/// each, following the cursor), time, bytes and server CPU of the portal's
/// <c>GET /machines?limit=N</c> rendered for a signed-in person, and the time until the page is usable in Debian's
/// Chromium (navigation start to the load event, blazor.web.js loaded), p50 of each.
/// </summary>
internal static class PortalBench
{
    public static async Task RunAsync(string[] args)
    {
        var machines = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1000;
        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 20;
        var root = args.Length > 2 ? args[2] : Path.Combine(Path.GetTempPath(), "welkin-portal-bench-" + Guid.NewGuid().ToString("n"));
        Directory.CreateDirectory(root);
        Console.WriteLine($"welkin-bench portal: {Environment.ProcessorCount} cores, {machines} machines, {rounds} rounds, directory {root}");
        try
        {
            await using var server = await ServerProcess.StartAsync(root, (port, dataDir) => ProvisionBench.Settings(port, dataDir, hosts: 200));
            var admin = server.Client(server.AdminToken);
            var tenant = await ProvisionBench.SetUpTenantAsync(server, admin, contracts: 1);
            await ProvisionAsync(tenant, machines);
            Console.WriteLine($"  {machines} machines provisioned; failed jobs: {await ProvisionBench.DrainAsync(admin)}");

            // The API's pages hold 500 machines at most, so the page reads several: the same API pages, one after the
            // other, are what the page's render is measured against. Their cursors are read once here (the list does
            // not change during the run), so each round is the calls alone.
            var feed = await FeedAsync(tenant.Client, machines);
            var api = await MeasureAsync(server, rounds, async () =>
            {
                long bytes = 0;
                foreach (var url in feed)
                {
                    using var response = await tenant.Client.GetAsync(url);
                    response.EnsureSuccessStatusCode();
                    bytes += (await response.Content.ReadAsByteArrayAsync()).Length;
                }
                return bytes;
            });
            Console.WriteLine($"API    {feed.Count} x GET /api/v1/machines (limit {machines}, then its cursor): p50 {api.P50,7:0.0} ms, {api.Bytes,9:#,0} bytes, server CPU {api.CpuMs,6:0.0} ms per {feed.Count} calls");

            using var portal = await PortalSignIn.SignedInAsync(server.Address, tenant.Token);
            var page = await MeasureAsync(server, rounds, async () =>
            {
                using var response = await portal.GetAsync($"/machines?limit={machines}");
                response.EnsureSuccessStatusCode();
                return (await response.Content.ReadAsByteArrayAsync()).Length;
            });
            Console.WriteLine($"portal GET /machines?limit={machines}:{"",30}p50 {page.P50,7:0.0} ms, {page.Bytes,9:#,0} bytes, server CPU {page.CpuMs,6:0.0} ms per render");
            Console.WriteLine($"  ratio portal/API: time {page.P50 / api.P50:0.00}, bytes {(double)page.Bytes / api.Bytes:0.00}, server CPU {page.CpuMs / api.CpuMs:0.00}");

            var usable = await BrowserAsync(server, tenant.Token, machines, rounds);
            Console.WriteLine($"Chromium: /machines?limit={machines} usable (navigation start to load event) p50 {usable.P50,7:0.0} ms, p90 {usable.P90,7:0.0} ms; rows shown {usable.Rows}");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private sealed record Measured(double P50, long Bytes, double CpuMs);

    private static async Task ProvisionAsync(ProvisionBench.Tenant tenant, int machines)
    {
        var next = 0;
        await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(async () =>
        {
            while (Interlocked.Increment(ref next) <= machines)
            {
                using var response = await tenant.Client.PostAsJsonAsync("/api/v1/instances",
                    new ProvisionRequest(tenant.Contracts[0], VirtualSystems: [new VirtualSystemChoice("web", 1)]), WelkinJson.Client);
                if (response.StatusCode != HttpStatusCode.Accepted)
                {
                    throw new InvalidOperationException($"provision: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                }
            }
        })));
    }

    /// <summary>The API's pages that hold the first <paramref name="machines"/> machines: their URLs, cursor and all.</summary>
    private static async Task<List<string>> FeedAsync(HttpClient client, int machines)
    {
        var urls = new List<string>();
        var read = 0;
        string? after = null;
        do
        {
            var url = $"/api/v1/machines?limit={machines - read}" + (after is null ? "" : "&after=" + Uri.EscapeDataString(after));
            urls.Add(url);
            var page = await ServerProcess.ReadAsync<Page<MachineView>>(await client.GetAsync(url));
            read += page.Items.Count;
            after = page.Items.Count == 0 ? null : page.Next;
        }
        while (after is not null && read < machines);
        return urls;
    }

    private static async Task<Measured> MeasureAsync(ServerProcess server, int rounds, Func<Task<long>> call)
    {
        for (var i = 0; i < 3; i++)
        {
            await call();
        }
        var times = new double[rounds];
        long bytes = 0;
        var cpu = server.CpuTime;
        for (var i = 0; i < rounds; i++)
        {
            var started = Stopwatch.GetTimestamp();
            bytes = await call();
            times[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }
        var cpuMs = (server.CpuTime - cpu).TotalMilliseconds / rounds;
        Array.Sort(times);
        return new Measured(ProvisionBench.Percentile(times, 0.5), bytes, cpuMs);
    }

    private static async Task<(double P50, double P90, int Rows)> BrowserAsync(ServerProcess server, string token, int machines, int rounds)
    {
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium",
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"],
        });
        await using var context = await browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = server.Address.AbsoluteUri });
        var page = await context.NewPageAsync();
        await page.GotoAsync("/sign-in");
        await page.Locator("#token").FillAsync(token);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in with the token" }).ClickAsync();
        await page.WaitForURLAsync(url => !url.Contains("/sign-in", StringComparison.Ordinal));
        var url = $"/machines?limit={machines}";
        var times = new List<double>();
        for (var i = 0; i < rounds + 2; i++)
        {
            await page.GotoAsync(url, new PageGotoOptions { WaitUntil = WaitUntilState.Load });
            // Navigation Timing: from the navigation's start to the end of the load event, as the browser measured it.
            var ms = await page.EvaluateAsync<double>("() => { const n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd - n.startTime; }");
            if (i >= 2)
            {
                times.Add(ms);
            }
        }
        var rows = await page.Locator("table tbody tr").CountAsync();
        var sorted = times.Order().ToArray();
        return (ProvisionBench.Percentile(sorted, 0.5), ProvisionBench.Percentile(sorted, 0.9), rows);
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Core.Federation;
using Welkin.Testing.Clouds;

namespace Welkin.Bench;

/// <summary>
/// A burst provision against a local one in the same run: Cloud1 (one local host with room for one machine,
/// and a peer pool served by Cloud2 under an agreement) and Cloud2 (a simulated fabric), both in this process,
/// talking over Cloud2's federation listener with mutual TLS as two real clouds do. Each round provisions one
/// machine through Cloud1's HTTP API and times request to job done (the machine running), then terminates it:
/// locally while the local host is free, then in the peer's pool with the local host filled. The peer round trip
/// is one read of the agreement's contract on Cloud2's listener with the agreement's credential. Both fabrics
/// take the same simulated time per operation.
/// </summary>
internal static class BurstBench
{
    private static readonly Dictionary<string, string?> Timing = new()
    {
        ["Create"] = "00:00:00.2", ["Start"] = "00:00:00", ["Stop"] = "00:00:00", ["Destroy"] = "00:00:00",
    };

    public static async Task RunAsync(string[] args)
    {
        var rounds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 20;
        Console.WriteLine($"welkin-bench burst: {Environment.ProcessorCount} cores, {rounds} provisions per case, simulated fabrics (create 0.2 s), two clouds in one process over mutual TLS");
        await using var clouds = new Clouds();
        await clouds.InitializeAsync();
        var ct = CancellationToken.None;
        var consumer = clouds.Consumer.OrdinaryAdmin();
        var agreement = await (await consumer.PostAsJsonAsync("/api/v1/federation/agreements", new AgreementRequest("Cloud2", new AgreementTerms(
            new AgreementPolicy(["DE"]), new AgreementEntitlement(new Dictionary<string, long> { ["compute-unit"] = 10 }, [new AgreementOffering(clouds.Compute.Id, 10)]),
            new AgreementMetering("USD", MaxPricePerCpuHour: 1m))), WelkinJson.Client, ct)).ReadAsync<AgreementView>(System.Net.HttpStatusCode.Created);
        var current = await consumer.GetFromJsonAsync<CloudBurstPolicy>("/api/v1/federation/burst", WelkinJson.Client, ct);
        await (await consumer.PutAsJsonAsync("/api/v1/federation/burst", new CloudBurstPolicy(true, Version: current!.Version), WelkinJson.Client, ct)).ReadAsync<CloudBurstPolicy>();
        var (contract, client) = await TenantAsync(clouds.Consumer, consumer);
        // The pool takes machines once its first poll found the agreement in force.
        await Welkin.Testing.Polling.UntilAsync(() => Task.FromResult(clouds.Consumer.Services.GetRequiredService<Welkin.Core.Compute.ComputeFabric>().Pools
            .Any(p => p.Driver is Welkin.Core.Compute.IPeerPool { Status.Available: true })), "the peer pool available", TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(100));

        await ProvisionAsync(client, contract, "main", ct);
        var local = new List<double>();
        for (var i = 0; i < rounds; i++)
        {
            local.Add(await ProvisionAsync(client, contract, "main", ct));
        }
        var filler = await StartAsync(client, contract, ct);
        var burst = new List<double>();
        await ProvisionAsync(client, contract, "peer", ct);
        for (var i = 0; i < rounds; i++)
        {
            burst.Add(await ProvisionAsync(client, contract, "peer", ct));
        }
        var credential = (await clouds.Consumer.Services.GetRequiredService<AgreementStore>().GetAsync(agreement.Id, ct))!.Credential!;
        using var peer = clouds.ConsumerOnProvider(credential);
        var trips = new List<double>();
        for (var i = 0; i < rounds * 5; i++)
        {
            var start = Stopwatch.GetTimestamp();
            (await peer.GetAsync($"/api/v1/contracts/{agreement.ContractIds[0]}", ct)).EnsureSuccessStatusCode();
            trips.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        var (l, b, rtt) = (Median(local), Median(burst), Median(trips));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  local provision (request -> running): median {l,7:0.0} ms, p90 {P90(local),7:0.0} ms"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  burst provision (request -> running): median {b,7:0.0} ms, p90 {P90(burst),7:0.0} ms"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  peer round trip (mutual TLS, credential): median {rtt,5:0.0} ms"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  burst / local = {b / l:0.00}; target burst <= 2 x local + one round trip = {2 * l + rtt:0.0} ms: {(b <= 2 * l + rtt ? "met" : "missed")}"));
        await (await client.PostAsJsonAsync($"/api/v1/instances/{filler}/terminate", new { }, WelkinJson.Client, ct)).ReadAsync<AcceptedView<InstanceView>>(System.Net.HttpStatusCode.Accepted);
    }

    private static async Task<(string Contract, HttpClient Client)> TenantAsync(FederationListenerApp cloud, HttpClient admin)
    {
        var response = await cloud.Ordinary(null).PostAsJsonAsync("/api/v1/catalog/sign-up", new SignUpRequest("burst-bench", "Bench Inc.", new SignUpAdmin("admin")), WelkinJson.Client);
        response.EnsureSuccessStatusCode();
        var signUp = (await response.Content.ReadFromJsonAsync<SignUpResponse>(WelkinJson.Client))!;
        await (await admin.PutAsJsonAsync($"/api/v1/accounts/{signUp.Account.Id}/limits",
            new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = 1000, ["storage-unit"] = 100 }), WelkinJson.Client)).ReadAsync<AccountView>();
        var template = await admin.PublishedTemplateAsync(CatalogApi.Template("burst-template"));
        var offering = await admin.PublishOfferingAsync((await admin.CreateOfferingAsync(CatalogApi.Compute("burst-offering", template.Id) with { Burst = new BurstPolicy(true) })).Id);
        var client = cloud.Ordinary(signUp.Token.Secret);
        var proposed = await (await client.PostAsJsonAsync("/api/v1/contracts", new ContractRequest([new ContractItemRequest(offering.Id, 1000)]), WelkinJson.Client))
            .ReadAsync<ContractView>(System.Net.HttpStatusCode.Created);
        await (await client.PostAsJsonAsync($"/api/v1/contracts/{proposed.Id}/accept", new ContractTransitionRequest(), WelkinJson.Client)).ReadAsync<ContractView>();
        return (proposed.Id, client);
    }

    /// <summary>Provisions one machine, checks where it runs, terminates it; returns request to running in ms.</summary>
    private static async Task<double> ProvisionAsync(HttpClient client, string contract, string pool, CancellationToken ct)
    {
        var start = Stopwatch.GetTimestamp();
        var instance = await StartAsync(client, contract, ct);
        var elapsed = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        var machines = await (await client.GetAsync($"/api/v1/machines?instanceId={instance}", ct)).ReadAsync<Page<MachineView>>();
        var machine = machines.Items.Single();
        if (machine.Pool != pool || machine.State != MachineState.Running)
        {
            throw new InvalidOperationException($"The machine runs in pool {machine.Pool} ({machine.State}), not {pool}.");
        }
        var ended = await (await client.PostAsJsonAsync($"/api/v1/instances/{instance}/terminate", new { }, WelkinJson.Client, ct)).ReadAsync<AcceptedView<InstanceView>>(System.Net.HttpStatusCode.Accepted);
        await WaitAsync(client, ended.Job.Id, ct);
        return elapsed;
    }

    private static async Task<string> StartAsync(HttpClient client, string contract, CancellationToken ct)
    {
        var accepted = await (await client.PostAsJsonAsync("/api/v1/instances", new ProvisionRequest(contract, VirtualSystems: [new VirtualSystemChoice("web", 1)]), WelkinJson.Client, ct))
            .ReadAsync<AcceptedView<InstanceView>>(System.Net.HttpStatusCode.Accepted);
        await WaitAsync(client, accepted.Job.Id, ct);
        return accepted.Resource.Id;
    }

    private static async Task WaitAsync(HttpClient client, string job, CancellationToken ct)
    {
        while (true)
        {
            var view = await (await client.GetAsync($"/api/v1/jobs/{job}", ct)).ReadAsync<JobView>();
            if (view.State is JobState.Succeeded)
            {
                return;
            }
            if (view.State is JobState.Failed or JobState.Cancelled)
            {
                throw new InvalidOperationException($"Job {job} {view.State}: {view.ErrorDetail}");
            }
            await Task.Delay(5, ct);
        }
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    private static double P90(List<double> values) => values.Order().ElementAt(Math.Min(values.Count - 1, values.Count * 9 / 10));

    /// <summary>Cloud1 with one local host (room for one machine of the offering) and the peer pool "peer" served by Cloud2.</summary>
    private sealed class Clouds() : AgreementClouds(ProviderSettings(), ConsumerSettings())
    {
        private static Dictionary<string, string?> ProviderSettings()
        {
            var settings = new Dictionary<string, string?>
            {
                ["Fabric:Hosts:0:Name"] = "cloud2-de-1", ["Fabric:Hosts:0:Region"] = "eu-central", ["Fabric:Hosts:0:Jurisdiction"] = "DE",
                ["Fabric:Hosts:0:Cores"] = "4096", ["Fabric:Hosts:0:MemoryMiB"] = "16777216", ["Fabric:Hosts:0:DiskGiB"] = "10000000",
            };
            foreach (var (key, value) in Timing)
            {
                settings["Fabric:Timing:" + key] = value;
            }
            return settings;
        }

        private static Dictionary<string, string?> ConsumerSettings()
        {
            var settings = new Dictionary<string, string?>
            {
                ["Fabric:Pools:main:Driver"] = "simulated", ["Fabric:Pools:main:Hosts:0:Name"] = "cloud1-1", ["Fabric:Pools:main:Hosts:0:Region"] = "eu-central",
                ["Fabric:Pools:main:Hosts:0:Jurisdiction"] = "DE", ["Fabric:Pools:main:Hosts:0:Cores"] = "4", ["Fabric:Pools:main:Hosts:0:MemoryMiB"] = "8192",
                ["Fabric:Pools:main:Hosts:0:DiskGiB"] = "1000",
                ["Fabric:Pools:peer:Driver"] = "peer", ["Fabric:Pools:peer:Peer"] = "Cloud2", ["Fabric:Pools:peer:PollInterval"] = "00:00:01",
                ["Fabric:Pools:peer:Labels:jurisdiction"] = "DE",
                // No exchange runs: the peer's presence is recorded once, and no ping may find it gone during the run.
                ["Federation:PeerPingInterval"] = "01:00:00",
            };
            foreach (var (key, value) in Timing)
            {
                settings["Fabric:Pools:main:Timing:" + key] = value;
            }
            return settings;
        }

        protected override async Task<OfferingView> PublishComputeAsync(HttpClient admin, string prefix)
        {
            var template = await admin.PublishedTemplateAsync(CatalogApi.Template(prefix + "template"));
            var sizes = new VirtualSystemRestriction("web", new Choice<int>([2], 2), new Choice<long>([6144], 6144), new Choice<long>([100], 100), new Choice<string>(["debian"], "debian"));
            return await admin.PublishOfferingAsync((await admin.CreateOfferingAsync(CatalogApi.Compute(prefix + "peer", template.Id, choices: [sizes]))).Id);
        }
    }
}

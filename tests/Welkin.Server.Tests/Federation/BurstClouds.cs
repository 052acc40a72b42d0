using System.Net;
using System.Net.Http.Json;
using Welkin.Contracts;
using Welkin.Server.Tests.Catalog;
using Welkin.Testing;
using static Welkin.Server.Tests.Federation.FederationClouds;

namespace Welkin.Server.Tests.Federation;

/// <summary>
/// <see cref="FederationClouds"/> arranged for bursting and brokering: ProviderCo-DE provides, with a simulated
/// pool and a federation policy allowing both others; ProviderCo-US has a local pool with room for one machine of
/// the scenario's size plus a peer pool "de" served by DE; CloudCoC is a broker whose only pool is a peer pool "de".
/// <see cref="ReadyAsync"/> makes, once, what an operator would through the public API: DE's offering, the two
/// agreements, US's offering that may burst, CloudCoC's resale, both clouds' bursting policies.
/// A subclass may give US and DE other own pools, machine sizes and images (<see cref="LocalPoolArguments"/>,
/// <see cref="MachineSize"/>, <see cref="ImageAsync"/>).
/// </summary>
public class BurstClouds : FederationClouds
{
    public const string Pool = "de";
    public const string LocalPool = "main";
    public const string Peer = "ProviderCo-DE";

    /// <summary>DE's price per CPU hour (0.10 USD a CPU second), and US's, twice that.</summary>
    public const decimal DeCpuHour = 360m;
    public const decimal UsCpuHour = 720m;

    // Bounds on waiting, generous for a loaded machine; none of them is a performance claim.
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);
    public static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(200);

    private readonly SemaphoreSlim _ready = new(1, 1);
    private Scenario? _scenario;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>What <see cref="ReadyAsync"/> set up.</summary>
    /// <param name="UsOffering">US's offering (at <see cref="UsCpuHour"/>) that may burst to DE.</param>
    /// <param name="LocalOffering">US's offering that may not burst: the filler of its local pool.</param>
    public sealed record Scenario(
        OfferingView DeOffering, AgreementView UsAgreement, AgreementView CcAgreement, OfferingView UsOffering, OfferingView LocalOffering, ResaleView Resale);

    /// <summary>One consumer of one cloud, with an active contract.</summary>
    public sealed record Tenant(string Cloud, string AccountId, HttpClient Client, ContractView Contract);

    protected sealed override IEnumerable<string> CloudArguments(string user)
    {
        string[] peerPool =
        [
            $"--Fabric:Pools:{Pool}:Driver=peer",
            $"--Fabric:Pools:{Pool}:Peer={Peer}",
            $"--Fabric:Pools:{Pool}:PollInterval=00:00:01",
            $"--Fabric:Pools:{Pool}:FailuresBeforeUnreachable=2",
            $"--Fabric:Pools:{Pool}:Labels:jurisdiction=DE",
            $"--Fabric:Pools:{Pool}:Labels:region=eu-central",
        ];
        string[] common = ["--Metering:Interval=00:00:01", "--Sla:Interval=00:00:01", "--Federation:MachineNoticeInterval=00:00:00.2"];
        return user switch
        {
            "us" => [.. LocalPoolArguments(user), .. peerPool, .. common],
            "de" => [.. LocalPoolArguments(user), .. common],
            _ => [.. peerPool, .. common],
        };
    }

    /// <summary>
    /// US's and DE's own pool <see cref="LocalPool"/>: by default simulated, US's with room for one machine of the
    /// scenario's size, DE's with room for many.
    /// </summary>
    protected virtual IEnumerable<string> LocalPoolArguments(string user)
    {
        string[] timing = ["Create=00:00:00.5", "Start=00:00:00.2", "Stop=00:00:00.2", "Destroy=00:00:00.1"];
        string[] local = user == "us"
            ? Local("us-local-1", "us-east", "US", cores: 4, memoryMiB: 8192)
            : Local("de-1", "eu-central", "DE", cores: 256, memoryMiB: 1_048_576);
        return [.. local, .. timing.Select(t => $"--Fabric:Pools:{LocalPool}:Timing:{t}")];
    }

    /// <summary>The scenario's machine, as US's and DE's templates and DE's offering have it.</summary>
    protected virtual (int Vcpus, long MemoryMiB, long DiskGiB) MachineSize => (2, 6144, 100);

    /// <summary>The image a cloud's template boots; none by default (a simulated pool boots nothing).</summary>
    protected virtual Task<string?> ImageAsync(string user) => Task.FromResult<string?>(null);

    private static string[] Local(string host, string region, string jurisdiction, int cores, long memoryMiB) =>
    [
        $"--Fabric:Pools:{LocalPool}:Driver=simulated",
        $"--Fabric:Pools:{LocalPool}:Hosts:0:Name={host}",
        $"--Fabric:Pools:{LocalPool}:Hosts:0:Region={region}",
        $"--Fabric:Pools:{LocalPool}:Hosts:0:Jurisdiction={jurisdiction}",
        $"--Fabric:Pools:{LocalPool}:Hosts:0:Cores={cores}",
        $"--Fabric:Pools:{LocalPool}:Hosts:0:MemoryMiB={memoryMiB}",
        $"--Fabric:Pools:{LocalPool}:Hosts:0:DiskGiB=100000",
        $"--Fabric:Pools:{LocalPool}:Labels:jurisdiction={jurisdiction}",
        $"--Fabric:Pools:{LocalPool}:Labels:region={region}",
    ];

    /// <summary>The scenario's setup, made once and shared by the tests of the fixture.</summary>
    public async Task<Scenario> ReadyAsync()
    {
        await _ready.WaitAsync(Ct);
        try
        {
            return _scenario ??= await SetUpAsync();
        }
        finally
        {
            _ready.Release();
        }
    }

    private async Task<Scenario> SetUpAsync()
    {
        await OnlineAndTrustedAsync();
        var de = Admin("de");
        var prefix = CatalogApi.UniquePrefix("burst");
        var os = new Choice<string>(["debian"], "debian");
        var deTemplate = await de.PublishedTemplateAsync(await TemplateAsync("de", prefix + "template"));
        var (vcpus, memoryMiB, diskGiB) = MachineSize;
        var sizes = new VirtualSystemRestriction("web", new Choice<int>([vcpus], vcpus), new Choice<long>([memoryMiB], memoryMiB), new Choice<long>([diskGiB], diskGiB), os);
        var deOffering = await de.PublishOfferingAsync((await de.CreateOfferingAsync(
            CatalogApi.Compute(prefix + "de", deTemplate.Id, choices: [sizes]) with { PricePlan = Plan(DeCpuHour) })).Id);
        var policy = new FederationPolicy(["ProviderCo-US", "CloudCoC"], ["DE"], [], new Dictionary<string, long> { ["compute-unit"] = 20, ["storage-unit"] = 10 },
            10m, EncryptionAtRest: false, IsolationLevel.Shared);
        await (await de.PutAsJsonAsync("/api/v1/federation/policy", policy, WelkinJson.Client, Ct)).ReadAsync<FederationPolicy>();

        var usAgreement = await AgreementAsync("us", deOffering);
        var ccAgreement = await AgreementAsync("cc", deOffering);

        var us = Admin("us");
        var usTemplate = await us.PublishedTemplateAsync(await TemplateAsync("us", prefix + "template"));
        var usOffering = await us.PublishOfferingAsync((await us.CreateOfferingAsync(
            CatalogApi.Compute(prefix + "us", usTemplate.Id) with { PricePlan = Plan(UsCpuHour), Burst = new BurstPolicy(true, [Peer]) })).Id);
        var localOffering = await us.PublishOfferingAsync((await us.CreateOfferingAsync(CatalogApi.Compute(prefix + "local", usTemplate.Id))).Id);
        await SetBurstAsync("us", new CloudBurstPolicy(true, [Peer]));

        var resale = await (await Admin("cc").PostAsJsonAsync("/api/v1/federation/resales", new ResaleRequest(ccAgreement.Id, deOffering.Id, 25m, "Small server (DE)"),
            WelkinJson.Client, Ct)).ReadAsync<ResaleView>(HttpStatusCode.Created);
        await SetBurstAsync("cc", new CloudBurstPolicy(true, [Peer]));
        return new Scenario(deOffering, usAgreement, ccAgreement, usOffering, localOffering, resale);
    }

    private async Task<TemplateSpec> TemplateAsync(string user, string name)
    {
        var (vcpus, memoryMiB, diskGiB) = MachineSize;
        var spec = CatalogApi.Template(name, vcpus, memoryMiB);
        var system = spec.VirtualSystems[0];
        return spec with
        {
            VirtualSystems = [system with { ImageId = await ImageAsync(user), Hardware = system.Hardware with { DiskGiB = new Choice<long>([diskGiB], diskGiB) } }],
        };
    }

    /// <summary>A plan priced per CPU second rather than hour, so that machines running for seconds cost whole cents.</summary>
    private static PricePlan Plan(decimal cpuHour) =>
        new("USD", "month", [new PriceRate("compute-unit", "unit-month", 40m), new PriceRate("cpu-hour", "hour", cpuHour)]);

    private async Task<AgreementView> AgreementAsync(string user, OfferingView offering)
    {
        var terms = new AgreementTerms(
            new AgreementPolicy(["DE"]),
            new AgreementEntitlement(new Dictionary<string, long> { ["compute-unit"] = 10 }, [new AgreementOffering(offering.Id, 10)]),
            new AgreementMetering("USD", MaxPricePerCpuHour: 2 * DeCpuHour, MinimumAvailability: 99.9m));
        var agreement = await (await Admin(user).PostAsJsonAsync("/api/v1/federation/agreements", new AgreementRequest(Peer, terms), WelkinJson.Client, Ct))
            .ReadAsync<AgreementView>(HttpStatusCode.Created);
        agreement.State.ShouldBe(AgreementState.Active);
        return agreement;
    }

    public async Task SetBurstAsync(string user, CloudBurstPolicy policy)
    {
        var current = await Admin(user).GetFromJsonAsync<CloudBurstPolicy>("/api/v1/federation/burst", WelkinJson.Client, Ct);
        await (await Admin(user).PutAsJsonAsync("/api/v1/federation/burst", policy with { Version = current!.Version }, WelkinJson.Client, Ct)).ReadAsync<CloudBurstPolicy>();
    }

    /// <summary>A new consumer of <paramref name="user"/>'s cloud (signed up as anyone can) with an accepted contract for <paramref name="quantity"/> machines of the offering.</summary>
    public async Task<Tenant> TenantAsync(string user, string offeringId, int quantity = 4)
    {
        using var anonymous = new HttpClient { BaseAddress = Admin(user).BaseAddress };
        var name = $"scen-{Guid.NewGuid():n}"[..18];
        var response = await anonymous.PostAsJsonAsync("/api/v1/catalog/sign-up", new SignUpRequest(name, "Scenario Inc.", new SignUpAdmin("admin")), WelkinJson.Client, Ct);
        response.EnsureSuccessStatusCode();
        var signUp = (await response.Content.ReadFromJsonAsync<SignUpResponse>(WelkinJson.Client, Ct))!;
        await (await Admin(user).PutAsJsonAsync($"/api/v1/accounts/{signUp.Account.Id}/limits",
            new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = 10, ["storage-unit"] = 100 }), WelkinJson.Client, Ct)).ReadAsync<AccountView>();
        var client = new HttpClient { BaseAddress = Admin(user).BaseAddress };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", signUp.Token.Secret);
        var proposed = await (await client.PostAsJsonAsync("/api/v1/contracts", new ContractRequest([new ContractItemRequest(offeringId, quantity)]), WelkinJson.Client, Ct))
            .ReadAsync<ContractView>(HttpStatusCode.Created);
        var accepted = await (await client.PostAsJsonAsync($"/api/v1/contracts/{proposed.Id}/accept", new ContractTransitionRequest(null), WelkinJson.Client, Ct)).ReadAsync<ContractView>();
        return new Tenant(user, signUp.Account.Id, client, accepted);
    }

    /// <summary>Every cloud lists the other two online and trusted.</summary>
    public Task OnlineAndTrustedAsync() =>
        Polling.UntilAsync(async () =>
        {
            foreach (var at in Clouds)
            {
                var peers = (await PeersAsync(at.User)).Peers;
                if (!Clouds.Where(c => c.User != at.User).All(c => peers.Any(p => p.Address == Address(c.User) && p.Online && p.Trust == PeerTrustState.Trusted)))
                {
                    return false;
                }
            }
            return true;
        }, "every cloud lists the other two online and trusted", Patience, Poll);

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        _ready.Dispose();
        GC.SuppressFinalize(this);
    }
}

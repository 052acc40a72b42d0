using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Federation;
using Welkin.Core.Sla;
using Welkin.Intercloud.Trust;
using Welkin.Server.Tests.Instances;
using Welkin.Testing;

namespace Welkin.Server.Tests.Federation;

/// <summary>
/// Cloud1 with a small local pool ("home", one host in US) and a pool served by Cloud2 ("cloud2", DE) under an agreement
/// in force, and Cloud2 with a simulated host, both in-process on one fake clock (its timers on real time) that the tests
/// move by hours. Both compute offerings promise 99.9 % availability with a 10 % credit, and the agreement requires it
/// (<c>minimumAvailability</c>), so the agreement's contract at Cloud2 carries the same SLA toward Cloud1 as Cloud1's
/// offering toward its tenants. The agreement also holds Cloud2's storage offering (20 increments of 10 GiB: volumes of 200 GiB at most), where Cloud1's
/// volumes attached to machines of the peer pool are kept. A machine asked for in DE bursts to Cloud2; one in US is
/// local. No exchange runs: Cloud2's presence at Cloud1 is what the tests record.
/// </summary>
public sealed class PeerPoolClouds : AgreementClouds
{
    public const string Peer = "Cloud2";
    public const string Pool = "cloud2";
    public const string PeerHost = "cloud2-de-1";
    public static readonly SlaTerms Sla = new(99.9m, AvailabilityCreditPercent: 10m);

    private static readonly Choice<string> Os = new(["Welkin Test OS"], "Welkin Test OS");
    private long _presence = 10;

    public PeerPoolClouds()
        : this(new FakeTimeProvider(StartOf(TimeProvider.System.GetUtcNow())))
    {
    }

    private PeerPoolClouds(FakeTimeProvider clock)
        : base(ProviderSettings, ConsumerSettings, clock: clock)
    {
        Clock = clock;
    }

    /// <summary>Both clouds' time.</summary>
    public FakeTimeProvider Clock { get; }

    public AgreementView Agreement { get; private set; } = null!;

    /// <summary>Cloud2's storage offering of the agreement.</summary>
    public OfferingView PeerStorage { get; private set; } = null!;

    /// <summary>A machine asked for here runs in Cloud2's pool; <see cref="Local"/>, on Cloud1's own host.</summary>
    public static readonly PlacementConstraints AtPeer = new(Jurisdictions: ["DE"]);

    public static readonly PlacementConstraints Local = new(Jurisdictions: ["US"]);

    private static readonly Dictionary<string, string?> ProviderSettings = new()
    {
        ["Fabric:Hosts:0:Name"] = PeerHost,
        ["Fabric:Hosts:0:Region"] = "eu-central",
        ["Fabric:Hosts:0:Jurisdiction"] = "DE",
        ["Fabric:Hosts:0:Cores"] = "16",
        ["Fabric:Hosts:0:MemoryMiB"] = "65536",
        ["Fabric:Hosts:0:DiskGiB"] = "1000",
        ["Fabric:Timing:Create"] = "00:00:00",
        ["Fabric:Timing:Start"] = "00:00:00",
        ["Fabric:Timing:Stop"] = "00:00:00",
        ["Fabric:Timing:Destroy"] = "00:00:00",
    };

    private static readonly Dictionary<string, string?> ConsumerSettings = new()
    {
        // Cloud2's recorded presence must outlast the hours the tests move the clock by.
        ["Federation:PeerPingInterval"] = "1.00:00:00",
        ["Federation:PeerPingTimeout"] = "01:00:00",
        [$"Fabric:Pools:{Pool}:Driver"] = "peer",
        [$"Fabric:Pools:{Pool}:Peer"] = Peer,
        [$"Fabric:Pools:{Pool}:Host"] = Pool,
        [$"Fabric:Pools:{Pool}:Jurisdiction"] = "DE",
        [$"Fabric:Pools:{Pool}:PollInterval"] = "00:00:00.100",
        ["Fabric:Pools:home:Driver"] = "simulated",
        ["Fabric:Pools:home:Hosts:0:Name"] = "home-1",
        ["Fabric:Pools:home:Hosts:0:Region"] = "us-east",
        ["Fabric:Pools:home:Hosts:0:Jurisdiction"] = "US",
        ["Fabric:Pools:home:Hosts:0:Cores"] = "4",
        ["Fabric:Pools:home:Hosts:0:MemoryMiB"] = "8192",
        ["Fabric:Pools:home:Hosts:0:DiskGiB"] = "1000",
        ["Fabric:Pools:home:Timing:Create"] = "00:00:00",
        ["Fabric:Pools:home:Timing:Start"] = "00:00:00",
        ["Fabric:Pools:home:Timing:Stop"] = "00:00:00",
        ["Fabric:Pools:home:Timing:Destroy"] = "00:00:00",
    };

    /// <summary>
    /// Now, unless the month ends within six hours: then the next month's first minute (the federation's CRL, made now,
    /// is valid for days), so that a test's hours fall in one billing period.
    /// </summary>
    private static DateTimeOffset StartOf(DateTimeOffset now)
    {
        var next = new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero).AddMonths(1);
        return next - now < TimeSpan.FromHours(6) ? next.AddMinutes(1) : now;
    }

    protected override FederationPolicy ProviderPolicy => new(
        ["Cloud1"], ["DE"], [], new Dictionary<string, long> { ["compute-unit"] = 4, ["storage-unit"] = 20 }, 0m, EncryptionAtRest: false, IsolationLevel.Shared);

    public override async ValueTask InitializeAsync()
    {
        await base.InitializeAsync();
        var peerAdmin = Provider.OrdinaryAdmin();
        PeerStorage = await peerAdmin.PublishOfferingAsync((await peerAdmin.CreateOfferingAsync(
            CatalogApi.Storage(CatalogApi.UniquePrefix("peer") + "storage") with { Storage = new StorageSpec(10, 200) })).Id);
        var terms = new AgreementTerms(
            new AgreementPolicy(["DE"]),
            new AgreementEntitlement(new Dictionary<string, long> { ["compute-unit"] = 4, ["storage-unit"] = 20 },
                [new AgreementOffering(Compute.Id, 4), new AgreementOffering(PeerStorage.Id, 20)]),
            new AgreementMetering("USD", MaxPricePerCpuHour: 1m, MinimumAvailability: Sla.AvailabilityPercent));
        var ct = TestContext.Current.CancellationToken;
        var response = await Consumer.OrdinaryAdmin().PostAsJsonAsync("/api/v1/federation/agreements", new AgreementRequest(Peer, terms), WelkinJson.Client, ct);
        Agreement = await response.ReadAsync<AgreementView>(HttpStatusCode.Created);
        Agreement.State.ShouldBe(AgreementState.Active);
        var admin = Consumer.OrdinaryAdmin();
        var policy = await admin.GetFromJsonAsync<CloudBurstPolicy>("/api/v1/federation/burst", WelkinJson.Client, ct);
        await (await admin.PutAsJsonAsync("/api/v1/federation/burst", new CloudBurstPolicy(true, [Peer], Version: policy!.Version), WelkinJson.Client, ct))
            .ReadAsync<CloudBurstPolicy>();
        await PeerOnlineAsync();
    }

    /// <summary>Cloud2's offering: one machine size (1 vCPU, 512 MiB, 10 GiB), the fixture's SLA.</summary>
    protected override async Task<OfferingView> PublishComputeAsync(HttpClient admin, string prefix)
    {
        var template = await admin.PublishedTemplateAsync(new TemplateSpec(prefix + "template", [System("app")]));
        var choices = new VirtualSystemRestriction("app", new Choice<int>([1], 1), new Choice<long>([512], 512), new Choice<long>([10], 10), Os);
        return await admin.PublishOfferingAsync((await admin.CreateOfferingAsync(
            CatalogApi.Compute(prefix + "peer", template.Id, choices: [choices]) with { Sla = Sla })).Id);
    }

    private static VirtualSystemSpec System(string name) =>
        new(name, new HardwareChoices(new Choice<int>([1], 1), new Choice<long>([512], 512), new Choice<long>([10], 10)), new SoftwareChoices(Os));

    /// <summary>
    /// A tenant of Cloud1 (a client as its account admin) with an accepted contract for <paramref name="machines"/> machines
    /// of an offering that may burst to Cloud2, with the fixture's SLA, and with <paramref name="storage"/>, a second line of
    /// three 100 GiB increments of Cloud1's storage offering.
    /// </summary>
    public async Task<InstancesApi.Tenant> TenantAsync(int machines = 1, bool storage = false)
    {
        var ct = TestContext.Current.CancellationToken;
        var admin = Consumer.OrdinaryAdmin();
        var signUp = await (await Consumer.Ordinary(null).PostAsJsonAsync("/api/v1/catalog/sign-up",
            new SignUpRequest($"fail-{Guid.NewGuid():n}"[..20], "Fail Inc.", new SignUpAdmin("admin")), WelkinJson.Client, ct)).ReadAsync<SignUpResponse>(HttpStatusCode.Created);
        var client = Consumer.Ordinary(signUp.Token.Secret);
        await (await admin.PutAsJsonAsync($"/api/v1/accounts/{signUp.Account.Id}/limits",
            new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = machines, ["storage-unit"] = 10 }), WelkinJson.Client, ct)).ReadAsync<AccountView>();
        var prefix = CatalogApi.UniquePrefix("fail");
        var template = await admin.PublishedTemplateAsync(new TemplateSpec(prefix + "template", [System("web")]));
        var offering = await admin.PublishOfferingAsync((await admin.CreateOfferingAsync(
            CatalogApi.Compute(prefix + "small", template.Id) with { Sla = Sla, Burst = new BurstPolicy(true, [Peer]) })).Id);
        List<ContractItemRequest> items = [new ContractItemRequest(offering.Id, machines)];
        if (storage)
        {
            var volumes = await admin.PublishOfferingAsync((await admin.CreateOfferingAsync(CatalogApi.Storage(prefix + "storage"))).Id);
            items.Add(new ContractItemRequest(volumes.Id, 3));
        }
        var proposed = await (await client.PostAsJsonAsync("/api/v1/contracts", new ContractRequest(items), WelkinJson.Client, ct))
            .ReadAsync<ContractView>(HttpStatusCode.Created);
        var accepted = await (await client.PostAsJsonAsync($"/api/v1/contracts/{proposed.Id}/accept", new ContractTransitionRequest(null), WelkinJson.Client, ct))
            .ReadAsync<ContractView>();
        return new InstancesApi.Tenant(signUp, client, accepted);
    }

    /// <summary>Cloud2's presence at Cloud1 as a verified one would record it, and the pool it serves available.</summary>
    public async Task PeerOnlineAsync()
    {
        var fingerprint = Provider.Services.GetRequiredService<FederationCredentials>().Fingerprint;
        await Consumer.Services.GetRequiredService<PeerStore>().RecordAsync(new PeerObservation(Provider.XmppAddress, PeerTrustState.Trusted, "verified",
            Provider.Name, Provider.ListenerUrl.AbsoluteUri, fingerprint, Interlocked.Increment(ref _presence)), TestContext.Current.CancellationToken);
        var pool = (IPeerPool)Consumer.Services.GetRequiredService<ComputeFabric>().Find(Pool)!.Driver;
        await Polling.UntilAsync(() => Task.FromResult(pool.Status.Available), "the peer pool available", TimeSpan.FromMinutes(1), TimeSpan.FromMilliseconds(20));
    }

    /// <summary>Cloud2's presence at Cloud1 gone (a partition: Cloud2 itself sees nothing).</summary>
    public Task PeerOfflineAsync() =>
        Consumer.Services.GetRequiredService<PeerStore>().SetOfflineAsync(Provider.XmppAddress, "presence unavailable", TestContext.Current.CancellationToken);

    /// <summary>Each cloud's SLA evaluation at the clock's time (its periodic work, run now rather than at its interval).</summary>
    public async Task EvaluateSlasAsync()
    {
        foreach (var cloud in new[] { Consumer, Provider })
        {
            await cloud.Services.GetServices<IPeriodicWork>().OfType<SlaEvaluator>().Single().RunAsync(Clock.GetUtcNow(), TestContext.Current.CancellationToken);
        }
    }
}

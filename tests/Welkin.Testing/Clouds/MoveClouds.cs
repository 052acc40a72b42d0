using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Core.Compute;
using Welkin.Core.Data;
using Welkin.Core.Federation;
using Welkin.Intercloud.Trust;

namespace Welkin.Testing.Clouds;

/// <summary>
/// Cloud1 with a pool of real QEMU machines ("lab") and a pool served by Cloud2 ("cloud2", the peer-cloud
/// driver), under an agreement in force; Cloud2's own pool is simulated (a cold move only needs it to take
/// the machine's image and provision from it). Cloud1 reaches Cloud2's listener through a
/// <see cref="CuttingProxy"/>, so a test can cut the transfer of a package mid-way.
/// </summary>
public class MoveClouds : AgreementClouds
{
    public const string Peer = "Cloud2";
    public const string PeerPool = "cloud2";
    public const string LocalPool = "lab";

    /// <summary>Small chunks, so that a cut transfer has acknowledged chunks to resume after.</summary>
    public const int ChunkBytes = 4 * 1024;

    public MoveClouds()
        : this(ProviderSettings)
    {
    }

    /// <summary>The two clouds, Cloud2 with <paramref name="providerSettings"/> (its fabric).</summary>
    protected MoveClouds(IReadOnlyDictionary<string, string?> providerSettings)
        : base(providerSettings, ConsumerSettings)
    {
    }

    private static readonly Dictionary<string, string?> ProviderSettings = new()
    {
        ["Fabric:Hosts:0:Name"] = "cloud2-de-1",
        ["Fabric:Hosts:0:Region"] = "eu-central",
        ["Fabric:Hosts:0:Jurisdiction"] = "DE",
        ["Fabric:Hosts:0:Cores"] = "64",
        ["Fabric:Hosts:0:MemoryMiB"] = "65536",
        ["Fabric:Hosts:0:DiskGiB"] = "1000",
        ["Fabric:Timing:Create"] = "00:00:00",
        ["Fabric:Timing:Start"] = "00:00:00",
        ["Fabric:Timing:Stop"] = "00:00:00",
        ["Fabric:Timing:Destroy"] = "00:00:00",
    };

    private static readonly Dictionary<string, string?> ConsumerSettings = new()
    {
        // No exchange runs here: Cloud2's presence is recorded by the tests, and must not be forgotten for a link
        // that never came up (after PeerPingInterval + PeerPingTimeout) while a slow QEMU move is under way.
        ["Federation:PeerPingInterval"] = "01:00:00",
        ["Federation:PeerPingTimeout"] = "00:10:00",
        ["Fabric:Pools:lab:Driver"] = "qemu",
        ["Fabric:Pools:lab:Hosts:0:Name"] = "lab-a",
        ["Fabric:Pools:lab:Hosts:0:Region"] = "local",
        ["Fabric:Pools:lab:Hosts:0:Jurisdiction"] = "DE",
        ["Fabric:Pools:lab:Hosts:0:Cores"] = "8",
        ["Fabric:Pools:lab:Hosts:0:MemoryMiB"] = "8192",
        ["Fabric:Pools:lab:Hosts:0:DiskGiB"] = "200",
        ["Fabric:Pools:lab:StopMachinesOnShutdown"] = "true",
        ["Fabric:Pools:cloud2:Driver"] = "peer",
        ["Fabric:Pools:cloud2:Peer"] = Peer,
        ["Fabric:Pools:cloud2:Host"] = "cloud2",
        ["Fabric:Pools:cloud2:Jurisdiction"] = "DE",
        ["Fabric:Pools:cloud2:PollInterval"] = "00:00:00.250",
        ["Fabric:Pools:cloud2:UploadChunkBytes"] = ChunkBytes.ToString(CultureInfo.InvariantCulture),
    };

    public AgreementView Agreement { get; private set; } = null!;

    public CuttingProxy Proxy { get; private set; } = null!;

    protected override FederationPolicy ProviderPolicy => new(
        ["Cloud1"], ["DE"], [], new Dictionary<string, long> { ["compute-unit"] = 100 }, 0m, EncryptionAtRest: false, IsolationLevel.Shared);

    public override async ValueTask InitializeAsync()
    {
        await base.InitializeAsync();
        var terms = new AgreementTerms(
            new AgreementPolicy(["DE"]),
            new AgreementEntitlement(new Dictionary<string, long> { ["compute-unit"] = 100 }, [new AgreementOffering(Compute.Id, 100)]),
            new AgreementMetering("USD", MaxPricePerCpuHour: 1m));
        var response = await Consumer.OrdinaryAdmin().PostAsJsonAsync("/api/v1/federation/agreements", new AgreementRequest(Peer, terms), WelkinJson.Client,
            TestContext.Current.CancellationToken);
        Agreement = await response.ReadAsync<AgreementView>(HttpStatusCode.Created);
        Agreement.State.ShouldBe(AgreementState.Active);
        Proxy = new CuttingProxy(Provider.ListenerPort);
        var db = Consumer.Services.GetRequiredService<IDatabase>();
        await db.WriteAsync<int>(async tx =>
        {
            var api = await tx.ExecuteScalarAsync<string>("SELECT api_url FROM federation_agreements WHERE id = @Id", new { Agreement.Id });
            var url = new UriBuilder(api) { Port = Proxy.Port }.Uri.AbsoluteUri;
            return await tx.ExecuteAsync("UPDATE federation_agreements SET api_url = @Url WHERE id = @Id", new { Url = url, Agreement.Id });
        }, TestContext.Current.CancellationToken);
    }

    /// <summary>Registers the test guest's image (kernel, initrd, an empty 64 MiB disk) on Cloud1; returns the disk image's id.</summary>
    public Task<string> RegisterGuestAsync(TestGuest guest) => GuestImages.RegisterAsync(Consumer.OrdinaryAdmin(), guest);

    /// <summary>
    /// A consumer of Cloud1 (a client as its account admin) with an active contract for one machine of a template booting
    /// <paramref name="imageId"/> (1 vCPU, <paramref name="memoryMiB"/>, a 1 GiB disk).
    /// </summary>
    public async Task<(SignUpResponse SignUp, HttpClient Client, ContractView Contract)> TenantAsync(string imageId, string name, long memoryMiB = 256)
    {
        var ct = TestContext.Current.CancellationToken;
        var admin = Consumer.OrdinaryAdmin();
        var signUp = await (await Consumer.Ordinary(null).PostAsJsonAsync("/api/v1/catalog/sign-up",
            new SignUpRequest($"move-{Guid.NewGuid():n}"[..20], "Move Inc.", new SignUpAdmin("admin")), WelkinJson.Client, ct)).ReadAsync<SignUpResponse>(HttpStatusCode.Created);
        var client = Consumer.Ordinary(signUp.Token.Secret);
        await (await admin.PutAsJsonAsync($"/api/v1/accounts/{signUp.Account.Id}/limits",
            new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = 10, ["storage-unit"] = 10 }), WelkinJson.Client, ct)).ReadAsync<AccountView>();
        var spec = CatalogApi.Template(CatalogApi.UniquePrefix("move") + name, vcpus: 1, memoryMiB: memoryMiB);
        var system = spec.VirtualSystems[0];
        spec = spec with { VirtualSystems = [system with { ImageId = imageId, Hardware = system.Hardware with { DiskGiB = new Choice<long>([1], 1) } }] };
        var template = await admin.PublishedTemplateAsync(spec);
        var offering = await admin.PublishOfferingAsync((await admin.CreateOfferingAsync(CatalogApi.Compute(CatalogApi.UniquePrefix("move") + name, template.Id))).Id);
        var proposed = await (await client.PostAsJsonAsync("/api/v1/contracts", new ContractRequest([new ContractItemRequest(offering.Id, 1)]), WelkinJson.Client, ct))
            .ReadAsync<ContractView>(HttpStatusCode.Created);
        var accepted = await (await client.PostAsJsonAsync($"/api/v1/contracts/{proposed.Id}/accept", new ContractTransitionRequest(null), WelkinJson.Client, ct)).ReadAsync<ContractView>();
        return (signUp, client, accepted);
    }

    /// <summary>
    /// Cloud2's presence as a verified one would record it (no exchange runs here, and Cloud1's federation service
    /// forgets presences without one), and Cloud1's pool served by Cloud2 available again.
    /// </summary>
    public async Task PeerOnlineAsync()
    {
        var fingerprint = Provider.Services.GetRequiredService<FederationCredentials>().Fingerprint;
        await Consumer.Services.GetRequiredService<PeerStore>().RecordAsync(new PeerObservation(Provider.XmppAddress, PeerTrustState.Trusted, "verified",
            Provider.Name, Provider.ListenerUrl.AbsoluteUri, fingerprint, Interlocked.Increment(ref _presence)), TestContext.Current.CancellationToken);
        var pool = (IPeerPool)Consumer.Services.GetRequiredService<ComputeFabric>().Find(PeerPool)!.Driver;
        await Polling.UntilAsync(() => Task.FromResult(pool.Status.Available), "the peer pool available", TimeSpan.FromMinutes(1), TimeSpan.FromMilliseconds(50));
    }

    private long _presence = 10;

    /// <summary>Cloud2's offering admits the test guest's machine (1 vCPU, 256 MiB, 1 GiB disk, debian).</summary>
    protected override async Task<OfferingView> PublishComputeAsync(HttpClient admin, string prefix)
    {
        var os = new Choice<string>(["debian"], "debian");
        var template = await admin.PublishedTemplateAsync(new TemplateSpec(prefix + "template",
        [
            new VirtualSystemSpec("app", new HardwareChoices(new Choice<int>([1], 1), new Choice<long>([256], 256), new Choice<long>([1], 1)), new SoftwareChoices(os)),
        ]));
        var choices = new VirtualSystemRestriction("app", new Choice<int>([1], 1), new Choice<long>([256], 256), new Choice<long>([1], 1), os);
        return await admin.PublishOfferingAsync((await admin.CreateOfferingAsync(CatalogApi.Compute(prefix + "peer", template.Id, choices: [choices]))).Id);
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (Proxy is not null)
        {
            await Proxy.DisposeAsync();
        }
        await TestGuest.KillProcessesMentioningAsync(Consumer.DataDir);
        await TestGuest.KillProcessesMentioningAsync(Provider.DataDir);
        GC.SuppressFinalize(this);
    }
}

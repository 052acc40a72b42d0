using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Compute.Simulated;
using Welkin.Contracts;
using Welkin.Core.Compute;
using Welkin.Core.Data;
using Welkin.Testing.Clouds;

namespace Welkin.Compute.Peer.Tests;

/// <summary>
/// Cloud1 (the consumer) with an agreement in force with Cloud2 (the provider, a simulated fabric that answers at
/// once), reached over Cloud2's federation listener with mutual TLS: the peer pool's drivers run in Cloud1 against
/// Cloud2. Cloud2's compute offering admits the sizes the conformance suite asks for, and the agreement enough
/// machines for the whole suite.
/// </summary>
public class PeerClouds : AgreementClouds
{
    public const string Peer = "Cloud2";
    public const string Host = "cloud2";
    public const int Machines = 1_000;

    private static readonly Dictionary<string, string?> ProviderFabric = new()
    {
        ["Fabric:Hosts:0:Name"] = "cloud2-de-1",
        ["Fabric:Hosts:0:Region"] = "eu-central",
        ["Fabric:Hosts:0:Jurisdiction"] = "DE",
        ["Fabric:Hosts:0:Cores"] = "4096",
        ["Fabric:Hosts:0:MemoryMiB"] = "16777216",
        ["Fabric:Hosts:0:DiskGiB"] = "10000000",
        ["Fabric:Timing:Create"] = "00:00:00",
        ["Fabric:Timing:Start"] = "00:00:00",
        ["Fabric:Timing:Stop"] = "00:00:00",
        ["Fabric:Timing:Pause"] = "00:00:00",
        ["Fabric:Timing:Resume"] = "00:00:00",
        ["Fabric:Timing:Reboot"] = "00:00:00",
        ["Fabric:Timing:Resize"] = "00:00:00",
        ["Fabric:Timing:Destroy"] = "00:00:00",
        ["Fabric:Timing:Migrate"] = "00:00:00",
    };

    // No exchange runs here: Cloud2's recorded presence must not be forgotten for a link that never came up
    // (after PeerPingInterval + PeerPingTimeout) while the test classes sharing the machine run.
    private static readonly Dictionary<string, string?> ConsumerSettings = new()
    {
        ["Federation:PeerPingInterval"] = "01:00:00",
        ["Federation:PeerPingTimeout"] = "00:10:00",
    };

    public PeerClouds()
        : base(ProviderFabric, ConsumerSettings)
    {
    }

    /// <summary>
    /// The clouds with settings of their own, read when they start (so a subclass may fill them until then);
    /// the provider's simulated fabric joins <paramref name="providerSettings"/>.
    /// </summary>
    protected PeerClouds(Dictionary<string, string?> providerSettings, IReadOnlyDictionary<string, string?> consumerSettings, string domain)
        : base(WithFabric(providerSettings), consumerSettings, domain)
    {
    }

    private static Dictionary<string, string?> WithFabric(Dictionary<string, string?> settings)
    {
        foreach (var (key, value) in ProviderFabric)
        {
            settings[key] = value;
        }
        return settings;
    }

    public AgreementView Agreement { get; private set; } = null!;

    /// <summary>Cloud2's storage offering (1 GiB increments), whose line in the agreement keeps Cloud1's volumes.</summary>
    public OfferingView Storage { get; private set; } = null!;

    protected override FederationPolicy ProviderPolicy => new(
        ["Cloud1"], ["DE"], [], new Dictionary<string, long> { ["compute-unit"] = Machines, ["storage-unit"] = StorageGiB }, 0m, EncryptionAtRest: false,
        IsolationLevel.Shared);

    /// <summary>The GiB of volumes the agreement entitles Cloud1 to.</summary>
    public const int StorageGiB = 10_000;

    public override async ValueTask InitializeAsync()
    {
        await base.InitializeAsync();
        var admin = Provider.OrdinaryAdmin();
        Storage = await admin.PublishOfferingAsync((await admin.CreateOfferingAsync(
            CatalogApi.Storage(CatalogApi.UniquePrefix("peer") + "storage") with { Storage = new StorageSpec(1, StorageGiB) })).Id);
        await BeforeAgreementAsync();
        var terms = new AgreementTerms(
            new AgreementPolicy(["DE"]),
            new AgreementEntitlement(new Dictionary<string, long> { ["compute-unit"] = Machines, ["storage-unit"] = StorageGiB },
                [new AgreementOffering(Compute.Id, Machines), new AgreementOffering(Storage.Id, StorageGiB)]),
            new AgreementMetering("USD", MaxPricePerCpuHour: 1m));
        var response = await Consumer.OrdinaryAdmin().PostAsJsonAsync("/api/v1/federation/agreements", new AgreementRequest(Peer, terms), WelkinJson.Client,
            TestContext.Current.CancellationToken);
        Agreement = await response.ReadAsync<AgreementView>(HttpStatusCode.Created);
        Agreement.State.ShouldBe(AgreementState.Active);
    }

    /// <summary>What must hold before Cloud1 asks Cloud2 for the agreement.</summary>
    protected virtual Task BeforeAgreementAsync() => Task.CompletedTask;

    /// <summary>A template whose one virtual system takes the sizes the conformance suite uses, and an offering that lets consumers choose them.</summary>
    protected override async Task<OfferingView> PublishComputeAsync(HttpClient admin, string prefix)
    {
        var os = new Choice<string>(["Welkin Test OS"], "Welkin Test OS");
        var template = await admin.PublishedTemplateAsync(new TemplateSpec(prefix + "template",
        [
            new VirtualSystemSpec("app", new HardwareChoices(new Choice<int>([1, 2], 1), new Choice<long>([512, 1024], 512), new Choice<long>([10], 10)),
                new SoftwareChoices(os)),
        ]));
        var choices = new VirtualSystemRestriction("app", new Choice<int>([1, 2], 1), new Choice<long>([512, 1024], 512), new Choice<long>([10], 10), os);
        return await admin.PublishOfferingAsync((await admin.CreateOfferingAsync(CatalogApi.Compute(prefix + "peer", template.Id, choices: [choices]))).Id);
    }

    public PeerMachineStore Store => new(Consumer.Services.GetRequiredService<IDatabase>(), TimeProvider.System);

    /// <summary>A driver of Cloud1's pool served by Cloud2; a second one stands for the same pool after Cloud1 restarted.</summary>
    public PeerDriver NewDriver(TimeSpan? pollInterval = null, string peer = Peer) =>
        new(Host, new PeerPoolOptions { Peer = peer, Host = Host, PollInterval = pollInterval ?? TimeSpan.FromMilliseconds(100) },
            Consumer.Services.GetRequiredService<IPeerLinks>(), Store, TimeProvider.System);

    /// <summary>Cloud2's own simulated fabric, where the peer pool's machines really run.</summary>
    public SimulatedDriver ProviderFabricDriver => (SimulatedDriver)Provider.Services.GetRequiredService<ComputeFabric>().Pools[0].Driver;

    /// <summary>The id on Cloud2 of Cloud1's machine <paramref name="machineId"/>.</summary>
    public async Task<string> RemoteIdAsync(string machineId) =>
        (await Store.GetAsync(machineId, TestContext.Current.CancellationToken))?.RemoteMachineId ?? throw new ShouldAssertException($"{machineId} has no machine on the peer");
}

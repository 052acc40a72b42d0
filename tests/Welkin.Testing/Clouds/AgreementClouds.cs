using System.Net.Http.Headers;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Core.Federation;
using Welkin.Intercloud.Trust;

namespace Welkin.Testing.Clouds;

/// <summary>
/// Two clouds of one federation on real Kestrel, each with its federation listener (mutual TLS):
/// Cloud1 the consumer, Cloud2 the provider, with a published compute offering and a policy that
/// allows Cloud1 up to 10 compute units in DE. Each knows the other as a trusted peer, as a verified
/// presence would have recorded it (no exchange runs here: agreements travel over the listeners only).
/// </summary>
public class AgreementClouds : IAsyncLifetime
{
    private readonly string _root = TempDirectories.NewPath("welkin-agree-");

    public AgreementClouds()
        : this(null)
    {
    }

    /// <summary>
    /// The two clouds, each with its settings besides the federation's (read when it starts), their XMPP addresses
    /// in <paramref name="domain"/>; with <paramref name="clock"/>, both clouds' time is that clock's.
    /// </summary>
    protected AgreementClouds(
        IReadOnlyDictionary<string, string?>? providerSettings, IReadOnlyDictionary<string, string?>? consumerSettings = null, string domain = "exchange.test",
        TimeProvider? clock = null)
    {
        Directory.CreateDirectory(_root);
        Consumer = new FederationListenerApp("Cloud1", "cloud1@" + domain, _root, consumerSettings, clock);
        Provider = new FederationListenerApp("Cloud2", "cloud2@" + domain, _root, providerSettings, clock);
    }

    /// <summary>Whether each cloud is told of the other as a verified presence would have (false: a real exchange runs and tells them).</summary>
    protected virtual bool MeetWithoutExchange => true;

    public FederationListenerApp Consumer { get; }

    public FederationListenerApp Provider { get; }

    public OfferingView Compute { get; private set; } = null!;

    public static readonly FederationPolicy Policy = new(
        ["Cloud1"], ["DE"], [], new Dictionary<string, long> { ["compute-unit"] = 10, ["storage-unit"] = 10 }, 10m, EncryptionAtRest: false, IsolationLevel.Shared);

    /// <summary>The policy Cloud2 sets for its peers.</summary>
    protected virtual FederationPolicy ProviderPolicy => Policy;

    public virtual async ValueTask InitializeAsync()
    {
        await Consumer.InitializeAsync();
        await Provider.InitializeAsync();
        if (MeetWithoutExchange)
        {
            await MeetAsync(Consumer, Provider);
            await MeetAsync(Provider, Consumer);
        }
        Compute = await PublishComputeAsync(Provider.OrdinaryAdmin(), CatalogApi.UniquePrefix("fed"));
        var set = await Provider.OrdinaryAdmin().PutAsJsonAsync("/api/v1/federation/policy", ProviderPolicy, WelkinJson.Client, TestContext.Current.CancellationToken);
        await set.ReadAsync<FederationPolicy>();
    }

    /// <summary>Publishes Cloud2's compute offering the agreements are for.</summary>
    protected virtual async Task<OfferingView> PublishComputeAsync(HttpClient admin, string prefix)
    {
        var template = await admin.PublishedTemplateAsync(CatalogApi.Template(prefix + "template"));
        return await admin.PublishOfferingAsync((await admin.CreateOfferingAsync(CatalogApi.Compute(prefix + "small", template.Id))).Id);
    }

    /// <summary>What a verified presence of <paramref name="peer"/> would have recorded in <paramref name="at"/>.</summary>
    private static async Task MeetAsync(FederationListenerApp at, FederationListenerApp peer)
    {
        var fingerprint = peer.Services.GetRequiredService<FederationCredentials>().Fingerprint;
        await at.Services.GetRequiredService<PeerStore>().RecordAsync(
            new PeerObservation(peer.XmppAddress, PeerTrustState.Trusted, "verified", peer.Name, peer.ListenerUrl.AbsoluteUri, fingerprint, 1),
            TestContext.Current.CancellationToken);
    }

    /// <summary>Terms Cloud2's policy accepts: <paramref name="quantity"/> machines of the compute offering in <paramref name="jurisdiction"/>.</summary>
    public AgreementTerms Terms(string jurisdiction = "DE", int quantity = 2, long units = 2) => new(
        new AgreementPolicy([jurisdiction]),
        new AgreementEntitlement(new Dictionary<string, long> { ["compute-unit"] = units }, [new AgreementOffering(Compute.Id, quantity)]),
        new AgreementMetering("USD", MaxPricePerCpuHour: 0.20m, MinimumAvailability: 99.9m));

    /// <summary>
    /// A client of the provider's listener as the consumer cloud calls it: its federation certificate
    /// (or <paramref name="certificate"/>) in the handshake and <paramref name="token"/> as bearer.
    /// </summary>
    public HttpClient ConsumerOnProvider(string token, System.Security.Cryptography.X509Certificates.X509Certificate2? certificate = null)
    {
        var client = certificate is null
            ? new HttpClient(Consumer.Services.GetRequiredService<FederationCredentials>().CreatePeerHandler()) { BaseAddress = new Uri($"https://127.0.0.1:{Provider.ListenerPort}") }
            : Provider.Peer(certificate);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    public virtual async ValueTask DisposeAsync()
    {
        await Consumer.DisposeAsync();
        await Provider.DisposeAsync();
        TempDirectories.TryDelete(_root);
        GC.SuppressFinalize(this);
    }
}

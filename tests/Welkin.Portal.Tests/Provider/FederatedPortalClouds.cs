using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Intercloud.Trust;
using Welkin.Testing;
using Welkin.Testing.Xmpp;

namespace Welkin.Portal.Tests.Provider;

/// <summary>
/// Two clouds of one federation that learn of each other over a private Prosody, as in production: Home ("Cloud1", whose
/// provider uses the portal) and Peer ("Cloud2", the provider of agreements, with Home allowed by its policy). Peer reaches
/// the exchange through a <see cref="TcpRelay"/> a test can cut, so that Home loses its presence (a failed ping) and
/// finds it again once the relay lets it through. Presences are short-lived (re-signed every few seconds), so that a peer
/// trusted again is judged on its next presence soon. Shared by the tests of one class: each starts with both clouds
/// online and trusting each other, and leaves them so.
/// </summary>
public sealed class FederatedPortalClouds : AgreementClouds
{
    private const string Password = "exchange-secret";

    private readonly Dictionary<string, string?> _peer;
    private readonly Dictionary<string, string?> _home;
    private ProsodyServer? _prosody;
    private TcpRelay? _relay;

    public FederatedPortalClouds()
        : this(new Dictionary<string, string?>(), new Dictionary<string, string?>())
    {
    }

    private FederatedPortalClouds(Dictionary<string, string?> peer, Dictionary<string, string?> home)
        : base(peer, home, ProsodyServer.Domain)
    {
        _peer = peer;
        _home = home;
    }

    protected override bool MeetWithoutExchange => false;

    /// <summary>The cloud whose portal the tests drive (the consumer of agreements).</summary>
    public FederationListenerApp Home => Consumer;

    /// <summary>Home's peer (the provider of agreements).</summary>
    public FederationListenerApp Peer => Provider;

    /// <summary>Peer's way to the exchange.</summary>
    public TcpRelay Relay => _relay!;

    /// <summary>Peer's certificate fingerprint, as its presence carries it.</summary>
    public string PeerFingerprint => Peer.Services.GetRequiredService<FederationCredentials>().Fingerprint;

    public override async ValueTask InitializeAsync()
    {
        _prosody = await ProsodyServer.StartAsync("SHA-256", new Dictionary<string, string> { ["cloud1"] = Password, ["cloud2"] = Password });
        _relay = new TcpRelay(_prosody.Port);
        Exchange(_home, _prosody.Port, Peer.XmppAddress);
        Exchange(_peer, _relay.Port, Home.XmppAddress);
        await base.InitializeAsync();
        await BothOnlineAsync();
    }

    private void Exchange(Dictionary<string, string?> settings, int port, string peer)
    {
        settings["Federation:Password"] = Password;
        settings["Federation:ExchangeHost"] = "127.0.0.1";
        settings["Federation:ExchangePort"] = port.ToString(CultureInfo.InvariantCulture);
        settings["Federation:ExchangeTrust"] = _prosody!.CertificateFile;
        settings["Federation:Peers:0"] = peer;
        settings["Federation:PresenceInterval"] = "00:00:00.2";
        settings["Federation:PresenceMaxAge"] = "00:00:06";
        settings["Federation:PeerPingInterval"] = "00:00:01";
        settings["Federation:PeerPingTimeout"] = "00:00:02";
    }

    /// <summary>The peers Home's provider sees, through the API.</summary>
    public async Task<PeerView?> PeerAtHomeAsync()
    {
        var list = await (await Home.OrdinaryAdmin().GetAsync("/api/v1/federation/peers", TestContext.Current.CancellationToken)).ReadAsync<PeerList>();
        return list.Peers.SingleOrDefault(p => p.Address == Peer.XmppAddress);
    }

    /// <summary>Waits until Home sees Peer as <paramref name="test"/> says.</summary>
    public Task UntilPeerAtHomeAsync(Func<PeerView, bool> test, string what) =>
        Polling.UntilAsync(async () => await PeerAtHomeAsync() is { } peer && test(peer), what, TimeSpan.FromSeconds(90), TimeSpan.FromMilliseconds(100));

    /// <summary>Each cloud has the other's verified presence: trusted and online.</summary>
    public async Task BothOnlineAsync()
    {
        foreach (var (at, peer) in new[] { (Home, Peer), (Peer, Home) })
        {
            var admin = at.OrdinaryAdmin();
            await Polling.UntilAsync(async () =>
                (await (await admin.GetAsync("/api/v1/federation/peers", TestContext.Current.CancellationToken)).ReadAsync<PeerList>()).Peers
                    .Any(p => p.Address == peer.XmppAddress && p.Trust == PeerTrustState.Trusted && p.Online),
                $"{at.Name} sees {peer.Name} trusted and online", TimeSpan.FromSeconds(90), TimeSpan.FromMilliseconds(100));
        }
    }

    /// <summary>An agreement Home asks Peer for (in force at once): two machines of Peer's compute offering in DE.</summary>
    public async Task<AgreementView> AgreementAsync()
    {
        var response = await Home.OrdinaryAdmin().PostAsJsonAsync("/api/v1/federation/agreements", new AgreementRequest(Peer.Name, Terms()), WelkinJson.Client,
            TestContext.Current.CancellationToken);
        return await response.ReadAsync<AgreementView>(HttpStatusCode.Created);
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (_relay is not null)
        {
            await _relay.DisposeAsync();
        }
        if (_prosody is not null)
        {
            await _prosody.DisposeAsync();
        }
    }
}

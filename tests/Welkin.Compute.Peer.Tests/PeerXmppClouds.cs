using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Core.Federation;
using Welkin.Testing;
using Welkin.Testing.Xmpp;

namespace Welkin.Compute.Peer.Tests;

/// <summary>
/// <see cref="PeerClouds"/> joined through a private Prosody, so that each learns of the other from its signed presence
/// and Cloud2 can tell Cloud1 of its machines' changes. Cloud1's fabric is the peer pool "cloud2" alone, polling only
/// once an hour: what it learns sooner, a notice told it.
/// </summary>
public sealed class PeerXmppClouds : PeerClouds
{
    public const string Pool = "cloud2";
    private const string Password = "exchange-secret";

    private readonly Dictionary<string, string?> _provider;
    private readonly Dictionary<string, string?> _consumer;
    private ProsodyServer? _prosody;

    public PeerXmppClouds()
        : this(new Dictionary<string, string?>(), new Dictionary<string, string?>())
    {
    }

    private PeerXmppClouds(Dictionary<string, string?> provider, Dictionary<string, string?> consumer)
        : base(provider, consumer, ProsodyServer.Domain)
    {
        _provider = provider;
        _consumer = consumer;
    }

    protected override bool MeetWithoutExchange => false;

    public override async ValueTask InitializeAsync()
    {
        _prosody = await ProsodyServer.StartAsync("SHA-256", new Dictionary<string, string> { ["cloud1"] = Password, ["cloud2"] = Password });
        Exchange(_provider, Consumer.XmppAddress);
        Exchange(_consumer, Provider.XmppAddress);
        _consumer[$"Fabric:Pools:{Pool}:Driver"] = "peer";
        _consumer[$"Fabric:Pools:{Pool}:Peer"] = Peer;
        _consumer[$"Fabric:Pools:{Pool}:Host"] = Host;
        _consumer[$"Fabric:Pools:{Pool}:PollInterval"] = "01:00:00";
        await base.InitializeAsync();
    }

    private void Exchange(Dictionary<string, string?> settings, string peer)
    {
        settings["Federation:Password"] = Password;
        settings["Federation:ExchangeHost"] = "127.0.0.1";
        settings["Federation:ExchangePort"] = _prosody!.Port.ToString(CultureInfo.InvariantCulture);
        settings["Federation:ExchangeTrust"] = _prosody.CertificateFile;
        settings["Federation:Peers:0"] = peer;
        settings["Federation:PresenceInterval"] = "00:00:00.2";
        settings["Federation:MachineNoticeInterval"] = "00:00:00.1";
    }

    /// <summary>Each cloud has the other's verified presence: trusted and online.</summary>
    protected override async Task BeforeAgreementAsync()
    {
        foreach (var (at, peer) in new[] { (Consumer, Provider), (Provider, Consumer) })
        {
            var peers = at.Services.GetRequiredService<PeerStore>();
            await Polling.UntilAsync(async () => (await peers.ListAsync(TestContext.Current.CancellationToken))
                .Any(p => p.Address == peer.XmppAddress && p.Trust == PeerTrustState.Trusted && p.Online),
                $"{at.Name} sees {peer.Name} trusted and online", TimeSpan.FromSeconds(90), TimeSpan.FromMilliseconds(100));
        }
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (_prosody is not null)
        {
            await _prosody.DisposeAsync();
        }
    }
}

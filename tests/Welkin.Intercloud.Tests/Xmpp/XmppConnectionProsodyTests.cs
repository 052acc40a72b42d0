using System.Threading.Channels;
using System.Xml.Linq;
using Welkin.Intercloud.Xmpp;
using Welkin.Testing.Xmpp;

namespace Welkin.Intercloud.Tests.Xmpp;

// The self-healing connection against a real Prosody (mod_smacks on), through a relay the test can cut.
public sealed class XmppConnectionProsodyTests
{
    private static readonly XNamespace Example = "urn:example:sequence";
    private static readonly Dictionary<string, string> Accounts = new() { ["alice"] = "alice-secret", ["bob"] = "bob-secret" };
    private static readonly XmppBackoff Fast = new() { Initial = TimeSpan.FromMilliseconds(200), Max = TimeSpan.FromSeconds(1) };

    [Fact]
    public async Task CutConnection_IsResumed_AndStanzasSentDuringTheCutArriveOnceInOrder()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var prosody = await ProsodyServer.StartAsync("SHA-256", Accounts);
        await using var relay = new TcpRelay(prosody.Port);
        var seen = Channel.CreateUnbounded<XmppPresence>();
        var events = Channel.CreateUnbounded<string>();
        var clientOptions = prosody.Options("alice", "alice-secret", "a") with { Port = relay.Port, OnPresence = p => seen.Writer.WriteAsync(p).AsTask() };
        await using var alice = new XmppConnection(Options(clientOptions, events));
        await alice.StartAsync(cancellationToken);
        XmppClient? approver = null;
        var bobSeen = Channel.CreateUnbounded<XmppPresence>();
        var (bobClient, _) = await XmppClient.ConnectAsync(prosody.Options("bob", "bob-secret", "b") with
        {
            OnPresence = p => p.Type == "subscribe" ? approver!.ApproveSubscriptionAsync(p.BareFrom, CancellationToken.None) : bobSeen.Writer.WriteAsync(p).AsTask(),
        }, cancellationToken);
        await using var bob = approver = bobClient!;

        Assert.Equal("fresh", await NextAsync(events.Reader, e => e is "fresh", cancellationToken));
        Assert.True(await alice.SubscribeAsync("bob@xmpp.test", cancellationToken) is null);
        await bob.SendPresenceAsync([Numbered(0)], cancellationToken);
        await NextAsync(seen.Reader, p => Number(p) == 0, cancellationToken);
        var jid = alice.Jid;

        relay.Refusing = true;
        relay.Sever();
        await NextAsync(events.Reader, e => e is "Offline", cancellationToken);
        for (var n = 1; n <= 5; n++)
        {
            await bob.SendPresenceAsync([Numbered(n)], cancellationToken);
        }

        Assert.Null(await bob.PingAsync("xmpp.test", cancellationToken));
        var sentWhileOffline = alice.SendAsync(new XElement(XName.Get("presence", "jabber:client"), new XAttribute("to", bob.Jid), Numbered(100)), cancellationToken);
        Assert.False(sentWhileOffline.IsCompleted);
        relay.Refusing = false;
        Assert.Equal("resumed", await NextAsync(events.Reader, e => e is "resumed" or "fresh", cancellationToken));
        await bob.SendPresenceAsync([Numbered(6)], cancellationToken);

        var numbers = new List<int>();
        while (numbers.LastOrDefault() != 6)
        {
            var presence = await NextAsync(seen.Reader, p => Number(p) is not null, cancellationToken);
            numbers.Add(Number(presence)!.Value);
        }

        Assert.Equal([1, 2, 3, 4, 5, 6], numbers);
        Assert.Null(await sentWhileOffline);
        Assert.Equal(jid, (await NextAsync(bobSeen.Reader, p => Number(p) == 100, cancellationToken)).From);
        Assert.Equal(jid, alice.Jid);
        Assert.Equal(XmppConnectionState.Online, alice.State);
        Assert.Null(await alice.PingAsync("xmpp.test", cancellationToken));
    }

    [Fact]
    public async Task ServerRestart_GivesAFreshSession_AndTheLastPresenceIsSentAgain()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var prosody = await ProsodyServer.StartAsync("SHA-256", Accounts);
        await using var relay = new TcpRelay(prosody.Port);
        var events = Channel.CreateUnbounded<string>();
        XmppConnection? connection = null;
        var clientOptions = prosody.Options("alice", "alice-secret", "a") with
        {
            Port = relay.Port,
            OnPresence = p => p.Type == "subscribe" ? connection!.ApproveSubscriptionAsync(p.BareFrom, CancellationToken.None) : Task.CompletedTask,
        };
        await using var alice = connection = new XmppConnection(Options(clientOptions, events));
        await alice.StartAsync(cancellationToken);
        await NextAsync(events.Reader, e => e is "fresh", cancellationToken);
        Assert.Null(await alice.SendPresenceAsync([Numbered(7)], cancellationToken));

        var bobSeen = Channel.CreateUnbounded<XmppPresence>();
        await using (var bob = await ConnectObserverAsync(prosody, bobSeen, cancellationToken))
        {
            await bob.SubscribeAsync("alice@xmpp.test", cancellationToken);
            await NextAsync(bobSeen.Reader, p => Number(p) == 7, cancellationToken);
        }

        await prosody.RestartAsync();
        await NextAsync(events.Reader, e => e is "Offline", cancellationToken);
        Assert.Equal("fresh", await NextAsync(events.Reader, e => e is "resumed" or "fresh", cancellationToken));

        // A restarted Prosody knows nothing of alice's presence: what the new observer sees, alice sent again.
        var bobSeenAgain = Channel.CreateUnbounded<XmppPresence>();
        await using var bobAgain = await ConnectObserverAsync(prosody, bobSeenAgain, cancellationToken);
        var again = await NextAsync(bobSeenAgain.Reader, p => p.BareFrom == "alice@xmpp.test" && p.Type is null, cancellationToken);
        Assert.Equal(7, Number(again));
        Assert.NotNull(again.Stanza.Element(XName.Get("c", "http://jabber.org/protocol/caps")));
    }

    [Fact]
    public async Task SendWhileOffline_FailsWithXmppOffline_WhenTheConnectionDoesNotComeBackInTime_OrTooManyWait()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var prosody = await ProsodyServer.StartAsync("SHA-256", Accounts);
        await using var relay = new TcpRelay(prosody.Port) { Refusing = true };
        var options = new XmppConnectionOptions
        {
            Client = prosody.Options("alice", "alice-secret", "a") with { Port = relay.Port, Timeout = TimeSpan.FromSeconds(1) },
            Backoff = Fast,
            MaxWaitingSends = 1,
        };
        await using var alice = new XmppConnection(options);
        await alice.StartAsync(cancellationToken);

        var waiting = alice.PingAsync("xmpp.test", cancellationToken);
        var refused = await alice.PingAsync("xmpp.test", cancellationToken);
        var timedOut = await waiting;

        Assert.Equal("xmpp-offline", refused?.Code);
        Assert.Contains("already waiting", refused!.Detail, StringComparison.Ordinal);
        Assert.Equal("xmpp-offline", timedOut?.Code);
        Assert.Contains("did not come back in time", timedOut!.Detail, StringComparison.Ordinal);
        Assert.NotEqual(XmppConnectionState.Online, alice.State);
    }

    [Fact]
    public async Task Flood_EndsTheStreamWithPolicyViolation_AndTheConnectionComesBack()
    {
        var logger = new ListLogger();
        await HostileAsync(
            limits => limits with { MaxStanzasPerSecond = 10, FloodWindow = TimeSpan.FromSeconds(30) },
            async (bob, target, cancellationToken) =>
            {
                for (var n = 0; n < 400; n++)
                {
                    await bob.SendAsync(new XElement(XName.Get("presence", "jabber:client"), new XAttribute("to", target), Numbered(n)), cancellationToken);
                }
            },
            logger);

        Assert.Contains(logger.Messages, m => m.Contains("policy-violation", StringComparison.Ordinal) && m.Contains("stanzas a second", StringComparison.Ordinal));
    }

    [Fact]
    public async Task OversizedStanza_EndsTheStreamWithPolicyViolation_AndTheConnectionComesBack()
    {
        var logger = new ListLogger();
        await HostileAsync(
            limits => limits with { MaxStanzaBytes = 4096 },
            (bob, target, cancellationToken) => bob.SendAsync(new XElement(XName.Get("message", "jabber:client"), new XAttribute("to", target),
                new XElement(XName.Get("body", "jabber:client"), new string('x', 64 * 1024))), cancellationToken),
            logger);

        Assert.Contains(logger.Messages, m => m.Contains("policy-violation", StringComparison.Ordinal) && m.Contains("larger than 4096", StringComparison.Ordinal));
    }

    private static async Task HostileAsync(Func<XmppStreamLimits, XmppStreamLimits> limits, Func<XmppClient, string, CancellationToken, Task> attack, ListLogger logger)
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var prosody = await ProsodyServer.StartAsync("SHA-256", Accounts);
        var events = Channel.CreateUnbounded<string>();
        var clientOptions = prosody.Options("alice", "alice-secret", "a");
        await using var alice = new XmppConnection(Options(clientOptions with { Limits = limits(clientOptions.Limits) }, events), logger);
        await alice.StartAsync(cancellationToken);
        await NextAsync(events.Reader, e => e is "fresh", cancellationToken);
        var (bobClient, _) = await XmppClient.ConnectAsync(prosody.Options("bob", "bob-secret", "b"), cancellationToken);
        await using var bob = bobClient!;

        await attack(bob, alice.Jid!, cancellationToken);

        await NextAsync(events.Reader, e => e is "Offline", cancellationToken);
        await NextAsync(events.Reader, e => e is "Online", cancellationToken);
        Assert.Null(await alice.PingAsync("xmpp.test", cancellationToken));
    }

    private static XmppConnectionOptions Options(XmppClientOptions client, Channel<string> events) => new()
    {
        Client = client,
        Backoff = Fast,
        KeepAliveInterval = TimeSpan.FromSeconds(2),
        OnStateChanged = (_, state) => events.Writer.WriteAsync(state.ToString()).AsTask(),
        OnResumed = (_, token) => events.Writer.WriteAsync("resumed", token).AsTask(),
        OnFreshSession = (_, token) => events.Writer.WriteAsync("fresh", token).AsTask(),
    };

    private static async Task<XmppClient> ConnectObserverAsync(ProsodyServer prosody, Channel<XmppPresence> seen, CancellationToken cancellationToken)
    {
        var (client, error) = await XmppClient.ConnectAsync(prosody.Options("bob", "bob-secret", "b") with { OnPresence = p => seen.Writer.WriteAsync(p).AsTask() }, cancellationToken);
        Assert.Null(error);
        return client!;
    }

    private static XElement Numbered(int n) => new(Example + "n", n);

    private static int? Number(XmppPresence presence) => presence.Payload(Example + "n") is { } n ? int.Parse(n.Value, System.Globalization.CultureInfo.InvariantCulture) : null;

    private static async Task<T> NextAsync<T>(ChannelReader<T> reader, Func<T, bool> match, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        while (true)
        {
            var item = await reader.ReadAsync(timeout.Token);
            if (match(item))
            {
                return item;
            }
        }
    }
}

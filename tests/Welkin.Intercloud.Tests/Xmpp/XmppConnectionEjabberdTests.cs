using System.Threading.Channels;
using System.Xml.Linq;
using Welkin.Intercloud.Xmpp;
using Welkin.Testing.Xmpp;

namespace Welkin.Intercloud.Tests.Xmpp;

// Stream resumption against a second server implementation: ejabberd's mod_stream_mgmt.
public sealed class XmppConnectionEjabberdTests
{
    private static readonly XNamespace Example = "urn:example:sequence";
    private static readonly Dictionary<string, string> Accounts = new() { ["alice"] = "alice-secret", ["bob"] = "bob-secret" };

    [Fact]
    public async Task CutConnection_IsResumed_AndDirectedPresenceSentDuringTheCutArrivesOnceInOrder()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var ejabberd = await EjabberdServer.StartAsync(Accounts);
        await using var relay = new TcpRelay(ejabberd.Port);
        var seen = Channel.CreateUnbounded<XmppPresence>();
        var events = Channel.CreateUnbounded<string>();
        var options = new XmppConnectionOptions
        {
            Client = ejabberd.Options("alice", "alice-secret", "a") with { Port = relay.Port, OnPresence = p => seen.Writer.WriteAsync(p).AsTask() },
            Backoff = new XmppBackoff { Initial = TimeSpan.FromMilliseconds(200), Max = TimeSpan.FromSeconds(1) },
            OnStateChanged = (_, state) => events.Writer.WriteAsync(state.ToString()).AsTask(),
            OnResumed = (_, token) => events.Writer.WriteAsync("resumed", token).AsTask(),
            OnFreshSession = (_, token) => events.Writer.WriteAsync("fresh", token).AsTask(),
        };
        await using var alice = new XmppConnection(options);
        await alice.StartAsync(cancellationToken);
        var (bobClient, bobError) = await XmppClient.ConnectAsync(ejabberd.Options("bob", "bob-secret", "b"), cancellationToken);
        Assert.Null(bobError);
        await using var bob = bobClient!;
        await NextAsync(events.Reader, e => e is "fresh", cancellationToken);
        var jid = alice.Jid!;

        relay.Refusing = true;
        relay.Sever();
        await NextAsync(events.Reader, e => e is "Offline", cancellationToken);
        for (var n = 1; n <= 3; n++)
        {
            await bob.SendAsync(Directed(jid, n), cancellationToken);
        }

        Assert.Null(await bob.PingAsync(EjabberdServer.Domain, cancellationToken));
        relay.Refusing = false;
        Assert.Equal("resumed", await NextAsync(events.Reader, e => e is "resumed" or "fresh", cancellationToken));
        await bob.SendAsync(Directed(jid, 4), cancellationToken);

        var numbers = new List<int>();
        while (numbers.LastOrDefault() != 4)
        {
            var presence = await NextAsync(seen.Reader, p => p.Payload(Example + "n") is not null, cancellationToken);
            numbers.Add(int.Parse(presence.Payload(Example + "n")!.Value, System.Globalization.CultureInfo.InvariantCulture));
        }

        Assert.Equal([1, 2, 3, 4], numbers);
        Assert.Equal(jid, alice.Jid);
    }

    private static XElement Directed(string to, int n) =>
        new(XName.Get("presence", "jabber:client"), new XAttribute("to", to), new XElement(Example + "n", n));

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

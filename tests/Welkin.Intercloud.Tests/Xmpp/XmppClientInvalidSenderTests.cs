using System.Collections.Concurrent;
using Welkin.Intercloud.Xmpp;
using Welkin.Testing;

namespace Welkin.Intercloud.Tests.Xmpp;

// RFC 7622: a stanza whose from is not an address is dropped and logged; it never reaches a handler
// and an IQ request from it gets no answer, while valid senders are served as before.
public sealed class XmppClientInvalidSenderTests
{
    [Fact]
    public async Task StanzasFromInvalidAddresses_AreDroppedAndLogged_ValidOnesAreServed()
    {
        FakeXmppServer? server = null;
        await using var fake = server = new FakeXmppServer(async (stream, token) =>
        {
            await FakeXmppServer.WriteAsync(stream,
                "<presence from='foo bar@xmpp.test/x'/>"
                + "<presence from='&quot;rogue&quot;@xmpp.test/x' type='subscribe'/>"
                + "<iq type='get' id='bad1' from='rogue@xmpp.test/'><ping xmlns='urn:xmpp:ping'/></iq>"
                + "<iq type='set' id='bad2' from='rogue@exa mple'><query xmlns='urn:welkin:test'/></iq>"
                + "<presence from='Bob@XMPP.test/b'/>"
                + "<iq type='get' id='good' from='bob@xmpp.test/b'><ping xmlns='urn:xmpp:ping'/></iq>", token);
            await server!.ReadTextAsync(stream, token);
        });
        var logger = new ListLogger();
        var presences = new ConcurrentQueue<XmppPresence>();
        var handled = 0;
        var client = fake.Options() with
        {
            Timeout = TimeSpan.FromSeconds(3),
            OnPresence = p =>
            {
                presences.Enqueue(p);
                return Task.CompletedTask;
            },
            IqHandlers = new Dictionary<System.Xml.Linq.XName, XmppIqHandler>
            {
                [System.Xml.Linq.XName.Get("query", "urn:welkin:test")] = (_, _) =>
                {
                    Interlocked.Increment(ref handled);
                    return Task.FromResult(XmppIqAnswer.Result());
                },
            },
        };
        await using var connection = new XmppConnection(new XmppConnectionOptions { Client = client }, logger);
        await connection.StartAsync(TestContext.Current.CancellationToken);
        await Polling.UntilAsync(() => Task.FromResult(!presences.IsEmpty), "the valid presence arrives", TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(50));

        await connection.CloseAsync(TestContext.Current.CancellationToken);

        await Polling.UntilAsync(() => Task.FromResult(!fake.Received.IsEmpty), "the fake server saw the stream end", TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(50));
        var sent = fake.Received.First();
        var presence = Assert.Single(presences);
        Assert.Equal("bob@xmpp.test", presence.BareFrom);
        Assert.Equal(0, Volatile.Read(ref handled));
        Assert.Contains("<iq id=\"good\" to=\"bob@xmpp.test/b\" type=\"result\"", sent, StringComparison.Ordinal);
        Assert.DoesNotContain("bad1", sent, StringComparison.Ordinal);
        Assert.DoesNotContain("bad2", sent, StringComparison.Ordinal);
        Assert.Equal(4, logger.Messages.Count(m => m.StartsWith("Warning: Dropped a stanza", StringComparison.Ordinal)));
        Assert.Contains(logger.Messages, m => m.Contains("Dropped a stanza (iq) from an invalid XMPP address: the resourcepart is empty", StringComparison.Ordinal));
    }
}

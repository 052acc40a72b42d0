using Welkin.Intercloud.Xmpp;
using Welkin.Testing;

namespace Welkin.Intercloud.Tests.Xmpp;

// A server that misbehaves after the login: the client ends the stream with the right stream error,
// logs it, and the connection logs in again; nothing is thrown.
public sealed class XmppConnectionHostileServerTests
{
    private static readonly XmppBackoff Fast = new() { Initial = TimeSpan.FromMilliseconds(100), Max = TimeSpan.FromMilliseconds(500) };

    [Theory]
    [InlineData("<message><body>unclosed</message>", "not-well-formed")]
    [InlineData("<message><body>&undefined;</body></message>", "not-well-formed")]
    [InlineData("<message><!-- a comment --></message>", "restricted-xml")]
    [InlineData("<message><?pi data?></message>", "restricted-xml")]
    public async Task MalformedOrRestrictedXml_EndsTheStreamWithItsStreamError_AndTheConnectionLogsInAgain(string hostile, string condition)
    {
        FakeXmppServer? server = null;
        await using var fake = server = new FakeXmppServer(async (stream, token) =>
        {
            if (server!.Logins == 1)
            {
                await FakeXmppServer.WriteAsync(stream, hostile, token);
            }

            await server.ReadTextAsync(stream, token);
        });
        var logger = new ListLogger();
        await using var connection = new XmppConnection(new XmppConnectionOptions { Client = fake.Options() with { Timeout = TimeSpan.FromSeconds(3) }, Backoff = Fast }, logger);

        await connection.StartAsync(TestContext.Current.CancellationToken);

        await Polling.UntilAsync(() => Task.FromResult(fake.Logins >= 2 && connection.State == XmppConnectionState.Online && !fake.Received.IsEmpty),
            "the connection logs in again", TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(50));
        Assert.Contains($"<stream:error><{condition} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>", fake.Received.First(), StringComparison.Ordinal);
        Assert.Contains(logger.Messages, m => m.StartsWith("Warning", StringComparison.Ordinal) && m.Contains(condition, StringComparison.Ordinal));
    }

    [Fact]
    public async Task KeepAlivePingUnanswered_DropsTheStream_AndTheConnectionLogsInAgain()
    {
        FakeXmppServer? server = null;
        await using var fake = server = new FakeXmppServer((stream, token) => server!.ReadTextAsync(stream, token));
        var logger = new ListLogger();
        var options = new XmppConnectionOptions { Client = fake.Options() with { Timeout = TimeSpan.FromSeconds(2) }, Backoff = Fast, KeepAliveInterval = TimeSpan.FromMilliseconds(300) };
        await using var connection = new XmppConnection(options, logger);

        await connection.StartAsync(TestContext.Current.CancellationToken);

        await Polling.UntilAsync(() => Task.FromResult(fake.Logins >= 2 && connection.State == XmppConnectionState.Online && !fake.Received.IsEmpty),
            "the connection logs in again", TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(50));
        Assert.Contains(fake.Received, text => text.Contains("urn:xmpp:ping", StringComparison.Ordinal));
        Assert.Contains(logger.Messages, m => m.Contains("xmpp-keepalive-unanswered", StringComparison.Ordinal));
    }

    [Fact]
    public async Task UnacknowledgedStanzasBeyondTheLimit_EndTheStreamWithPolicyViolation_AndAFreshLoginFollows()
    {
        FakeXmppServer? server = null;
        await using var fake = server = new FakeXmppServer((stream, token) => server!.ReadTextAsync(stream, token), streamManagement: true);
        var logger = new ListLogger();
        var client = fake.Options() with { Timeout = TimeSpan.FromSeconds(3), Limits = new XmppStreamLimits { MaxUnacknowledged = 5 } };
        await using var connection = new XmppConnection(new XmppConnectionOptions { Client = client, Backoff = Fast }, logger);
        await connection.StartAsync(TestContext.Current.CancellationToken);

        for (var n = 0; n < 5; n++)
        {
            await connection.SendPresenceAsync([], TestContext.Current.CancellationToken);
        }

        await Polling.UntilAsync(() => Task.FromResult(fake.Logins >= 2 && connection.State == XmppConnectionState.Online && !fake.Received.IsEmpty),
            "the connection logs in again", TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(50));
        var first = fake.Received.First();
        Assert.Contains("<r xmlns=\"urn:xmpp:sm:3\" />", first, StringComparison.Ordinal);
        Assert.EndsWith("<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>", first, StringComparison.Ordinal);
        Assert.Contains(logger.Messages, m => m.Contains("more than 5 stanzas unacknowledged", StringComparison.Ordinal));
        Assert.DoesNotContain(logger.Messages, m => m.Contains("resuming the session", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AckRequest_IsAnsweredWithTheCountOfHandledStanzas_NotCountingNonzas()
    {
        FakeXmppServer? server = null;
        await using var fake = server = new FakeXmppServer(async (stream, token) =>
        {
            await FakeXmppServer.WriteAsync(stream, "<message from='bob@xmpp.test/b'><body>1</body></message><r xmlns='urn:xmpp:sm:3'/>"
                + "<presence from='bob@xmpp.test/b'/><iq type='get' id='p1' from='xmpp.test'><ping xmlns='urn:xmpp:ping'/></iq><r xmlns='urn:xmpp:sm:3'/>", token);
            await server!.ReadTextAsync(stream, token);
        }, streamManagement: true);
        var client = fake.Options() with { Timeout = TimeSpan.FromSeconds(3) };
        await using var connection = new XmppConnection(new XmppConnectionOptions { Client = client, Backoff = Fast });
        await connection.StartAsync(TestContext.Current.CancellationToken);
        await Polling.UntilAsync(() => Task.FromResult(connection.State == XmppConnectionState.Online), "the connection is online", TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(50));

        await connection.CloseAsync(TestContext.Current.CancellationToken);

        await Polling.UntilAsync(() => Task.FromResult(!fake.Received.IsEmpty), "the fake server saw the stream end", TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(50));
        var sent = fake.Received.First();
        var first = sent.IndexOf("<a h=\"1\" xmlns=\"urn:xmpp:sm:3\" />", StringComparison.Ordinal);
        var second = sent.IndexOf("<a h=\"3\" xmlns=\"urn:xmpp:sm:3\" />", StringComparison.Ordinal);
        Assert.True(first >= 0 && second > first, sent);
        Assert.Contains("<iq id=\"p1\" to=\"xmpp.test\" type=\"result\"", sent, StringComparison.Ordinal);
    }
}

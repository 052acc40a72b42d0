using System.Threading.Channels;
using System.Xml.Linq;
using Welkin.Intercloud.Xmpp;
using Welkin.Testing.Xmpp;

namespace Welkin.Intercloud.Tests.Xmpp;

// Presence subscriptions (RFC 6121) and IQ handlers for an application's own payloads, against a real Prosody.
public sealed class XmppPresenceProsodyTests
{
    private static readonly XNamespace Example = "urn:example:capacity";
    private static readonly Dictionary<string, string> Accounts = new() { ["alpha"] = "alpha-secret", ["beta"] = "beta-secret" };

    [Fact]
    public async Task Subscription_ApprovedByTheContact_DeliversItsPresenceWithPayload()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var prosody = await ProsodyServer.StartAsync("SHA-256", Accounts);
        var alphaSeen = Channel.CreateUnbounded<XmppPresence>();
        var betaSeen = Channel.CreateUnbounded<XmppPresence>();
        var (alphaClient, _) = await XmppClient.ConnectAsync(prosody.Options("alpha", "alpha-secret", "a") with { OnPresence = p => alphaSeen.Writer.WriteAsync(p).AsTask() }, cancellationToken);
        var (betaClient, _) = await XmppClient.ConnectAsync(prosody.Options("beta", "beta-secret", "b") with { OnPresence = p => betaSeen.Writer.WriteAsync(p).AsTask() }, cancellationToken);
        await using var alpha = alphaClient!;
        await using var beta = betaClient!;

        await alpha.SubscribeAsync("beta@xmpp.test", cancellationToken);
        var request = await NextAsync(betaSeen.Reader, p => p.Type == "subscribe", cancellationToken);
        Assert.Equal("alpha@xmpp.test", request.BareFrom);
        await beta.ApproveSubscriptionAsync(request.BareFrom, cancellationToken);
        await beta.SendPresenceAsync([new XElement(Example + "free", new XAttribute("vcpus", 12))], cancellationToken);

        var seen = await NextAsync(alphaSeen.Reader, p => p.Type is null && p.Payload(Example + "free") is not null, cancellationToken);
        Assert.Equal("beta@xmpp.test/b", seen.From);
        Assert.Equal("12", seen.Payload(Example + "free")!.Attribute("vcpus")!.Value);

        await beta.CloseAsync(cancellationToken);
        var gone = await NextAsync(alphaSeen.Reader, p => p.Type == "unavailable", cancellationToken);
        Assert.Equal("beta@xmpp.test/b", gone.From);
    }

    [Fact]
    public async Task IqHandler_AnswersItsPayload_AndItsErrorsReachTheRequester_WhileOthersStayUnavailable()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var prosody = await ProsodyServer.StartAsync("SHA-256", Accounts);
        var handlers = new Dictionary<XName, XmppIqHandler>
        {
            [Example + "query"] = (request, _) => Task.FromResult(request.Payload.Attribute("region")?.Value == "eu"
                ? XmppIqAnswer.Result(new XElement(Example + "answer", new XAttribute("from", request.From), new XAttribute("vcpus", 8)))
                : XmppIqAnswer.Error("modify", "bad-request", "unknown region")),
        };
        var (alphaClient, _) = await XmppClient.ConnectAsync(prosody.Options("alpha", "alpha-secret", "a"), cancellationToken);
        var (betaClient, _) = await XmppClient.ConnectAsync(prosody.Options("beta", "beta-secret", "b") with { IqHandlers = handlers, Features = [Example.NamespaceName] }, cancellationToken);
        await using var alpha = alphaClient!;
        await using var beta = betaClient!;

        var (answer, error) = await alpha.QueryAsync(beta.Jid, "get", new XElement(Example + "query", new XAttribute("region", "eu")), cancellationToken);
        var (_, refused) = await alpha.QueryAsync(beta.Jid, "get", new XElement(Example + "query", new XAttribute("region", "mars")), cancellationToken);
        var (info, _) = await alpha.QueryAsync(beta.Jid, "get", new XElement(XName.Get("query", "http://jabber.org/protocol/disco#info")), cancellationToken);

        Assert.Null(error);
        var payload = answer!.Element(Example + "answer")!;
        Assert.Equal(alpha.Jid, payload.Attribute("from")!.Value);
        Assert.Equal("8", payload.Attribute("vcpus")!.Value);
        Assert.Contains("bad-request", refused!.Detail, StringComparison.Ordinal);
        Assert.Contains(info!.Descendants(), e => e.Attribute("var")?.Value == Example.NamespaceName);
    }

    [Fact]
    public async Task IqHandler_StillWorking_DoesNotHoldUpTheOtherStanzasOfItsStream()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var prosody = await ProsodyServer.StartAsync("SHA-256", Accounts);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handlers = new Dictionary<XName, XmppIqHandler>
        {
            [Example + "query"] = async (_, ct) =>
            {
                await release.Task.WaitAsync(ct);
                return XmppIqAnswer.Result(new XElement(Example + "answer"));
            },
        };
        var (alphaClient, _) = await XmppClient.ConnectAsync(prosody.Options("alpha", "alpha-secret", "a"), cancellationToken);
        var (betaClient, _) = await XmppClient.ConnectAsync(prosody.Options("beta", "beta-secret", "b") with { IqHandlers = handlers }, cancellationToken);
        await using var alpha = alphaClient!;
        await using var beta = betaClient!;

        var slow = alpha.QueryAsync(beta.Jid, "get", new XElement(Example + "query"), cancellationToken);
        var ping = await alpha.PingAsync(beta.Jid, cancellationToken);
        var (info, infoError) = await alpha.QueryAsync(beta.Jid, "get", new XElement(XName.Get("query", "http://jabber.org/protocol/disco#info")), cancellationToken);

        Assert.Null(ping);
        Assert.Null(infoError);
        Assert.NotNull(info);
        Assert.False(slow.IsCompleted);
        release.SetResult();
        var (answer, error) = await slow;
        Assert.Null(error);
        Assert.NotNull(answer!.Element(Example + "answer"));
    }

    private static async Task<XmppPresence> NextAsync(ChannelReader<XmppPresence> reader, Func<XmppPresence, bool> match, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        while (true)
        {
            var presence = await reader.ReadAsync(timeout.Token);
            if (match(presence))
            {
                return presence;
            }
        }
    }
}

using System.Threading.Channels;
using System.Xml.Linq;
using Welkin.Intercloud.Xmpp;
using Welkin.Testing.Xmpp;

namespace Welkin.Intercloud.Tests.Xmpp;

// XEP-0115 capabilities in presence and the XEP-0030 answers behind them, between two Welkin clients through Prosody.
public sealed class XmppDiscoProsodyTests
{
    private static readonly XNamespace Caps = "http://jabber.org/protocol/caps";
    private static readonly XNamespace Info = "http://jabber.org/protocol/disco#info";
    private static readonly XNamespace Items = "http://jabber.org/protocol/disco#items";
    private static readonly Dictionary<string, string> Accounts = new() { ["alpha"] = "alpha-secret", ["beta"] = "beta-secret" };

    [Fact]
    public async Task PresenceCapabilities_NameANodeWhoseDiscoInfoHashesToTheVer_AndDiscoItemsListTheConfiguredItems()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var prosody = await ProsodyServer.StartAsync("SHA-256", Accounts);
        var alphaSeen = Channel.CreateUnbounded<XmppPresence>();
        XmppClient? betaRef = null;
        var (alphaClient, _) = await XmppClient.ConnectAsync(prosody.Options("alpha", "alpha-secret", "a") with { OnPresence = p => alphaSeen.Writer.WriteAsync(p).AsTask() }, cancellationToken);
        var (betaClient, _) = await XmppClient.ConnectAsync(prosody.Options("beta", "beta-secret", "b") with
        {
            Features = ["urn:example:offers"],
            DiscoItems = [new XmppDiscoItem("beta@xmpp.test/b", "offers", "Offerings")],
            OnPresence = p => p.Type == "subscribe" ? betaRef!.ApproveSubscriptionAsync(p.BareFrom, CancellationToken.None) : Task.CompletedTask,
        }, cancellationToken);
        await using var alpha = alphaClient!;
        await using var beta = betaRef = betaClient!;

        await alpha.SubscribeAsync("beta@xmpp.test", cancellationToken);
        var presence = await NextAsync(alphaSeen.Reader, p => p.BareFrom == "beta@xmpp.test" && p.Type is null && p.Payload(Caps + "c") is not null, cancellationToken);
        var caps = presence.Payload(Caps + "c")!;
        var node = caps.Attribute("node")!.Value + "#" + caps.Attribute("ver")!.Value;
        var (info, infoError) = await alpha.QueryAsync(beta.Jid, "get", new XElement(Info + "query", new XAttribute("node", node)), cancellationToken);
        var (_, unknownError) = await alpha.QueryAsync(beta.Jid, "get", new XElement(Info + "query", new XAttribute("node", "https://elsewhere#x")), cancellationToken);
        var (items, itemsError) = await alpha.QueryAsync(beta.Jid, "get", new XElement(Items + "query"), cancellationToken);

        Assert.Equal("https://welkin.dev/federation", caps.Attribute("node")!.Value);
        Assert.Null(infoError);
        var query = info!.Element(Info + "query")!;
        Assert.Equal(node, query.Attribute("node")!.Value);
        var identities = query.Elements(Info + "identity").Select(i => new XmppIdentity(i.Attribute("category")!.Value, i.Attribute("type")!.Value, i.Attribute("name")?.Value));
        var features = query.Elements(Info + "feature").Select(f => f.Attribute("var")!.Value).ToList();
        Assert.Equal(caps.Attribute("ver")!.Value, XmppCapabilities.Ver(identities, features));
        Assert.Contains("urn:example:offers", features);
        Assert.Contains("item-not-found", unknownError!.Detail, StringComparison.Ordinal);
        Assert.Null(itemsError);
        var item = Assert.Single(items!.Element(Items + "query")!.Elements(Items + "item"));
        Assert.Equal("offers", item.Attribute("node")!.Value);
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

using Welkin.Intercloud.Xmpp;

namespace Welkin.Intercloud.Tests.Xmpp;

public sealed class XmppCapabilitiesTests
{
    [Fact]
    public void Ver_OfTheXep0115SimpleExample_IsTheSpecsHash()
    {
        // XEP-0115 5.2: "client/pc//Exodus 0.9.1<" and four features hash to this value.
        var ver = XmppCapabilities.Ver(
            [new XmppIdentity("client", "pc", "Exodus 0.9.1")],
            ["http://jabber.org/protocol/muc", "http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/caps", "http://jabber.org/protocol/disco#items"]);

        Assert.Equal("QgayPKawpkPSDYmwT/WM94uAlu0=", ver);
    }

    [Fact]
    public void Ver_DoesNotDependOnTheOrderOfIdentitiesAndFeatures()
    {
        XmppIdentity[] identities = [new("client", "pc", "Psi", "en"), new("client", "bot", "Welkin")];
        string[] features = ["urn:xmpp:ping", "http://jabber.org/protocol/caps", "urn:example:a"];

        Assert.Equal(XmppCapabilities.Ver(identities, features), XmppCapabilities.Ver(identities.Reverse(), features.Reverse()));
        Assert.NotEqual(XmppCapabilities.Ver(identities, features), XmppCapabilities.Ver(identities, features[..2]));
    }
}

using System.Xml.Linq;

namespace Welkin.Intercloud.Xmpp;

internal static class XmppNames
{
    public static readonly XNamespace Client = "jabber:client";
    public static readonly XNamespace Streams = XmlStanzaReader.StreamsNamespace;
    public static readonly XNamespace Tls = "urn:ietf:params:xml:ns:xmpp-tls";
    public static readonly XNamespace Sasl = "urn:ietf:params:xml:ns:xmpp-sasl";
    public static readonly XNamespace Bind = "urn:ietf:params:xml:ns:xmpp-bind";
    public static readonly XNamespace Stanzas = "urn:ietf:params:xml:ns:xmpp-stanzas";
    public static readonly XNamespace Ping = "urn:xmpp:ping";
    public static readonly XNamespace DiscoInfo = "http://jabber.org/protocol/disco#info";
    public static readonly XNamespace DiscoItems = "http://jabber.org/protocol/disco#items";
    public static readonly XNamespace Caps = "http://jabber.org/protocol/caps";
    public static readonly XNamespace Sm = "urn:xmpp:sm:3";
    public static readonly XNamespace StreamErrors = "urn:ietf:params:xml:ns:xmpp-streams";
}

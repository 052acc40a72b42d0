using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using static Welkin.Intercloud.Xmpp.XmppNames;

namespace Welkin.Intercloud.Xmpp;

/// <summary>An XEP-0030 identity: what kind of entity answers disco#info.</summary>
public sealed record XmppIdentity(string Category, string Type, string? Name = null, string? Lang = null);

/// <summary>An XEP-0030 disco#items entry.</summary>
public sealed record XmppDiscoItem(string Jid, string? Node = null, string? Name = null);

/// <summary>XEP-0115 entity capabilities: the verification string over an entity's disco#info.</summary>
public static class XmppCapabilities
{
    /// <summary>
    /// XEP-0115 5.1: identities sorted by category, type and xml:lang as "category/type/lang/name&lt;",
    /// then features sorted as "feature&lt;", hashed with SHA-1 and encoded in base64. Sorting is by
    /// octets (i;octet), as the XEP requires.
    /// </summary>
    public static string Ver(IEnumerable<XmppIdentity> identities, IEnumerable<string> features)
    {
        var text = new StringBuilder();
        foreach (var identity in identities.OrderBy(i => i.Category, StringComparer.Ordinal).ThenBy(i => i.Type, StringComparer.Ordinal)
                     .ThenBy(i => i.Lang ?? "", StringComparer.Ordinal))
        {
            text.Append(identity.Category).Append('/').Append(identity.Type).Append('/').Append(identity.Lang).Append('/').Append(identity.Name).Append('<');
        }

        foreach (var feature in features.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            text.Append(feature).Append('<');
        }

#pragma warning disable CA5350 // XEP-0115 fixes SHA-1 for the hash every client checks; it names capabilities, it protects nothing.
        return Convert.ToBase64String(SHA1.HashData(Encoding.UTF8.GetBytes(text.ToString())));
#pragma warning restore CA5350
    }

    internal static readonly XmppIdentity Identity = new("client", "bot", "Welkin");

    /// <summary>Everything this client answers: its own protocols and the application's.</summary>
    internal static IReadOnlyList<string> Features(XmppClientOptions options) =>
        [DiscoInfo.NamespaceName, DiscoItems.NamespaceName, Ping.NamespaceName, Caps.NamespaceName, .. options.Features];

    internal static XElement Element(XmppClientOptions options) =>
        new(Caps + "c", new XAttribute("hash", "sha-1"), new XAttribute("node", options.CapsNode), new XAttribute("ver", Ver([Identity], Features(options))));

    /// <summary>The disco#info answer: the same for the bare query and for the node#ver one (XEP-0115 6.2), which echoes its node.</summary>
    internal static XElement DiscoInfoAnswer(XmppClientOptions options, string? node) =>
        new(DiscoInfo + "query", node is null ? null : new XAttribute("node", node),
            new XElement(DiscoInfo + "identity", new XAttribute("category", Identity.Category), new XAttribute("type", Identity.Type), new XAttribute("name", Identity.Name!)),
            Features(options).Distinct(StringComparer.Ordinal).Select(feature => new XElement(DiscoInfo + "feature", new XAttribute("var", feature))));

    internal static bool IsOwnNode(XmppClientOptions options, string node) =>
        node == options.CapsNode + "#" + Ver([Identity], Features(options));

    internal static XElement DiscoItemsAnswer(XmppClientOptions options) =>
        new(DiscoItems + "query", options.DiscoItems.Select(item => new XElement(DiscoItems + "item", new XAttribute("jid", item.Jid),
            item.Node is null ? null : new XAttribute("node", item.Node), item.Name is null ? null : new XAttribute("name", item.Name))));
}

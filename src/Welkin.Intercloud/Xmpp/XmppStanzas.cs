using System.Xml.Linq;

namespace Welkin.Intercloud.Xmpp;

/// <summary>
/// A presence stanza that arrived (RFC 6121): availability when <see cref="Type"/> is null, else
/// "unavailable", "subscribe", "subscribed", "unsubscribe", "unsubscribed", "probe" or "error".
/// </summary>
public sealed record XmppPresence(string From, string? Type, XElement Stanza)
{
    /// <summary>The sender's bare address (localpart@domain), lower-cased as RFC 7622 compares it.</summary>
    public string BareFrom => XmppAddress.Bare(From);

    /// <summary>The first child element in <paramref name="name"/>'s namespace with that name, if any.</summary>
    public XElement? Payload(XName name) => Stanza.Element(name);
}

/// <summary>An IQ get or set addressed to this client, for a handler of its payload.</summary>
public sealed record XmppIqRequest(string From, string Type, XElement Payload);

/// <summary>What an IQ handler answers: a result (with an optional payload) or a stanza error (RFC 6120 8.3).</summary>
public sealed record XmppIqAnswer(XElement? Payload, string? ErrorType, string? Condition, string? Text)
{
    public bool IsError => Condition is not null;

    public static XmppIqAnswer Result(XElement? payload = null) => new(payload, null, null, null);

    /// <param name="type">RFC 6120 8.3.2: cancel, continue, modify, auth or wait.</param>
    /// <param name="condition">An RFC 6120 8.3.3 condition, e.g. bad-request, forbidden, item-not-found.</param>
    public static XmppIqAnswer Error(string type, string condition, string? text = null) => new(null, type, condition, text);
}

/// <summary>Answers IQ requests whose payload element has the name it is registered under.</summary>
public delegate Task<XmppIqAnswer> XmppIqHandler(XmppIqRequest request, CancellationToken cancellationToken);

/// <summary>RFC 7622 addresses, as far as Welkin compares them.</summary>
public static class XmppAddress
{
    /// <summary>localpart@domain of a full or bare address, lower-cased (Welkin's addresses are ASCII).</summary>
    public static string Bare(string address)
    {
        var slash = address.IndexOf('/', StringComparison.Ordinal);
        return (slash < 0 ? address : address[..slash]).ToLowerInvariant();
    }
}

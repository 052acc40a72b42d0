namespace Welkin.Intercloud.Xmpp;

/// <summary>
/// An expected failure of an XMPP exchange (authentication refused, a protocol violation, a limit
/// exceeded): a value with a stable code, never an exception's text.
/// </summary>
public sealed record XmppError(string Code, string Detail)
{
    /// <summary>What really went wrong, for a log only; never shown to a caller.</summary>
    public string? Cause { get; init; }

    /// <summary>The stanza error an IQ was answered with, when it was; null for any other failure.</summary>
    public XmppStanzaError? StanzaError { get; init; }

    public static XmppError Protocol(string detail) => new("xmpp-protocol", detail);
}

/// <summary>
/// An IQ's error answer (RFC 6120 8.3): its type, defined condition, the first application-specific
/// condition element (name and namespace) if any, and its text.
/// </summary>
public sealed record XmppStanzaError(string Type, string Condition, System.Xml.Linq.XName? Application, string? Text);

namespace Welkin.Intercloud.Xmpp;

/// <summary>
/// An expected failure of an XMPP exchange (authentication refused, a protocol violation, a limit
/// exceeded): a value with a stable code, never an exception's text.
/// </summary>
public sealed record XmppError(string Code, string Detail)
{
    /// <summary>What really went wrong, for a log only; never shown to a caller.</summary>
    public string? Cause { get; init; }

    public static XmppError Protocol(string detail) => new("xmpp-protocol", detail);
}

using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Welkin.Intercloud.Xmpp;

/// <summary>Where and as whom an <see cref="XmppClient"/> logs in, and whom it trusts.</summary>
public sealed record XmppClientOptions
{
    /// <summary>
    /// Children of the initial presence the client sends once logged in, beside its capabilities. A
    /// reconnecting <see cref="XmppConnection"/> puts its last presence here, so that no one sees it
    /// available without its payload in between.
    /// </summary>
    public IReadOnlyList<System.Xml.Linq.XElement> InitialPresence { get; init; } = [];

    /// <summary>The XMPP domain: the JID's domain part, and the name the server's certificate must carry.</summary>
    public required string Domain { get; init; }

    /// <summary>The host to connect to; the domain itself when null.</summary>
    public string? Host { get; init; }

    public int Port { get; init; } = 5222;

    public required string Username { get; init; }

    public required string Password { get; init; }

    public string Resource { get; init; } = "welkin";

    /// <summary>
    /// The certificates (CAs, or a pinned server certificate) the server's certificate must chain to;
    /// the machine's store is not consulted, and there is no way to accept any certificate.
    /// </summary>
    public required X509Certificate2Collection TrustAnchors { get; init; }

    /// <summary>How long the login, and each IQ request, may wait for the server.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    public XmppStreamLimits Limits { get; init; } = new();

    /// <summary>Called with every presence stanza that arrives; the read loop waits for it, so keep it short.</summary>
    public Func<XmppPresence, Task>? OnPresence { get; init; }

    /// <summary>
    /// Handlers of IQ get/set requests by the name of their payload element. Ping and disco#info are
    /// answered by the client itself; any other request is answered with service-unavailable.
    /// </summary>
    public IReadOnlyDictionary<System.Xml.Linq.XName, XmppIqHandler> IqHandlers { get; init; } = new Dictionary<System.Xml.Linq.XName, XmppIqHandler>();

    /// <summary>Features (namespaces) advertised in disco#info besides disco#info, disco#items, ping and caps: those of the handlers.</summary>
    public IReadOnlyList<string> Features { get; init; } = [];

    /// <summary>XEP-0115: the node every presence names in its capabilities, a URI of the software.</summary>
    public string CapsNode { get; init; } = "https://welkin.dev/federation";

    /// <summary>XEP-0030 disco#items: what this client lists; none by default.</summary>
    public IReadOnlyList<XmppDiscoItem> DiscoItems { get; init; } = [];

    /// <summary>Where the client says what it did (stream errors, floods, acknowledgements); never passwords.</summary>
    public ILogger Logger { get; init; } = NullLogger.Instance;

    /// <summary>The trust anchors in a PEM file (one or more certificates).</summary>
    public static X509Certificate2Collection LoadTrustAnchors(string pemFile)
    {
        var anchors = new X509Certificate2Collection();
        anchors.ImportFromPemFile(pemFile);
        return anchors;
    }
}

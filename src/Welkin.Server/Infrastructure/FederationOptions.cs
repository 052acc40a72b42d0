namespace Welkin.Server.Infrastructure;

/// <summary>
/// Section "Federation": this cloud's place in a federation of clouds. Federation is off unless
/// <see cref="Address"/> is set; a cloud without it starts and runs with no XMPP server.
/// </summary>
public sealed class FederationOptions
{
    /// <summary>True when the section names an XMPP address: the cloud then joins its federation.</summary>
    public bool Enabled => !string.IsNullOrWhiteSpace(Address);

    /// <summary>The cloud's federation name, as in its certificate's subject (CN), e.g. "ProviderCo-US".</summary>
    public string? Name { get; set; }

    /// <summary>The cloud's bare XMPP address on the Intercloud exchange, e.g. "provider-us@exchange.example".</summary>
    public string? Address { get; set; }

    /// <summary>The XMPP password; prefer <see cref="PasswordFile"/>, which keeps it out of configuration files and process lists.</summary>
    public string? Password { get; set; }

    /// <summary>A file holding the XMPP password (its first line).</summary>
    public string? PasswordFile { get; set; }

    /// <summary>The XMPP resource this cloud binds (default "welkin").</summary>
    public string Resource { get; set; } = "welkin";

    /// <summary>The exchange's host to connect to; the address's domain when null.</summary>
    public string? ExchangeHost { get; set; }

    public int ExchangePort { get; set; } = 5222;

    /// <summary>PEM file of the certificates the exchange's TLS certificate must chain to (its CA, or the pinned certificate).</summary>
    public string? ExchangeTrust { get; set; }

    /// <summary>The federation CA certificate (ca.pem from <c>welkin-server federation ca init</c>).</summary>
    public string? CaCertificate { get; set; }

    /// <summary>The federation CA's current CRL (PEM or DER); re-read when the file changes.</summary>
    public string? Crl { get; set; }

    /// <summary>This cloud's certificate and private key (PEM) from <c>welkin-server federation ca issue</c>.</summary>
    public string? Certificate { get; set; }

    public string? CertificateKey { get; set; }

    /// <summary>
    /// The URL peers call this cloud at: the federation listener's public URL, which must be the API
    /// URL in this cloud's certificate, e.g. "https://us.provider.example:8443/api/v1".
    /// </summary>
    public string? Url { get; set; }

    /// <summary>Where the federation listener (mutual TLS) listens, e.g. "127.0.0.1:8443"; no listener when null.</summary>
    public string? Listen { get; set; }

    /// <summary>The peers' bare XMPP addresses this cloud subscribes to at start; others are learnt when they subscribe.</summary>
    public List<string> Peers { get; set; } = [];

    /// <summary>How often unanswered agreement proposals are sent again and agreements' peer certificates checked against the CRL.</summary>
    public TimeSpan AgreementCheckInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often this cloud, as a provider, tells consumer clouds that machines of theirs changed state (urn:welkin:federation:machines:1).</summary>
    public TimeSpan MachineNoticeInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The shortest interval between two presence updates (capacity changes in between are merged).</summary>
    public TimeSpan PresenceInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often the capacity summary is computed to see whether it changed: the delay before a change is published, when the last publication is over PresenceInterval old.</summary>
    public TimeSpan CapacityCheckInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// How old (or how far ahead of this cloud's clock) a peer's signed presence may be; an older one is
    /// a replay. This cloud re-signs its own presence after half of it even when nothing changed.
    /// </summary>
    public TimeSpan PresenceMaxAge { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How often an online peer is pinged (XEP-0199); a peer that does not answer is marked offline.</summary>
    public TimeSpan PeerPingInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a peer's ping answer may take.</summary>
    public TimeSpan PeerPingTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How many presences (and, apart, subscription requests) one sender may send at once; beyond
    /// that, and beyond <see cref="PresenceRate"/>, they are dropped before their signature is checked.
    /// </summary>
    public int PresenceBurst { get; set; } = 20;

    /// <summary>How many presences (and, apart, subscription requests) a second one sender may send in the long run.</summary>
    public double PresenceRate { get; set; } = 5;

    /// <summary>How many SPARQL queries one peer may send at once; beyond that, and beyond <see cref="QueryRate"/>, they are refused with resource-constraint.</summary>
    public int QueryBurst { get; set; } = 20;

    /// <summary>How many SPARQL queries a second one peer may send in the long run.</summary>
    public double QueryRate { get; set; } = 10;

    /// <summary>How long a federated selection or query waits for each peer's answer.</summary>
    public TimeSpan PeerQueryTimeout { get; set; } = TimeSpan.FromSeconds(3);
}

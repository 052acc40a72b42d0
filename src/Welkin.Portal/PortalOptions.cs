namespace Welkin.Portal;

/// <summary>The portal's settings (configuration section <c>Portal</c>).</summary>
public sealed class PortalOptions
{
    public const string Section = "Portal";

    /// <summary>
    /// Where the portal reaches this cloud's API. Empty: the server's own first listening address, with a
    /// wildcard host replaced by loopback. Set it when the server listens only on TLS with a certificate
    /// for a name, so that the portal's calls validate.
    /// </summary>
    public string? ApiEndpoint { get; set; }

    /// <summary>
    /// Other clouds a person may add to a session beside this one, by name ("Clouds:0:Name", "Clouds:0:Endpoint").
    /// Only these: the portal never calls an address a browser chose, so it cannot be turned against the
    /// provider's internal network.
    /// </summary>
    public List<PortalCloudOption> Clouds { get; set; } = [];

    /// <summary>A session unused this long is forgotten.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>A session older than this is forgotten however active it is.</summary>
    public TimeSpan AbsoluteTimeout { get; set; } = TimeSpan.FromHours(12);

    /// <summary>Sessions held at once; the least recently used goes first beyond it.</summary>
    public int MaxSessions { get; set; } = 10_000;

    /// <summary>
    /// Where noVNC is (Debian's package <c>novnc</c>, 1.3): served at <c>/novnc/</c> for machines' consoles. When it is
    /// absent, the console page says the console is not available on this server.
    /// </summary>
    public string NoVncPath { get; set; } = "/usr/share/novnc";
}

public sealed class PortalCloudOption
{
    public string Name { get; set; } = "";

    public string Endpoint { get; set; } = "";
}

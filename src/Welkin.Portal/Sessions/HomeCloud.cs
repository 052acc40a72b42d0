using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace Welkin.Portal.Sessions;

/// <summary>
/// Where the portal reaches the API of the cloud that serves it: <see cref="PortalOptions.ApiEndpoint"/>, or the
/// server's own first listening address (plain HTTP preferred, a wildcard host replaced by loopback).
/// </summary>
public sealed class HomeCloud(IOptions<PortalOptions> options, IServer server)
{
    /// <summary>The cloud's name in a session: the first one is always "home".</summary>
    public const string Name = "home";

    private Uri? _endpoint;

    public Uri Endpoint => _endpoint ??= Resolve();

    private Uri Resolve()
    {
        if (options.Value.ApiEndpoint is { Length: > 0 } configured)
        {
            return new Uri(configured);
        }
        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        var address = addresses.FirstOrDefault(a => a.StartsWith("http://", StringComparison.Ordinal)) ?? addresses.FirstOrDefault()
            ?? throw new InvalidOperationException("The server listens nowhere the portal could reach its API; set Portal:ApiEndpoint.");
        var uri = new UriBuilder(address.Replace("://+", "://localhost", StringComparison.Ordinal).Replace("://*", "://localhost", StringComparison.Ordinal));
        if (uri.Host is "0.0.0.0" or "localhost")
        {
            uri.Host = "127.0.0.1";
        }
        else if (uri.Host is "[::]" or "::")
        {
            uri.Host = "[::1]";
        }
        return uri.Uri;
    }
}

/// <summary>
/// Tells this cloud's API, and only it, the browser's address behind a portal call, so that the per-address
/// limit on logins and sign-ups counts each person and not the portal as one client. The header carries a
/// random key of this process: nobody outside it can forge the forwarded address.
/// </summary>
public sealed class PortalForwarding
{
    public const string KeyHeader = "X-Welkin-Portal-Key";
    public const string ClientHeader = "X-Welkin-Portal-Client";

    public string Key { get; } = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    /// <summary>The browser's address when <paramref name="key"/> is this process's key; null otherwise.</summary>
    public string? ClientOf(string? key, string? client) =>
        key is not null && client is { Length: > 0 and <= 64 }
        && System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(System.Text.Encoding.ASCII.GetBytes(key), System.Text.Encoding.ASCII.GetBytes(Key))
            ? client
            : null;
}

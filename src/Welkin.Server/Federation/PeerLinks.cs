using System.Collections.Concurrent;
using System.Security.Cryptography.X509Certificates;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Federation;
using Welkin.Intercloud.Federation;
using Welkin.Intercloud.Trust;

namespace Welkin.Server.Federation;

/// <summary>
/// The links to the peers this cloud consumes: from its consumer-side agreements in force (the peer's API URL,
/// the certificate-bound credential, the contracts), the peer's trust and presence, and an HTTP client per peer
/// that presents this cloud's federation certificate and accepts only the peer's own certificate (the one the
/// agreement was made with, chained to the federation CA and not revoked). The clients are kept and reused.
/// </summary>
public sealed class PeerLinks(IServiceProvider services, AgreementStore agreements, PeerStore peers) : IPeerLinks, IDisposable
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<string, HttpClient> _clients = new(StringComparer.Ordinal);

    public static Error Unavailable(string peer, string why) => new("peer-unavailable", ErrorKind.Conflict, $"Peer '{peer}' cannot serve this cloud now: {why}.");

    public async Task<Result<PeerLink>> GetAsync(string peer, CancellationToken ct)
    {
        if (services.GetService<FederationCredentials>() is not { } credentials)
        {
            return Unavailable(peer, "federation is off on this cloud");
        }
        var row = (await agreements.InForceAsync(peer, null, ct))
            .FirstOrDefault(r => r.ParsedSide == AgreementSide.Consumer && r.PeerName == peer && r.Credential is not null);
        if (row is null)
        {
            return Unavailable(peer, "this cloud has no agreement in force with it");
        }
        var known = await peers.FindAsync(peer, ct);
        if (!known.IsSuccess || known.Value.Trust != PeerTrustState.Trusted || known.Value.Fingerprint != row.PeerFingerprint)
        {
            return Unavailable(peer, "it is not trusted");
        }
        if (!Uri.TryCreate(row.ApiUrl, UriKind.Absolute, out var api))
        {
            return Unavailable(peer, "its agreement names no API URL");
        }
        var http = _clients.GetOrAdd(row.PeerFingerprint, fingerprint => new HttpClient(Pinned(credentials, fingerprint)) { Timeout = CallTimeout });
        return new PeerLink(peer, row.Id, api, http, row.Credential!, row.ParsedContractIds, row.ParsedTerms, known.Value.Online, known.Value.Capacity);
    }

    /// <summary>The federation's peer handler, narrowed to the one certificate the agreement was made with.</summary>
    private static SocketsHttpHandler Pinned(FederationCredentials credentials, string fingerprint)
    {
        var handler = credentials.CreatePeerHandler();
        var verify = handler.SslOptions.RemoteCertificateValidationCallback!;
        handler.SslOptions.RemoteCertificateValidationCallback = (sender, certificate, chain, errors) =>
            verify(sender, certificate, chain, errors) && certificate is X509Certificate2 server && CloudPresence.FingerprintOf(server.RawData) == fingerprint;
        return handler;
    }

    public void Dispose()
    {
        foreach (var client in _clients.Values)
        {
            client.Dispose();
        }
    }
}

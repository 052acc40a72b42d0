using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections;
using Welkin.Core.Audit;
using Welkin.Core.Security;
using Welkin.Intercloud.Trust;

namespace Welkin.Server.Federation;

/// <summary>Set on a connection that came in through the federation listener and completed its mutual TLS handshake.</summary>
public sealed class FederationConnectionFeature
{
    public static readonly FederationConnectionFeature Instance = new();
}

/// <summary>
/// Decides which client certificates the federation listener accepts: those the federation CA issued,
/// valid now and absent from the CRL in force (<see cref="FederationCredentials.Verifier"/>, which re-reads
/// the CRL file when it changes, so a revocation refuses the next connection without a restart). Every
/// refused handshake is logged and audited as an anonymous refusal.
/// </summary>
public sealed class FederationListener(FederationCredentials credentials, RefusalAudit refusals, ILogger<FederationListener> logger)
{
    public const string HandshakeAction = "federation.handshake";

    // Kestrel's certificate callback knows nothing of the connection; the handshake runs inside the
    // connection middleware's asynchronous flow, so the callback leaves its verdict here for it.
    private static readonly AsyncLocal<Handshake?> s_handshake = new();

    public bool Accept(X509Certificate2 certificate)
    {
        var verdict = credentials.Verifier.VerifyCertificate(certificate);
        if (!verdict.IsTrusted && s_handshake.Value is { } handshake)
        {
            handshake.Refusal = verdict;
        }
        return verdict.IsTrusted;
    }

    /// <summary>Connection middleware before TLS: audits a connection whose handshake did not complete.</summary>
    public ConnectionDelegate AuditRefusedHandshakes(ConnectionDelegate next) => async connection =>
    {
        var handshake = new Handshake();
        s_handshake.Value = handshake;
        await next(connection);
        if (connection.Features.Get<FederationConnectionFeature>() is not null)
        {
            return;
        }
        var (kind, reason) = handshake.Refusal is { } refusal
            ? (refusal.Kind.ToString(), refusal.Reason)
            : ("NoCertificate", "the TLS handshake ended before a client certificate was accepted (none was presented, or the handshake failed)");
        var address = connection.RemoteEndPoint?.ToString() ?? "unknown";
        logger.LogWarning("The federation listener refused a connection from {Address}: {Reason}", address, reason);
        var entry = new AuditEvent(HandshakeAction, "federation-listener/" + kind, AuditEvent.Denied, null, reason);
        await refusals.RecordAsync(Caller.Anonymous(connection.ConnectionId), entry, address, CancellationToken.None);
    };

    /// <summary>Connection middleware after TLS: marks the connection, which only the listener's routes answer.</summary>
    public static ConnectionDelegate MarkConnections(ConnectionDelegate next) => connection =>
    {
        connection.Features.Set(FederationConnectionFeature.Instance);
        return next(connection);
    };

    private sealed class Handshake
    {
        public PeerVerdict? Refusal { get; set; }
    }
}

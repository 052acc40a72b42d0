using System.Xml.Linq;
using Welkin.Intercloud.Xmpp;

namespace Welkin.Server.Federation;

/// <summary>
/// This cloud's connection to the Intercloud exchange, kept up by an <see cref="XmppConnection"/>: after
/// a lost stream it resumes the session (XEP-0198) when the exchange still holds it, so nothing sent
/// either way in between is lost, and else logs in afresh and calls <c>onFreshSession</c> (to subscribe
/// and publish). <see cref="LostAt"/> says since when the link has been down. The one place that knows
/// how the link is kept.
/// </summary>
public sealed class ExchangeLink : IAsyncDisposable
{
    private readonly XmppConnection _connection;
    private readonly TimeProvider _clock;
    private DateTimeOffset? _lostAt;

    public ExchangeLink(XmppClientOptions options, Func<CancellationToken, Task> onFreshSession, TimeProvider clock, ILogger logger)
    {
        _clock = clock;
        _connection = new XmppConnection(new XmppConnectionOptions
        {
            Client = options,
            OnFreshSession = (_, ct) => onFreshSession(ct),
            OnStateChanged = (_, state) =>
            {
                _lostAt = state == XmppConnectionState.Online ? null : _lostAt ?? _clock.GetUtcNow();
                return Task.CompletedTask;
            },
        }, logger);
        _lostAt = clock.GetUtcNow();
    }

    public bool IsConnected => _connection.State == XmppConnectionState.Online;

    /// <summary>True while no login is under way either: no stanza of a new session can be arriving.</summary>
    public bool IsIdle => _connection.State == XmppConnectionState.Offline;

    /// <summary>When the link went down (or the service started), while it is down; null while it is up.</summary>
    public DateTimeOffset? LostAt => _lostAt;

    /// <summary>Keeps the link up until <paramref name="ct"/> is cancelled.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        await _connection.StartAsync(ct);
        try
        {
            await Task.Delay(Timeout.Infinite, ct);
        }
        catch (OperationCanceledException)
        {
            // The server stops.
        }
    }

    public Task<XmppError?> SendPresenceAsync(IEnumerable<XElement> payload, CancellationToken ct) => _connection.SendPresenceAsync(payload, ct);

    public Task<XmppError?> SubscribeAsync(string bareAddress, CancellationToken ct) => _connection.SubscribeAsync(bareAddress, ct);

    public Task<XmppError?> ApproveSubscriptionAsync(string bareAddress, CancellationToken ct) => _connection.ApproveSubscriptionAsync(bareAddress, ct);

    public Task<XmppError?> PingAsync(string to, CancellationToken ct) => _connection.PingAsync(to, ct);

    public Task<(XElement? Result, XmppError? Error)> QueryAsync(string to, string type, XElement payload, CancellationToken ct) =>
        _connection.QueryAsync(to, type, payload, ct);

    public ValueTask DisposeAsync() => _connection.DisposeAsync();
}

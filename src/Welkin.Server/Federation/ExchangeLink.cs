using System.Xml.Linq;
using Welkin.Intercloud.Xmpp;

namespace Welkin.Server.Federation;

/// <summary>
/// This cloud's connection to the Intercloud exchange, kept up: it logs in, calls <c>onConnected</c>
/// (to subscribe and publish), and when the stream ends calls <c>onLost</c> and logs in again after a
/// backoff with jitter (1 s doubling to 30 s). The methods act on the current client and report
/// <c>xmpp-not-connected</c> while there is none. The one place that knows how the link is kept.
/// </summary>
public sealed class ExchangeLink(XmppClientOptions options, Func<CancellationToken, Task> onConnected, Func<Task> onLost, ILogger logger) : IAsyncDisposable
{
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan LastBackoff = TimeSpan.FromSeconds(30);
    private static readonly XmppError NotConnected = new("xmpp-not-connected", "This cloud is not connected to the exchange.");

    private volatile XmppClient? _client;

    public bool IsConnected => _client is not null;

    /// <summary>Keeps the link up until <paramref name="ct"/> is cancelled.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        var backoff = FirstBackoff;
        while (!ct.IsCancellationRequested)
        {
            var (client, error) = await XmppClient.ConnectAsync(options, ct);
            if (client is not null)
            {
                backoff = FirstBackoff;
                _client = client;
                logger.LogInformation("Federation: connected to the exchange as {Jid}", client.Jid);
                try
                {
                    await onConnected(ct);
                    error = await client.Ended.WaitAsync(ct);
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception exception) when (exception is not OperationCanceledException)
                {
                    // A failed start of the session (the database, say) ends it; the next login tries again.
                    logger.LogError(exception, "Federation: setting up the session on the exchange failed");
                    error = new XmppError("session-setup-failed", "Setting up the session failed.");
                }
                finally
                {
                    _client = null;
                    await client.DisposeAsync();
                    await onLost();
                }
            }
            logger.LogWarning("Federation: the link to the exchange {Host}:{Port} is down ({Code}: {Detail}; {Cause}); retrying in {Backoff}",
                options.Host ?? options.Domain, options.Port, error?.Code ?? "closed", error?.Detail ?? "the server closed the stream", error?.Cause, backoff);
            try
            {
                await Task.Delay(backoff + TimeSpan.FromMilliseconds(Random.Shared.Next(0, (int)(backoff.TotalMilliseconds / 2))), ct);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            backoff = TimeSpan.FromTicks(Math.Min(LastBackoff.Ticks, backoff.Ticks * 2));
        }
    }

    public Task<XmppError?> SendPresenceAsync(IEnumerable<XElement> payload, CancellationToken ct) => Do(c => c.SendPresenceAsync(payload, ct));

    public Task<XmppError?> SubscribeAsync(string bareAddress, CancellationToken ct) => Do(c => c.SubscribeAsync(bareAddress, ct));

    public Task<XmppError?> ApproveSubscriptionAsync(string bareAddress, CancellationToken ct) => Do(c => c.ApproveSubscriptionAsync(bareAddress, ct));

    public async Task<XmppError?> PingAsync(string to, CancellationToken ct) =>
        _client is { } client ? await client.PingAsync(to, ct) : NotConnected;

    public async Task<(XElement? Result, XmppError? Error)> QueryAsync(string to, string type, XElement payload, CancellationToken ct) =>
        _client is { } client ? await client.QueryAsync(to, type, payload, ct) : (null, NotConnected);

    public ValueTask DisposeAsync() => _client is { } client ? client.DisposeAsync() : ValueTask.CompletedTask;

    private async Task<XmppError?> Do(Func<XmppClient, Task> send)
    {
        if (_client is not { } client)
        {
            return NotConnected;
        }
        try
        {
            await send(client);
            return null;
        }
        catch (Exception exception) when (exception is IOException or ObjectDisposedException)
        {
            return new XmppError("xmpp-connection-lost", "The connection to the exchange was lost.") { Cause = exception.Message };
        }
    }
}

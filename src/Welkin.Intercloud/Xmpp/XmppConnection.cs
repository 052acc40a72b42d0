using System.Xml.Linq;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Welkin.Intercloud.Xmpp;

/// <summary>
/// A long-lived XMPP connection that heals itself: it logs in in the background, pings the server to
/// notice a dead link, and after losing its stream reconnects with backoff, resuming the session
/// (XEP-0198) when the server still holds it and else logging in afresh and re-sending its last presence.
/// Sends made while it is offline wait for it (bounded, see <see cref="XmppConnectionOptions.MaxWaitingSends"/>)
/// and fail with <c>xmpp-offline</c> when it does not come back in time. Nothing it does throws on a network fault.
/// </summary>
public sealed class XmppConnection : IAsyncDisposable
{
    private readonly XmppConnectionOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private TaskCompletionSource<XmppClient> _online = NewOnline();
    private XmppClient? _client;
    private Task _run = Task.CompletedTask;
    private IReadOnlyList<XElement>? _lastPresence;
    private int _waiting;
    private bool _started;

    public XmppConnection(XmppConnectionOptions options, ILogger? logger = null)
    {
        _logger = logger ?? options.Client.Logger;
        _options = options.Client.Logger is NullLogger && logger is not null ? options with { Client = options.Client with { Logger = logger } } : options;
    }

    public XmppConnectionState State { get; private set; } = XmppConnectionState.Offline;

    /// <summary>The full JID of the current (or last) session; null before the first login.</summary>
    public string? Jid { get; private set; }

    /// <summary>Starts connecting in the background and returns at once.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_started)
            {
                return Task.CompletedTask;
            }

            _started = true;
            _run = Task.Run(() => RunAsync(_stop.Token), CancellationToken.None);
        }

        return Task.CompletedTask;
    }

    /// <summary>Sends a stanza; null once it is written (and, with stream management, kept until the server acknowledges it).</summary>
    public Task<XmppError?> SendAsync(XElement stanza, CancellationToken cancellationToken) =>
        WithClientAsync(client => client.SendAsync(stanza, cancellationToken), cancellationToken);

    /// <summary>Broadcasts availability with <paramref name="payload"/>; it is re-sent after every fresh session.</summary>
    public Task<XmppError?> SendPresenceAsync(IEnumerable<XElement> payload, CancellationToken cancellationToken)
    {
        var children = payload.Select(element => new XElement(element)).ToList();
        _lastPresence = children;
        return WithClientAsync(client => client.SendPresenceAsync(children.Select(element => new XElement(element)), cancellationToken), cancellationToken);
    }

    public Task<XmppError?> SubscribeAsync(string bareAddress, CancellationToken cancellationToken) =>
        WithClientAsync(client => client.SubscribeAsync(bareAddress, cancellationToken), cancellationToken);

    public Task<XmppError?> ApproveSubscriptionAsync(string bareAddress, CancellationToken cancellationToken) =>
        WithClientAsync(client => client.ApproveSubscriptionAsync(bareAddress, cancellationToken), cancellationToken);

    public async Task<(XElement? Result, XmppError? Error)> QueryAsync(string to, string type, XElement payload, CancellationToken cancellationToken)
    {
        var (client, error) = await OnlineClientAsync(cancellationToken);
        return client is null ? (null, error) : await client.QueryAsync(to, type, payload, cancellationToken);
    }

    public async Task<XmppError?> PingAsync(string to, CancellationToken cancellationToken)
    {
        var (client, error) = await OnlineClientAsync(cancellationToken);
        return client is null ? error : await client.PingAsync(to, cancellationToken);
    }

    /// <summary>Stops reconnecting and ends the current stream cleanly.</summary>
    public async Task CloseAsync(CancellationToken cancellationToken)
    {
        if (!_stop.IsCancellationRequested)
        {
            await _stop.CancelAsync();
        }

        await _run.WaitAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await CloseAsync(CancellationToken.None);
        _stop.Dispose();
    }

    private async Task<XmppError?> WithClientAsync(Func<XmppClient, Task> send, CancellationToken cancellationToken)
    {
        var (client, error) = await OnlineClientAsync(cancellationToken);
        if (client is null)
        {
            return error;
        }

        try
        {
            await send(client);
            return null;
        }
        catch (Exception exception) when (exception is IOException or ObjectDisposedException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            // With stream management the stanza waits in the client for a resumption; without, it is lost.
            return client.StreamManagement && client.Resumption() is not null
                ? null
                : new XmppError("xmpp-connection-lost", "The connection to the XMPP server was lost while sending.") { Cause = exception.Message };
        }
    }

    private async Task<(XmppClient?, XmppError?)> OnlineClientAsync(CancellationToken cancellationToken)
    {
        if (_client is { Ended.IsCompleted: false } current)
        {
            return (current, null);
        }

        if (_stop.IsCancellationRequested)
        {
            return (null, new XmppError("xmpp-connection-closed", "The XMPP connection is closed."));
        }

        if (Interlocked.Increment(ref _waiting) > _options.MaxWaitingSends)
        {
            Interlocked.Decrement(ref _waiting);
            return (null, new XmppError("xmpp-offline", $"The XMPP connection is offline and {_options.MaxWaitingSends} sends are already waiting for it."));
        }

        try
        {
            Task<XmppClient> online;
            lock (_gate)
            {
                online = _online.Task;
            }

            return (await online.WaitAsync(_options.Client.Timeout, cancellationToken), null);
        }
        catch (TimeoutException)
        {
            return (null, new XmppError("xmpp-offline", "The XMPP connection did not come back in time."));
        }
        catch (InvalidOperationException)
        {
            return (null, new XmppError("xmpp-connection-closed", "The XMPP connection is closed."));
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
        }
    }

    private async Task RunAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await ReconnectLoopAsync(stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // Closing.
            }
#pragma warning disable CA1031 // A fault here is a bug; the connection must still come back rather than stay down.
            catch (Exception exception)
#pragma warning restore CA1031
            {
                _logger.LogError(exception, "The XMPP connection to {Domain} failed unexpectedly; it starts over.", _options.Client.Domain);
                await DropCurrentAsync();
                await Task.Delay(_options.Backoff.Max, stop).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }

        await DropCurrentAsync();
        lock (_gate)
        {
            _online.TrySetException(new InvalidOperationException("The XMPP connection is closed."));
        }

        await SetStateAsync(XmppConnectionState.Offline);
    }

    private async Task DropCurrentAsync()
    {
        XmppClient? last;
        lock (_gate)
        {
            last = _client;
            _client = null;
            if (_online.Task.IsCompleted)
            {
                _online = NewOnline();
            }
        }

        if (last is not null)
        {
            await last.DisposeAsync();
        }
    }

    private async Task ReconnectLoopAsync(CancellationToken stop)
    {
        XmppResumption? resumption = null;
        var attempt = 0;
        while (!stop.IsCancellationRequested)
        {
            await SetStateAsync(XmppConnectionState.Connecting);
            var (client, error) = await XmppClient.ConnectAsync(_options.Client with { InitialPresence = _lastPresence ?? [] }, resumption, stop);
            if (client is null)
            {
                _logger.LogWarning("Could not log in to the XMPP server of {Domain} ({Code}: {Detail} {Cause}).", _options.Client.Domain, error?.Code, error?.Detail, error?.Cause);
                await SetStateAsync(XmppConnectionState.Offline);
                await Task.Delay(NextDelay(attempt++), stop);
                continue;
            }

            var since = TimeProvider.System.GetTimestamp();
            await OnSessionAsync(client, resumption, stop);
            var ended = await WatchAsync(client, stop);
            if (TimeProvider.System.GetElapsedTime(since) >= _options.Backoff.Max)
            {
                // Only a session that lasted starts the backoff over: a server that drops every login at once is not hammered.
                attempt = 0;
            }

            if (stop.IsCancellationRequested)
            {
                return;
            }

            resumption = client.Resumption();
            lock (_gate)
            {
                _client = null;
                _online = NewOnline();
            }

            _logger.LogWarning("Lost the XMPP stream to {Domain} ({Code}: {Detail}); reconnecting{Resumable}.", _options.Client.Domain, ended?.Code, ended?.Detail,
                resumption is null ? "" : ", resuming the session if the server still holds it");
            client.Abort();
            await client.DisposeAsync();
            await SetStateAsync(XmppConnectionState.Offline);
            await Task.Delay(NextDelay(attempt++), stop);
        }
    }

    private async Task OnSessionAsync(XmppClient client, XmppResumption? resumption, CancellationToken stop)
    {
        Jid = client.Jid;
        if (client.Resumed)
        {
            _logger.LogInformation("Resumed the XMPP session of {Jid} (XEP-0198).", client.Jid);
        }
        else
        {
            if (resumption is not null)
            {
                _logger.LogWarning("The XMPP server of {Domain} no longer held the session; a fresh one starts, and {Count} unacknowledged stanzas are lost.",
                    _options.Client.Domain, resumption.Unacknowledged.Count);
            }

            // The last presence went out as the session's initial presence (InitialPresence above).
            _logger.LogInformation("Logged in to XMPP as {Jid} (stream management {StreamManagement}).", client.Jid, client.StreamManagement ? "on" : "off");
        }

        lock (_gate)
        {
            _client = client;
            _online.TrySetResult(client);
        }

        await SetStateAsync(XmppConnectionState.Online);
        var callback = client.Resumed ? _options.OnResumed : _options.OnFreshSession;
        if (callback is not null)
        {
            await GuardAsync(() => callback(this, stop));
        }
    }

    /// <summary>Waits for the stream to end, pinging the server every keep-alive interval; what ended it.</summary>
    private async Task<XmppError?> WatchAsync(XmppClient client, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var tick = Task.Delay(_options.KeepAliveInterval, stop);
            if (await Task.WhenAny(client.Ended, tick) == client.Ended)
            {
                return await client.Ended;
            }

            if (stop.IsCancellationRequested)
            {
                return null;
            }

            var unanswered = await client.PingAsync(_options.Client.Domain, stop);
            if (unanswered?.Code == "xmpp-timeout")
            {
                return new XmppError("xmpp-keepalive-unanswered", "The XMPP server did not answer a keep-alive ping.");
            }

            await GuardAsync(() => client.RequestAckAsync(stop));
        }

        return null;
    }

    private TimeSpan NextDelay(int attempt)
    {
#pragma warning disable CA5394 // Jitter spreads reconnects; it needs no unpredictability.
        var delay = _options.Backoff.Delay(attempt, Random.Shared.NextDouble());
#pragma warning restore CA5394
        _logger.LogInformation("Reconnecting to the XMPP server of {Domain} in {Delay} (attempt {Attempt}).", _options.Client.Domain, delay, attempt + 1);
        return delay;
    }

    private async Task SetStateAsync(XmppConnectionState state)
    {
        if (State == state)
        {
            return;
        }

        State = state;
        if (_options.OnStateChanged is { } onStateChanged)
        {
            await GuardAsync(() => onStateChanged(this, state));
        }
    }

    // Callbacks and sends on a dying stream must never end the reconnect loop.
    private async Task GuardAsync(Func<Task> action)
    {
        try
        {
            await action();
        }
#pragma warning disable CA1031 // The loop must outlive any failure of an application's callback.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            _logger.LogWarning(exception, "An XMPP connection callback or send failed; the connection carries on.");
        }
    }

    private static TaskCompletionSource<XmppClient> NewOnline() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

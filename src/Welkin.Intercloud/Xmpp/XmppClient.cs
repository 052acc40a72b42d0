using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Xml.Linq;
using Microsoft.Extensions.Logging;
using static Welkin.Intercloud.Xmpp.XmppNames;

namespace Welkin.Intercloud.Xmpp;

/// <summary>
/// A logged-in XMPP client stream (RFC 6120): sends stanzas, correlates IQ requests with their answers
/// by id, answers the server's pings and disco queries itself, advertises its XEP-0115 capabilities,
/// and runs XEP-0198 stream management when the server offers it. One stream only: a connection that
/// survives losing it is <see cref="XmppConnection"/>.
/// </summary>
public sealed class XmppClient : IAsyncDisposable
{
    private readonly XmppSession _session;
    private readonly XmppClientOptions _options;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ConcurrentDictionary<string, (string To, TaskCompletionSource<XElement> Answer)> _pending = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource<XmppError?> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Queue<(long Sequence, XElement Stanza)> _unacknowledged = new();
    private readonly long _floodBudget;
    private long _nextId;
    private bool _closing;
    private bool _streamError;
    private XmppError? _refusal;
    private long _inbound;
    private long _outbound;
    private bool _ackRequested;
    private long _windowStart;
    private long _windowCount;

    private XmppClient(XmppSession session, XmppClientOptions options)
    {
        _session = session;
        _options = options;
        _floodBudget = (long)(options.Limits.MaxStanzasPerSecond * options.Limits.FloodWindow.TotalSeconds);
        _windowStart = TimeProvider.System.GetTimestamp();
    }

    /// <summary>The full JID the server bound: user@domain/resource.</summary>
    public string Jid => _session.Jid;

    /// <summary>The SCRAM mechanism the login used.</summary>
    public ScramMechanism Mechanism => _session.Mechanism;

    /// <summary>Why the stream ended, once it has; null for a clean close.</summary>
    public Task<XmppError?> Ended => _ended.Task;

    /// <summary>Whether XEP-0198 stream management is on for this stream.</summary>
    public bool StreamManagement => _session.StreamManagement;

    /// <summary>Whether this stream resumed an earlier session (XEP-0198 5) rather than starting a fresh one.</summary>
    public bool Resumed => _session.ResumedAt is not null;

    /// <summary>Connects, secures with STARTTLS, authenticates with SCRAM, binds a resource, enables stream management when offered, and sends initial presence.</summary>
    public static Task<(XmppClient? Client, XmppError? Error)> ConnectAsync(XmppClientOptions options, CancellationToken cancellationToken) =>
        ConnectAsync(options, null, cancellationToken);

    /// <summary>Like the public one, but resumes <paramref name="resumption"/>'s session when the server still holds it.</summary>
    internal static async Task<(XmppClient? Client, XmppError? Error)> ConnectAsync(XmppClientOptions options, XmppResumption? resumption, CancellationToken cancellationToken)
    {
        var (session, error) = await new XmppLogin(options, resumption).RunAsync(cancellationToken);
        if (session is null)
        {
            return (null, error);
        }

        var client = new XmppClient(session, options);
        if (session.ResumedAt is { } handled)
        {
            // XEP-0198 5: the server's h counts on from the old stream; what it had not handled is sent again.
            client._inbound = resumption!.InboundHandled;
            client._outbound = handled;
            _ = client.ReadLoopAsync();
            try
            {
                foreach (var (_, stanza) in resumption.Unacknowledged.Where(u => u.Sequence > handled))
                {
                    await client.SendAsync(stanza, cancellationToken);
                }
            }
            catch (Exception exception) when (exception is IOException or ObjectDisposedException)
            {
                // Lost again at once: the stanzas wait, unacknowledged, for the next resumption, and Ended says why.
            }

            return (client, null);
        }

        _ = client.ReadLoopAsync();
        try
        {
            await client.SendAsync(new XElement(Client + "presence", options.InitialPresence.Select(element => new XElement(element)), XmppCapabilities.Element(options)), cancellationToken);
        }
        catch (Exception exception) when (exception is IOException or ObjectDisposedException)
        {
            client.Abort();
            await client.DisposeAsync();
            return (null, new XmppError("xmpp-connection-lost", "The connection to the XMPP server was lost right after the login.") { Cause = exception.Message });
        }

        return (client, null);
    }

    /// <summary>What a later stream needs to resume this session, or null when the server did not allow resumption.</summary>
    internal XmppResumption? Resumption()
    {
        // A stream ended by a stream error, either side's, leaves nothing to resume: resuming after refusing hostile input would replay it.
        if (_session.ResumeId is not { } id || _streamError)
        {
            return null;
        }

        lock (_unacknowledged)
        {
            return new XmppResumption(id, Jid, Interlocked.Read(ref _inbound), [.. _unacknowledged]);
        }
    }

    /// <summary>XEP-0198 4: asks the server how many of our stanzas it has handled.</summary>
    internal Task RequestAckAsync(CancellationToken cancellationToken) =>
        _session.StreamManagement ? SendRawAsync(AckRequest, cancellationToken) : Task.CompletedTask;

    /// <summary>Drops the connection without ending the stream, as a cut cable would: the server keeps the session for resumption.</summary>
    internal void Abort()
    {
        _stop.Cancel();
        _session.Tls.Dispose();
        _session.Tcp.Dispose();
    }

    /// <summary>Sends an IQ get or set and waits for its result or error, at most the configured timeout.</summary>
    public async Task<(XElement? Result, XmppError? Error)> QueryAsync(string to, string type, XElement payload, CancellationToken cancellationToken)
    {
        var id = "q" + Interlocked.Increment(ref _nextId).ToString(CultureInfo.InvariantCulture);
        var answer = new TaskCompletionSource<XElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = (to, answer);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.Timeout);
            await SendAsync(new XElement(Client + "iq", new XAttribute("type", type), new XAttribute("id", id), new XAttribute("to", to), payload), timeout.Token);
            var iq = await answer.Task.WaitAsync(timeout.Token);
            if (iq.Attribute("type")?.Value == "result")
            {
                return (iq, null);
            }

            var error = iq.Element(Client + "error");
            var condition = error?.Elements().FirstOrDefault(e => e.Name.Namespace == Stanzas && e.Name.LocalName != "text")?.Name.LocalName ?? "undefined-condition";
            var stanzaError = new XmppStanzaError(error?.Attribute("type")?.Value ?? "cancel", condition,
                error?.Elements().FirstOrDefault(e => e.Name.Namespace != Stanzas)?.Name, error?.Element(Stanzas + "text")?.Value);
            return (null, new XmppError("xmpp-iq-error", $"'{to}' answered the request with an error ({condition}).") { StanzaError = stanzaError });
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, new XmppError("xmpp-timeout", $"'{to}' did not answer the request in time."));
        }
        catch (InvalidOperationException)
        {
            return (null, await Ended ?? new XmppError("xmpp-connection-closed", "The XMPP stream is closed."));
        }
        catch (Exception exception) when (exception is IOException or ObjectDisposedException)
        {
            return (null, new XmppError("xmpp-connection-lost", "The connection to the XMPP server was lost.") { Cause = exception.Message });
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    /// <summary>XEP-0199: null when <paramref name="to"/> answered the ping.</summary>
    public async Task<XmppError?> PingAsync(string to, CancellationToken cancellationToken) =>
        (await QueryAsync(to, "get", new XElement(Ping + "ping"), cancellationToken)).Error;

    /// <summary>Broadcasts this client's availability (RFC 6121 4.2) with <paramref name="payload"/> and its XEP-0115 capabilities as children.</summary>
    public Task SendPresenceAsync(IEnumerable<XElement> payload, CancellationToken cancellationToken) =>
        SendAsync(new XElement(Client + "presence", payload, XmppCapabilities.Element(_options)), cancellationToken);

    /// <summary>Asks to receive <paramref name="bareAddress"/>'s presence (RFC 6121 3.1).</summary>
    public Task SubscribeAsync(string bareAddress, CancellationToken cancellationToken) =>
        SendAsync(new XElement(Client + "presence", new XAttribute("to", bareAddress), new XAttribute("type", "subscribe")), cancellationToken);

    /// <summary>Lets <paramref name="bareAddress"/> receive this client's presence (RFC 6121 3.1.4), answering its request.</summary>
    public Task ApproveSubscriptionAsync(string bareAddress, CancellationToken cancellationToken) =>
        SendAsync(new XElement(Client + "presence", new XAttribute("to", bareAddress), new XAttribute("type", "subscribed")), cancellationToken);

    /// <summary>Ends the stream (RFC 6120 4.4): sends the closing tag and waits for the server's.</summary>
    public async Task CloseAsync(CancellationToken cancellationToken)
    {
        if (!_closing && !_ended.Task.IsCompleted)
        {
            _closing = true;
            try
            {
                await SendRawAsync("</stream:stream>", cancellationToken);
                await _ended.Task.WaitAsync(_options.Timeout, cancellationToken);
            }
            catch (Exception exception) when (exception is IOException or TimeoutException or ObjectDisposedException)
            {
                // The server vanished or lingered: the connection is dropped below either way.
            }
        }

        await _stop.CancelAsync();
        _session.Tls.Dispose();
        _session.Tcp.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        await CloseAsync(CancellationToken.None);
        try
        {
            // The read loop stops once the connection is gone; the reader may not be disposed under a pending read.
            await _ended.Task.WaitAsync(_options.Timeout);
        }
        catch (TimeoutException)
        {
            _options.Logger.LogWarning("An XMPP stanza handler did not return after the stream to {Domain} closed.", _options.Domain);
            return;
        }

        _session.Reader.Dispose();
        _stop.Dispose();
        _writeLock.Dispose();
    }

    /// <summary>
    /// Sends a stanza. With stream management on, the stanza is kept until the server acknowledges it
    /// (XEP-0198 4), and an acknowledgement is requested unless one is outstanding.
    /// </summary>
    public async Task SendAsync(XElement stanza, CancellationToken cancellationToken)
    {
        var xml = stanza.ToString(SaveOptions.DisableFormatting);
        if (!_session.StreamManagement || !IsCounted(stanza))
        {
            await SendRawAsync(xml, cancellationToken);
            return;
        }

        bool overflow;
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            lock (_unacknowledged)
            {
                _outbound++;
                _unacknowledged.Enqueue((_outbound, stanza));
                overflow = _unacknowledged.Count > _options.Limits.MaxUnacknowledged;
                if (!_ackRequested)
                {
                    _ackRequested = true;
                    xml += AckRequest;
                }
            }

            await _session.Tls.WriteAsync(Encoding.UTF8.GetBytes(xml), cancellationToken);
            await _session.Tls.FlushAsync(cancellationToken);
        }
        finally
        {
            _writeLock.Release();
        }

        if (overflow)
        {
            // A server that enabled stream management but does not acknowledge would make the kept stanzas grow without end.
            await RefuseAsync("policy-violation", new XmppError("xmpp-unacknowledged", $"The XMPP server left more than {_options.Limits.MaxUnacknowledged} stanzas unacknowledged."));
        }
    }

    private static readonly string AckRequest = new XElement(Sm + "r").ToString(SaveOptions.DisableFormatting);

    // XEP-0198 4: only stanzas count, not nonzas such as <r/> and <a/>.
    private static bool IsCounted(XElement element) => element.Name.Namespace == Client && element.Name.LocalName is "message" or "presence" or "iq";

    private async Task SendRawAsync(string xml, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            await _session.Tls.WriteAsync(Encoding.UTF8.GetBytes(xml), cancellationToken);
            await _session.Tls.FlushAsync(cancellationToken);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private async Task ReadLoopAsync()
    {
        XmppError? error;
        try
        {
            foreach (var early in _session.Early)
            {
                await DispatchAsync(early);
            }

            error = await ReadStanzasAsync();
        }
        catch (Exception exception) when (exception is OperationCanceledException or ObjectDisposedException or IOException)
        {
            error = _closing ? null : _refusal ?? new XmppError("xmpp-connection-lost", "The connection to the XMPP server was lost.") { Cause = exception.Message };
        }
#pragma warning disable CA1031 // An application's handler failing must end this stream, never escape into the process.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            _options.Logger.LogError(exception, "A handler of an XMPP stanza failed; the stream to {Domain} is dropped.", _options.Domain);
            error = new XmppError("xmpp-handler-failed", "A handler of an incoming stanza failed.") { Cause = exception.Message };
            Abort();
        }

        foreach (var (_, pending) in _pending.Values)
        {
            pending.TrySetException(new InvalidOperationException("The XMPP stream ended."));
        }

        _ended.TrySetResult(_closing && error?.Code == "xmpp-connection-lost" ? null : error);
    }

    private async Task<XmppError?> ReadStanzasAsync()
    {
        while (true)
        {
            var read = await _session.Reader.ReadStanzaAsync(_stop.Token);
            if (read.Stanza is null)
            {
                if (read.Error is { } hostile && StreamErrorCondition(hostile) is { } condition)
                {
                    await RefuseAsync(condition, hostile);
                }

                return read.Error;
            }

            if (read.Stanza.Name == Streams + "error")
            {
                var condition = read.Stanza.Elements().FirstOrDefault(e => e.Name.Namespace == StreamErrors)?.Name.LocalName ?? "undefined-condition";
                _options.Logger.LogWarning("The XMPP server of {Domain} ended the stream with a stream error ({Condition}).", _options.Domain, condition);
                _streamError = true;
                Abort();
                return new XmppError("xmpp-stream-error", $"The XMPP server ended the stream ({condition}).");
            }

            if (IsFlood())
            {
                var flood = new XmppError("xmpp-flood", $"The XMPP server sent more than {_options.Limits.MaxStanzasPerSecond} stanzas a second for {_options.Limits.FloodWindow.TotalSeconds} s.");
                await RefuseAsync("policy-violation", flood);
                return flood;
            }

            if (read.Stanza.Name.Namespace == Sm)
            {
                await HandleStreamManagementAsync(read.Stanza);
                continue;
            }

            await DispatchAsync(read.Stanza);
            if (IsCounted(read.Stanza))
            {
                Interlocked.Increment(ref _inbound);
            }
        }
    }

    // Counts stanzas in fixed windows: more than the budget within one window is a flood.
    private bool IsFlood()
    {
        var now = TimeProvider.System.GetTimestamp();
        if (TimeProvider.System.GetElapsedTime(_windowStart, now) >= _options.Limits.FloodWindow)
        {
            _windowStart = now;
            _windowCount = 0;
        }

        return ++_windowCount > _floodBudget;
    }

    private async Task HandleStreamManagementAsync(XElement element)
    {
        if (element.Name == Sm + "r")
        {
            await SendRawAsync(new XElement(Sm + "a", new XAttribute("h", Interlocked.Read(ref _inbound))).ToString(SaveOptions.DisableFormatting), _stop.Token);
        }
        else if (element.Name == Sm + "a" && long.TryParse(element.Attribute("h")?.Value, out var handled))
        {
            lock (_unacknowledged)
            {
                while (_unacknowledged.TryPeek(out var oldest) && oldest.Sequence <= handled)
                {
                    _unacknowledged.Dequeue();
                }

                _ackRequested = false;
            }
        }
    }

    /// <summary>RFC 6120 4.9.3: the stream error that answers what the reader refused; null when the connection just ended.</summary>
    private static string? StreamErrorCondition(XmppError error) => error.Code switch
    {
        "xmpp-not-well-formed" => "not-well-formed",
        "xmpp-policy-violation" => "policy-violation",
        "xmpp-restricted-xml" => "restricted-xml",
        "xmpp-protocol" => "bad-format",
        _ => null,
    };

    private async Task RefuseAsync(string condition, XmppError error)
    {
        _options.Logger.LogWarning("Ending the XMPP stream to {Domain} with {Condition}: {Detail} {Cause}", _options.Domain, condition, error.Detail, error.Cause);
        _streamError = true;
        _refusal = error;
        try
        {
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await SendRawAsync($"<stream:error><{condition} xmlns='{StreamErrors}'/></stream:error></stream:stream>", grace.Token);
        }
        catch (Exception exception) when (exception is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The peer is gone already: the connection is dropped below either way.
        }

        Abort();
    }

    private async Task DispatchAsync(XElement stanza)
    {
        if (stanza.Attribute("from")?.Value is { } claimed && !XmppAddress.TryParse(claimed, out _, out var invalid))
        {
            // Neither a handler nor an answer: an error reply would go to an address that cannot exist.
            _options.Logger.LogWarning("Dropped a stanza ({Stanza}) from an invalid XMPP address: {Reason}", stanza.Name.LocalName, invalid);
            return;
        }

        if (stanza.Name == Client + "presence")
        {
            if (_options.OnPresence is { } onPresence && stanza.Attribute("from")?.Value is { } sender)
            {
                await onPresence(new XmppPresence(sender, stanza.Attribute("type")?.Value, stanza));
            }

            return;
        }

        if (stanza.Name != Client + "iq")
        {
            return;
        }

        var type = stanza.Attribute("type")?.Value;
        var id = stanza.Attribute("id")?.Value ?? "";
        if (type is "result" or "error")
        {
            // RFC 6120 8.1.2.1: only the addressee's answer counts, so another entity that guesses an id cannot answer for it.
            if (_pending.TryGetValue(id, out var pending) && AnswersFrom(stanza, pending.To))
            {
                pending.Answer.TrySetResult(stanza);
            }

            return;
        }

        if (type is "get" or "set")
        {
            var payload = stanza.Elements().FirstOrDefault();
            if (payload is not null && _options.IqHandlers.TryGetValue(payload.Name, out var handler))
            {
                // An application's handler may take a while (a SPARQL query): it answers beside the read loop,
                // so that pings and other stanzas are not held up behind it.
                _ = AnswerAsync(handler, stanza, payload, type, id);
                return;
            }
            await SendAsync(AnswerRequest(stanza, type, id), _stop.Token);
        }
    }

    private async Task AnswerAsync(XmppIqHandler handler, XElement request, XElement payload, string type, string id)
    {
        try
        {
            var reply = await HandleAsync(handler, request, payload, type, id);
            await SendAsync(reply, _stop.Token);
        }
        catch (Exception exception) when (exception is OperationCanceledException or ObjectDisposedException or IOException)
        {
            // The stream is closing or gone: there is no one left to answer.
        }
#pragma warning disable CA1031 // An application's handler failing must end this stream, never escape into the process.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            _options.Logger.LogError(exception, "A handler of an XMPP stanza failed; the stream to {Domain} is dropped.", _options.Domain);
            _refusal ??= new XmppError("xmpp-handler-failed", "A handler of an incoming stanza failed.") { Cause = exception.Message };
            Abort();
        }
    }

    /// <summary>Whether <paramref name="stanza"/> comes from <paramref name="to"/>; the server answers for its own domain and the account's bare address without a from.</summary>
    private bool AnswersFrom(XElement stanza, string to)
    {
        var from = stanza.Attribute("from")?.Value;
        if (from is not null)
        {
            return string.Equals(from, to, StringComparison.OrdinalIgnoreCase);
        }
        var bare = Jid.Split('/')[0];
        return string.Equals(to, _options.Domain, StringComparison.OrdinalIgnoreCase) || string.Equals(to, bare, StringComparison.OrdinalIgnoreCase);
    }

    private async Task<XElement> HandleAsync(XmppIqHandler handler, XElement request, XElement payload, string type, string id)
    {
        var reply = new XElement(Client + "iq", new XAttribute("id", id));
        if (request.Attribute("from") is { } from)
        {
            reply.SetAttributeValue("to", from.Value);
        }

        var answer = await handler(new XmppIqRequest(request.Attribute("from")?.Value ?? _options.Domain, type, payload), _stop.Token);
        if (answer.IsError)
        {
            reply.SetAttributeValue("type", "error");
            reply.Add(new XElement(Client + "error", new XAttribute("type", answer.ErrorType ?? "cancel"),
                new XElement(Stanzas + answer.Condition!),
                answer.Text is null ? null : new XElement(Stanzas + "text", answer.Text),
                answer.ApplicationCondition));
        }
        else
        {
            reply.SetAttributeValue("type", "result");
            reply.Add(answer.Payload);
        }

        return reply;
    }

    private XElement AnswerRequest(XElement request, string type, string id)
    {
        var reply = new XElement(Client + "iq", new XAttribute("id", id));
        if (request.Attribute("from") is { } from)
        {
            reply.SetAttributeValue("to", from.Value);
        }

        var payload = request.Elements().FirstOrDefault();
        var node = payload?.Attribute("node")?.Value;
        if (type == "get" && payload?.Name == Ping + "ping")
        {
            reply.SetAttributeValue("type", "result");
        }
        else if (type == "get" && payload?.Name == DiscoInfo + "query" && (node is null || XmppCapabilities.IsOwnNode(_options, node)))
        {
            reply.SetAttributeValue("type", "result");
            reply.Add(XmppCapabilities.DiscoInfoAnswer(_options, node));
        }
        else if (type == "get" && payload?.Name == DiscoItems + "query" && node is null)
        {
            reply.SetAttributeValue("type", "result");
            reply.Add(XmppCapabilities.DiscoItemsAnswer(_options));
        }
        else if (type == "get" && (payload?.Name == DiscoInfo + "query" || payload?.Name == DiscoItems + "query"))
        {
            // XEP-0030 7: a node this entity does not have.
            reply.SetAttributeValue("type", "error");
            reply.Add(new XElement(Client + "error", new XAttribute("type", "cancel"), new XElement(Stanzas + "item-not-found")));
        }
        else
        {
            // RFC 6120 8.4: a request for a payload nobody here handles is answered with service-unavailable.
            reply.SetAttributeValue("type", "error");
            reply.Add(new XElement(Client + "error", new XAttribute("type", "cancel"), new XElement(Stanzas + "service-unavailable")));
        }

        return reply;
    }
}

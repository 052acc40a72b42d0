using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Xml.Linq;
using static Welkin.Intercloud.Xmpp.XmppNames;

namespace Welkin.Intercloud.Xmpp;

/// <summary>
/// A logged-in XMPP client stream (RFC 6120): sends stanzas, correlates IQ requests with their answers
/// by id, and answers the server's pings and disco#info queries itself.
/// </summary>
public sealed class XmppClient : IAsyncDisposable
{
    private readonly XmppSession _session;
    private readonly XmppClientOptions _options;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ConcurrentDictionary<string, (string To, TaskCompletionSource<XElement> Answer)> _pending = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource<XmppError?> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _nextId;
    private bool _closing;

    private XmppClient(XmppSession session, XmppClientOptions options)
    {
        _session = session;
        _options = options;
    }

    /// <summary>The full JID the server bound: user@domain/resource.</summary>
    public string Jid => _session.Jid;

    /// <summary>The SCRAM mechanism the login used.</summary>
    public ScramMechanism Mechanism => _session.Mechanism;

    /// <summary>Why the stream ended, once it has; null for a clean close.</summary>
    public Task<XmppError?> Ended => _ended.Task;

    /// <summary>Connects, secures with STARTTLS, authenticates with SCRAM, binds a resource and sends initial presence.</summary>
    public static async Task<(XmppClient? Client, XmppError? Error)> ConnectAsync(XmppClientOptions options, CancellationToken cancellationToken)
    {
        var (session, error) = await new XmppLogin(options).RunAsync(cancellationToken);
        if (session is null)
        {
            return (null, error);
        }

        var client = new XmppClient(session, options);
        _ = client.ReadLoopAsync();
        await client.SendAsync(new XElement(Client + "presence", XmppCapabilities.Element(options)), cancellationToken);
        return (client, null);
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

            var condition = iq.Element(Client + "error")?.Elements().FirstOrDefault(e => e.Name.Namespace == Stanzas)?.Name.LocalName ?? "undefined-condition";
            return (null, new XmppError("xmpp-iq-error", $"'{to}' answered the request with an error ({condition})."));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, new XmppError("xmpp-timeout", $"'{to}' did not answer the request in time."));
        }
        catch (InvalidOperationException)
        {
            return (null, await Ended ?? new XmppError("xmpp-connection-closed", "The XMPP stream is closed."));
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
        _session.Reader.Dispose();
        _stop.Dispose();
        _writeLock.Dispose();
    }

    public Task SendAsync(XElement stanza, CancellationToken cancellationToken) =>
        SendRawAsync(stanza.ToString(SaveOptions.DisableFormatting), cancellationToken);

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
            while (true)
            {
                var read = await _session.Reader.ReadStanzaAsync(_stop.Token);
                if (read.Stanza is null)
                {
                    error = read.Error;
                    break;
                }

                await DispatchAsync(read.Stanza);
            }
        }
        catch (Exception exception) when (exception is OperationCanceledException or ObjectDisposedException or IOException)
        {
            error = _closing ? null : new XmppError("xmpp-connection-lost", "The connection to the XMPP server was lost.") { Cause = exception.Message };
        }

        foreach (var (_, pending) in _pending.Values)
        {
            pending.TrySetException(new InvalidOperationException("The XMPP stream ended."));
        }

        _ended.TrySetResult(_closing && error?.Code == "xmpp-connection-lost" ? null : error);
    }

    private async Task DispatchAsync(XElement stanza)
    {
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
            var reply = payload is not null && _options.IqHandlers.TryGetValue(payload.Name, out var handler)
                ? await HandleAsync(handler, stanza, payload, type, id)
                : AnswerRequest(stanza, type, id);
            await SendAsync(reply, _stop.Token);
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
                answer.Text is null ? null : new XElement(Stanzas + "text", answer.Text)));
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

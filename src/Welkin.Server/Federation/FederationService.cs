using System.Collections.Concurrent;
using System.Threading.Channels;
using System.Xml.Linq;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Compute;
using Welkin.Core.Data;
using Welkin.Core.Federation;
using Welkin.Core.Security;
using Welkin.Intercloud.Federation;
using Welkin.Intercloud.Trust;
using Welkin.Intercloud.Xmpp;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Federation;

/// <summary>
/// This cloud's part in its federation: keeps the link to the exchange, subscribes to the configured
/// peers and approves (and returns) every subscription request so that a cloud that knows one peer
/// is found by it, publishes its signed presence at start, when its capacity changes (checked every
/// CapacityCheckInterval, published at most once per PresenceInterval) and before it grows stale, checks every peer presence and records it in the
/// <see cref="PeerStore"/>, and marks a peer offline on its unavailable presence or a failed ping. A
/// peer lost by a failed ping stays pinged; when it answers again it is asked for a fresh presence. A
/// link to the exchange that comes back within PeerPingInterval + PeerPingTimeout (resumed or not)
/// changes nothing for the peers; one down longer marks them all offline until they are heard again.
/// A peer whose presence arrives stale or replayed (the exchange keeps the last one it saw) is asked
/// for a fresh one by an IQ get of its <c>cloud</c> payload, which this service answers too.
/// Every sender has a budget of presences and one of subscription requests (PresenceBurst at once,
/// PresenceRate a second): what goes over it is dropped before any verification, and reported (a
/// warning and an audit entry) once per sender per <see cref="FloodReportWindow"/>.
/// </summary>
public sealed class FederationService : BackgroundService
{
    /// <summary>The audit action of a sender's presences or subscription requests dropped over its budget.</summary>
    public const string FloodAction = "federation.peer.flood";

    /// <summary>How often a sender that keeps flooding is reported again.</summary>
    public static readonly TimeSpan FloodReportWindow = TimeSpan.FromMinutes(1);

    private readonly FederationOptions _options;
    private readonly FederationCredentials _credentials;
    private readonly PeerStore _peers;
    private readonly CapacitySummary _capacity;
    private readonly TimeProvider _clock;
    private readonly ILogger<FederationService> _logger;
    private readonly IDatabase _db;
    private readonly AuditLog _audit;
    private readonly SenderBudget _presenceBudget;
    private readonly SenderBudget _subscriptionBudget;
    private readonly ExchangeLink _link;
    private readonly string _address;
    private readonly Uri _url;
    // A null in the channel means "forget every peer": it is ordered after every presence read before it.
    private readonly Channel<XmppPresence?> _presences = Channel.CreateBounded<XmppPresence?>(new BoundedChannelOptions(1024) { FullMode = BoundedChannelFullMode.Wait });
    private readonly ConcurrentDictionary<string, string> _online = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (string Full, DateTimeOffset Since)> _unanswered = new(StringComparer.Ordinal);
    private bool _forgotten;
    private readonly Lock _sequenceLock = new();
    private long _sequence;
    private CloudCapacity? _published;
    private DateTimeOffset _publishedAt;
    private volatile bool _republish;

    public FederationService(
        FederationOptions options, FederationCredentials credentials, XmppClientOptions xmpp, PeerStore peers, CapacitySummary capacity,
        SparqlResponder sparql, IDatabase db, AuditLog audit, TimeProvider clock, ILogger<FederationService> logger,
        AgreementStore agreements, IServiceProvider services)
    {
        _db = db;
        _audit = audit;
        _presenceBudget = new SenderBudget(options.PresenceBurst, options.PresenceRate, FloodReportWindow, clock);
        _subscriptionBudget = new SenderBudget(options.PresenceBurst, options.PresenceRate, FloodReportWindow, clock);
        _options = options;
        _credentials = credentials;
        _peers = peers;
        _capacity = capacity;
        _clock = clock;
        _logger = logger;
        _address = XmppAddress.Bare(options.Address!);
        _url = new Uri(options.Url!, UriKind.Absolute);
        var handlers = new Dictionary<XName, XmppIqHandler>
        {
            [CloudPresence.ElementName] = AnswerPresenceAsync,
            [SparqlPayload.QueryName] = (request, ct) => sparql.AnswerAsync(request, IsVerifiedSession(request.From), ct),
            // The fabric is resolved when a notice comes: it is built after this service, and its peer pools use the federation.
            [MachineNotice.ElementName] = (request, ct) =>
                MachineNotice.AnswerAsync(request, IsVerifiedSession(request.From), agreements, services.GetRequiredService<ComputeFabric>(), ct),
        };
        _link = new ExchangeLink(
            xmpp with { OnPresence = AdmitAsync, IqHandlers = handlers, Features = [CloudPresence.Namespace, SparqlPayload.Namespace, MachineNotice.Namespace], Logger = logger },
            OnConnectedAsync, clock, logger);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _logger.LogInformation("Federation: {Name} joins as {Address}, certificate {Fingerprint}", _options.Name, _address, _credentials.Fingerprint);
        // Before the first login: its initial presence makes the exchange send the peers' presence at once.
        await ForgetPeersAsync("this cloud started", stoppingToken);
        await Task.WhenAll(_link.RunAsync(stoppingToken), ReadPresencesAsync(stoppingToken), PublishLoopAsync(stoppingToken), PingLoopAsync(stoppingToken));
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await _link.DisposeAsync();
    }

    /// <summary>
    /// What was known of the peers' presence no longer holds without a link; on the next login the
    /// exchange sends each available peer's presence again, and those peers come back online.
    /// </summary>
    private async Task ForgetPeersAsync(string why, CancellationToken ct)
    {
        _online.Clear();
        _unanswered.Clear();
        try
        {
            foreach (var peer in await _peers.ListAsync(ct))
            {
                if (peer.Online)
                {
                    await _peers.SetOfflineAsync(peer.Address, why, ct);
                }
            }
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            _logger.LogError(exception, "Federation: marking the peers offline failed");
        }
    }

    private async Task OnConnectedAsync(CancellationToken ct)
    {
        _forgotten = false;
        foreach (var peer in _options.Peers.Select(XmppAddress.Bare).Where(p => p != _address).Distinct())
        {
            await _link.SubscribeAsync(peer, ct);
        }
        await PublishAsync(await _capacity.ComputeAsync(ct), ct);
    }

    private async Task PublishLoopAsync(CancellationToken ct)
    {
        var refresh = _options.PresenceMaxAge / 2;
        using var timer = new PeriodicTimer(_options.CapacityCheckInterval);
        while (await WaitAsync(timer, ct))
        {
            try
            {
                if (!_link.IsConnected)
                {
                    continue;
                }
                var capacity = await _capacity.ComputeAsync(ct);
                if (PresenceSchedule.Due(capacity, _published, _publishedAt, _clock.GetUtcNow(), refresh, _republish, _options.PresenceInterval))
                {
                    await PublishAsync(capacity, ct);
                }
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                _logger.LogError(exception, "Federation: publishing this cloud's presence failed");
            }
        }
    }

    private async Task PublishAsync(CloudCapacity capacity, CancellationToken ct)
    {
        _republish = false;
        var error = await _link.SendPresenceAsync([Sign(capacity)], ct);
        if (error is null)
        {
            _published = capacity;
            _publishedAt = _clock.GetUtcNow();
        }
    }

    /// <summary>A freshly signed payload with the next sequence number.</summary>
    private XElement Sign(CloudCapacity capacity)
    {
        var now = _clock.GetUtcNow();
        long sequence;
        lock (_sequenceLock)
        {
            _sequence = PresenceSchedule.NextSequence(_sequence, now);
            sequence = _sequence;
        }
        var certificate = _credentials.Certificate;
        return new CloudPresence(_options.Name!, _url, _credentials.Fingerprint, certificate.RawData, sequence, now, CloudPresence.Available, capacity)
            .ToSignedXml(certificate);
    }

    /// <summary>Whether <paramref name="fullAddress"/> is the session of a peer whose signed presence this cloud accepted.</summary>
    private bool IsVerifiedSession(string fullAddress) =>
        _online.TryGetValue(XmppAddress.Bare(fullAddress), out var known) && known == fullAddress;

    /// <summary>
    /// Sends <paramref name="payload"/> as an IQ get to the verified session of the online peer
    /// <paramref name="bareAddress"/>, waiting at most <paramref name="timeout"/>.
    /// </summary>
    public async Task<(XElement? Result, XmppError? Error)> AskPeerAsync(string bareAddress, XElement payload, TimeSpan timeout, CancellationToken ct)
    {
        if (!_link.IsConnected)
        {
            return (null, new XmppError("xmpp-connection-closed", "this cloud is not connected to the exchange"));
        }
        if (!_online.TryGetValue(bareAddress, out var full))
        {
            return (null, new XmppError("peer-offline", "the peer's presence is not known to this cloud"));
        }
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(timeout);
        try
        {
            var (result, error) = await _link.QueryAsync(full, "get", payload, limit.Token);
            return limit.IsCancellationRequested && !ct.IsCancellationRequested
                ? (null, new XmppError("xmpp-timeout", $"no answer within {timeout.TotalSeconds:0.###} s"))
                : (result, error);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return (null, new XmppError("xmpp-timeout", $"no answer within {timeout.TotalSeconds:0.###} s"));
        }
    }

    /// <summary>
    /// Sends a machine notice to the verified session of the online peer <paramref name="bareAddress"/>; a peer that is
    /// offline or does not answer in time is left to its own polling.
    /// </summary>
    public async Task NotifyPeerAsync(string bareAddress, XElement notice, CancellationToken ct)
    {
        if (!_link.IsConnected || !_online.TryGetValue(XmppAddress.Bare(bareAddress), out var full))
        {
            return;
        }
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(_options.PeerQueryTimeout);
        try
        {
            var (_, error) = await _link.QueryAsync(full, "set", notice, limit.Token);
            if (error is not null)
            {
                _logger.LogDebug("Federation: {Peer} did not take a machine notice: {Error}", bareAddress, error.Detail);
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            _logger.LogDebug("Federation: {Peer} did not answer a machine notice in time", bareAddress);
        }
    }

    private async Task<XmppIqAnswer> AnswerPresenceAsync(XmppIqRequest request, CancellationToken ct) =>
        request.Type == "get"
            ? XmppIqAnswer.Result(Sign(_published ?? await _capacity.ComputeAsync(ct)))
            : XmppIqAnswer.Error("cancel", "bad-request", "the cloud payload is only read");

    /// <summary>Queues a presence for checking when its sender is within budget; drops it otherwise.</summary>
    private async Task AdmitAsync(XmppPresence presence)
    {
        var from = presence.BareFrom;
        if (from != _address)
        {
            var subscription = presence.Type == "subscribe";
            var verdict = (subscription ? _subscriptionBudget : _presenceBudget).Take(from);
            if (verdict == BudgetVerdict.DroppedFirstInWindow)
            {
                await ReportFloodAsync(from, subscription ? "subscription requests" : "presences");
            }
            if (verdict != BudgetVerdict.Allowed)
            {
                return;
            }
        }
        await _presences.Writer.WriteAsync(presence);
    }

    private async Task ReportFloodAsync(string from, string what)
    {
        var detail = $"{what} beyond {_options.PresenceBurst} at once and {_options.PresenceRate:0.##} a second dropped unchecked; reported again after {FloodReportWindow.TotalSeconds:0} s if it goes on";
        _logger.LogWarning("Federation: {Address} floods: {Detail}", from, detail);
        try
        {
            await _audit.AppendAsync(_db, Caller.System("federation"), new AuditEvent(FloodAction, from, AuditEvent.Denied, null, detail), CancellationToken.None);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            _logger.LogError(exception, "Federation: auditing the flood of {Address} failed", from);
        }
    }

    private async Task ReadPresencesAsync(CancellationToken ct)
    {
        await foreach (var presence in _presences.Reader.ReadAllAsync(ct))
        {
            try
            {
                if (presence is null)
                {
                    await ForgetPeersAsync($"the link to the exchange has been down for over {LinkGrace.TotalSeconds:0} s", ct);
                }
                else
                {
                    await HandleAsync(presence, ct);
                }
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                _logger.LogError(exception, "Federation: a presence from {From} could not be handled", presence?.BareFrom);
            }
        }
    }

    private async Task HandleAsync(XmppPresence presence, CancellationToken ct)
    {
        var from = presence.BareFrom;
        if (from == _address)
        {
            return;
        }
        switch (presence.Type)
        {
            case "subscribe":
                await _link.ApproveSubscriptionAsync(from, ct);
                await _link.SubscribeAsync(from, ct);
                break;
            case "unavailable":
                if (_online.TryGetValue(from, out var known) && known != presence.From)
                {
                    // Another session of the peer's account ended (an old one, or an impostor's); the peer's own goes on.
                    break;
                }
                _online.TryRemove(from, out _);
                _unanswered.TryRemove(from, out _);
                if (await _peers.SetOfflineAsync(from, "unavailable presence", ct))
                {
                    _logger.LogInformation("Federation: peer {Address} went offline", from);
                }
                break;
            case null when presence.Payload(CloudPresence.ElementName) is { } payload:
                await CheckAsync(presence.From, payload, fromQuery: false, ct);
                break;
        }
    }

    /// <summary>Checks a peer's payload and records it; a stale or replayed one makes this cloud ask the peer for a fresh one.</summary>
    private async Task CheckAsync(string fullAddress, XElement payload, bool fromQuery, CancellationToken ct)
    {
        var from = XmppAddress.Bare(fullAddress);
        var last = await _peers.LastSequenceAsync(from, ct);
        var check = PresenceVerifier.Check(payload, from, _credentials.Verifier, last, _clock.GetUtcNow(), _options.PresenceMaxAge);
        if (check.Outcome == PresenceOutcome.Ignored)
        {
            _logger.LogDebug("Federation: presence of {Address} ignored: {Reason}", from, check.Reason);
            if (!fromQuery)
            {
                await PullAsync(fullAddress, ct);
            }
            return;
        }
        var p = check.Presence;
        var accepted = check.Outcome == PresenceOutcome.Accepted;
        var seen = new PeerObservation(from, check.State, check.Reason, accepted ? p!.Name : null, accepted ? p!.Url.AbsoluteUri : null,
            p is null ? null : CloudPresence.FingerprintOf(p.Certificate), check.SignedSequence, accepted ? p!.Capacity : null);
        var known = _online.TryGetValue(from, out var knownAddress) ? knownAddress : null;
        await _peers.RecordAsync(seen, ct);
        if (accepted)
        {
            _online[from] = fullAddress;
            _unanswered.TryRemove(from, out _);
            if (known is null)
            {
                _logger.LogInformation("Federation: peer {Name} ({Address}) is online and trusted", p!.Name, from);
                // A peer that just came (back) needs this cloud's presence as fresh as its own.
                _republish = true;
            }
        }
        else
        {
            _online.TryRemove(from, out _);
            _logger.LogWarning("Federation: presence of {Address} refused ({State}): {Reason}", from, WireNames.Of(check.State), check.Reason);
            // Another session of a trusted peer's account (its XMPP password stolen, say) sent it: the
            // refusal is recorded and audited, and the session known to be genuine is asked to sign again,
            // so the impostor cannot keep the peer refused.
            if (known is not null && known != fullAddress && !fromQuery)
            {
                await PullAsync(known, ct);
            }
        }
    }

    private async Task PullAsync(string fullAddress, CancellationToken ct)
    {
        var (result, error) = await _link.QueryAsync(fullAddress, "get", new XElement(CloudPresence.ElementName), ct);
        if (result?.Element(CloudPresence.ElementName) is { } fresh)
        {
            await CheckAsync(fullAddress, fresh, fromQuery: true, ct);
        }
        else
        {
            _logger.LogInformation("Federation: {Address} did not give a fresh presence ({Code})", fullAddress, error?.Code);
        }
    }

    private async Task PingLoopAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(_options.PeerPingInterval);
        while (await WaitAsync(timer, ct))
        {
            if (!_link.IsConnected)
            {
                // Forgotten only while no login is under way, so no presence of a new session is in the channel yet.
                if (!_forgotten && _link.IsIdle && _link.LostAt is { } lost && _clock.GetUtcNow() - lost > LinkGrace)
                {
                    _forgotten = true;
                    await _presences.Writer.WriteAsync(null, ct);
                }
                continue;
            }
            try
            {
                await Task.WhenAll(_online.ToArray().Select(peer => PingAsync(peer.Key, peer.Value, ct))
                    .Concat(_unanswered.ToArray().Select(peer => PingAgainAsync(peer.Key, peer.Value.Full, peer.Value.Since, ct))));
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                // A failure here (the database, say) must not stop the cloud; the next round tries again.
                _logger.LogError(exception, "Federation: pinging the peers failed");
            }
        }
    }

    private async Task PingAsync(string bare, string full, CancellationToken ct)
    {
        XmppError? error;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.PeerPingTimeout);
        try
        {
            error = await _link.PingAsync(full, timeout.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            error = new XmppError("xmpp-timeout", "no answer in time");
        }
        // A link that went down meanwhile says nothing of the peer.
        if (error is null || !_link.IsConnected || !_online.TryRemove(new KeyValuePair<string, string>(bare, full)))
        {
            return;
        }
        _unanswered[bare] = (full, _clock.GetUtcNow());
        if (await _peers.SetOfflineAsync(bare, $"no answer to ping ({error.Code})", ct))
        {
            _logger.LogInformation("Federation: peer {Address} went offline: no answer to ping ({Code})", bare, error.Code);
        }
    }

    /// <summary>
    /// A peer lost by a failed ping may only have been cut from the exchange for a while (its session
    /// hibernating for a resumption): when it answers again, its fresh presence brings it back online.
    /// </summary>
    private async Task PingAgainAsync(string bare, string full, DateTimeOffset since, CancellationToken ct)
    {
        if (_clock.GetUtcNow() - since > _options.PresenceMaxAge)
        {
            _unanswered.TryRemove(bare, out _);
            return;
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.PeerPingTimeout);
        XmppError? error;
        try
        {
            error = await _link.PingAsync(full, timeout.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return;
        }
        if (error is null && _unanswered.TryRemove(new KeyValuePair<string, (string, DateTimeOffset)>(bare, (full, since))))
        {
            _logger.LogInformation("Federation: peer {Address} answers again; asking for its presence", bare);
            await PullAsync(full, ct);
        }
    }

    private TimeSpan LinkGrace => _options.PeerPingInterval + _options.PeerPingTimeout;

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken ct)
    {
        try
        {
            return await timer.WaitForNextTickAsync(ct);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}

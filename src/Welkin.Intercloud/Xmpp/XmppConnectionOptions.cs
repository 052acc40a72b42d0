namespace Welkin.Intercloud.Xmpp;

/// <summary>Where an <see cref="XmppConnection"/> is.</summary>
public enum XmppConnectionState
{
    Connecting,
    Online,
    Offline,
}

/// <summary>How an <see cref="XmppConnection"/> logs in, keeps its stream alive and comes back after losing it.</summary>
public sealed record XmppConnectionOptions
{
    public required XmppClientOptions Client { get; init; }

    public XmppBackoff Backoff { get; init; } = new();

    /// <summary>How often the server is pinged (XEP-0199) and asked for an acknowledgement (XEP-0198); an unanswered ping drops the stream.</summary>
    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Sends made while offline wait for the connection, at most this many at once and each at most <see cref="XmppClientOptions.Timeout"/>.</summary>
    public int MaxWaitingSends { get; init; } = 256;

    /// <summary>Called on every change of <see cref="XmppConnection.State"/>.</summary>
    public Func<XmppConnection, XmppConnectionState, Task>? OnStateChanged { get; init; }

    /// <summary>Called when a lost stream was resumed (XEP-0198): the session, its subscriptions and presence carried on.</summary>
    public Func<XmppConnection, CancellationToken, Task>? OnResumed { get; init; }

    /// <summary>
    /// Called after each fresh session, the first one included, once the last presence was re-sent:
    /// the place to (re-)subscribe and to send what the server may have dropped.
    /// </summary>
    public Func<XmppConnection, CancellationToken, Task>? OnFreshSession { get; init; }
}

/// <summary>Exponential backoff with full jitter: attempt n waits a uniform time in [0, min(Max, Initial × 2ⁿ)].</summary>
public sealed record XmppBackoff
{
    public TimeSpan Initial { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan Max { get; init; } = TimeSpan.FromSeconds(60);

    /// <param name="attempt">0 for the first retry.</param>
    /// <param name="random">A uniform value in [0, 1).</param>
    public TimeSpan Delay(int attempt, double random)
    {
        var ceiling = Ceiling(attempt);
        return TimeSpan.FromTicks((long)(ceiling.Ticks * Math.Clamp(random, 0, 1)));
    }

    /// <summary>The longest wait of <paramref name="attempt"/>.</summary>
    public TimeSpan Ceiling(int attempt)
    {
        var exponent = Math.Min(Math.Max(attempt, 0), 30);
        var ticks = Math.Min((double)Max.Ticks, Initial.Ticks * Math.Pow(2, exponent));
        return TimeSpan.FromTicks((long)ticks);
    }
}

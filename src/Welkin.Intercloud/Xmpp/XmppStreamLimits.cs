namespace Welkin.Intercloud.Xmpp;

/// <summary>What a peer may send before Welkin ends the stream: the defences against hostile input.</summary>
public sealed record XmppStreamLimits
{
    /// <summary>
    /// Bytes read from the connection while one stanza is open. Reads are at most
    /// <see cref="ReadChunkBytes"/> long, so a stanza is refused once this budget plus one chunk is crossed.
    /// </summary>
    public int MaxStanzaBytes { get; init; } = 256 * 1024;

    /// <summary>Element nesting inside a stanza, the stanza itself being depth 1.</summary>
    public int MaxDepth { get; init; } = 32;

    public int ReadChunkBytes { get; init; } = 4096;

    /// <summary>
    /// The sustained stanza rate a peer may keep up: more than this many per second, counted over
    /// <see cref="FloodWindow"/>, and the stream is ended with policy-violation.
    /// </summary>
    public int MaxStanzasPerSecond { get; init; } = 500;

    public TimeSpan FloodWindow { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>XEP-0198: sent stanzas kept for a server that does not acknowledge them; beyond this the stream is ended with policy-violation.</summary>
    public int MaxUnacknowledged { get; init; } = 10_000;
}

using Welkin.Contracts;
using Welkin.Core.Federation;

namespace Welkin.Server.Federation;

/// <summary>When this cloud publishes its presence again, and the sequence number of the next one.</summary>
public static class PresenceSchedule
{
    /// <summary>
    /// Due when nothing was published yet; else, once <paramref name="minInterval"/> has passed since the
    /// last publication (the rate limit: changes in between are merged into the next one), when a peer
    /// asked for it (came online), the capacity differs from the published one, or the published one is
    /// <paramref name="refresh"/> old (peers drop presences older than their PresenceMaxAge).
    /// </summary>
    public static bool Due(CloudCapacity current, CloudCapacity? published, DateTimeOffset publishedAt, DateTimeOffset now, TimeSpan refresh, bool requested, TimeSpan minInterval) =>
        published is null
        || (now - publishedAt >= minInterval && (requested || !CapacitySummary.Same(current, published) || now - publishedAt >= refresh));

    /// <summary>Above the last one, and never below the clock's milliseconds, so it keeps growing across restarts.</summary>
    public static long NextSequence(long last, DateTimeOffset now) => Math.Max(last + 1, now.ToUnixTimeMilliseconds());
}

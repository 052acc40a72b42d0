using System.Collections.Concurrent;

namespace Welkin.Portal.Sessions;

/// <summary>
/// Where portal sessions are kept between requests. The portal hands it only what it may see: the SHA-256 of the
/// cookie as the key, the session's contents already encrypted with Data Protection, and the times that decide
/// expiry. The server keeps them in its database (they survive a restart, replicas share them); the in-memory
/// store serves tests and an embedding without a database.
/// </summary>
public interface IPortalSessionStore
{
    /// <summary>The session stored under <paramref name="key"/>, or null.</summary>
    Task<StoredPortalSession?> FindAsync(string key, CancellationToken ct);

    Task CreateAsync(StoredPortalSession session, CancellationToken ct);

    /// <summary>Replaces the contents and times of a session; false when it is gone (ended meanwhile), which stays gone.</summary>
    Task<bool> UpdateAsync(StoredPortalSession session, CancellationToken ct);

    /// <summary>Records that the session was used; false when it is gone.</summary>
    Task<bool> TouchAsync(string key, DateTimeOffset lastSeen, DateTimeOffset expires, CancellationToken ct);

    Task DeleteAsync(string key, CancellationToken ct);

    /// <summary>
    /// Deletes the sessions that expired by <paramref name="now"/>, then the least recently seen beyond
    /// <paramref name="keep"/>; returns how many went.
    /// </summary>
    Task<int> PruneAsync(DateTimeOffset now, int keep, CancellationToken ct);
}

/// <summary>
/// A session as stored: <see cref="Contents"/> is the Data Protection payload of its clouds and tokens, bound to
/// <see cref="Key"/>; <see cref="Expires"/> is the earlier of the idle and the absolute end as of <see cref="LastSeen"/>.
/// </summary>
public sealed record StoredPortalSession(string Key, byte[] Contents, DateTimeOffset Created, DateTimeOffset LastSeen, DateTimeOffset Expires);

/// <summary>Sessions in this process's memory: a restart signs everybody out.</summary>
public sealed class InMemoryPortalSessionStore : IPortalSessionStore
{
    private readonly ConcurrentDictionary<string, StoredPortalSession> _sessions = new(StringComparer.Ordinal);

    public int Count => _sessions.Count;

    public Task<StoredPortalSession?> FindAsync(string key, CancellationToken ct) =>
        Task.FromResult(_sessions.TryGetValue(key, out var session) ? session : null);

    public Task CreateAsync(StoredPortalSession session, CancellationToken ct)
    {
        _sessions[session.Key] = session;
        return Task.CompletedTask;
    }

    public Task<bool> UpdateAsync(StoredPortalSession session, CancellationToken ct)
    {
        while (_sessions.TryGetValue(session.Key, out var old))
        {
            if (_sessions.TryUpdate(session.Key, session, old))
            {
                return Task.FromResult(true);
            }
        }
        return Task.FromResult(false);
    }

    public Task<bool> TouchAsync(string key, DateTimeOffset lastSeen, DateTimeOffset expires, CancellationToken ct)
    {
        while (_sessions.TryGetValue(key, out var old))
        {
            if (_sessions.TryUpdate(key, old with { LastSeen = lastSeen, Expires = expires }, old))
            {
                return Task.FromResult(true);
            }
        }
        return Task.FromResult(false);
    }

    public Task DeleteAsync(string key, CancellationToken ct)
    {
        _sessions.TryRemove(key, out _);
        return Task.CompletedTask;
    }

    public Task<int> PruneAsync(DateTimeOffset now, int keep, CancellationToken ct)
    {
        var removed = 0;
        foreach (var (key, session) in _sessions)
        {
            if (session.Expires <= now && _sessions.TryRemove(key, out _))
            {
                removed++;
            }
        }
        var excess = _sessions.Count - Math.Max(keep, 0);
        if (excess > 0)
        {
            foreach (var session in _sessions.Values.OrderBy(s => s.LastSeen).Take(excess))
            {
                if (_sessions.TryRemove(session.Key, out _))
                {
                    removed++;
                }
            }
        }
        return Task.FromResult(removed);
    }
}

using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.Extensions.Options;

namespace Welkin.Portal.Sessions;

/// <summary>
/// The server-side session store. Sessions are kept in memory: a restart signs everybody out (their API
/// tokens stay valid until they expire or are revoked, as a CLI's would). The cookie carries 256 random
/// bits; the store is keyed by their SHA-256, so a memory dump shows no usable cookie.
/// </summary>
public sealed class PortalSessions(IOptions<PortalOptions> options, TimeProvider clock)
{
    private readonly ConcurrentDictionary<string, PortalSession> _sessions = new(StringComparer.Ordinal);

    public int Count => _sessions.Count;

    /// <summary>Starts a session for <paramref name="home"/> and returns the cookie value that names it.</summary>
    public (string Cookie, PortalSession Session) Start(PortalCloud home)
    {
        Prune();
        var cookie = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var session = new PortalSession(KeyOf(cookie), clock.GetUtcNow());
        session.Add(home);
        _sessions[session.Key] = session;
        return (cookie, session);
    }

    /// <summary>The live session the cookie names, or null; touching it extends its idle time.</summary>
    public PortalSession? Find(string? cookie)
    {
        if (string.IsNullOrEmpty(cookie) || cookie.Length > 128 || !_sessions.TryGetValue(KeyOf(cookie), out var session))
        {
            return null;
        }
        var now = clock.GetUtcNow();
        if (Expired(session, now))
        {
            _sessions.TryRemove(session.Key, out _);
            return null;
        }
        session.LastSeen = now;
        return session;
    }

    public void End(PortalSession session) => _sessions.TryRemove(session.Key, out _);

    private bool Expired(PortalSession session, DateTimeOffset now) =>
        now - session.LastSeen > options.Value.IdleTimeout || now - session.Created > options.Value.AbsoluteTimeout;

    private void Prune()
    {
        var now = clock.GetUtcNow();
        foreach (var (key, session) in _sessions)
        {
            if (Expired(session, now))
            {
                _sessions.TryRemove(key, out _);
            }
        }
        var excess = _sessions.Count - options.Value.MaxSessions + 1;
        if (excess > 0)
        {
            foreach (var session in _sessions.Values.OrderBy(s => s.LastSeen).Take(excess))
            {
                _sessions.TryRemove(session.Key, out _);
            }
        }
    }

    private static string KeyOf(string cookie) => Convert.ToHexString(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(cookie)));
}

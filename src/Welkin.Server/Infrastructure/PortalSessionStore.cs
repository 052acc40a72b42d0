using Microsoft.Extensions.Options;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Portal;
using Welkin.Portal.Sessions;

namespace Welkin.Server.Infrastructure;

/// <summary>
/// The portal's sessions in the cloud's database (table <c>portal_sessions</c>, migration V0041): a restart signs
/// nobody out, and replicas on one database share them. The portal hands over only the cookie's SHA-256 and
/// contents it has already encrypted with Data Protection, whose key ring lives outside the database.
/// </summary>
public sealed class PortalSessionStore(IDatabase db) : IPortalSessionStore
{
    public async Task<StoredPortalSession?> FindAsync(string key, CancellationToken ct)
    {
        var row = await db.QuerySingleOrDefaultAsync<SessionRow>(
            "SELECT cookie_hash AS Key, contents AS Contents, created_at AS Created, last_seen_at AS LastSeen, expires_at AS Expires FROM portal_sessions WHERE cookie_hash = @Key",
            new { Key = key }, ct);
        if (row is null)
        {
            return null;
        }
        byte[] contents;
        try
        {
            contents = Convert.FromBase64String(row.Contents);
        }
        catch (FormatException)
        {
            contents = [];
        }
        return new StoredPortalSession(row.Key, contents, Time(row.Created), Time(row.LastSeen), Time(row.Expires));
    }

    public async Task CreateAsync(StoredPortalSession session, CancellationToken ct)
    {
        var written = await db.WriteAsync<int>(async tx => await tx.ExecuteAsync(
            "INSERT INTO portal_sessions (cookie_hash, contents, created_at, last_seen_at, expires_at) VALUES (@Key, @Contents, @Created, @LastSeen, @Expires)",
            Row(session)), ct);
        _ = written.Value;
    }

    public async Task<bool> UpdateAsync(StoredPortalSession session, CancellationToken ct)
    {
        var written = await db.WriteAsync<int>(async tx => await tx.ExecuteAsync(
            "UPDATE portal_sessions SET contents = @Contents, last_seen_at = @LastSeen, expires_at = @Expires WHERE cookie_hash = @Key",
            Row(session)), ct);
        return written.Value > 0;
    }

    public async Task<bool> TouchAsync(string key, DateTimeOffset lastSeen, DateTimeOffset expires, CancellationToken ct)
    {
        var written = await db.WriteAsync<int>(async tx => await tx.ExecuteAsync(
            "UPDATE portal_sessions SET last_seen_at = @LastSeen, expires_at = @Expires WHERE cookie_hash = @Key",
            new { Key = key, LastSeen = lastSeen.ToUnixTimeMilliseconds(), Expires = expires.ToUnixTimeMilliseconds() }), ct);
        return written.Value > 0;
    }

    public async Task DeleteAsync(string key, CancellationToken ct)
    {
        var written = await db.WriteAsync<int>(async tx => await tx.ExecuteAsync(
            "DELETE FROM portal_sessions WHERE cookie_hash = @Key", new { Key = key }), ct);
        _ = written.Value;
    }

    public async Task<int> PruneAsync(DateTimeOffset now, int keep, CancellationToken ct)
    {
        var written = await db.WriteAsync<int>(async tx =>
        {
            var removed = await tx.ExecuteAsync("DELETE FROM portal_sessions WHERE expires_at <= @Now", new { Now = now.ToUnixTimeMilliseconds() });
            var excess = await tx.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM portal_sessions") - Math.Max(keep, 0);
            if (excess > 0)
            {
                removed += await tx.ExecuteAsync(
                    "DELETE FROM portal_sessions WHERE cookie_hash IN (SELECT cookie_hash FROM portal_sessions ORDER BY last_seen_at, cookie_hash LIMIT @Excess)",
                    new { Excess = excess });
            }
            return removed;
        }, ct);
        return written.Value;
    }

    private static object Row(StoredPortalSession s) => new
    {
        s.Key,
        Contents = Convert.ToBase64String(s.Contents),
        Created = s.Created.ToUnixTimeMilliseconds(),
        LastSeen = s.LastSeen.ToUnixTimeMilliseconds(),
        Expires = s.Expires.ToUnixTimeMilliseconds(),
    };

    private static DateTimeOffset Time(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    private sealed record SessionRow(string Key, string Contents, long Created, long LastSeen, long Expires);
}

/// <summary>Deletes expired portal sessions (their encrypted tokens too) even when nobody signs in to trigger it.
/// Runs on the portal's clock, not the tick's: in simulation mode the tick's time is the simulated one.
/// </summary>
public sealed class PortalSessionSweeper(PortalSessionStore store, IOptions<PortalOptions> options, PortalClock clock) : IPeriodicWork
{
    public string Name => "portal.sessions.sweep";

    public TimeSpan Interval => TimeSpan.FromMinutes(5);

    public Task RunAsync(DateTimeOffset now, CancellationToken ct) => store.PruneAsync(clock.UtcNow, options.Value.MaxSessions, ct);
}

using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;

namespace Welkin.Portal.Sessions;

/// <summary>
/// The portal's sessions, kept in an <see cref="IPortalSessionStore"/> (the server's database). The cookie carries
/// 256 random bits; the store is keyed by their SHA-256, so a copy of the store shows no usable cookie, and holds
/// the session's clouds and API tokens encrypted with Data Protection under a purpose bound to that key. Nothing
/// is cached in memory: every request reads its session, so a restart or another replica sees the same sessions.
/// </summary>
public sealed class PortalSessions(IOptions<PortalOptions> options, PortalClock clock, IPortalSessionStore store, IDataProtectionProvider protection)
{
    /// <summary>"Last seen" is written at most this often per session, not on every page view.</summary>
    public static readonly TimeSpan TouchInterval = TimeSpan.FromMinutes(1);

    private const string Purpose = "Welkin.Portal.Sessions.v1";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly IDataProtector _protector = protection.CreateProtector(Purpose);

    /// <summary>Starts a session for <paramref name="home"/> and returns the cookie value that names it.</summary>
    public async Task<(string Cookie, PortalSession Session)> StartAsync(PortalCloud home, CancellationToken ct)
    {
        var now = clock.UtcNow;
        await store.PruneAsync(now, options.Value.MaxSessions - 1, ct);
        var cookie = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var session = new PortalSession(KeyOf(cookie), now);
        session.Add(home);
        await store.CreateAsync(Stored(session, now), ct);
        return (cookie, session);
    }

    /// <summary>
    /// The live session the cookie names, or null (unknown, expired, or contents that do not open: tampered with
    /// or protected by a key this key ring lacks). Using it extends its idle time; the store hears of it at most
    /// once per <see cref="TouchInterval"/>.
    /// </summary>
    public async Task<PortalSession?> FindAsync(string? cookie, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(cookie) || cookie.Length > 128)
        {
            return null;
        }
        var key = KeyOf(cookie);
        if (await store.FindAsync(key, ct) is not { } stored)
        {
            return null;
        }
        var now = clock.UtcNow;
        if (Expired(stored.Created, stored.LastSeen, now) || Open(stored) is not { Count: > 0 } clouds)
        {
            await store.DeleteAsync(key, ct);
            return null;
        }
        var session = new PortalSession(key, stored.Created) { LastSeen = stored.LastSeen };
        foreach (var cloud in clouds)
        {
            session.Add(cloud);
        }
        if (now - stored.LastSeen >= TouchInterval)
        {
            if (!await store.TouchAsync(key, now, ExpiresAt(stored.Created, now), ct))
            {
                return null;
            }
            session.LastSeen = now;
        }
        return session;
    }

    /// <summary>Stores a change of the session's clouds; false when the session ended meanwhile.</summary>
    public Task<bool> SaveAsync(PortalSession session, CancellationToken ct)
    {
        var now = clock.UtcNow;
        session.LastSeen = now;
        return store.UpdateAsync(Stored(session, now), ct);
    }

    public Task EndAsync(PortalSession session, CancellationToken ct) => store.DeleteAsync(session.Key, ct);

    private bool Expired(DateTimeOffset created, DateTimeOffset lastSeen, DateTimeOffset now) =>
        now - lastSeen > options.Value.IdleTimeout || now - created > options.Value.AbsoluteTimeout;

    private DateTimeOffset ExpiresAt(DateTimeOffset created, DateTimeOffset lastSeen)
    {
        var idle = lastSeen + options.Value.IdleTimeout;
        var absolute = created + options.Value.AbsoluteTimeout;
        return idle < absolute ? idle : absolute;
    }

    private StoredPortalSession Stored(PortalSession session, DateTimeOffset now)
    {
        var clouds = session.Clouds.Select(c => new StoredCloud(
            c.Name, c.Endpoint.AbsoluteUri, c.Token, c.TokenId, c.PrincipalId, c.PrincipalName, c.AccountId, c.AccountName, [.. c.Permissions])).ToArray();
        var contents = _protector.CreateProtector(session.Key).Protect(JsonSerializer.SerializeToUtf8Bytes(clouds, Json));
        return new StoredPortalSession(session.Key, contents, session.Created, now, ExpiresAt(session.Created, now));
    }

    private List<PortalCloud>? Open(StoredPortalSession stored)
    {
        try
        {
            var json = _protector.CreateProtector(stored.Key).Unprotect(stored.Contents);
            return JsonSerializer.Deserialize<StoredCloud[]>(json, Json)?
                .Select(c => new PortalCloud(c.Name, new Uri(c.Endpoint), c.Token, c.TokenId, c.PrincipalId, c.PrincipalName, c.AccountId, c.AccountName, c.Permissions))
                .ToList();
        }
        catch (Exception e) when (e is CryptographicException or JsonException or UriFormatException or ArgumentException)
        {
            return null;
        }
    }

    private static string KeyOf(string cookie) => Convert.ToHexString(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(cookie)));

    private sealed record StoredCloud(
        string Name, string Endpoint, string Token, string TokenId, string PrincipalId, string PrincipalName, string? AccountId, string? AccountName, string[] Permissions);
}

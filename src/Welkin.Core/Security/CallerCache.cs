using System.Collections.Concurrent;

namespace Welkin.Core.Security;

/// <summary>
/// Bearer tokens validated in the last moments, so that authenticating a request is not a
/// database read every time. Correctness rests on three rules:
/// <list type="number">
/// <item>Every change that can end a token's validity (revocation, a principal's state or roles,
/// an account's state) calls <see cref="Forget"/> once it has committed, which drops every entry:
/// on this process the change takes effect for the very next request.</item>
/// <item>An authentication whose database read began before such a change cannot store its
/// (now stale) answer: entries carry the generation their read began in, and only entries of
/// the current generation are used.</item>
/// <item>Expiry is checked on every use, and an entry lives at most <see cref="SecurityOptions.TokenCacheTtl"/>.
/// Other replicas sharing a PostgreSQL database do not see this process's <see cref="Forget"/>:
/// there a revocation takes effect within that time.</item>
/// </list>
/// Keys are token hashes, never secrets.
/// </summary>
internal sealed class CallerCache(TimeSpan ttl)
{
    private const int MaxEntries = 50_000;

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly long _ttlMs = (long)ttl.TotalMilliseconds;
    private long _generation;

    public bool Enabled => _ttlMs > 0;

    public long Generation => Interlocked.Read(ref _generation);

    public Entry? Find(string tokenHash, long nowMs)
    {
        if (!Enabled || !_entries.TryGetValue(tokenHash, out var entry))
        {
            return null;
        }
        if (entry.Generation != Generation || nowMs - entry.CachedAtMs >= _ttlMs || (entry.ExpiresAtMs is { } exp && exp <= nowMs))
        {
            _entries.TryRemove(KeyValuePair.Create(tokenHash, entry));
            return null;
        }
        return entry;
    }

    /// <summary>Keeps <paramref name="entry"/> unless a <see cref="Forget"/> happened since its read began.</summary>
    public void Store(string tokenHash, Entry entry)
    {
        if (!Enabled || entry.Generation != Generation)
        {
            return;
        }
        if (_entries.Count >= MaxEntries)
        {
            _entries.Clear();
        }
        _entries[tokenHash] = entry;
    }

    public void Forget()
    {
        Interlocked.Increment(ref _generation);
        _entries.Clear();
    }

    /// <summary>A validated token: its caller (the correlation id is replaced per request), expiry and last recorded use.</summary>
    internal sealed class Entry(Caller caller, long? expiresAtMs, long? lastUsedAtMs, long cachedAtMs, long generation)
    {
        private long _lastUsedAtMs = lastUsedAtMs ?? long.MinValue;

        public Caller Caller { get; } = caller;

        public long? ExpiresAtMs { get; } = expiresAtMs;

        public long CachedAtMs { get; } = cachedAtMs;

        public long Generation { get; } = generation;

        /// <summary>True for exactly one caller once the recorded last use is older than <paramref name="resolutionMs"/>.</summary>
        public bool ClaimLastUsedUpdate(long nowMs, long resolutionMs)
        {
            var seen = Interlocked.Read(ref _lastUsedAtMs);
            return (seen == long.MinValue || nowMs - seen >= resolutionMs)
                && Interlocked.CompareExchange(ref _lastUsedAtMs, nowMs, seen) == seen;
        }
    }
}

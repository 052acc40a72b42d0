using System.Collections.Concurrent;

namespace Welkin.Core.Security;

public sealed class LoginThrottleOptions
{
    /// <summary>Failed attempts allowed per key inside <see cref="Window"/> before logins are refused.</summary>
    public int MaxFailures { get; set; } = 5;

    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(15);
}

/// <summary>
/// Counts failed logins per principal name and per client address. Once a key reaches the
/// limit, further attempts are refused (even with the right password) until the window
/// since the first failure has passed. Kept in memory: a restart forgives, which is
/// acceptable for a throttle whose purpose is to make online guessing impractically slow.
/// </summary>
public sealed class LoginThrottle(TimeProvider clock, LoginThrottleOptions options)
{
    private readonly ConcurrentDictionary<string, (int Failures, DateTimeOffset Since)> _failures = new(StringComparer.Ordinal);

    /// <summary>How long the key must wait, or null when an attempt is allowed.</summary>
    public TimeSpan? RetryAfter(string key)
    {
        if (!_failures.TryGetValue(key, out var state))
        {
            return null;
        }
        var until = state.Since + options.Window;
        var now = clock.GetUtcNow();
        if (now >= until)
        {
            _failures.TryRemove(key, out _);
            return null;
        }
        return state.Failures >= options.MaxFailures ? until - now : null;
    }

    public void Failed(string key)
    {
        var now = clock.GetUtcNow();
        _failures.AddOrUpdate(key, _ => (1, now), (_, s) => now - s.Since >= options.Window ? (1, now) : (s.Failures + 1, s.Since));
        if (_failures.Count > 100_000)
        {
            foreach (var stale in _failures.Where(kv => now - kv.Value.Since >= options.Window).Select(kv => kv.Key).ToList())
            {
                _failures.TryRemove(stale, out _);
            }
        }
    }

    public void Succeeded(string key) => _failures.TryRemove(key, out _);
}

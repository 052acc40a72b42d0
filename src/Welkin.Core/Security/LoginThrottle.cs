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
/// since the first failure has passed. An attempt is counted before its password is checked
/// and refunded if it succeeds, so parallel guesses cannot all slip past the limit while the
/// slow hash runs. Kept in memory: a restart forgives, which is acceptable for a throttle
/// whose purpose is to make online guessing impractically slow.
/// </summary>
public sealed class LoginThrottle(TimeProvider clock, LoginThrottleOptions options)
{
    private const int MaxKeys = 100_000;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, (int Failures, DateTimeOffset Since)> _failures = new(StringComparer.Ordinal);

    /// <summary>How long the key must wait, or null when an attempt would be allowed. Counts nothing.</summary>
    public TimeSpan? RetryAfter(string key)
    {
        lock (_gate)
        {
            return Wait(key, clock.GetUtcNow());
        }
    }

    /// <summary>
    /// Counts an attempt as failed in advance, or returns how long to wait when the key has no
    /// attempts left. Follow with <see cref="Refund"/> or <see cref="Succeeded"/> if it succeeds.
    /// </summary>
    public TimeSpan? TryBegin(string key)
    {
        var now = clock.GetUtcNow();
        lock (_gate)
        {
            if (Wait(key, now) is { } wait)
            {
                return wait;
            }
            _failures[key] = _failures.TryGetValue(key, out var s) ? (s.Failures + 1, s.Since) : (1, now);
            if (_failures.Count > MaxKeys)
            {
                foreach (var stale in _failures.Where(kv => now - kv.Value.Since >= options.Window).Select(kv => kv.Key).ToList())
                {
                    _failures.Remove(stale);
                }
            }
            return null;
        }
    }

    /// <summary>Counts a failed attempt (the same as <see cref="TryBegin"/> without asking).</summary>
    public void Failed(string key) => TryBegin(key);

    /// <summary>Takes back the attempt counted by <see cref="TryBegin"/>: it did not fail.</summary>
    public void Refund(string key)
    {
        lock (_gate)
        {
            if (_failures.TryGetValue(key, out var s))
            {
                if (s.Failures <= 1)
                {
                    _failures.Remove(key);
                }
                else
                {
                    _failures[key] = (s.Failures - 1, s.Since);
                }
            }
        }
    }

    /// <summary>Forgives every failure of the key.</summary>
    public void Succeeded(string key)
    {
        lock (_gate)
        {
            _failures.Remove(key);
        }
    }

    private TimeSpan? Wait(string key, DateTimeOffset now)
    {
        if (!_failures.TryGetValue(key, out var state))
        {
            return null;
        }
        var until = state.Since + options.Window;
        if (now >= until)
        {
            _failures.Remove(key);
            return null;
        }
        return state.Failures >= options.MaxFailures ? until - now : null;
    }
}

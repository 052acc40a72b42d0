namespace Welkin.Intercloud.Federation;

/// <summary>What <see cref="SenderBudget.Take"/> decided about one stanza.</summary>
public enum BudgetVerdict
{
    /// <summary>Within the sender's budget: handle it.</summary>
    Allowed,

    /// <summary>Over budget: drop it, already reported in this window.</summary>
    Dropped,

    /// <summary>Over budget and the sender's first drop in its report window: drop it and report the flood once.</summary>
    DroppedFirstInWindow,
}

/// <summary>
/// A token bucket per sender: <c>burst</c> stanzas at once, then <c>perSecond</c>, so a party that
/// floods costs a dictionary look-up per stanza rather than the signature check and chain build of
/// a presence. Drops are reported once per sender per <c>reportWindow</c>. Senders whose bucket is full
/// again and whose window is over are forgotten, so a stream of new senders does not grow it forever.
/// </summary>
public sealed class SenderBudget
{
    private const int SweepAbove = 1024;
    private readonly double _burst;
    private readonly double _perSecond;
    private readonly TimeSpan _reportWindow;
    private readonly TimeProvider _clock;
    private readonly Dictionary<string, Bucket> _senders = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public SenderBudget(int burst, double perSecond, TimeSpan reportWindow, TimeProvider clock)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(burst, 1);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(perSecond);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(reportWindow, TimeSpan.Zero);
        _burst = burst;
        _perSecond = perSecond;
        _reportWindow = reportWindow;
        _clock = clock;
    }

    /// <summary>The senders tracked now (for tests and diagnostics).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _senders.Count;
            }
        }
    }

    /// <summary>Spends one token of <paramref name="sender"/>'s bucket, if it has one.</summary>
    public BudgetVerdict Take(string sender)
    {
        var now = _clock.GetUtcNow();
        lock (_lock)
        {
            if (!_senders.TryGetValue(sender, out var bucket))
            {
                if (_senders.Count >= SweepAbove)
                {
                    Sweep(now);
                }
                bucket = new Bucket { Tokens = _burst, RefilledAt = now, ReportedAt = DateTimeOffset.MinValue };
                _senders[sender] = bucket;
            }
            Refill(bucket, now);
            if (bucket.Tokens >= 1)
            {
                bucket.Tokens -= 1;
                return BudgetVerdict.Allowed;
            }
            if (now - bucket.ReportedAt >= _reportWindow)
            {
                bucket.ReportedAt = now;
                return BudgetVerdict.DroppedFirstInWindow;
            }
            return BudgetVerdict.Dropped;
        }
    }

    private void Refill(Bucket bucket, DateTimeOffset now)
    {
        var elapsed = (now - bucket.RefilledAt).TotalSeconds;
        if (elapsed > 0)
        {
            bucket.Tokens = Math.Min(_burst, bucket.Tokens + elapsed * _perSecond);
            bucket.RefilledAt = now;
        }
    }

    private void Sweep(DateTimeOffset now)
    {
        foreach (var (sender, bucket) in _senders.ToList())
        {
            Refill(bucket, now);
            if (bucket.Tokens >= _burst && now - bucket.ReportedAt >= _reportWindow)
            {
                _senders.Remove(sender);
            }
        }
    }

    private sealed class Bucket
    {
        public double Tokens { get; set; }

        public DateTimeOffset RefilledAt { get; set; }

        public DateTimeOffset ReportedAt { get; set; }
    }
}

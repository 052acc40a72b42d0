namespace Welkin.Core.Clock;

/// <summary>
/// The clock of simulation mode: time stands still until <see cref="AdvanceTo"/> moves it, and a
/// timer (<c>Task.Delay(d, clock)</c>, <see cref="TimeProvider.CreateTimer"/>) fires only when the
/// clock reaches it. Timers due at the same instant fire in the order they were set, so the same
/// inputs play out the same way. <see cref="SimulationClock"/> decides when to move it.
/// </summary>
public sealed class VirtualClock(DateTimeOffset start) : TimeProvider
{
    private readonly Lock _gate = new();
    private readonly List<VirtualTimer> _timers = [];
    private long _nowTicks = start.UtcTicks;
    private long _sequence;

    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _nowTicks), TimeSpan.Zero);

    public override long GetTimestamp() => Interlocked.Read(ref _nowTicks);

    /// <summary>Timers set and not yet fired.</summary>
    public int PendingTimers
    {
        get
        {
            lock (_gate)
            {
                return _timers.Count(t => t.Due is not null);
            }
        }
    }

    /// <summary>When the earliest pending timer falls due, or null when none is set.</summary>
    public DateTimeOffset? NextTimerDue
    {
        get
        {
            lock (_gate)
            {
                long? min = null;
                foreach (var t in _timers)
                {
                    if (t.Due is { } due && (min is null || due < min))
                    {
                        min = due;
                    }
                }
                return min is null ? null : new DateTimeOffset(min.Value, TimeSpan.Zero);
            }
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new VirtualTimer(this, callback, state);
        lock (_gate)
        {
            _timers.Add(timer);
        }
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>
    /// Sets the clock to <paramref name="instant"/> when that is later than now (restoring the
    /// persisted time at start). It never goes backwards.
    /// </summary>
    public void MoveForwardTo(DateTimeOffset instant)
    {
        lock (_gate)
        {
            if (instant.UtcTicks > _nowTicks)
            {
                Interlocked.Exchange(ref _nowTicks, instant.UtcTicks);
            }
        }
    }

    /// <summary>
    /// Moves the clock to <paramref name="target"/>, firing every timer due on the way in time order
    /// (the clock reads each timer's due time while it fires). Returns how many fired. Callbacks run
    /// on the caller's thread, outside the clock's lock.
    /// </summary>
    public int AdvanceTo(DateTimeOffset target)
    {
        var fired = 0;
        while (true)
        {
            VirtualTimer? next = null;
            lock (_gate)
            {
                foreach (var t in _timers)
                {
                    if (t.Due is { } due && due <= target.UtcTicks
                        && (next is null || due < next.Due || (due == next.Due && t.Sequence < next.Sequence)))
                    {
                        next = t;
                    }
                }
                if (next is null)
                {
                    if (target.UtcTicks > _nowTicks)
                    {
                        Interlocked.Exchange(ref _nowTicks, target.UtcTicks);
                    }
                    return fired;
                }
                if (next.Due!.Value > _nowTicks)
                {
                    Interlocked.Exchange(ref _nowTicks, next.Due.Value);
                }
                next.Due = next.Period is { } period ? _nowTicks + period : null;
                next.Sequence = ++_sequence;
            }
            fired++;
            next.Fire();
        }
    }

    private sealed class VirtualTimer(VirtualClock owner, TimerCallback callback, object? state) : ITimer
    {
        public long? Due { get; set; }

        public long? Period { get; private set; }

        public long Sequence { get; set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (owner._gate)
            {
                Due = dueTime == Timeout.InfiniteTimeSpan ? null : owner._nowTicks + Math.Max(0, dueTime.Ticks);
                Period = period == Timeout.InfiniteTimeSpan || period <= TimeSpan.Zero ? null : period.Ticks;
                Sequence = ++owner._sequence;
            }
            return true;
        }

        public void Fire() => callback(state);

        public void Dispose()
        {
            lock (owner._gate)
            {
                Due = null;
                owner._timers.Remove(this);
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}

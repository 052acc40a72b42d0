using Welkin.Core.Common;

namespace Welkin.Core.Security;

/// <summary>
/// Bounds the CPU that password hashing may take. A PBKDF2 derivation at the production count
/// keeps a core busy for a large fraction of a second, so a flood of sign-ups or logins would
/// otherwise hold every thread-pool thread and every core while other tenants' requests queue
/// behind it. At most <c>concurrency</c> derivations run at once, each on the thread that
/// acquired a slot, and at most <c>queueLimit</c> wait for one (asynchronously, holding no
/// thread); any further request is refused with 503 <c>server-busy</c> and a Retry-After at once,
/// instead of queueing without bound.
/// </summary>
public sealed class PasswordWork : IDisposable
{
    private readonly SemaphoreSlim _slots;
    private readonly int _admissionLimit;
    private int _admitted;

    public PasswordWork(int concurrency, int queueLimit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(concurrency, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(queueLimit);
        _slots = new SemaphoreSlim(concurrency, concurrency);
        _admissionLimit = concurrency + queueLimit;
    }

    /// <summary>Half the processors, at least one: the other half stays free for requests that hash nothing.</summary>
    public static int DefaultConcurrency => Math.Max(1, Environment.ProcessorCount / 2);

    public const int DefaultQueueLimit = 16;

    /// <summary>What a caller that found the queue full is told to wait before trying again.</summary>
    public static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(1);

    /// <summary>Derivations running or waiting for a slot now.</summary>
    public int InFlight => Volatile.Read(ref _admitted);

    /// <summary>Runs <paramref name="work"/> once a slot is free, or refuses it when too many already wait.</summary>
    public async Task<Result<T>> RunAsync<T>(Func<T> work, CancellationToken ct)
    {
        if (Interlocked.Increment(ref _admitted) > _admissionLimit)
        {
            Interlocked.Decrement(ref _admitted);
            return Busy;
        }
        try
        {
            await _slots.WaitAsync(ct);
            try
            {
                return work();
            }
            finally
            {
                _slots.Release();
            }
        }
        finally
        {
            Interlocked.Decrement(ref _admitted);
        }
    }

    public void Dispose() => _slots.Dispose();

    public static Error Busy =>
        new("server-busy", ErrorKind.Unavailable, "The server is busy checking passwords; try again shortly.") { RetryAfter = RetryAfter };
}

using Welkin.Core.Common;
using Welkin.Core.Security;

namespace Welkin.Core.Tests.Security;

public sealed class PasswordWorkTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Run_BeyondConcurrencyAndQueue_IsRefusedAsBusyWithRetryAfter_AndNeverRunsMoreThanTheSlots()
    {
        using var work = new PasswordWork(concurrency: 1, queueLimit: 1);
        using var release = new ManualResetEventSlim();
        var running = 0;
        var most = 0;
        int Hash()
        {
            var now = Interlocked.Increment(ref running);
            InterlockedMax(ref most, now);
            release.Wait(Ct);
            Interlocked.Decrement(ref running);
            return 1;
        }

        var first = Task.Run(() => work.RunAsync(Hash, Ct), Ct);
        while (Volatile.Read(ref running) != 1)
        {
            await Task.Delay(5, Ct);
        }
        var queued = work.RunAsync(Hash, Ct);
        var refused = await work.RunAsync(Hash, Ct);

        refused.Error.ShouldNotBeNull().Code.ShouldBe("server-busy");
        refused.Error.Kind.ShouldBe(ErrorKind.Unavailable);
        refused.Error.RetryAfter.ShouldBe(PasswordWork.RetryAfter);
        queued.IsCompleted.ShouldBeFalse();
        work.InFlight.ShouldBe(2);
        release.Set();
        (await first).Value.ShouldBe(1);
        (await queued).Value.ShouldBe(1);
        most.ShouldBe(1);
        work.InFlight.ShouldBe(0);
        (await work.RunAsync(() => 2, Ct)).Value.ShouldBe(2);
    }

    [Fact]
    public void DefaultConcurrency_IsHalfTheProcessors_AtLeastOne() =>
        PasswordWork.DefaultConcurrency.ShouldBe(Math.Max(1, Environment.ProcessorCount / 2));

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while (value > (seen = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }
}

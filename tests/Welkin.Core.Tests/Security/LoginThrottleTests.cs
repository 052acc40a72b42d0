using Welkin.Core.Security;
using Welkin.Testing;

namespace Welkin.Core.Tests.Security;

public sealed class LoginThrottleTests
{
    private readonly FakeTimeProvider _clock = new();
    private readonly LoginThrottle _throttle;

    public LoginThrottleTests() => _throttle = new LoginThrottle(_clock, new LoginThrottleOptions());

    [Fact]
    public void RetryAfter_BeforeFiveFailures_IsNull()
    {
        for (var i = 0; i < 4; i++)
        {
            _throttle.Failed("k");
        }

        _throttle.RetryAfter("k").ShouldBeNull();
    }

    [Fact]
    public void RetryAfter_AfterFiveFailures_IsTheRestOfTheWindowSinceTheFirst()
    {
        _throttle.Failed("k");
        _clock.Advance(TimeSpan.FromMinutes(5));
        for (var i = 0; i < 4; i++)
        {
            _throttle.Failed("k");
        }

        _throttle.RetryAfter("k").ShouldBe(TimeSpan.FromMinutes(10));
        _clock.Advance(TimeSpan.FromMinutes(10) - TimeSpan.FromTicks(1));
        _throttle.RetryAfter("k").ShouldBe(TimeSpan.FromTicks(1));
        _clock.Advance(TimeSpan.FromTicks(1));
        _throttle.RetryAfter("k").ShouldBeNull();
    }

    [Fact]
    public void Failed_AfterWindowPassed_StartsCountingAgain()
    {
        for (var i = 0; i < 4; i++)
        {
            _throttle.Failed("k");
        }
        _clock.Advance(TimeSpan.FromMinutes(15));
        for (var i = 0; i < 4; i++)
        {
            _throttle.Failed("k");
        }

        _throttle.RetryAfter("k").ShouldBeNull();
    }

    [Fact]
    public void Succeeded_ForgivesOnlyItsKey()
    {
        for (var i = 0; i < 5; i++)
        {
            _throttle.Failed("a");
            _throttle.Failed("b");
        }

        _throttle.Succeeded("a");

        _throttle.RetryAfter("a").ShouldBeNull();
        _throttle.RetryAfter("b").ShouldNotBeNull();
    }

    [Fact]
    public void TryBegin_CountsTheAttemptBeforeItIsChecked()
    {
        for (var i = 0; i < 5; i++)
        {
            _throttle.TryBegin("k").ShouldBeNull();
        }

        _throttle.TryBegin("k").ShouldBe(TimeSpan.FromMinutes(15));
    }

    [Fact]
    public void Refund_GivesBackOneAttemptOnly()
    {
        for (var i = 0; i < 5; i++)
        {
            _throttle.TryBegin("k");
        }
        _throttle.Refund("k");

        _throttle.TryBegin("k").ShouldBeNull();
        _throttle.TryBegin("k").ShouldNotBeNull();
    }

    [Fact]
    public async Task TryBegin_FromManyThreadsAtOnce_AdmitsExactlyTheLimit()
    {
        var admitted = 0;
        await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => Task.Run(() =>
        {
            if (_throttle.TryBegin("k") is null)
            {
                Interlocked.Increment(ref admitted);
            }
        }, TestContext.Current.CancellationToken)));

        admitted.ShouldBe(5);
    }
}

using Welkin.Contracts;
using Welkin.Server.Federation;

namespace Welkin.Server.Tests.Federation;

public sealed class PresenceScheduleTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Refresh = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan MinInterval = TimeSpan.FromSeconds(1);

    private static CloudCapacity Capacity(long vcpus) => new([new RegionCapacity("US", "us-east", vcpus, 1024, 100)], 2);

    [Fact]
    public void Due_WhenNothingWasPublished() => PresenceSchedule.Due(Capacity(8), null, default, Now, Refresh, requested: false, MinInterval).ShouldBeTrue();

    [Fact]
    public void Due_WhenTheCapacityChanged() =>
        PresenceSchedule.Due(Capacity(7), Capacity(8), Now - MinInterval, Now, Refresh, requested: false, MinInterval).ShouldBeTrue();

    [Fact]
    public void NotDue_WhenAnEqualCapacityWasPublishedRecently() =>
        // Equal, not the same instance: a newly computed summary of the same capacity.
        PresenceSchedule.Due(Capacity(8), Capacity(8), Now.AddMinutes(-1), Now, Refresh, requested: false, MinInterval).ShouldBeFalse();

    [Fact]
    public void Due_WhenThePublishedOneIsOld() =>
        PresenceSchedule.Due(Capacity(8), Capacity(8), Now - Refresh, Now, Refresh, requested: false, MinInterval).ShouldBeTrue();

    [Fact]
    public void Due_WhenAPeerCameOnline() =>
        PresenceSchedule.Due(Capacity(8), Capacity(8), Now - MinInterval, Now, Refresh, requested: true, MinInterval).ShouldBeTrue();

    [Fact]
    public void NotDue_WithinTheMinimumInterval_EvenWhenTheCapacityChangedOrAPeerAsked()
    {
        var justNow = Now - MinInterval / 2;

        PresenceSchedule.Due(Capacity(7), Capacity(8), justNow, Now, Refresh, requested: false, MinInterval).ShouldBeFalse();
        PresenceSchedule.Due(Capacity(8), Capacity(8), justNow, Now, Refresh, requested: true, MinInterval).ShouldBeFalse();
    }

    [Fact]
    public void NextSequence_GrowsWithinAMillisecond_AndStartsAtTheClock()
    {
        var first = PresenceSchedule.NextSequence(0, Now);
        var second = PresenceSchedule.NextSequence(first, Now);

        first.ShouldBe(Now.ToUnixTimeMilliseconds());
        second.ShouldBe(first + 1);
        // After a restart the counter is 0 again, and the clock keeps it above what peers saw.
        PresenceSchedule.NextSequence(0, Now.AddSeconds(1)).ShouldBeGreaterThan(second);
    }
}

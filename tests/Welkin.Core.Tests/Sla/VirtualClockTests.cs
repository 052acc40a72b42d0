using Welkin.Core.Clock;
using Welkin.Core.Sla;

namespace Welkin.Core.Tests.Sla;

public sealed class VirtualClockTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Delays_CompleteOnlyWhenTheClockReachesThem_InTimeOrder()
    {
        var clock = new VirtualClock(Start);
        var order = new List<int>();
        var late = Task.Delay(TimeSpan.FromSeconds(5), clock, TestContext.Current.CancellationToken).ContinueWith(_ => { lock (order) { order.Add(5); } }, TaskScheduler.Default);
        var early = Task.Delay(TimeSpan.FromSeconds(2), clock, TestContext.Current.CancellationToken).ContinueWith(_ => { lock (order) { order.Add(2); } }, TaskScheduler.Default);
        clock.PendingTimers.ShouldBe(2);
        clock.NextTimerDue.ShouldBe(Start.AddSeconds(2));

        clock.AdvanceTo(Start.AddSeconds(3)).ShouldBe(1);
        await early;
        late.IsCompleted.ShouldBeFalse();
        clock.GetUtcNow().ShouldBe(Start.AddSeconds(3));

        clock.AdvanceTo(Start.AddSeconds(10)).ShouldBe(1);
        await late;
        order.ShouldBe([2, 5]);
        clock.PendingTimers.ShouldBe(0);
    }

    [Fact]
    public void PeriodicTimer_FiresOncePerPeriod_AndTheClockNeverGoesBack()
    {
        var clock = new VirtualClock(Start);
        var seen = new List<DateTimeOffset>();
        using var timer = clock.CreateTimer(_ => seen.Add(clock.GetUtcNow()), null, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
        clock.AdvanceTo(Start.AddMinutes(3).AddSeconds(30));
        seen.ShouldBe([Start.AddMinutes(1), Start.AddMinutes(2), Start.AddMinutes(3)]);
        clock.MoveForwardTo(Start);
        clock.GetUtcNow().ShouldBe(Start.AddMinutes(3).AddSeconds(30));
    }

    [Theory]
    [InlineData("P1D", "2026-11-02T00:00:00Z")]
    [InlineData("PT6H", "2026-11-01T06:00:00Z")]
    [InlineData("P1M", "2026-12-01T00:00:00Z")]
    [InlineData("P1W", "2026-11-08T00:00:00Z")]
    [InlineData("P1DT12H30M", "2026-11-02T12:30:00Z")]
    [InlineData("PT1.5S", "2026-11-01T00:00:01.5Z")]
    public void Durations_AreCalendarAware(string text, string expected) =>
        SimulationClock.ParseDuration(text, Start).ShouldBe(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture));

    [Theory]
    [InlineData("")]
    [InlineData("P")]
    [InlineData("PT")]
    [InlineData("1D")]
    [InlineData("P1DT")]
    [InlineData("P-1D")]
    [InlineData("p1d")]
    [InlineData("P99999Y")]
    public void Durations_Malformed_AreNull(string text) => SimulationClock.ParseDuration(text, Start).ShouldBeNull();

    [Theory]
    [InlineData("2026-11", true)]
    [InlineData("2026-13", false)]
    [InlineData("26-11", false)]
    [InlineData("2026/11", false)]
    public void BillingPeriods_ParseMonths(string name, bool valid) => Welkin.Core.Common.BillingPeriod.TryParse(name, out _).ShouldBe(valid);
}

using Microsoft.Extensions.DependencyInjection;
using Welkin.Core.Metering;
using Welkin.Server.Tests.Instances;
using Welkin.Testing;

namespace Welkin.Server.Tests.Metering;

/// <summary>
/// An <see cref="InstancesApp"/> on a fake clock that starts at midnight UTC, so tests place
/// lifecycle changes at exact instants. The meter runs when a test says so.
/// </summary>
public sealed class MeteringApp : InstancesApp
{
    public FakeTimeProvider Clock { get; } = new(new DateTimeOffset(2026, 11, 2, 0, 0, 0, TimeSpan.Zero));

    public Meter Meter => Services.GetRequiredService<Meter>();

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Metering:Interval"] = "7.00:00:00",
        ["Contracts:SweepInterval"] = "01:00:00",
    };

    protected override TimeProvider ServerClock => Clock;

    /// <summary>Moves the clock to the next whole <paramref name="unit"/> (an hour, a day) plus <paramref name="offset"/>.</summary>
    public DateTimeOffset AdvanceToNext(TimeSpan unit, TimeSpan offset = default)
    {
        var now = Clock.GetUtcNow().ToUnixTimeMilliseconds();
        var step = (long)unit.TotalMilliseconds;
        var target = (now / step + 1) * step + (long)offset.TotalMilliseconds;
        Clock.Advance(TimeSpan.FromMilliseconds(target - now));
        return Clock.GetUtcNow();
    }
}

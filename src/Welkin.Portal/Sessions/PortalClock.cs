namespace Welkin.Portal.Sessions;

/// <summary>
/// The clock people's sessions run on. The host chooses it: the system clock by default, and never a simulated
/// cloud clock, which jumps by days or months and would sign out the operator who moved it.
/// </summary>
public sealed class PortalClock(TimeProvider time)
{
    public TimeProvider Time { get; } = time;

    public DateTimeOffset UtcNow => Time.GetUtcNow();
}

using Welkin.Intercloud.Xmpp;

namespace Welkin.Intercloud.Tests.Xmpp;

public sealed class XmppBackoffTests
{
    private static readonly XmppBackoff Backoff = new();

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 2)]
    [InlineData(3, 8)]
    [InlineData(5, 32)]
    [InlineData(6, 60)]
    [InlineData(40, 60)]
    [InlineData(int.MaxValue, 60)]
    public void Ceiling_DoublesFromOneSecond_UpToSixty(int attempt, int seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), Backoff.Ceiling(attempt));

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    [InlineData(12)]
    public void Delay_IsFullJitter_BetweenZeroAndTheCeiling(int attempt)
    {
        Assert.Equal(TimeSpan.Zero, Backoff.Delay(attempt, 0));
        Assert.Equal(Backoff.Ceiling(attempt) / 2, Backoff.Delay(attempt, 0.5));
        Assert.InRange(Backoff.Delay(attempt, 0.999999), Backoff.Ceiling(attempt) * 0.99, Backoff.Ceiling(attempt));
        Assert.Equal(Backoff.Ceiling(attempt), Backoff.Delay(attempt, 7));
    }

    [Fact]
    public void Delay_FollowsConfiguredBounds()
    {
        var fast = new XmppBackoff { Initial = TimeSpan.FromMilliseconds(100), Max = TimeSpan.FromSeconds(1) };

        Assert.Equal(TimeSpan.FromMilliseconds(400), fast.Ceiling(2));
        Assert.Equal(TimeSpan.FromSeconds(1), fast.Ceiling(4));
    }
}

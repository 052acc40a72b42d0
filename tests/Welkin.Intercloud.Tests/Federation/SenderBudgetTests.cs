using Welkin.Intercloud.Federation;
using Welkin.Testing;

namespace Welkin.Intercloud.Tests.Federation;

public sealed class SenderBudgetTests
{
    private readonly FakeTimeProvider _clock = new();

    private SenderBudget Budget() => new(burst: 20, perSecond: 5, reportWindow: TimeSpan.FromMinutes(1), _clock);

    [Fact]
    public void ABurst_IsAllowed_ThenDropsAreReportedOnce()
    {
        var budget = Budget();

        var verdicts = Enumerable.Range(0, 300).Select(_ => budget.Take("rogue@xmpp.test")).ToList();

        Assert.All(verdicts.Take(20), v => Assert.Equal(BudgetVerdict.Allowed, v));
        Assert.Equal(BudgetVerdict.DroppedFirstInWindow, verdicts[20]);
        Assert.All(verdicts.Skip(21), v => Assert.Equal(BudgetVerdict.Dropped, v));
    }

    [Fact]
    public void TheBucket_RefillsAtTheRate_UpToTheBurst()
    {
        var budget = Budget();
        for (var n = 0; n < 20; n++)
        {
            budget.Take("peer@xmpp.test");
        }

        _clock.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(5, Enumerable.Range(0, 10).Count(_ => budget.Take("peer@xmpp.test") == BudgetVerdict.Allowed));
        _clock.Advance(TimeSpan.FromHours(1));
        Assert.Equal(20, Enumerable.Range(0, 30).Count(_ => budget.Take("peer@xmpp.test") == BudgetVerdict.Allowed));
    }

    [Fact]
    public void ASteadySenderWithinTheRate_IsNeverDropped()
    {
        var budget = Budget();

        for (var n = 0; n < 1000; n++)
        {
            Assert.Equal(BudgetVerdict.Allowed, budget.Take("peer@xmpp.test"));
            _clock.Advance(TimeSpan.FromMilliseconds(200));
        }
    }

    [Fact]
    public void AFloodThatGoesOn_IsReportedOncePerWindow()
    {
        var budget = Budget();
        var reports = 0;

        // Ten stanzas a second for ten minutes: twice the rate.
        for (var n = 0; n < 6000; n++)
        {
            if (budget.Take("rogue@xmpp.test") == BudgetVerdict.DroppedFirstInWindow)
            {
                reports++;
            }
            _clock.Advance(TimeSpan.FromMilliseconds(100));
        }

        Assert.Equal(10, reports);
    }

    [Fact]
    public void Senders_HaveTheirOwnBuckets()
    {
        var budget = Budget();
        for (var n = 0; n < 100; n++)
        {
            budget.Take("rogue@xmpp.test");
        }

        Assert.Equal(BudgetVerdict.Allowed, budget.Take("peer@xmpp.test"));
        Assert.Equal(BudgetVerdict.Dropped, budget.Take("rogue@xmpp.test"));
    }

    [Fact]
    public void IdleSenders_AreForgotten_OnceTheirBucketIsFullAndTheirWindowOver()
    {
        var budget = Budget();
        for (var n = 0; n < 1024; n++)
        {
            budget.Take($"party{n}@xmpp.test");
        }
        Assert.Equal(1024, budget.Count);

        _clock.Advance(TimeSpan.FromMinutes(1));
        budget.Take("newcomer@xmpp.test");

        Assert.Equal(1, budget.Count);
    }
}

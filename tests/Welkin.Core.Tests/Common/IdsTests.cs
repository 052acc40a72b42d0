using Welkin.Core.Common;

namespace Welkin.Core.Tests.Common;

public sealed class IdsTests
{
    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    [Fact]
    public void New_HasPrefixAnd26Base32Characters_AndIsValid()
    {
        var id = Ids.New(Ids.Account, TimeProvider.System);
        id.Length.ShouldBe(30);
        id.ShouldStartWith("acc_");
        Ids.IsValid(id, Ids.Account).ShouldBeTrue();
    }

    [Fact]
    public void New_SortsByCreationTime()
    {
        var early = Ids.New(Ids.Template, new FixedClock(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero)));
        var late = Ids.New(Ids.Template, new FixedClock(new DateTimeOffset(2026, 1, 1, 0, 0, 1, TimeSpan.Zero)));
        string.CompareOrdinal(early, late).ShouldBeLessThan(0);
    }

    [Fact]
    public void New_IdsOfOneMillisecond_SortInCreationOrder_AndKeepRandomBits()
    {
        var clock = new FixedClock(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var ids = Enumerable.Range(0, 1000).Select(_ => Ids.New(Ids.Offering, clock)).ToList();

        ids.ShouldBe(ids.Order(StringComparer.Ordinal).ToList());
        // The last 11 characters are random (55 of the 56 random bits): no two ids share them.
        ids.Select(id => id[^11..]).Distinct().Count().ShouldBe(ids.Count);
    }

    [Fact]
    public void New_TwoIdsInTheSameMillisecond_Differ()
    {
        var clock = new FixedClock(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        Enumerable.Range(0, 1000).Select(_ => Ids.New(Ids.Token, clock)).Distinct().Count().ShouldBe(1000);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("acc_")]
    [InlineData("prn_01m7zmp9e28teazz77jtvft8mc")]
    [InlineData("acc_01m7zmp9e28teazz77jtvft8m")]
    [InlineData("acc_01m7zmp9e28teazz77jtvft8mcx")]
    [InlineData("acc_01M7ZMP9E28TEAZZ77JTVFT8MC")]
    [InlineData("acc_01m7zmp9e28teazz77jtvft8mi")]
    [InlineData("acc_91m7zmp9e28teazz77jtvft8mc")]
    [InlineData("acc-01m7zmp9e28teazz77jtvft8mc")]
    [InlineData("../../etc/passwd")]
    public void IsValid_RejectsWrongShapes(string? id) => Ids.IsValid(id, Ids.Account).ShouldBeFalse();

    [Theory]
    [InlineData("consumerco", true)]
    [InlineData("fred.smith-2", true)]
    [InlineData("Fred", false)]
    [InlineData("2fred", false)]
    [InlineData("", false)]
    [InlineData("a/b", false)]
    public void Names_FollowTheRule(string name, bool valid) => Names.IsValid(name).ShouldBe(valid);
}

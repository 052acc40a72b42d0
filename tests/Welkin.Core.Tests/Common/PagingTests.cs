using Welkin.Core.Common;

namespace Welkin.Core.Tests.Common;

public sealed class PagingTests
{
    [Theory]
    [InlineData(100, 100)]
    [InlineData(1, 1)]
    [InlineData(500, 500)]
    [InlineData(0, 1)]
    [InlineData(-5, 1)]
    [InlineData(501, 500)]
    [InlineData(int.MaxValue, 500)]
    public void Limit_IsClampedTo1Through500_AndOneMoreRowIsRead(int asked, int limit)
    {
        var paging = new Paging(asked);

        paging.Limit.ShouldBe(limit);
        paging.Take.ShouldBe(limit + 1);
    }

    [Fact]
    public void Limit_WithALargerMax_IsClampedToIt()
    {
        new Paging(5000, 1000).Limit.ShouldBe(1000);
        new Paging(700, 1000).Limit.ShouldBe(700);
    }

    [Fact]
    public void Page_WhenTheExtraRowWasRead_ShowsLimitItemsAndTheLastOnesCursor()
    {
        var paging = new Paging(2);

        var page = paging.Page([1, 2, 3], n => $"#{n}", v => v);

        page.Items.ShouldBe(["#1", "#2"]);
        page.Count.ShouldBe(2);
        page.Next.ShouldBe("#2");
    }

    [Fact]
    public void Page_WhenNoMoreRowsFollow_HasNoCursor()
    {
        var paging = new Paging(3);

        paging.Page(["a", "b", "c"], s => s).Next.ShouldBeNull();
        paging.Page(["a"], s => s).Items.ShouldBe(["a"]);
        var empty = paging.Page(Array.Empty<string>(), s => s);
        empty.Items.ShouldBeEmpty();
        empty.Count.ShouldBe(0);
        empty.Next.ShouldBeNull();
    }

    [Fact]
    public void Page_BuildsViewsOnlyOfTheRowsItShows()
    {
        var paging = new Paging(2);
        var built = new List<int>();

        paging.Page([10, 20, 30], n => { built.Add(n); return n; }, n => n.ToString(System.Globalization.CultureInfo.InvariantCulture));

        built.ShouldBe([10, 20]);
    }

    [Fact]
    public void Rows_AreTheFirstLimitOfThoseRead()
    {
        var paging = new Paging(2);

        paging.Rows([1, 2, 3]).ShouldBe([1, 2]);
        paging.Rows([1, 2]).ShouldBe([1, 2]);
        paging.Rows(Array.Empty<int>()).ShouldBeEmpty();
    }
}

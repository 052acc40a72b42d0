using Welkin.Cli.Infrastructure;

namespace Welkin.Cli.Tests;

public sealed class TimeInputTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 15, 13, 45, 30, TimeSpan.Zero);

    [Theory]
    [InlineData("30m", 30)]
    [InlineData("6h", 360)]
    [InlineData("2d", 2880)]
    [InlineData("1w", 10080)]
    public void Age_ReadsMinutesHoursDaysWeeks(string text, int minutes)
    {
        TimeInput.Age(text).ShouldBe(TimeSpan.FromMinutes(minutes));
    }

    [Theory]
    [InlineData("2026-11-01T00:00:00Z")]
    [InlineData("h")]
    [InlineData("-6h")]
    [InlineData("6y")]
    public void Age_RefusesWhatIsNotAnAge(string text)
    {
        TimeInput.Age(text).ShouldBeNull();
    }

    [Theory]
    [InlineData("2026-12-01T08:00:00Z", "2026-12-01T08:00:00Z")]
    [InlineData("2026-12-01T09:00:00+01:00", "2026-12-01T08:00:00Z")]
    [InlineData("2026-12-01", "2026-12-01T00:00:00Z")]
    [InlineData("now", "2026-11-15T13:45:30Z")]
    [InlineData("today", "2026-11-15T00:00:00Z")]
    [InlineData("Yesterday", "2026-11-14T00:00:00Z")]
    [InlineData("30m", "2026-11-15T13:15:30Z")]
    [InlineData("2d", "2026-11-13T13:45:30Z")]
    public void Parse_ReadsEveryForm(string text, string expected)
    {
        TimeInput.Parse(text, Now).ShouldBe(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData("soon")]
    [InlineData("2026-13-01")]
    [InlineData("")]
    public void Parse_RefusesAnythingElse(string text)
    {
        TimeInput.Parse(text, Now).ShouldBeNull();
    }
}

using Welkin.Cli.Commands;
using Welkin.Cli.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Tests;

public sealed class ChartTests
{
    [Fact]
    public void Sparkline_ScalesBetweenLowestAndHighest()
    {
        Chart.Sparkline([0, 50, 100, 25]).ShouldBe("▁▅█▃");
    }

    [Fact]
    public void Sparkline_AveragesMorePointsThanColumns()
    {
        var line = Chart.Sparkline(Enumerable.Range(0, 720).Select(i => i < 360 ? 10.0 : 90.0).ToList(), 72);

        line.Length.ShouldBe(72);
        line.ShouldBe(new string('▁', 36) + new string('█', 36));
    }

    [Fact]
    public void Render_ShowsTheChartWithMinMaxAndAggregate()
    {
        var t = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        var series = new MeasurementSeriesView("ins_x", "instance", "cpu-utilization-percent", "percent", t, t.AddMinutes(3), "raw", "p95", 60, 8, false,
            ["mch_a", "mch_b"], [new(t, 40, 3), new(t.AddMinutes(1), 40, 3), new(t.AddMinutes(2), 60, 2)]);

        var lines = Chart.Render(series).ToList();

        lines[0].ShouldBe("cpu-utilization-percent of instance ins_x (2 machines), 2026-11-01 00:00:00Z to 2026-11-01 00:03:00Z, raw, 3 points");
        lines[1].ShouldBe("▁▁█");
        lines[2].ShouldBe("min 40.0 %  max 60.0 %  p95 60.0 % (approximate: from rollups)  (8 samples)");
    }

    [Fact]
    public void ContractReport_TablesWriteTheNumbersAsTheSummaryAndChartDo()
    {
        var t = new DateTimeOffset(2026, 11, 2, 0, 0, 0, TimeSpan.Zero);
        var hours = Enumerable.Range(0, 24).Select(h => new HourOfDayUsage(h, h is < 6 or >= 22 ? 2.53m : 3.00m)).ToList();
        var report = new ContractReport("ctr_x", "acc_x", "shop", t, t.AddDays(30), [], false, hours,
            [new DailyUsage(DateOnly.FromDateTime(t.UtcDateTime), 70.00m, 2.92m, 3)], 2048.00m, "3 servers 06:00-22:00, 2.53 servers on average 22:00-06:00 (UTC)");
        var text = new StringWriter();

        UsageCommands.PrintReport(new Output(text), report);

        var lines = text.ToString().Split('\n').Select(l => l.TrimEnd()).ToList();
        lines.ShouldContain("Server-hours:  2048");
        lines.ShouldContain(l => l.StartsWith("23:00  2.53 ", StringComparison.Ordinal));
        lines.ShouldContain(l => l.StartsWith("12:00  3    ", StringComparison.Ordinal));
        lines.ShouldContain("2026-11-02  70            2.92  3");
        text.ToString().ShouldNotContain("3.00");
    }
}

using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Welkin.Contracts;
using Welkin.Core.Metering;

namespace Welkin.Core.Tests.Metering;

public sealed class ContractReportTests
{
    private const long H = 3_600_000;
    private static readonly long Day0 = new DateTimeOffset(2026, 11, 2, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
    private long _seq;

    private UsageEventRow Event(string type, string target, long at) =>
        new(++_seq, "acc", type, target, at, JsonSerializer.Serialize(new Dictionary<string, string> { ["vcpus"] = "2", ["memoryMiB"] = "4096", ["item"] = "0" }));

    /// <summary>Server A runs throughout; B runs 08:00-20:00 on both days.</summary>
    private List<UsageEventRow> TwoDays() =>
    [
        Event("machine.provisioned", "a", Day0 - H),
        Event("machine.provisioned", "b", Day0 - H),
        Event("machine.activated", "a", Day0 - H),
        Event("machine.activated", "b", Day0 - H),
        Event("machine.deactivated", "b", Day0 - H),
        Event("machine.activated", "b", Day0 + 8 * H),
        Event("machine.deactivated", "b", Day0 + 20 * H),
        Event("machine.activated", "b", Day0 + 32 * H),
        Event("machine.deactivated", "b", Day0 + 44 * H),
    ];

    [Fact]
    public void Build_TwoServersByDayOneOvernight_ProfileDaysAndTimeline()
    {
        var report = ContractReports.Build("ctr", "acc", "shop", TwoDays(), Day0, Day0 + 48 * H);

        report.HourOfDay.Where(h => h.Hour is >= 8 and < 20).ShouldAllBe(h => h.MeanActiveServers == 2m);
        report.HourOfDay.Where(h => h.Hour is < 8 or >= 20).ShouldAllBe(h => h.MeanActiveServers == 1m);
        report.Summary.ShouldBe("2 servers 08:00-20:00, 1 server 20:00-08:00 (UTC)");
        report.Days.Select(d => (d.ActiveServerHours, d.MeanActiveServers, d.PeakActiveServers)).ShouldBe([(36m, 1.5m, 2), (36m, 1.5m, 2)]);
        report.ActiveServerHours.ShouldBe(72m);
        report.Timeline.Select(t => (t.Kind, t.ResourceId)).ShouldBe([("reactivated", "b"), ("deactivated", "b"), ("reactivated", "b"), ("deactivated", "b")]);
    }

    [Fact]
    public void Build_PartOfAnHour_CountsByTheMillisecond()
    {
        var report = ContractReports.Build("ctr", "acc", null, TwoDays(), Day0 + 7 * H + H / 2, Day0 + 8 * H + H / 4);

        report.HourOfDay[7].MeanActiveServers.ShouldBe(1m);
        report.HourOfDay[8].MeanActiveServers.ShouldBe(2m);
        report.ActiveServerHours.ShouldBe(1m); // A for 45 minutes, B for 15
    }

    /// <summary>Servers a, b and c run for 30 days; c is off from 22:00 to 06:00 on 14 of the 30 nights.</summary>
    private List<UsageEventRow> NightDip()
    {
        var events = new List<UsageEventRow>();
        foreach (var m in new[] { "a", "b", "c" })
        {
            events.Add(Event("machine.provisioned", m, Day0 - H));
            events.Add(Event("machine.activated", m, Day0 - H));
        }
        for (var night = 0; night < 14; night++)
        {
            events.Add(Event("machine.deactivated", "c", Day0 + night * 24 * H + 22 * H));
            events.Add(Event("machine.activated", "c", Day0 + night * 24 * H + 30 * H));
        }
        return events;
    }

    [Fact]
    public void Summary_WithANightDip_TellsTheNumbersTheChartDraws()
    {
        var report = ContractReports.Build("ctr", "acc", "shop", NightDip(), Day0, Day0 + 30 * 24 * H);

        report.HourOfDay.Where(h => h.Hour is >= 6 and < 22).ShouldAllBe(h => h.MeanActiveServers == 3m);
        report.HourOfDay.Where(h => h.Hour is < 6 or >= 22).ShouldAllBe(h => h.MeanActiveServers == 2.53m); // 3 - 14/30
        report.Summary.ShouldBe("3 servers 06:00-22:00, 2.53 servers on average 22:00-06:00 (UTC)");

        var svg = XDocument.Parse(ContractReportSvg.Render(report));
        var texts = svg.Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value).ToList();
        var barTitles = svg.Descendants().Where(e => e.Name.LocalName == "title" && e.Value.EndsWith("servers on average", StringComparison.Ordinal))
            .Select(e => e.Value).ToList();
        barTitles.ShouldContain("22:00-23:00: 2.53 servers on average");
        barTitles.ShouldContain("12:00-13:00: 3 servers on average");
        var summaryNumbers = Regex.Matches(report.Summary, @"(?<![:\d])\d+(\.\d+)?(?![\d:])").Select(m => m.Value).ToList();
        summaryNumbers.ShouldBe(["3", "2.53"]);
        foreach (var n in summaryNumbers)
        {
            texts.ShouldContain(n, $"the chart labels no bar with {n}");
        }
        texts.ShouldContain(t => t.Contains(report.Summary, StringComparison.Ordinal));
    }

    [Fact]
    public void Numbers_HaveOnePrecision_TwoDecimalsWithoutTrailingZeros()
    {
        var report = ContractReports.Build("ctr", "acc", "shop", NightDip(), Day0, Day0 + 30 * 24 * H);

        // 30 days x 72 server-hours, less 14 nights x 8 hours of c.
        report.ActiveServerHours.ShouldBe(2048m);
        report.Days[0].ShouldBe(new DailyUsage(DateOnly.FromDateTime(DbDay(0)), 70m, 2.92m, 3)); // 70 / 24 = 2.9166...
        ReportNumbers.Format(2.9166m).ShouldBe("2.92");
        ReportNumbers.Format(3.00m).ShouldBe("3");
        ReportNumbers.Format(1.50m).ShouldBe("1.5");
        var svg = ContractReportSvg.Render(report);
        svg.ShouldContain("2.92 on average");
        svg.ShouldNotContain("2.917");
        Regex.Matches(svg, @">(\d+\.\d{3,})<").ShouldBeEmpty();
    }

    private static DateTime DbDay(int day) => DateTimeOffset.FromUnixTimeMilliseconds(Day0).AddDays(day).UtcDateTime;

    [Fact]
    public void Summary_WithManyDifferentHours_NamesTheLowestAndHighest()
    {
        var hours = Enumerable.Range(0, 24).Select(h => new HourOfDayUsage(h, ReportNumbers.Round(1m + h / 8m))).ToList();
        var span = Enumerable.Repeat(H, 24).ToArray();

        var summary = ContractReports.Summary(hours, span);

        summary.ShouldBe("varies by hour: fewest 1 (00:00-01:00), most 3.88 (23:00-00:00) servers on average (UTC)");
    }

    [Fact]
    public void Svg_IsWellFormed_WithTextLabelsAndNoScript_AndEscapesNames()
    {
        var report = ContractReports.Build("ctr", "acc", "<script>alert(1)</script> & co", TwoDays(), Day0, Day0 + 48 * H);

        var svg = ContractReportSvg.Render(report);

        var doc = XDocument.Parse(svg);
        doc.Root!.Name.LocalName.ShouldBe("svg");
        doc.Descendants().ShouldNotContain(e => e.Name.LocalName == "script" || e.Name.LocalName == "foreignObject");
        doc.Descendants().SelectMany(e => e.Attributes()).ShouldNotContain(a => a.Name.LocalName.StartsWith("on", StringComparison.Ordinal));
        var texts = doc.Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value).ToList();
        texts.ShouldContain("Mean active servers by hour of day (UTC)");
        texts.ShouldContain("Contract <script>alert(1)</script> & co: active servers");
        svg.ShouldNotContain("<script>");
    }
}

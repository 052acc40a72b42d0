using System.Text.Json;
using System.Xml.Linq;
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

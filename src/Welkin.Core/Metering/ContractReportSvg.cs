using System.Globalization;
using System.Xml.Linq;
using Welkin.Contracts;

namespace Welkin.Core.Metering;

/// <summary>
/// The contract report as a chart for a business manager: mean active servers by hour of day, and
/// server-hours per day with the timeline's deployments, releases and (de)activations marked. Built
/// with <see cref="XElement"/>, so every text is escaped and the document is well-formed; no script.
/// </summary>
public static class ContractReportSvg
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";
    private const int Width = 960;
    private const int Left = 70;
    private const int Right = 30;
    private const int PlotWidth = Width - Left - Right;
    private const int PanelHeight = 200;

    public static string Render(ContractReport report)
    {
        var title = $"Contract {report.Name ?? report.ContractId}: active servers";
        var range = $"{report.From:yyyy-MM-dd HH:mm} to {report.To:yyyy-MM-dd HH:mm} UTC";
        var root = new XElement(Svg + "svg",
            new XAttribute("width", Width), new XAttribute("height", 640), new XAttribute("viewBox", $"0 0 {Width} 640"),
            new XAttribute("font-family", "sans-serif"), new XAttribute("font-size", 11),
            new XElement(Svg + "title", title),
            new XElement(Svg + "rect", new XAttribute("width", Width), new XAttribute("height", 640), new XAttribute("fill", "#ffffff")),
            Text(Left, 28, title, 18, "bold"),
            Text(Left, 48, $"{range} · {Num(report.ActiveServerHours)} server-hours · {report.Summary}", 12, null));
        HourPanel(root, report, 90);
        DayPanel(root, report, 370);
        return new XDocument(new XDeclaration("1.0", "utf-8", null), root).Declaration + "\n" + root.ToString(SaveOptions.DisableFormatting);
    }

    private static void HourPanel(XElement root, ContractReport report, int top)
    {
        root.Add(Text(Left, top - 10, "Mean active servers by hour of day (UTC)", 13, "bold"));
        var max = AxisMax(report.HourOfDay.Select(h => h.MeanActiveServers).DefaultIfEmpty(0).Max());
        Axis(root, top, max, "servers");
        var slot = PlotWidth / 24.0;
        foreach (var h in report.HourOfDay)
        {
            var height = (double)(h.MeanActiveServers / max) * PanelHeight;
            var x = Left + h.Hour * slot + 2;
            root.Add(new XElement(Svg + "rect",
                new XAttribute("x", F(x)), new XAttribute("y", F(top + PanelHeight - height)), new XAttribute("width", F(slot - 4)), new XAttribute("height", F(height)),
                new XAttribute("fill", "#3b7dd8"),
                new XElement(Svg + "title", $"{h.Hour:00}:00-{(h.Hour + 1) % 24:00}:00: {Num(h.MeanActiveServers)} servers on average")));
            if (h.MeanActiveServers > 0)
            {
                root.Add(Text(x + (slot - 4) / 2, top + PanelHeight - height - 4, Num(h.MeanActiveServers), 10, null, "middle"));
            }
            root.Add(Text(x + (slot - 4) / 2, top + PanelHeight + 16, h.Hour.ToString("00", CultureInfo.InvariantCulture), 10, null, "middle"));
        }
    }

    private static void DayPanel(XElement root, ContractReport report, int top)
    {
        root.Add(Text(Left, top - 10, "Active server-hours per day, with deployments, releases and (de)activations", 13, "bold"));
        var max = AxisMax(report.Days.Select(d => d.ActiveServerHours).DefaultIfEmpty(0).Max());
        Axis(root, top, max, "server-hours");
        if (report.Days.Count == 0)
        {
            return;
        }
        var slot = (double)PlotWidth / report.Days.Count;
        var labelEvery = Math.Max(1, (int)Math.Ceiling(report.Days.Count / 15.0));
        for (var i = 0; i < report.Days.Count; i++)
        {
            var d = report.Days[i];
            var height = (double)(d.ActiveServerHours / max) * PanelHeight;
            var x = Left + i * slot;
            root.Add(new XElement(Svg + "rect",
                new XAttribute("x", F(x + slot * 0.1)), new XAttribute("y", F(top + PanelHeight - height)), new XAttribute("width", F(slot * 0.8)), new XAttribute("height", F(height)),
                new XAttribute("fill", "#5aa469"),
                new XElement(Svg + "title", $"{d.Date:yyyy-MM-dd}: {Num(d.ActiveServerHours)} server-hours, {Num(d.MeanActiveServers)} on average, peak {d.PeakActiveServers}")));
            if (i % labelEvery == 0)
            {
                root.Add(Text(x + slot / 2, top + PanelHeight + 16, d.Date.ToString("MM-dd", CultureInfo.InvariantCulture), 10, null, "middle"));
            }
        }
        var first = report.Days[0].Date.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
        var daysSpan = report.Days.Count * 86_400_000.0;
        foreach (var entry in report.Timeline.Where(t => t.ResourceKind != "contract" || t.Kind != "contract-amended"))
        {
            var color = entry.Kind switch
            {
                "deployed" or "contract-activated" => "#1a7f37",
                "released" or "contract-terminated" => "#cf222e",
                "deactivated" or "failed" => "#bf8700",
                _ => "#0969da",
            };
            var x = Left + (entry.At.UtcDateTime - first).TotalMilliseconds / daysSpan * PlotWidth;
            root.Add(new XElement(Svg + "line",
                new XAttribute("x1", F(x)), new XAttribute("x2", F(x)), new XAttribute("y1", top + PanelHeight + 22), new XAttribute("y2", top + PanelHeight + 34),
                new XAttribute("stroke", color), new XAttribute("stroke-width", 2),
                new XElement(Svg + "title", $"{entry.At:yyyy-MM-dd HH:mm:ss} {entry.Kind} {entry.ResourceKind} {entry.ResourceId} {entry.Detail}".TrimEnd())));
        }
        var legendY = top + PanelHeight + 52;
        var lx = Left;
        foreach (var (label, color) in new[] { ("deployed", "#1a7f37"), ("released", "#cf222e"), ("deactivated", "#bf8700"), ("activated / reactivated", "#0969da") })
        {
            root.Add(new XElement(Svg + "rect", new XAttribute("x", lx), new XAttribute("y", legendY - 9), new XAttribute("width", 10), new XAttribute("height", 10),
                new XAttribute("fill", color)));
            root.Add(Text(lx + 14, legendY, label, 11, null));
            lx += 30 + label.Length * 7;
        }
    }

    private static void Axis(XElement root, int top, decimal max, string unit)
    {
        for (var i = 0; i <= 4; i++)
        {
            var value = max * i / 4;
            var y = top + PanelHeight - (double)(value / max) * PanelHeight;
            root.Add(new XElement(Svg + "line", new XAttribute("x1", Left), new XAttribute("x2", Left + PlotWidth), new XAttribute("y1", F(y)), new XAttribute("y2", F(y)),
                new XAttribute("stroke", i == 0 ? "#444444" : "#dddddd"), new XAttribute("stroke-width", 1)));
            root.Add(Text(Left - 6, y + 4, Num(value), 10, null, "end"));
        }
        root.Add(Text(14, top + PanelHeight / 2, unit, 11, null, "middle", $"rotate(-90 14 {top + PanelHeight / 2})"));
    }

    private static decimal AxisMax(decimal max) => max <= 0 ? 1 : Math.Ceiling(max);

    private static XElement Text(double x, double y, string text, int size, string? weight, string? anchor = null, string? transform = null)
    {
        var e = new XElement(Svg + "text", new XAttribute("x", F(x)), new XAttribute("y", F(y)), new XAttribute("font-size", size), text);
        if (weight is not null)
        {
            e.Add(new XAttribute("font-weight", weight));
        }
        if (anchor is not null)
        {
            e.Add(new XAttribute("text-anchor", anchor));
        }
        if (transform is not null)
        {
            e.Add(new XAttribute("transform", transform));
        }
        return e;
    }

    private static string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);

    private static string Num(decimal v) => ReportNumbers.Format(v);
}

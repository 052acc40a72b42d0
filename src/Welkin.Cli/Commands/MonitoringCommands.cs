using System.CommandLine;
using System.Globalization;
using System.Text;
using Welkin.Cli.Infrastructure;
using Welkin.Client;
using Welkin.Contracts;

namespace Welkin.Cli.Commands;

/// <summary><c>welkin machine|instance|contract measurements</c> and <c>welkin fabric load</c>: the Service Monitor.</summary>
internal static class MonitoringCommands
{
    private static readonly string[] Metrics =
    [
        "cpu-utilization-percent", "memory-used-bytes", "page-faults-per-second", "disk-read-bytes-per-second",
        "disk-write-bytes-per-second", "network-rx-bytes-per-second", "network-tx-bytes-per-second",
    ];

    /// <summary>The <c>measurements</c> subcommand of machine, instance or contract.</summary>
    public static Command Measurements(CliApp app, string kind)
    {
        var id = Opt.Id(kind);
        var metric = new Option<string?>("--metric") { Description = "The metric (default: cpu-utilization-percent).", HelpName = "name" };
        metric.AcceptOnlyFromAmong(Metrics);
        var from = Opt.Time("--from", "Start of the range (default: an hour before --to).");
        var to = Opt.Time("--to", "End of the range (default: now).");
        var resolution = new Option<string?>("--resolution") { Description = "raw, 1m, 1h or auto (default).", HelpName = "r" };
        resolution.AcceptOnlyFromAmong("raw", "1m", "1h", "auto");
        var aggregation = new Option<string?>("--aggregation") { Description = "mean (default), max, min, p50, p95 or p99.", HelpName = "a" };
        aggregation.AcceptOnlyFromAmong("mean", "max", "min", "p50", "p95", "p99");
        var json = Opt.Flag("--json", "Print the series document (as --output json).");
        var command = new Command("measurements", $"Show a measured series of the {kind} as a one-line chart with its aggregate.")
        {
            id, metric, from, to, resolution, aggregation, json,
        };
        app.Handle(command, async inv =>
        {
            var query = new MeasurementQuery(inv.Value(metric), inv.Value(from), inv.Value(to), inv.Value(resolution), inv.Value(aggregation));
            var monitoring = inv.Client().Monitoring;
            var series = kind switch
            {
                "machine" => await monitoring.MachineAsync(inv.Value(id), query, inv.Ct),
                "instance" => await monitoring.InstanceAsync(inv.Value(id), query, inv.Ct),
                _ => await monitoring.ContractAsync(inv.Value(id), query, inv.Ct),
            };
            if (inv.Value(json))
            {
                inv.Out.Json(series);
            }
            else if (inv.Structured)
            {
                inv.Document(series);
            }
            else
            {
                foreach (var line in Chart.Render(series))
                {
                    inv.Out.Line(line);
                }
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary><c>welkin fabric</c>: operator tools on the compute fabric (the hosts are under <c>welkin host</c>).</summary>
    public static Command Fabric(CliApp app) =>
        new("fabric", "Operator tools on the compute fabric.") { new Command("load", "Set the simulated load of a machine or an instance.") { Load(app, "machine"), Load(app, "instance") } };

    private static Command Load(CliApp app, string kind)
    {
        var id = Opt.Id(kind);
        var cpu = Number("--cpu", kind == "machine"
            ? "CPU utilisation in percent of the machine's vCPUs."
            : "The instance's total CPU demand in percent of one machine (150 = one and a half machines busy), spread over its running machines.");
        var memory = Number("--memory", "Resident memory as a fraction of the machine's memory (0-1).");
        var faults = Number("--page-faults", "Page faults per second.");
        var diskRead = Opt.LongNumber("--disk-read", "Disk reads in bytes per second.");
        var diskWrite = Opt.LongNumber("--disk-write", "Disk writes in bytes per second.");
        var rx = Opt.LongNumber("--net-rx", "Network bytes received per second.");
        var tx = Opt.LongNumber("--net-tx", "Network bytes sent per second.");
        var command = new Command(kind, $"Set the simulated load of a{(kind == "instance" ? "n" : "")} {kind}; options left out take a lightly used server's values.")
        {
            id, cpu, memory, faults, diskRead, diskWrite, rx, tx,
        };
        app.Handle(command, async inv =>
        {
            var request = new LoadRequest(inv.Value(cpu), inv.Value(memory), inv.Value(faults), inv.Value(diskRead), inv.Value(diskWrite), inv.Value(rx), inv.Value(tx));
            var fabric = inv.Client().Fabric;
            var view = kind == "machine"
                ? await fabric.SetMachineLoadAsync(inv.Value(id), request, inv.Ct)
                : await fabric.SetInstanceLoadAsync(inv.Value(id), request, inv.Ct);
            return inv.Show(view, (o, v) => o.Fields(("Target", v.Target), ("Kind", v.TargetKind), ("Machines", Fmt.Number(v.Machines)),
                ("CPU %", v.Load.CpuUtilizationPercent.ToString("0.##", CultureInfo.InvariantCulture)),
                ("Memory used", v.Load.MemoryUsedFraction.ToString("0.##", CultureInfo.InvariantCulture)),
                ("Page faults/s", v.Load.PageFaultsPerSecond.ToString("0.##", CultureInfo.InvariantCulture)),
                ("Disk read/s", Fmt.Bytes(v.Load.DiskReadBytesPerSecond)), ("Disk write/s", Fmt.Bytes(v.Load.DiskWriteBytesPerSecond)),
                ("Network in/s", Fmt.Bytes(v.Load.NetworkRxBytesPerSecond)), ("Network out/s", Fmt.Bytes(v.Load.NetworkTxBytesPerSecond))));
        });
        return command;
    }

    private static Option<double?> Number(string name, string description) => new(name)
    {
        Description = description,
        HelpName = "n",
        CustomParser = r =>
        {
            var text = r.Tokens.Count == 0 ? null : r.Tokens[0].Value;
            if (text is null)
            {
                return null;
            }
            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value))
            {
                return value;
            }
            r.AddError($"'{text}' is not a number ({name}).");
            return null;
        },
    };
}

/// <summary>A series as a compact text chart: one line of block characters between the range's minimum and maximum.</summary>
internal static class Chart
{
    private const string Blocks = "▁▂▃▄▅▆▇█";

    public const int Width = 72;

    /// <summary>One block per value (values averaged into at most <paramref name="width"/> columns), scaled between the lowest and highest.</summary>
    public static string Sparkline(IReadOnlyList<double> values, int width = Width)
    {
        if (values.Count == 0)
        {
            return "";
        }
        var columns = new List<double>();
        var per = (double)values.Count / Math.Min(width, values.Count);
        for (var c = 0; c < Math.Min(width, values.Count); c++)
        {
            var start = (int)Math.Round(c * per);
            var end = Math.Max(start + 1, (int)Math.Round((c + 1) * per));
            columns.Add(values.Skip(start).Take(end - start).Average());
        }
        var lo = columns.Min();
        var hi = columns.Max();
        var b = new StringBuilder(columns.Count);
        foreach (var v in columns)
        {
            var level = hi > lo ? (int)Math.Round((v - lo) / (hi - lo) * (Blocks.Length - 1)) : Blocks.Length / 2 - 1;
            b.Append(Blocks[Math.Clamp(level, 0, Blocks.Length - 1)]);
        }
        return b.ToString();
    }

    public static IEnumerable<string> Render(MeasurementSeriesView s)
    {
        yield return $"{s.Metric} of {s.TargetKind} {s.Target} ({s.Machines.Count} machine{(s.Machines.Count == 1 ? "" : "s")}), "
            + $"{Fmt.Time(s.From)} to {Fmt.Time(s.To)}, {s.Resolution}, {s.Points.Count} points";
        if (s.Points.Count == 0)
        {
            yield return "No samples in this range.";
            yield break;
        }
        var values = s.Points.Select(p => p.Value).ToList();
        yield return Sparkline(values);
        var approximate = s.Exact ? "" : " (approximate: from rollups)";
        yield return $"min {Value(values.Min(), s.Unit)}  max {Value(values.Max(), s.Unit)}  {s.Aggregation} {Value(s.Value, s.Unit)}{approximate}  "
            + $"({Fmt.Number(s.Samples)} samples)";
    }

    private static string Value(double? v, string unit) => v is not { } x ? "-" : unit switch
    {
        "percent" => x.ToString("0.0", CultureInfo.InvariantCulture) + " %",
        "bytes" => Fmt.Bytes((long)x),
        "bytes-per-second" => Fmt.Bytes((long)x) + "/s",
        _ => x.ToString("0.##", CultureInfo.InvariantCulture) + "/s",
    };
}

using System.CommandLine;
using Welkin.Cli.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Commands;

/// <summary><c>welkin usage</c> and <c>welkin contract report</c>: metered usage and the contract report.</summary>
internal static class UsageCommands
{
    public static Command Create(CliApp app) => new("usage", "Metered usage: vCPU-hours, GiB-hours, TB-days and unit-months, exact to the millisecond.")
    {
        Show(app), Reconcile(app),
    };

    private static Option<DateTimeOffset?> From() => Opt.Time("--from", "Start of the range; default: the start of the month.");

    private static Option<DateTimeOffset?> To() => Opt.Time("--to", "End of the range (exclusive); default: now.");

    private static Option<string?> Account() => Opt.Text("--account", "The account (default: your own; provider roles name one).", "id");

    /// <summary>The account named, else the caller's own.</summary>
    private static async Task<string> AccountOfAsync(Invocation inv, Option<string?> account)
    {
        if (inv.Value(account) is { } id)
        {
            return id;
        }
        var me = await inv.Client().Auth.WhoAmIAsync(inv.Ct);
        return me.Principal.AccountId ?? throw new CliException("A provider principal names the account: --account ID.");
    }

    private static Command Show(CliApp app)
    {
        var account = Account();
        var contract = Opt.Text("--contract", "Only this contract's usage.", "id");
        var from = From();
        var to = To();
        var groupBy = new Option<string?>("--group-by") { Description = "Group by contract, metric, resource or hour.", HelpName = "key" };
        groupBy.AcceptOnlyFromAmong("contract", "metric", "resource", "hour");
        var command = new Command("show", "Show usage of an account or a contract, with totals in raw and readable units.") { account, contract, from, to, groupBy };
        app.Handle(command, async inv =>
        {
            var usage = inv.Client().Usage;
            var report = inv.Value(contract) is { } c && inv.Value(account) is null
                ? await usage.ContractAsync(c, inv.Value(from), inv.Value(to), inv.Value(groupBy), inv.Ct)
                : await usage.AccountAsync(await AccountOfAsync(inv, account), inv.Value(from), inv.Value(to), inv.Value(contract), inv.Value(groupBy), inv.Ct);
            return inv.Show(report, Print);
        });
        return command;
    }

    private static Command Reconcile(CliApp app)
    {
        var account = Account();
        var from = From();
        var to = To();
        var command = new Command("reconcile", "Check that the usage records cover every millisecond of the event log exactly once.") { account, from, to };
        app.Handle(command, async inv =>
        {
            var report = await inv.Client().Usage.ReconcileAsync(await AccountOfAsync(inv, account), inv.Value(from), inv.Value(to), inv.Ct);
            inv.Show(report, (o, r) =>
            {
                o.Fields(("Account", r.AccountId), ("From", Fmt.Time(r.From)), ("Checked to", Fmt.Time(r.CheckedTo)), ("Result", r.Ok ? "ok" : "discrepancies"),
                    ("Resources", Fmt.Number(r.Resources)), ("Records", Fmt.Number(r.Records)), ("Expected ms", Fmt.Number(r.ExpectedMs)),
                    ("Covered ms", Fmt.Number(r.CoveredMs)));
                if (r.Discrepancies.Count > 0)
                {
                    o.Line();
                    o.Table(r.Discrepancies, "", new Column<UsageDiscrepancy>("Resource", d => d.ResourceId), new Column<UsageDiscrepancy>("Metric", d => d.Metric),
                        new Column<UsageDiscrepancy>("Kind", d => d.Kind), new Column<UsageDiscrepancy>("From", d => Fmt.Time(d.From)),
                        new Column<UsageDiscrepancy>("To", d => Fmt.Time(d.To)), new Column<UsageDiscrepancy>("Detail", d => d.Detail));
                }
            });
            return report.Ok ? ExitCodes.Ok : 1;
        });
        return command;
    }

    /// <summary><c>welkin contract report ID</c>: the timeline and the active-server profile as tables, JSON or an SVG file.</summary>
    public static Command ContractReport(CliApp app)
    {
        var id = Opt.Id("contract");
        var from = From();
        var to = To();
        var svg = Opt.Text("--svg", "Also write the report as an SVG chart to this file.", "file");
        var json = Opt.Flag("--json", "Print the report document (as --output json).");
        var command = new Command("report", "Contract report: deployments, releases and (de)activations, and active servers by hour of day and by day.")
        {
            id, from, to, svg, json,
        };
        app.Handle(command, async inv =>
        {
            var usage = inv.Client().Usage;
            var report = await usage.ContractReportAsync(inv.Value(id), inv.Value(from), inv.Value(to), inv.Ct);
            if (inv.Value(svg) is { } file)
            {
                await File.WriteAllTextAsync(file, await usage.ContractReportSvgAsync(inv.Value(id), report.From, report.To, inv.Ct), inv.Ct);
                inv.Err.WriteLine($"Wrote {file}");
            }
            if (inv.Value(json))
            {
                inv.Out.Json(report);
                return ExitCodes.Ok;
            }
            return inv.Show(report, PrintReport);
        });
        return command;
    }

    private static void Print(Output o, UsageReport r)
    {
        o.Fields(("Account", r.AccountId), ("Contract", r.ContractId), ("From", Fmt.Time(r.From)), ("To", Fmt.Time(r.To)), ("Metered to", Fmt.Time(r.MeteredTo)));
        o.Line();
        o.Table(r.Totals, "No usage in this range.", Quantities);
        if (r.Groups.Count > 0)
        {
            o.Line();
            o.Table(r.Groups.SelectMany(g => g.Totals.Select(t => (g.Key, Total: t))).ToList(), "",
                new Column<(string Key, UsageQuantity Total)>(r.GroupBy ?? "group", g => g.Key),
                new Column<(string Key, UsageQuantity Total)>("Metric", g => g.Total.Metric),
                new Column<(string Key, UsageQuantity Total)>("Readable", g => $"{Fmt.Number(g.Total.Readable)} {g.Total.ReadableUnit}"),
                new Column<(string Key, UsageQuantity Total)>("Quantity", g => Fmt.Number(g.Total.Quantity)));
        }
    }

    private static readonly Column<UsageQuantity>[] Quantities =
    [
        new("Metric", t => t.Metric),
        new("Readable", t => $"{Fmt.Number(t.Readable)} {t.ReadableUnit}"),
        new("Quantity", t => $"{Fmt.Number(t.Quantity)} {t.Unit}"),
    ];

    internal static void PrintReport(Output o, ContractReport r)
    {
        o.Fields(("Contract", r.Name is null ? r.ContractId : $"{r.Name} ({r.ContractId})"), ("Account", r.AccountId), ("From", Fmt.Time(r.From)), ("To", Fmt.Time(r.To)),
            ("Server-hours", ReportNumbers.Format(r.ActiveServerHours)), ("Profile", r.Summary));
        o.Line("Active servers by hour of day (UTC):");
        var max = Math.Max(1m, r.HourOfDay.Select(h => h.MeanActiveServers).DefaultIfEmpty(0).Max());
        o.Table(r.HourOfDay, "", new Column<HourOfDayUsage>("Hour", h => $"{h.Hour:00}:00"),
            new Column<HourOfDayUsage>("Servers", h => ReportNumbers.Format(h.MeanActiveServers)),
            new Column<HourOfDayUsage>("", h => new string('#', (int)Math.Round(h.MeanActiveServers / max * 40, MidpointRounding.AwayFromZero))));
        o.Line();
        o.Line("Per day:");
        o.Table(r.Days, "", new Column<DailyUsage>("Date", d => d.Date.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture)),
            new Column<DailyUsage>("Server-hours", d => ReportNumbers.Format(d.ActiveServerHours)), new Column<DailyUsage>("Mean", d => ReportNumbers.Format(d.MeanActiveServers)),
            new Column<DailyUsage>("Peak", d => Fmt.Number(d.PeakActiveServers)));
        o.Line();
        o.Line("Timeline:");
        o.Table(r.Timeline, "Nothing happened in this range.", new Column<ContractTimelineEntry>("At", t => Fmt.Time(t.At)), new Column<ContractTimelineEntry>("Event", t => t.Kind),
            new Column<ContractTimelineEntry>("Resource", t => $"{t.ResourceKind} {t.ResourceId}"), new Column<ContractTimelineEntry>("Detail", t => t.Detail));
        if (r.TimelineTruncated)
        {
            o.Line("(timeline truncated; narrow the range)");
        }
    }
}

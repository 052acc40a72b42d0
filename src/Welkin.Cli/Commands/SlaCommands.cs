using System.CommandLine;
using System.Globalization;
using System.Text.RegularExpressions;
using Welkin.Cli.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Commands;

/// <summary><c>welkin clock</c>, <c>welkin contract sla</c> and <c>welkin instance policy</c>.</summary>
internal static partial class SlaCommands
{
    public static Command Clock(CliApp app) => new("clock", "Show the server clock; in simulation mode, advance it.") { ClockShow(app), ClockAdvance(app) };

    private static void ClockFields(Output o, ClockView c) => o.Fields(("Mode", c.Mode), ("Now", Fmt.Time(c.Now)));

    private static Command ClockShow(CliApp app)
    {
        var command = new Command("show", "Show whether the clock is real or virtual, and its time.");
        app.Handle(command, async inv => inv.Show(await inv.Client().Clock.GetAsync(inv.Ct), ClockFields));
        return command;
    }

    private static Command ClockAdvance(CliApp app)
    {
        var by = Opt.Text("--by", "How far: 30m, 6h, 1d, 2w, 1mo, or an ISO 8601 duration (P1D).", "duration");
        var to = Opt.Text("--to", "Up to this instant (ISO 8601, e.g. 2026-12-01T00:00:00Z).", "time");
        var step = Opt.Text("--step", "Go in steps of this length, showing each; Ctrl+C stops after the step under way (default 1d).", "duration");
        var command = new Command("advance", "Advance the virtual clock, running every periodic work and job on the way (simulation mode, provider-admin).") { by, to, step };
        app.Handle(command, inv => ClockAdvancer.RunAsync(inv, ToRequest(inv.Value(by), inv.Value(to)), ClockAdvancer.StepOf(inv.Value(step) ?? "1d")));
        return command;
    }

    internal static ClockAdvanceRequest ToRequest(string? by, string? to)
    {
        if ((by is null) == (to is null))
        {
            throw new CliException("Give exactly one of --by and --to.");
        }
        if (to is not null)
        {
            return DateTimeOffset.TryParse(to, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var instant)
                ? new ClockAdvanceRequest(To: instant)
                : throw new CliException($"--to '{to}' is not an instant (ISO 8601, e.g. 2026-12-01T00:00:00Z).");
        }
        if (by!.StartsWith('P'))
        {
            return new ClockAdvanceRequest(by);
        }
        var m = ShortDuration().Match(by);
        if (!m.Success)
        {
            throw new CliException($"--by '{by}' is not a duration (30m, 6h, 1d, 2w, 1mo or ISO 8601 such as P1D).");
        }
        var n = m.Groups[1].Value;
        return new ClockAdvanceRequest(m.Groups[2].Value switch
        {
            "s" => $"PT{n}S",
            "m" => $"PT{n}M",
            "h" => $"PT{n}H",
            "d" => $"P{n}D",
            "w" => $"P{n}W",
            _ => $"P{n}M",
        });
    }

    [GeneratedRegex("^([0-9]{1,6})(s|m|h|d|w|mo)$", RegexOptions.CultureInvariant)]
    private static partial Regex ShortDuration();

    public static Command ContractSla(CliApp app)
    {
        var id = Opt.Id("contract");
        var period = Opt.Text("--period", "The billing period, yyyy-MM (default: the current month).", "yyyy-MM");
        var command = new Command("sla", "Show a contract's SLA terms in a billing period: target, measured, breach and credit.") { id, period };
        app.Handle(command, async inv => inv.Show(await inv.Client().Sla.ReportAsync(inv.Value(id), inv.Value(period), inv.Ct), (o, r) =>
        {
            o.Fields(("Contract", r.ContractId), ("Period", $"{r.Period} ({Fmt.Time(r.PeriodStart)} - {Fmt.Time(r.PeriodEnd)})"),
                ("Credit", Fmt.Number(r.CreditPercent) + " %"));
            o.Line();
            o.Table(r.Terms, "No SLA terms.",
                new Column<SlaTermView>("Term", t => t.Term),
                new Column<SlaTermView>("Item", t => Fmt.Number(t.Item)),
                new Column<SlaTermView>("Target", t => Fmt.Number(t.Target)),
                new Column<SlaTermView>("Measured", t => t.Measured is { } m ? Fmt.Number(m) : "-"),
                new Column<SlaTermView>("Breached", t => t.Breached ? "yes" : "no"),
                new Column<SlaTermView>("Credit", t => Fmt.Number(t.CreditPercent) + " %"),
                new Column<SlaTermView>("Detail", t => t.Detail));
        }));
        return command;
    }

    public static Command InstancePolicy(CliApp app) =>
        new("policy", "Set, show or clear the instance's scaling policy.") { PolicySet(app), PolicyShow(app), PolicyClear(app) };

    private static void PolicyFields(Output o, ScalingPolicyView p) => o.Fields(
        ("Instance", p.InstanceId), ("Name", p.Name), ("Acts as", p.Actor), ("Active machines", $"{p.MinActive}-{p.MaxActive}"),
        ("CPU targets", $"{Fmt.Number(p.CpuLowPercent)}-{Fmt.Number(p.CpuHighPercent)} % over {p.WindowMinutes} min"),
        ("Cooldown", $"{p.CooldownMinutes} min"), ("Last action", p.LastAction), ("Last action at", Fmt.Time(p.LastActionAt)),
        ("Last evaluated", Fmt.Time(p.LastEvaluated)), ("Version", Fmt.Number(p.Version)));

    private static Command PolicySet(CliApp app)
    {
        var id = Opt.Id("instance");
        var min = new Option<int>("--min") { Description = "Fewest machines kept running.", HelpName = "n", Required = true, CustomParser = Opt.WholeNumber };
        var max = new Option<int>("--max") { Description = "Most machines running (at most the contract line's quantity).", HelpName = "n", Required = true, CustomParser = Opt.WholeNumber };
        var low = new Option<decimal>("--cpu-low") { Description = "Deactivate one machine when the mean CPU utilization is below this percent.", HelpName = "percent", Required = true, CustomParser = Opt.DecimalNumber };
        var high = new Option<decimal>("--cpu-high") { Description = "Activate one machine when the mean CPU utilization is above this percent.", HelpName = "percent", Required = true, CustomParser = Opt.DecimalNumber };
        var window = Opt.Number("--window", "Minutes the CPU mean is taken over (default 15).");
        var cooldown = Opt.Number("--cooldown", "Minutes between two load-driven actions (default 30).");
        var name = Opt.Text("--name", "Names the policy's actions in the audit log.", "text");
        var version = Opt.RowVersion();
        var command = new Command("set", "Set the instance's scaling policy.") { id, min, max, low, high, window, cooldown, name, version };
        app.Handle(command, async inv =>
        {
            var request = new ScalingPolicyRequest(inv.Value(min), inv.Value(max), inv.Value(low), inv.Value(high), inv.Value(window) ?? 15,
                inv.Value(cooldown) ?? 30, inv.Value(name), inv.Value(version));
            return inv.Show(await inv.Client().Sla.SetPolicyAsync(inv.Value(id), request, inv.Ct), PolicyFields);
        });
        return command;
    }

    private static Command PolicyShow(CliApp app)
    {
        var id = Opt.Id("instance");
        var command = new Command("show", "Show the instance's scaling policy and what it last did.") { id };
        app.Handle(command, async inv => inv.Show(await inv.Client().Sla.GetPolicyAsync(inv.Value(id), inv.Ct), PolicyFields));
        return command;
    }

    private static Command PolicyClear(CliApp app)
    {
        var id = Opt.Id("instance");
        var command = new Command("clear", "Remove the instance's scaling policy.") { id };
        app.Handle(command, async inv =>
        {
            await inv.Client().Sla.ClearPolicyAsync(inv.Value(id), inv.Ct);
            inv.Out.Line($"Scaling policy of {inv.Value(id)} removed.");
            return ExitCodes.Ok;
        });
        return command;
    }
}

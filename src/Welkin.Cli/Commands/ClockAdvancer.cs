using Welkin.Cli.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Commands;

/// <summary>
/// <c>welkin clock advance</c>: a span longer than one step goes as one advance per step (each a
/// request of its own, to an instant), with a progress line after each. Cancelling (Ctrl+C) stops
/// between steps: the step under way finishes on the server, so the clock always stands at the
/// end of a step, with everything that step ran completed.
/// </summary>
internal static class ClockAdvancer
{
    // The server refuses one advance beyond this; a stepped advance keeps the same bound, so a typo
    // such as P100Y is refused rather than played for hours.
    private static readonly TimeSpan MaxSpan = TimeSpan.FromDays(400);

    private const int MaxSteps = 10_000;

    public static string StepOf(string text)
    {
        try
        {
            return SlaCommands.ToRequest(text, null).By!;
        }
        catch (CliException)
        {
            throw new CliException($"--step '{text}' is not a duration (30m, 6h, 1d, 2w, 1mo or ISO 8601 such as P1D).");
        }
    }

    public static async Task<int> RunAsync(Invocation inv, ClockAdvanceRequest request, string step)
    {
        var client = inv.Client();
        var clock = await client.Clock.GetAsync(inv.Ct);
        var target = request.To?.ToUniversalTime() ?? (request.By is { } by ? IsoDuration.AddTo(by, clock.Now) : null);
        var stops = clock.Mode == "virtual" && target is { } t && t > clock.Now && t - clock.Now <= MaxSpan ? Stops(clock.Now, t, step) : [];
        if (stops.Count <= 1)
        {
            // One request as given: the server validates it (and answers not-simulated on the real clock).
            return Show(inv, await client.Clock.AdvanceAsync(request, inv.Ct), null);
        }
        var from = clock.Now;
        var total = new ClockAdvanceView(clock.Mode, from, from, 0, 0);
        var done = 0;
        var progress = new StepProgress(inv.Err, inv.Context.ErrIsTerminal, stops.Count);
        foreach (var stop in stops)
        {
            if (inv.Ct.IsCancellationRequested)
            {
                progress.Interrupted();
                inv.Err.WriteLine($"Stopped after step {done} of {stops.Count}: the clock is at {Fmt.Time(total.Now)}; "
                    + $"'welkin clock advance --to {target:yyyy-MM-ddTHH:mm:ssZ}' goes on to {Fmt.Time(target)}.");
                Show(inv, total, $"{done} of {stops.Count}");
                return ExitCodes.Cancelled;
            }
            // Not cancelled with the command: a step under way runs to its end, so the clock never stops between ticks.
            var advanced = await client.Clock.AdvanceAsync(new ClockAdvanceRequest(To: stop), CancellationToken.None);
            done++;
            total = total with { Now = advanced.Now, Ticks = total.Ticks + advanced.Ticks, Timers = total.Timers + advanced.Timers };
            progress.Report(done, total);
        }
        return Show(inv, total, $"{done} of {stops.Count}");
    }

    /// <summary>The instants each step ends at, the last one the target.</summary>
    private static List<DateTimeOffset> Stops(DateTimeOffset from, DateTimeOffset target, string step)
    {
        var stops = new List<DateTimeOffset>();
        var at = from;
        while (at < target)
        {
            var next = IsoDuration.AddTo(step, at);
            if (next is not { } n || n <= at)
            {
                throw new CliException($"--step '{step}' does not move the clock.");
            }
            if (stops.Count == MaxSteps)
            {
                throw new CliException($"--step '{step}' makes more than {MaxSteps} steps: take a longer step.");
            }
            at = n < target ? n : target;
            stops.Add(at);
        }
        return stops;
    }

    private static int Show(Invocation inv, ClockAdvanceView view, string? steps) => inv.Show(view, (o, v) => o.Fields(
        ("Mode", v.Mode), ("From", Fmt.Time(v.From)), ("Now", Fmt.Time(v.Now)), ("Ticks", Fmt.Number(v.Ticks)), ("Timers", Fmt.Number(v.Timers)),
        ("Steps", steps)));

    /// <summary>A line per step on standard error: one redrawn line on a terminal, at most about twenty otherwise.</summary>
    private sealed class StepProgress(TextWriter err, bool terminal, int steps)
    {
        private int _lastShown = -1;

        public void Report(int done, ClockAdvanceView total)
        {
            var text = $"clock at {Fmt.Time(total.Now)}: step {done} of {steps}, {total.Ticks} ticks, {total.Timers} timers";
            if (terminal)
            {
                err.Write("\r" + text + (done == steps ? Environment.NewLine : ""));
                return;
            }
            var shown = steps <= 20 ? done : done * 20 / steps;
            if (shown != _lastShown || done == steps)
            {
                _lastShown = shown;
                err.WriteLine(text);
            }
        }

        public void Interrupted()
        {
            if (terminal)
            {
                err.WriteLine();
            }
        }
    }
}

using Welkin.Contracts;

namespace Welkin.Cli.Infrastructure;

/// <summary>
/// What a wait does about a server in simulation mode, where a job that waits for time moves only
/// when the virtual clock is advanced: say so once, or with <c>--advance-clock</c> advance the
/// clock a step before each poll. The server's mode comes from <c>GET /api/v1/clock</c>, asked
/// only once a job turns out not to finish at once.
/// </summary>
internal sealed class SimulatedClockWait(Invocation inv, bool advance)
{
    /// <summary>How far each advance moves the clock: past the simulated driver's operations, short enough not to skip much.</summary>
    public const string Step = "PT1M";

    private const string Virtual = "virtual";

    private string? _mode;
    private int _polls;

    public async Task OnPendingAsync(JobView job, CancellationToken ct)
    {
        // A job that needs no time at all is done by the first poll: leave the clock alone until then.
        if (++_polls == 1 && !advance)
        {
            return;
        }
        _mode ??= await ModeAsync(job, ct);
        if (_mode != Virtual || !advance)
        {
            return;
        }
        var step = await inv.Client().Clock.AdvanceAsync(new ClockAdvanceRequest(Step), ct);
        inv.Err.WriteLine($"clock advanced to {Fmt.Time(step.Now)}");
    }

    private async Task<string> ModeAsync(JobView job, CancellationToken ct)
    {
        var mode = (await inv.Client().Clock.GetAsync(ct)).Mode;
        if (mode == Virtual && !advance)
        {
            inv.Err.WriteLine($"The server runs on a virtual clock (simulation mode): job {job.Id} goes on only as the clock is advanced, "
                + "with 'welkin clock advance --by 1m' (clock-advance permission), or wait with --advance-clock to advance it from here.");
        }
        else if (mode != Virtual && advance)
        {
            inv.Err.WriteLine("The server runs on the real clock: --advance-clock has nothing to advance; waiting as usual.");
        }
        return mode;
    }
}

using System.Globalization;
using Microsoft.Extensions.Hosting;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Security;

namespace Welkin.Core.Audit;

public sealed class RefusalAuditOptions
{
    /// <summary>How long repeats of an anonymous refusal are counted before one entry sums them up.</summary>
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Distinct (action, outcome, target, address) keys counted at once; refusals of further keys
    /// are counted under one key per action and outcome, so many addresses or names cannot make
    /// the log (or this table) grow with each of them.
    /// </summary>
    public int MaxKeys { get; set; } = 10_000;
}

/// <summary>
/// Writes the refusals of anonymous callers (failed logins, refused sign-ups, a login throttle's
/// 429s) to the <see cref="AuditLog"/> without letting a flood of them grow it without bound. The
/// first refusal of a key (action, outcome, target, client address) is appended at once, exactly
/// as a single refusal always was; repeats inside the window that it opens are only counted, and
/// when the window has ended one more entry records how many there were, from which address, and
/// the first and last time (detail <c>repeated=N; from=ADDRESS; first=TIME; last=TIME</c>). A
/// flood therefore leaves at most two entries per key and window. Refusals of authenticated
/// callers never come here: each is audited on its own. The counts live in memory and are written
/// on shutdown; a crash loses the counts of the windows still open (at most one window and one
/// flush interval of repeats), never a first refusal.
/// </summary>
public sealed class RefusalAudit(IDatabase db, AuditLog audit, TimeProvider clock, RefusalAuditOptions options) : IPeriodicWork, IHostedService
{
    private const string Many = "*";
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Repeats> _windows = new(StringComparer.Ordinal);

    public string Name => "refusal-audit";

    /// <summary>A fifth of the window: an ended window's sum is written soon after it ends.</summary>
    public TimeSpan Interval => TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerSecond, options.Window.Ticks / 5));

    /// <summary>Audits one anonymous refusal: appended when it opens a window, otherwise counted.</summary>
    public async Task RecordAsync(Caller caller, AuditEvent e, string clientAddress, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var address = clientAddress.Length <= 64 ? clientAddress : clientAddress[..64];
        Repeats? ended = null;
        bool opened;
        lock (_gate)
        {
            var key = Key(e, e.Target, address);
            var summed = e;
            if (!_windows.ContainsKey(key) && _windows.Count >= options.MaxKeys)
            {
                key = Key(e, Many, Many);
                address = Many;
                summed = e with { Target = Many };
            }
            if (_windows.TryGetValue(key, out var open) && now >= open.Ends)
            {
                _windows.Remove(key);
                ended = open;
                open = null;
            }
            opened = open is null;
            if (open is null)
            {
                _windows[key] = new Repeats(summed, address, now + options.Window);
            }
            else
            {
                open.Count(now, caller.CorrelationId);
            }
        }
        if (ended is not null)
        {
            await WriteAsync(ended, ct);
        }
        if (opened)
        {
            await audit.AppendAsync(db, caller, e, ct);
        }
    }

    /// <summary>Writes the sums of the windows that have ended (all of them when <paramref name="all"/>).</summary>
    public async Task FlushAsync(bool all, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        List<Repeats> due;
        lock (_gate)
        {
            due = _windows.Where(kv => all || now >= kv.Value.Ends).Select(kv => kv.Value).ToList();
            foreach (var key in _windows.Where(kv => all || now >= kv.Value.Ends).Select(kv => kv.Key).ToList())
            {
                _windows.Remove(key);
            }
        }
        foreach (var repeats in due)
        {
            await WriteAsync(repeats, ct);
        }
    }

    public Task RunAsync(DateTimeOffset now, CancellationToken ct) => FlushAsync(all: false, ct);

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>On shutdown every open window's count is written, so a clean stop loses none.</summary>
    public Task StopAsync(CancellationToken cancellationToken) => FlushAsync(all: true, CancellationToken.None);

    private Task WriteAsync(Repeats r, CancellationToken ct)
    {
        if (r.Repeated == 0)
        {
            return Task.CompletedTask;
        }
        var detail = string.Create(CultureInfo.InvariantCulture,
            $"{(r.First.Detail is { } d ? d + "; " : "")}repeated={r.Repeated}; from={r.Address}; first={r.FirstAt:O}; last={r.LastAt:O}");
        return audit.AppendAsync(db, Caller.Anonymous(r.LastCorrelationId!), r.First with { Detail = detail }, ct);
    }

    private static string Key(AuditEvent e, string target, string address) => $"{e.Action}\n{e.Outcome}\n{target}\n{address}";

    /// <summary>The repeats of one key's refusal after the first, inside its window.</summary>
    private sealed class Repeats(AuditEvent first, string address, DateTimeOffset ends)
    {
        public AuditEvent First { get; } = first;

        public string Address { get; } = address;

        public DateTimeOffset Ends { get; } = ends;

        public long Repeated { get; private set; }

        public DateTimeOffset FirstAt { get; private set; }

        public DateTimeOffset LastAt { get; private set; }

        public string? LastCorrelationId { get; private set; }

        public void Count(DateTimeOffset at, string correlationId)
        {
            if (Repeated++ == 0)
            {
                FirstAt = at;
            }
            LastAt = at;
            LastCorrelationId = correlationId;
        }
    }
}

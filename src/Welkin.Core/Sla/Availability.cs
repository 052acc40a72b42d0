using Welkin.Core.Events;

namespace Welkin.Core.Sla;

/// <summary>A machine's recorded lifecycle event, as availability reads it.</summary>
public sealed record MachineEvent(string MachineId, string Type, long At);

/// <summary>A machine that failed while its consumer wanted it running, until it ran again, was released or acknowledged.</summary>
public sealed record Incident(string MachineId, long FailedAt, long? EndedAt);

/// <param name="UpMs">Machine-milliseconds running.</param>
/// <param name="DownMs">Machine-milliseconds in error while the consumer wanted the machine running.</param>
/// <param name="WantedNow">Machines running or down-but-wanted at the end of the range.</param>
public sealed record AvailabilityResult(long UpMs, long DownMs, int WantedNow, IReadOnlyList<Incident> Incidents)
{
    /// <summary>Percent of wanted time the machines were up; 100 when nothing was wanted.</summary>
    public decimal Percent => UpMs + DownMs == 0 ? 100m : Math.Round(100m * UpMs / (UpMs + DownMs), 4, MidpointRounding.ToEven);
}

/// <summary>
/// Availability from recorded machine states (the usage events of the event log). Time in error
/// counts against availability only while the consumer wanted the machine running: it failed while
/// running (a crash records deactivated and failed at the same instant) or while being provisioned.
/// A machine the consumer had deactivated that fails with its host was not wanted, and time stopped
/// is neither up nor down. Time a wanted machine is unknown (its peer cloud unreachable) is downtime
/// when the terms say so (an incident like a failure), otherwise neither up nor down.
/// </summary>
public static class Availability
{
    private enum State
    {
        None,
        Provisioning,
        Running,
        Inactive,
        DownWanted,
        DownUnwanted,
        Released,
    }

    /// <param name="events">The machines' events in log order (machine.* usage types and acknowledgements).</param>
    /// <param name="leftErrorAt">For machines no longer in error: when they left it (their state change time), which ends an error the log has no event for (stopped or destroyed from error).</param>
    /// <param name="unknownIsDowntime">Whether a wanted machine's unknown time counts as down (the SLA terms' <c>UnknownCountsAsDowntime</c>).</param>
    public static AvailabilityResult Compute(
        IEnumerable<MachineEvent> events, IReadOnlyDictionary<string, long> leftErrorAt, long from, long to, bool unknownIsDowntime = true)
    {
        var machines = new Dictionary<string, (State State, long Since, long DeactivatedAt)>(StringComparer.Ordinal);
        var open = new Dictionary<string, int>(StringComparer.Ordinal);
        var incidents = new List<Incident>();
        long up = 0, down = 0;

        void Account(State state, long start, long end)
        {
            var s = Math.Max(start, from);
            var e = Math.Min(end, to);
            if (e <= s)
            {
                return;
            }
            if (state == State.Running)
            {
                up += e - s;
            }
            else if (state == State.DownWanted)
            {
                down += e - s;
            }
        }

        void Close(string machine, long at)
        {
            if (open.Remove(machine, out var index))
            {
                incidents[index] = incidents[index] with { EndedAt = at };
            }
        }

        foreach (var e in events)
        {
            var (state, since, deactivatedAt) = machines.GetValueOrDefault(e.MachineId, (State.None, e.At, long.MinValue));
            if (e.Type == EventLog.Types.SlaIncidentAcknowledged)
            {
                Close(e.MachineId, e.At);
                continue;
            }
            Account(state, since, e.At);
            var next = state;
            switch (e.Type)
            {
                case EventLog.Types.MachineProvisioned:
                    next = State.Provisioning;
                    break;
                case EventLog.Types.MachineActivated:
                    next = State.Running;
                    Close(e.MachineId, e.At);
                    break;
                case EventLog.Types.MachineDeactivated:
                    next = State.Inactive;
                    deactivatedAt = e.At;
                    break;
                case EventLog.Types.MachineFailed:
                case EventLog.Types.MachineUnreachable:
                    var wanted = state is State.Provisioning or State.Running or State.DownWanted || (state == State.Inactive && deactivatedAt == e.At);
                    if (e.Type == EventLog.Types.MachineUnreachable && !unknownIsDowntime)
                    {
                        next = State.DownUnwanted;
                        break;
                    }
                    next = wanted ? State.DownWanted : State.DownUnwanted;
                    if (wanted && !open.ContainsKey(e.MachineId))
                    {
                        open[e.MachineId] = incidents.Count;
                        incidents.Add(new Incident(e.MachineId, e.At, null));
                    }
                    break;
                case EventLog.Types.MachineReleased:
                    next = State.Released;
                    Close(e.MachineId, e.At);
                    break;
                default:
                    continue;
            }
            machines[e.MachineId] = (next, e.At, deactivatedAt);
        }
        var wantedNow = 0;
        foreach (var (id, (state, since, _)) in machines)
        {
            var current = state;
            var start = since;
            if (current is State.DownWanted or State.DownUnwanted && leftErrorAt.TryGetValue(id, out var left) && left >= since && left < to)
            {
                Account(current, since, left);
                Close(id, left);
                current = State.Inactive;
                start = left;
            }
            Account(current, start, to);
            if (current is State.Running or State.DownWanted)
            {
                wantedNow++;
            }
        }
        return new AvailabilityResult(up, down, wantedNow, incidents);
    }
}

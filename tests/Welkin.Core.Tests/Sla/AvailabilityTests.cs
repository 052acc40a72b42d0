using Welkin.Core.Events;
using Welkin.Core.Sla;

namespace Welkin.Core.Tests.Sla;

public sealed class AvailabilityTests
{
    private const long H = 3_600_000;

    private static MachineEvent E(string type, long at, string machine = "m1") => new(machine, type, at);

    [Fact]
    public void Crash_WhileRunning_CountsAsDown_UntilRunningAgain()
    {
        var events = new[]
        {
            E(EventLog.Types.MachineProvisioned, 0),
            E(EventLog.Types.MachineActivated, 0),
            E(EventLog.Types.MachineDeactivated, 3 * H),
            E(EventLog.Types.MachineFailed, 3 * H),
            E(EventLog.Types.MachineActivated, 4 * H),
        };
        var result = Availability.Compute(events, new Dictionary<string, long>(), 0, 10 * H);
        result.UpMs.ShouldBe(9 * H);
        result.DownMs.ShouldBe(1 * H);
        result.Percent.ShouldBe(90m);
        result.Incidents.ShouldBe([new Incident("m1", 3 * H, 4 * H)]);
        result.WantedNow.ShouldBe(1);
    }

    [Fact]
    public void Failure_OfADeactivatedMachine_IsNotDowntime_NorAnIncident()
    {
        var events = new[]
        {
            E(EventLog.Types.MachineActivated, 0),
            E(EventLog.Types.MachineDeactivated, 2 * H),
            E(EventLog.Types.MachineFailed, 5 * H),
        };
        var result = Availability.Compute(events, new Dictionary<string, long>(), 0, 10 * H);
        result.UpMs.ShouldBe(2 * H);
        result.DownMs.ShouldBe(0);
        result.Percent.ShouldBe(100m);
        result.Incidents.ShouldBeEmpty();
        result.WantedNow.ShouldBe(0);
    }

    [Fact]
    public void Acknowledgement_EndsTheIncident_ButNotTheDowntime()
    {
        var events = new[]
        {
            E(EventLog.Types.MachineActivated, 0),
            E(EventLog.Types.MachineDeactivated, H),
            E(EventLog.Types.MachineFailed, H),
            E(EventLog.Types.SlaIncidentAcknowledged, H + (10 * 60_000)),
        };
        var result = Availability.Compute(events, new Dictionary<string, long>(), 0, 3 * H);
        result.Incidents.ShouldBe([new Incident("m1", H, H + (10 * 60_000))]);
        result.DownMs.ShouldBe(2 * H);
    }

    [Fact]
    public void Range_CutsIntervals_AndAMachineStoppedFromErrorStopsCountingThen()
    {
        var events = new[]
        {
            E(EventLog.Types.MachineActivated, 0, "a"),
            E(EventLog.Types.MachineActivated, 0, "b"),
            E(EventLog.Types.MachineDeactivated, 5 * H, "b"),
            E(EventLog.Types.MachineFailed, 5 * H, "b"),
        };
        // b was stopped from error at 7 h (no event for that; its state change time tells).
        var result = Availability.Compute(events, new Dictionary<string, long> { ["b"] = 7 * H }, 4 * H, 10 * H);
        result.UpMs.ShouldBe((6 * H) + H);
        result.DownMs.ShouldBe(2 * H);
        result.WantedNow.ShouldBe(1);
        result.Incidents.Single().EndedAt.ShouldBe(7 * H);
    }

    [Fact]
    public void NothingWanted_IsFullyAvailable() =>
        Availability.Compute([], new Dictionary<string, long>(), 0, H).Percent.ShouldBe(100m);

    private static MachineEvent[] UnknownForTwoHours() =>
    [
        E(EventLog.Types.MachineProvisioned, 0),
        E(EventLog.Types.MachineActivated, 0),
        E(EventLog.Types.MachineDeactivated, 3 * H),
        E(EventLog.Types.MachineUnreachable, 3 * H),
        E(EventLog.Types.MachineActivated, 5 * H),
    ];

    [Fact]
    public void Unknown_WhileWanted_IsDowntime_AndAnIncident_ByDefault()
    {
        var result = Availability.Compute(UnknownForTwoHours(), new Dictionary<string, long>(), 0, 10 * H);
        result.UpMs.ShouldBe(8 * H);
        result.DownMs.ShouldBe(2 * H);
        result.Incidents.ShouldBe([new Incident("m1", 3 * H, 5 * H)]);
    }

    [Fact]
    public void Unknown_IsNeitherUpNorDown_WhenTheTermsSaySo()
    {
        var result = Availability.Compute(UnknownForTwoHours(), new Dictionary<string, long>(), 0, 10 * H, unknownIsDowntime: false);
        result.UpMs.ShouldBe(8 * H);
        result.DownMs.ShouldBe(0);
        result.Percent.ShouldBe(100m);
        result.Incidents.ShouldBeEmpty();
    }

    [Fact]
    public void Unknown_ThenLost_StaysDown_AsOneIncident()
    {
        var events = new[]
        {
            E(EventLog.Types.MachineActivated, 0),
            E(EventLog.Types.MachineDeactivated, 2 * H),
            E(EventLog.Types.MachineUnreachable, 2 * H),
            E(EventLog.Types.MachineFailed, 4 * H),
        };
        var result = Availability.Compute(events, new Dictionary<string, long>(), 0, 6 * H);
        result.UpMs.ShouldBe(2 * H);
        result.DownMs.ShouldBe(4 * H);
        result.Incidents.ShouldBe([new Incident("m1", 2 * H, null)]);
        result.WantedNow.ShouldBe(1);
    }

    [Fact]
    public void Unknown_OfAStoppedMachine_IsNotDowntime()
    {
        var events = new[]
        {
            E(EventLog.Types.MachineActivated, 0),
            E(EventLog.Types.MachineDeactivated, 2 * H),
            E(EventLog.Types.MachineUnreachable, 3 * H),
        };
        var result = Availability.Compute(events, new Dictionary<string, long>(), 0, 6 * H);
        result.DownMs.ShouldBe(0);
        result.Incidents.ShouldBeEmpty();
    }
}

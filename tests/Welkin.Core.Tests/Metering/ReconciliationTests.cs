using System.Text.Json;
using Welkin.Core.Metering;

namespace Welkin.Core.Tests.Metering;

public sealed class ReconciliationTests
{
    private const long H = 3_600_000;
    private static long seq;

    private static UsageEventRow Event(string type, string target, long at, params (string Key, string Value)[] data) =>
        new(++seq, "acc", type, target, at, JsonSerializer.Serialize(data.ToDictionary(d => d.Key, d => d.Value)));

    private static RecordedSlice Record(long start, long end, long rate, string metric = UsageMetrics.VcpuMs) =>
        new("m1", metric, 0, start, end, rate * (end - start));

    private static readonly ExpectedInterval[] TwoVcpusFor3Hours = [new("m1", UsageMetrics.VcpuMs, 0, 0, 3 * H, 2)];

    [Fact]
    public void Compare_RecordsCoveringEveryMillisecondOnce_IsOk()
    {
        var outcome = Reconciliation.Compare(TwoVcpusFor3Hours, [Record(0, H, 2), Record(H, 2 * H, 2), Record(2 * H, 3 * H, 2)], 0, 3 * H);

        outcome.Discrepancies.ShouldBeEmpty();
        outcome.ExpectedMs.ShouldBe(3 * H);
        outcome.CoveredMs.ShouldBe(3 * H);
    }

    [Fact]
    public void Compare_MissingSlice_IsAGapOfExactlyThatTime()
    {
        var outcome = Reconciliation.Compare(TwoVcpusFor3Hours, [Record(0, H, 2), Record(2 * H, 3 * H, 2)], 0, 3 * H);

        var gap = outcome.Discrepancies.ShouldHaveSingleItem();
        (gap.Kind, gap.From.ToUnixTimeMilliseconds(), gap.To.ToUnixTimeMilliseconds(), gap.ExpectedRate).ShouldBe(("gap", H, 2 * H, (long?)2));
        outcome.CoveredMs.ShouldBe(2 * H);
    }

    [Fact]
    public void Compare_DoubleCountedMillisecond_IsAnOverlap()
    {
        var outcome = Reconciliation.Compare(TwoVcpusFor3Hours, [Record(0, H + 1, 2), Record(H, 3 * H, 2)], 0, 3 * H);

        var overlap = outcome.Discrepancies.ShouldHaveSingleItem();
        (overlap.Kind, overlap.From.ToUnixTimeMilliseconds(), overlap.To.ToUnixTimeMilliseconds()).ShouldBe(("overlap", H, H + 1));
    }

    [Fact]
    public void Compare_WrongRateAndTimeWithNothingToMeter_AreReported()
    {
        var outcome = Reconciliation.Compare(TwoVcpusFor3Hours, [Record(0, 3 * H, 2), Record(3 * H, 4 * H, 2), new("m1", UsageMetrics.VcpuMs, 0, 0, 10, 7)], 0, 4 * H);

        outcome.Discrepancies.Select(d => d.Kind).ShouldBe(["quantity-mismatch", "unexpected"], ignoreOrder: true);
    }

    [Fact]
    public void Compare_OnlyJudgesTheRange()
    {
        var outcome = Reconciliation.Compare(TwoVcpusFor3Hours, [Record(H, 2 * H, 2)], H, 2 * H);

        outcome.Discrepancies.ShouldBeEmpty();
        outcome.ExpectedMs.ShouldBe(H);
    }

    [Fact]
    public void Expected_FollowsActivationResizeAndRelease()
    {
        var events = new[]
        {
            Event("machine.provisioned", "m1", 0, ("vcpus", "2"), ("memoryMiB", "4096"), ("item", "0")),
            Event("machine.activated", "m1", 10, ("vcpus", "2"), ("memoryMiB", "4096"), ("item", "0")),
            Event("machine.deactivated", "m1", 100, ("vcpus", "2"), ("memoryMiB", "4096"), ("item", "0")),
            Event("machine.resized", "m1", 100, ("vcpus", "4"), ("memoryMiB", "8192"), ("item", "0")),
            Event("machine.activated", "m1", 150, ("vcpus", "4"), ("memoryMiB", "8192"), ("item", "0")),
            Event("machine.deactivated", "m1", 200, ("vcpus", "4"), ("memoryMiB", "8192"), ("item", "0")),
            Event("machine.released", "m1", 250, ("vcpus", "4"), ("memoryMiB", "8192"), ("item", "0")),
        };

        var expected = Reconciliation.Expected(events, 1000, new Dictionary<string, long>());

        expected.Where(e => e.Metric == UsageMetrics.VcpuMs).Select(e => (e.Start, e.End, e.Rate)).ShouldBe([(10L, 100L, 2L), (150L, 200L, 4L)]);
        expected.Where(e => e.Metric == UsageMetrics.UnitProvisionedMs).Select(e => (e.Start, e.End, e.Rate)).ShouldBe([(0L, 250L, 1L)]);
    }

    [Fact]
    public void ContractLines_ReadQuantityKeys_AndFallBackToTheItemText()
    {
        UsageEvents.ContractLines(Event("contract.activated", "c", 0, ("quantity.0", "3"), ("quantity.1", "5"), ("item.0", "off_x x9 compute-unit")))
            .ShouldBe([(0, 3L), (1, 5L)]);
        UsageEvents.ContractLines(Event("contract.activated", "c", 0, ("item.0", "off_x x9 compute-unit"), ("termMonths", "1")))
            .ShouldBe([(0, 9L)]);
    }

    [Fact]
    public void Slices_NeverCrossAnHourBoundary()
    {
        Meter.Slices(H / 2, 2 * H + 5).ShouldBe([(H / 2, H), (H, 2 * H), (2 * H, 2 * H + 5)]);
        Meter.Slices(5, 5).ShouldBeEmpty();
    }

    [Fact]
    public void RecordId_IsTheSameForTheSameSlice_AndDiffersByLine()
    {
        Meter.RecordId("ctr_1", UsageMetrics.UnitOrderedMs, 0, 42).ShouldBe(Meter.RecordId("ctr_1", UsageMetrics.UnitOrderedMs, 0, 42));
        Meter.RecordId("ctr_1", UsageMetrics.UnitOrderedMs, 0, 42).ShouldNotBe(Meter.RecordId("ctr_1", UsageMetrics.UnitOrderedMs, 1, 42));
    }
}

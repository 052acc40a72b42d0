using Welkin.Core.Compute;
using Welkin.Core.Monitoring;

namespace Welkin.Core.Tests.Monitoring;

public sealed class CounterRatesTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    private static MachineMetrics At(int seconds, double cpu, long cpuMs, long faults, long read = 0) =>
        new(T0.AddSeconds(seconds), cpu, cpuMs, 1_000_000, faults, read, 0, 0, 0);

    [Fact]
    public void Convert_FirstSample_HasInstantCpuAndMemory_AndNoRates()
    {
        var rates = new CounterRates();

        var s = rates.Convert("mch_a", 2, At(0, 35, 0, 0), 1);

        s.Values[MeasurementColumns.Cpu].ShouldBe(35);
        s.Values[MeasurementColumns.Memory].ShouldBe(1_000_000);
        s.Values[MeasurementColumns.PageFaults].ShouldBeNull();
        s.At.ShouldBe(1);
    }

    [Fact]
    public void Convert_SecondSample_TurnsCounterDeltasIntoRates()
    {
        var rates = new CounterRates();
        rates.Convert("mch_a", 2, At(0, 99, 1_000, 100, 5_000), 0);

        // 60 s, 2 vCPUs: 120,000 vCPU-ms available, 30,000 used = 25 %.
        var s = rates.Convert("mch_a", 2, At(60, 99, 31_000, 1_300, 65_000), 60_000);

        s.Values[MeasurementColumns.Cpu].ShouldBe(25);
        s.Values[MeasurementColumns.PageFaults].ShouldBe(20);
        s.Values[MeasurementColumns.DiskRead].ShouldBe(1_000);
    }

    [Fact]
    public void Convert_AfterCountersWentBack_StartsAfresh()
    {
        var rates = new CounterRates();
        rates.Convert("mch_a", 1, At(0, 50, 10_000, 100), 0);

        var s = rates.Convert("mch_a", 1, At(60, 70, 500, 10), 60_000);

        s.Values[MeasurementColumns.Cpu].ShouldBe(70);
        s.Values[MeasurementColumns.PageFaults].ShouldBeNull();
    }

    [Fact]
    public void Retain_ForgetsMachinesNoLongerMeasured()
    {
        var rates = new CounterRates();
        rates.Convert("mch_a", 1, At(0, 50, 0, 0), 0);
        rates.Convert("mch_b", 1, At(0, 50, 0, 0), 0);

        rates.Retain(new HashSet<string> { "mch_b" });

        rates.Machines.ShouldBe(1);
        rates.Convert("mch_a", 1, At(60, 50, 30_000, 0), 60_000).Values[MeasurementColumns.PageFaults].ShouldBeNull();
    }
}

public sealed class PercentileTests
{
    [Theory]
    [InlineData(0, 1)]
    [InlineData(50, 5)]
    [InlineData(95, 10)]
    [InlineData(99, 10)]
    [InlineData(100, 10)]
    public void Percentile_IsNearestRank(double p, double expected)
    {
        var values = Enumerable.Range(1, 10).Reverse().Select(v => ((double)v, 1L)).ToList();

        MeasurementStore.Percentile(values, p).ShouldBe(expected);
    }

    [Fact]
    public void Percentile_WeighsRollupMeansByTheirCounts()
    {
        // A bucket of 9 samples with mean 10 and one of 1 sample with mean 90: p50 and p90 are 10, p95 is 90.
        List<(double, long)> values = [(90, 1), (10, 9)];

        MeasurementStore.Percentile(values, 50).ShouldBe(10);
        MeasurementStore.Percentile(values, 90).ShouldBe(10);
        MeasurementStore.Percentile(values, 95).ShouldBe(90);
        MeasurementStore.Percentile([], 50).ShouldBeNull();
    }
}

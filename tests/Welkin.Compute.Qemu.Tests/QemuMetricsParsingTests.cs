namespace Welkin.Compute.Qemu.Tests;

// The /proc parsers on fixed text: no QEMU needed.
public sealed class QemuMetricsParsingTests
{
    [Fact]
    public void ParseStat_ThreadNameWithSpacesAndParentheses_CountsFieldsAfterTheLastParenthesis()
    {
        const string line = "4242 (CPU 0/TCG (x)) S 1 4242 4242 0 -1 4194368 1234 0 5 0 250 37 0 0 20 0 6 0 98765 1000 200 0";

        var stat = QemuMetrics.ParseStat(line);

        stat.ShouldBe(new ProcStat(MinorFaults: 1234, MajorFaults: 5, UserTicks: 250, SystemTicks: 37, StartTicks: 98765));
    }

    [Fact]
    public void ParseStat_Truncated_Throws()
    {
        Should.Throw<FormatException>(() => QemuMetrics.ParseStat("1 (qemu) S 1 2 3"));
        Should.Throw<FormatException>(() => QemuMetrics.ParseStat("garbage"));
    }

    [Fact]
    public void ParseStatmAndIo_ReadResidentPagesAndCharacterCounts()
    {
        QemuMetrics.ParseStatmResident("120000 48000 3000 1000 0 60000 0\n").ShouldBe(48000);

        var io = QemuMetrics.ParseIo("rchar: 1000\nwchar: 2000\nsyscr: 3\nsyscw: 4\nread_bytes: 0\nwrite_bytes: 0\ncancelled_write_bytes: 0\n");

        io.ShouldBe((1000L, 2000L));
    }

    [Fact]
    public void ClockTicks_IsPositive()
    {
        QemuMetrics.ClockTicks.ShouldBeGreaterThan(0);
    }
}

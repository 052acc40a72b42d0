using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Welkin.Core.Compute;

namespace Welkin.Compute.Qemu;

/// <summary>The CPU time one vCPU thread has used: <c>query-cpus-fast</c>'s index and thread id, and the thread's <c>/proc</c> counters.</summary>
public sealed record VcpuSample(int CpuIndex, int ThreadId, long CpuTimeMs);

/// <summary>One measurement of a QEMU process: the <see cref="MachineMetrics"/> plus the per-vCPU detail behind them.</summary>
public sealed record QemuSample(MachineMetrics Metrics, IReadOnlyList<VcpuSample> Vcpus, TimeSpan Elapsed);

/// <summary>The fields Welkin uses from a <c>/proc/PID/stat</c> or <c>/proc/PID/task/TID/stat</c> line.</summary>
public readonly record struct ProcStat(long MinorFaults, long MajorFaults, long UserTicks, long SystemTicks, long StartTicks);

/// <summary>
/// Measures a running <see cref="QemuProcess"/> from Linux's <c>/proc</c> and QMP:
/// <list type="bullet">
/// <item>CPU time: the process's user + system time (<c>/proc/PID/stat</c> fields 14-15), everything
/// the host spent on the machine (vCPUs, device emulation, I/O threads).</item>
/// <item>Per vCPU: the thread ids <c>query-cpus-fast</c> reports and each thread's
/// <c>/proc/PID/task/TID/stat</c> fields 14-15.</item>
/// <item>CPU utilization: the vCPU threads' CPU time over the wall time since the previous sample
/// (since the process started for the first one) and the number of vCPUs: percent of the machine,
/// 0 to 100, as every driver reports it (clamped: clock-tick granularity can overshoot slightly).</item>
/// <item>Memory used: the resident set (<c>/proc/PID/statm</c> field 2 × page size), guest RAM
/// touched so far plus QEMU's own memory.</item>
/// <item>Page faults: minor + major faults of the process (<c>/proc/PID/stat</c> fields 10 and 12).</item>
/// <item>Disk read/write bytes: the sum of <c>rd_bytes</c>/<c>wr_bytes</c> over
/// <c>query-blockstats</c> for the drives <c>query-block</c> shows with a medium inserted
/// (0 without a disk).</item>
/// <item>Network rx/tx: QEMU 7.2 has no QMP counters for a user-mode (slirp) network, so these are
/// an approximation, an upper bound: the bytes the process read/wrote through system calls
/// (<c>/proc/PID/io</c> <c>rchar</c>/<c>wchar</c>: slirp sockets, but also the kernel and initrd
/// read at start, the console file, QMP and event notifications) less the disk bytes above,
/// never below 0.</item>
/// </list>
/// Counters are "since the process started"; utilization is the only rate.
/// </summary>
public sealed class QemuMetrics(QemuProcess process, TimeProvider time)
{
    private static readonly Lazy<long> ClockTicksPerSecond = new(ReadClockTicks);
    private Previous? _previous;

    private sealed record Previous(long Timestamp, long VcpuTimeMs);

    /// <summary>The kernel's clock ticks per second (<c>getconf CLK_TCK</c>, read once; 100 when that fails).</summary>
    public static long ClockTicks => ClockTicksPerSecond.Value;

    /// <summary>Takes one sample; fails with <see cref="InvalidOperationException"/> when the process has exited.</summary>
    public async Task<QemuSample> SampleAsync(CancellationToken cancellationToken)
    {
        var pid = process.ProcessId;
        var cpus = await QueryAsync("query-cpus-fast", cancellationToken);
        var blocks = await QueryAsync("query-blockstats", cancellationToken);
        var now = time.GetTimestamp();
        var at = time.GetUtcNow();

        var stat = ParseStat(ReadProc($"/proc/{pid}/stat"));
        var vcpus = new List<VcpuSample>();
        foreach (var cpu in cpus.EnumerateArray())
        {
            var threadId = cpu.GetProperty("thread-id").GetInt32();
            var threadStat = ParseStat(ReadProc($"/proc/{pid}/task/{threadId}/stat"));
            vcpus.Add(new VcpuSample(cpu.GetProperty("cpu-index").GetInt32(), threadId, TicksToMs(threadStat.UserTicks + threadStat.SystemTicks)));
        }

        // Only drives with a medium: q35's empty CD-ROM drive counts the bytes of its ATAPI
        // answers (INQUIRY and the like) as reads.
        var withMedium = (await QueryAsync("query-block", cancellationToken)).EnumerateArray()
            .Where(drive => drive.TryGetProperty("inserted", out _))
            .Select(BlockKey)
            .ToHashSet(StringComparer.Ordinal);
        long diskRead = 0, diskWrite = 0;
        foreach (var device in blocks.EnumerateArray().Where(device => withMedium.Contains(BlockKey(device))))
        {
            var stats = device.GetProperty("stats");
            diskRead += stats.GetProperty("rd_bytes").GetInt64();
            diskWrite += stats.GetProperty("wr_bytes").GetInt64();
        }

        var residentPages = ParseStatmResident(ReadProc($"/proc/{pid}/statm"));
        var (readChars, writeChars) = ParseIo(ReadProc($"/proc/{pid}/io"));

        var vcpuTimeMs = vcpus.Sum(v => v.CpuTimeMs);
        TimeSpan elapsed;
        long busyMs;
        if (_previous is { } previous)
        {
            elapsed = time.GetElapsedTime(previous.Timestamp, now);
            busyMs = vcpuTimeMs - previous.VcpuTimeMs;
        }
        else
        {
            elapsed = TimeSpan.FromSeconds(Math.Max(0, ReadUptimeSeconds() - (double)stat.StartTicks / ClockTicks));
            busyMs = vcpuTimeMs;
        }
        _previous = new Previous(now, vcpuTimeMs);
        var utilization = elapsed > TimeSpan.Zero
            ? Math.Clamp(busyMs * 100.0 / (elapsed.TotalMilliseconds * Math.Max(1, vcpus.Count)), 0, 100)
            : 0;

        var metrics = new MachineMetrics(
            at,
            utilization,
            TicksToMs(stat.UserTicks + stat.SystemTicks),
            residentPages * Environment.SystemPageSize,
            stat.MinorFaults + stat.MajorFaults,
            diskRead,
            diskWrite,
            Math.Max(0, readChars - diskRead),
            Math.Max(0, writeChars - diskWrite));
        return new QemuSample(metrics, vcpus, elapsed);
    }

    /// <summary>
    /// Parses a <c>stat</c> line. Field 2 (the thread name in parentheses) may hold spaces and
    /// parentheses (QEMU names its vCPU threads <c>CPU 0/TCG</c>), so fields are counted from the
    /// last <c>)</c>: field 3 is the first after it.
    /// </summary>
    public static ProcStat ParseStat(string line)
    {
        var close = line.LastIndexOf(')');
        if (close < 0)
        {
            throw new FormatException("Not a /proc stat line: no ')' after the name.");
        }
        var fields = line[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // fields[0] is field 3 (state): field n is fields[n - 3].
        long Field(int n) => n - 3 < fields.Length
            ? long.Parse(fields[n - 3], NumberStyles.Integer, CultureInfo.InvariantCulture)
            : throw new FormatException($"A /proc stat line without field {n}.");
        return new ProcStat(Field(10), Field(12), Field(14), Field(15), Field(22));
    }

    /// <summary>The resident set in pages: field 2 of <c>/proc/PID/statm</c>.</summary>
    public static long ParseStatmResident(string line)
    {
        var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return fields.Length >= 2
            ? long.Parse(fields[1], NumberStyles.Integer, CultureInfo.InvariantCulture)
            : throw new FormatException("A /proc statm line without the resident field.");
    }

    /// <summary>The <c>rchar</c> and <c>wchar</c> lines of <c>/proc/PID/io</c> (0 when absent).</summary>
    public static (long ReadChars, long WriteChars) ParseIo(string text)
    {
        long read = 0, write = 0;
        foreach (var line in text.Split('\n'))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                continue;
            }
            var value = long.Parse(line.AsSpan(colon + 1).Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture);
            switch (line[..colon])
            {
                case "rchar":
                    read = value;
                    break;
                case "wchar":
                    write = value;
                    break;
            }
        }
        return (read, write);
    }

    // A drive is named by its qdev path, or by its legacy drive id when it has none (-drive without a device).
    private static string BlockKey(JsonElement drive) =>
        drive.TryGetProperty("qdev", out var qdev) && qdev.GetString() is { Length: > 0 } path
            ? "qdev:" + path
            : "device:" + (drive.TryGetProperty("device", out var device) ? device.GetString() : "");

    private async Task<JsonElement> QueryAsync(string command, CancellationToken cancellationToken)
    {
        QmpResult result;
        try
        {
            result = await process.Qmp.ExecuteAsync(command, null, cancellationToken);
        }
        catch (IOException exception)
        {
            throw new InvalidOperationException($"QEMU (pid {process.ProcessId}) no longer answers QMP.", exception);
        }
        return result.Succeeded
            ? result.Return
            : throw new InvalidOperationException($"QMP {command} failed: {result.Error!.Class}: {result.Error.Description}");
    }

    private string ReadProc(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"QEMU (pid {process.ProcessId}) cannot be measured: {path} is unreadable.", exception);
        }
    }

    private static long TicksToMs(long ticks) => ticks * 1000 / ClockTicks;

    private static double ReadUptimeSeconds()
    {
        var text = File.ReadAllText("/proc/uptime");
        return double.Parse(text.AsSpan(0, text.IndexOf(' ', StringComparison.Ordinal)), NumberStyles.Float, CultureInfo.InvariantCulture);
    }

    private static long ReadClockTicks()
    {
        try
        {
            using var getconf = Process.Start(new ProcessStartInfo("getconf", "CLK_TCK")
            {
                RedirectStandardOutput = true,
                UseShellExecute = false,
            });
            if (getconf is null)
            {
                return 100;
            }
            var output = getconf.StandardOutput.ReadToEnd();
            getconf.WaitForExit();
            return long.TryParse(output.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var ticks) && ticks > 0 ? ticks : 100;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return 100;
        }
    }
}

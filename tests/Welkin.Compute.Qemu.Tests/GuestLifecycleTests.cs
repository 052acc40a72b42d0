using Welkin.Testing;

namespace Welkin.Compute.Qemu.Tests;

// One real boot of the test guest (TCG takes a few seconds), checked and measured step by step.
public sealed class GuestLifecycleTests(TestGuest guest)
{
    [Fact]
    public async Task Guest_BootsServesHttpPausesResumesIsMeasuredAndPowersDownWithoutOrphan()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        using var run = new RunDirectory();
        var port = Loopback.FreePort();
        int pid;

        await using (var machine = await QemuProcess.StartAsync(
            guest.Options("vm-life", run.Path, new HostForward(port, 80)), cancellationToken))
        {
            pid = machine.ProcessId;
            (await File.ReadAllTextAsync(machine.PidFilePath, cancellationToken)).Trim().ShouldBe(pid.ToString());

            await machine.WaitForConsoleAsync("GUEST-UP vm-life", cancellationToken);
            (await StatusAsync(machine.Qmp)).ShouldBe("running");

            (await machine.Qmp.ExecuteAsync("stop", null, cancellationToken)).Succeeded.ShouldBeTrue();
            (await StatusAsync(machine.Qmp)).ShouldBe("paused");
            await machine.Qmp.WaitForEventAsync("STOP", cancellationToken);

            (await machine.Qmp.ExecuteAsync("cont", null, cancellationToken)).Succeeded.ShouldBeTrue();
            (await StatusAsync(machine.Qmp)).ShouldBe("running");
            await machine.Qmp.WaitForEventAsync("RESUME", cancellationToken);

            await machine.WaitForConsoleAsync("HTTPD-UP", cancellationToken);
            using var http = new HttpClient();
            var page = await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/"), cancellationToken);
            page.Trim().ShouldBe("hello from vm-life");

            // Two samples a second or more apart while the guest prints its TICKs.
            await machine.WaitForConsoleAsync("TICK 1 ", cancellationToken);
            var metrics = new QemuMetrics(machine, TimeProvider.System);
            var first = await metrics.SampleAsync(cancellationToken);
            await Task.Delay(TimeSpan.FromSeconds(1.5), cancellationToken);
            await machine.WaitForConsoleAsync("TICK 3 ", cancellationToken);
            var second = await metrics.SampleAsync(cancellationToken);

            TestContext.Current.TestOutputHelper?.WriteLine($"first: {first}\nsecond: {second}");
            var cpus = await machine.Qmp.ExecuteAsync("query-cpus-fast", null, cancellationToken);
            var threadIds = cpus.Return.EnumerateArray().Select(c => c.GetProperty("thread-id").GetInt32()).ToList();
            second.Vcpus.Select(v => v.ThreadId).ShouldBe(threadIds);
            threadIds.ShouldNotContain(pid);
            threadIds.ShouldAllBe(tid => Directory.Exists($"/proc/{pid}/task/{tid}"));
            second.Elapsed.ShouldBeGreaterThanOrEqualTo(TimeSpan.FromSeconds(1));
            second.Metrics.At.ShouldBeGreaterThan(first.Metrics.At);
            second.Metrics.CpuTimeMs.ShouldBeGreaterThan(first.Metrics.CpuTimeMs);
            second.Vcpus[0].CpuTimeMs.ShouldBeGreaterThanOrEqualTo(first.Vcpus[0].CpuTimeMs);
            second.Vcpus.Sum(v => v.CpuTimeMs).ShouldBeLessThanOrEqualTo(second.Metrics.CpuTimeMs);
            second.Metrics.MemoryUsedBytes.ShouldBeGreaterThan(50L * 1024 * 1024);
            second.Metrics.PageFaults.ShouldBeGreaterThan(0);
            second.Metrics.PageFaults.ShouldBeGreaterThanOrEqualTo(first.Metrics.PageFaults);
            foreach (var sample in new[] { first, second })
            {
                sample.Metrics.CpuUtilizationPercent.ShouldBeInRange(0, 100.0);
            }
            first.Metrics.CpuUtilizationPercent.ShouldBeGreaterThan(0); // the boot kept the vCPU busy
            second.Metrics.DiskReadBytes.ShouldBe(0); // no disk
            second.Metrics.DiskWriteBytes.ShouldBe(0);
            second.Metrics.NetworkTxBytes.ShouldBeGreaterThan(0); // at least the HTTP answer and the console
            second.Metrics.NetworkRxBytes.ShouldBeGreaterThanOrEqualTo(first.Metrics.NetworkRxBytes);

            var outcome = await machine.StopAsync(TimeSpan.FromSeconds(60), cancellationToken);

            outcome.ShouldBe(QemuStopOutcome.PoweredDown);
            machine.HasExited.ShouldBeTrue();
            await Should.ThrowAsync<InvalidOperationException>(() => metrics.SampleAsync(cancellationToken));
            machine.ReadConsole().ShouldContain("GUEST-POWERDOWN vm-life");
            machine.Qmp.Events.Select(e => e.Name).ShouldContain("SHUTDOWN");
        }

        QemuProcess.IsAlive(pid).ShouldBeFalse(); // a daemonized QEMU is reaped by init: a zombie is gone
        TestGuest.ProcessesMentioning(run.Path).ShouldBeEmpty();
    }

    private static async Task<string> StatusAsync(QmpClient qmp)
    {
        var result = await qmp.ExecuteAsync("query-status", null, TestContext.Current.CancellationToken);
        result.Succeeded.ShouldBeTrue();
        return result.Return.GetProperty("status").GetString()!;
    }
}

namespace Welkin.Compute.Qemu.Tests;

// One real boot of the test guest (TCG takes a few seconds), checked step by step.
public sealed class GuestLifecycleTests(TestGuest guest)
{
    [Fact]
    public async Task Guest_BootsServesHttpPausesResumesAndPowersDownWithoutOrphan()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        using var run = new RunDirectory();
        var port = TestGuest.FreeLoopbackPort();
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

            var outcome = await machine.StopAsync(TimeSpan.FromSeconds(60), cancellationToken);

            outcome.ShouldBe(QemuStopOutcome.PoweredDown);
            machine.HasExited.ShouldBeTrue();
            machine.ReadConsole().ShouldContain("GUEST-POWERDOWN vm-life");
            machine.Qmp.Events.Select(e => e.Name).ShouldContain("SHUTDOWN");
        }

        Directory.Exists($"/proc/{pid}").ShouldBeFalse();
        TestGuest.ProcessesMentioning(run.Path).ShouldBeEmpty();
    }

    private static async Task<string> StatusAsync(QmpClient qmp)
    {
        var result = await qmp.ExecuteAsync("query-status", null, TestContext.Current.CancellationToken);
        result.Succeeded.ShouldBeTrue();
        return result.Return.GetProperty("status").GetString()!;
    }
}

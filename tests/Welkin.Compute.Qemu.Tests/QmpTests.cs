using System.Text.Json.Nodes;
using Welkin.Testing;

namespace Welkin.Compute.Qemu.Tests;

// QEMU started with its CPUs stopped (-S): QMP answers at once and no guest boot is needed.
public sealed class QmpTests(TestGuest guest)
{
    [Fact]
    public async Task Execute_AfterNegotiation_ReturnsStatusAndTypedErrors()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        using var run = new RunDirectory();
        await using var machine = await QemuProcess.StartAsync(
            guest.Options("vm-qmp", run.Path) with { StartPaused = true }, cancellationToken);

        machine.Qmp.Version.ShouldNotBeNullOrEmpty();
        var status = await machine.Qmp.ExecuteAsync("query-status", null, cancellationToken);
        status.Succeeded.ShouldBeTrue();
        status.Return.GetProperty("status").GetString().ShouldBe("prelaunch");
        status.Return.GetProperty("running").GetBoolean().ShouldBeFalse();

        var unknown = await machine.Qmp.ExecuteAsync("no-such-command", null, cancellationToken);
        unknown.Succeeded.ShouldBeFalse();
        unknown.Error!.Class.ShouldBe("CommandNotFound");

        var badArgument = await machine.Qmp.ExecuteAsync(
            "query-cpus-fast", new JsonObject { ["unexpected"] = 1 }, cancellationToken);
        badArgument.Error!.Class.ShouldBe("GenericError");

        var cpus = await machine.Qmp.ExecuteAsync("query-cpus-fast", null, cancellationToken);
        cpus.Return.GetArrayLength().ShouldBe(1);
        cpus.Return[0].GetProperty("thread-id").GetInt32().ShouldBeGreaterThan(0);
    }

    [Fact]
    public async Task Stop_WhenGuestIgnoresPowerButton_QuitsQemu()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        using var run = new RunDirectory();
        await using var machine = await QemuProcess.StartAsync(
            guest.Options("vm-quit", run.Path) with { StartPaused = true }, cancellationToken);
        var pid = machine.ProcessId;

        // A guest whose CPUs never started cannot answer the ACPI power button.
        var outcome = await machine.StopAsync(TimeSpan.FromSeconds(1), cancellationToken);

        outcome.ShouldBe(QemuStopOutcome.Quit);
        machine.HasExited.ShouldBeTrue();
        QemuProcess.IsAlive(pid).ShouldBeFalse(); // a daemonized QEMU is reaped by init: a zombie is gone
        (await machine.StopAsync(TimeSpan.FromSeconds(1), cancellationToken)).ShouldBe(QemuStopOutcome.AlreadyExited);
    }

    [Fact]
    public async Task Dispose_WhileRunning_KillsQemuAndLeavesNoProcess()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        using var run = new RunDirectory();
        var machine = await QemuProcess.StartAsync(
            guest.Options("vm-dispose", run.Path) with { StartPaused = true }, cancellationToken);
        var pid = machine.ProcessId;
        TestGuest.ProcessesMentioning(run.Path).ShouldBe([pid]);

        await machine.DisposeAsync();

        QemuProcess.IsAlive(pid).ShouldBeFalse(); // a daemonized QEMU is reaped by init: a zombie is gone
        TestGuest.ProcessesMentioning(run.Path).ShouldBeEmpty();
        File.Exists(Path.Combine(run.Path, "qmp.sock")).ShouldBeFalse();
    }
}

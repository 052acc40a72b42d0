using System.Net.Http;
using System.Text.RegularExpressions;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Testing;

namespace Welkin.Compute.Qemu.Tests;

/// <summary>What only real machines show: a live migration the guest does not notice, tenant L2 segments, capacity, displays, orphans.</summary>
public sealed partial class QemuDriverTests(TestGuest guest) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("wqd-").FullName;
    private readonly List<QemuDriver> _drivers = [];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private QemuDriver NewDriver()
    {
        var driver = new QemuDriver(QemuDriverConformanceTests.Options(guest, _root), TimeProvider.System);
        _drivers.Add(driver);
        return driver;
    }

    private static MachineSpec Spec(QemuDriver driver, string host, int vcpus = 1, long memoryMiB = 256,
        IReadOnlyList<NetworkAttachment>? networks = null, IReadOnlyDictionary<string, string>? properties = null) =>
        new(Ids.New(Ids.Machine, TimeProvider.System), "acc_test", host, vcpus, memoryMiB, 1, null, null,
            new Dictionary<string, string>(), properties ?? new Dictionary<string, string>(), null, [], networks ?? []);

    private static async Task<string> ConsoleAsync(QemuDriver driver, string id) => (await driver.ConsoleLogAsync(id, 1 << 20, Ct)).Value;

    private static async Task<int> LastTickAsync(QemuDriver driver, string id)
    {
        var ticks = TickPattern().Matches(await ConsoleAsync(driver, id));
        return ticks.Count == 0 ? 0 : int.Parse(ticks[^1].Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    private static Task WaitForAsync(Func<Task<bool>> condition, string what) =>
        Polling.UntilAsync(condition, what, TimeSpan.FromMinutes(2), TimeSpan.FromMilliseconds(100));

    [Fact]
    public async Task LiveMigration_GuestKeepsCounting_OnTheTarget_AndStillServesHttpThroughItsEndpoint()
    {
        var driver = NewDriver();
        var spec = Spec(driver, "qemu-a");
        var machine = (await driver.CreateAsync(spec, null, Ct)).Value;
        await WaitForAsync(async () => await LastTickAsync(driver, spec.MachineId) >= 2, "two ticks before the move");
        var before = await LastTickAsync(driver, spec.MachineId);

        var moved = await driver.MigrateAsync(spec.MachineId, "qemu-b", null, Ct);

        moved.Error.ShouldBeNull();
        moved.Value.Host.ShouldBe("qemu-b");
        await WaitForAsync(async () => await LastTickAsync(driver, spec.MachineId) > before + 2, "ticks after the move");
        var console = await ConsoleAsync(driver, spec.MachineId);
        Regex.Count(console, "GUEST-UP").ShouldBe(1, "the guest did not boot again");
        var ticks = TickPattern().Matches(console).Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        ticks.ShouldBe(Enumerable.Range(1, ticks.Count).ToList(), "the counter goes on without a gap or a restart");
        var http = machine.Endpoints.Single(e => e.Protocol == "http");
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        (await client.GetStringAsync($"http://{http.Host}:{http.Port}/", Ct)).ShouldContain("hello from " + spec.MachineId);
        TestGuest.ProcessesMentioning(Path.Combine(_root, "machines", spec.MachineId, "run-a")).ShouldBeEmpty("the source QEMU is gone");
    }

    [Fact]
    public async Task TenantNetworks_JoinTheirOwnMachines_AndNoTrafficCrossesToAnotherNetwork()
    {
        var driver = NewDriver();
        var blue = new NetworkAttachment("net_blue", "192.168.70.10", "52:54:00:70:00:10", "192.168.70.0/24");
        var blueToo = new NetworkAttachment("net_blue", "192.168.70.11", "52:54:00:70:00:11", "192.168.70.0/24");
        // Another tenant's network with the same range: the address it pings exists, but on the other segment.
        var red = new NetworkAttachment("net_red", "192.168.70.12", "52:54:00:70:00:12", "192.168.70.0/24");
        var ping = (string address) => new Dictionary<string, string> { ["kernel.args"] = "welkin.ping=" + address };
        var a = Spec(driver, "qemu-a", networks: [blue], properties: ping("192.168.70.11"));
        var b = Spec(driver, "qemu-b", networks: [blueToo], properties: ping("192.168.70.10"));
        var c = Spec(driver, "qemu-a", networks: [red], properties: ping("192.168.70.10"));

        var created = await Task.WhenAll(new[] { a, b, c }.Select(s => driver.CreateAsync(s, null, Ct)));

        created.ShouldAllBe(r => r.IsSuccess);
        created[0].Value.Addresses.ShouldContain("192.168.70.10");
        await WaitForAsync(async () => (await ConsoleAsync(driver, a.MachineId)).Contains("PING 192.168.70.11 ok", StringComparison.Ordinal), "A reaches B");
        await WaitForAsync(async () => (await ConsoleAsync(driver, b.MachineId)).Contains("PING 192.168.70.10 ok", StringComparison.Ordinal), "B reaches A");
        await WaitForAsync(async () => Regex.Count(await ConsoleAsync(driver, c.MachineId), "PING 192.168.70.10 fail") >= 3, "C tried A three times");
        (await ConsoleAsync(driver, c.MachineId)).ShouldNotContain("PING 192.168.70.10 ok");
    }

    [Fact]
    public async Task Volume_HotPluggedIntoARunningGuest_AppearsThere_AndIsThereAtTheNextBoot_AndUnplugsAgain()
    {
        var driver = NewDriver();
        var spec = Spec(driver, "qemu-a");
        await driver.CreateAsync(spec, null, Ct);
        var volume = new VolumeAttachment("vol_hot", 2, "vdb");

        (await driver.AttachVolumeAsync(spec.MachineId, volume, Ct)).Value.ShouldBeTrue();

        // 2 GiB = 4,194,304 sectors of 512 bytes.
        await WaitForAsync(async () => (await ConsoleAsync(driver, spec.MachineId)).Contains("DISK-ADDED vdb 4194304 sectors", StringComparison.Ordinal), "the guest sees the new disk");
        File.Exists(Path.Combine(_root, "volumes", "vol_hot.qcow2")).ShouldBeTrue();
        (await driver.StopAsync(spec.MachineId, false, Ct)).Value.State.ShouldBe(DriverMachineState.Stopped);
        (await driver.StartAsync(spec.MachineId, Ct)).Value.State.ShouldBe(DriverMachineState.Running);
        (await ConsoleAsync(driver, spec.MachineId)).ShouldContain("DISK vdb 4194304 sectors");
        (await driver.DetachVolumeAsync(spec.MachineId, "vol_hot", Ct)).Value.ShouldBeTrue();
        await WaitForAsync(async () => (await ConsoleAsync(driver, spec.MachineId)).Contains("DISK-REMOVED vdb", StringComparison.Ordinal), "the guest lets the disk go");
        (await driver.DeleteVolumeAsync("vol_hot", Ct)).Value.ShouldBeTrue();
        File.Exists(Path.Combine(_root, "volumes", "vol_hot.qcow2")).ShouldBeFalse();
    }

    [Fact]
    public async Task Accelerator_Auto_ProbesKvm_AndOnAMachineWhereKvmIsSlowOrAbsentUsesTcg()
    {
        // These machines have /dev/kvm without hardware virtualisation (about 500 times slower than TCG) or none.
        var options = QemuDriverConformanceTests.Options(guest, _root);
        options.Accelerator = "auto";
        var driver = new QemuDriver(options, TimeProvider.System);
        _drivers.Add(driver);
        var spec = Spec(driver, "qemu-a");

        (await driver.CreateAsync(spec, null, Ct)).Value.State.ShouldBe(DriverMachineState.Running);

        var pid = QemuProcess.ReadPid(Path.Combine(_root, "machines", spec.MachineId, "run-a", "qemu.pid"))!.Value;
        QemuProcess.CommandLineMentions(pid, "tcg,tb-size=32").ShouldBeTrue();
        TestGuest.ProcessesMentioning(Path.Combine(_root, "kvm-probe")).ShouldBeEmpty("the probe's QEMU is gone");
    }

    [Fact]
    public async Task Properties_SetWhileStopped_ReachTheGuestAtItsNextBoot()
    {
        var driver = NewDriver();
        var spec = Spec(driver, "qemu-a", properties: new Dictionary<string, string> { ["motd"] = "first" });
        await driver.CreateAsync(spec, null, Ct);
        (await ConsoleAsync(driver, spec.MachineId)).ShouldContain("PROPERTIES {\"motd\":\"first\"}");
        await driver.StopAsync(spec.MachineId, false, Ct);

        (await driver.SetPropertiesAsync(spec.MachineId, new Dictionary<string, string> { ["motd"] = "hello", ["workers"] = "4" }, Ct)).Value.ShouldBeTrue();
        await driver.StartAsync(spec.MachineId, Ct);

        (await ConsoleAsync(driver, spec.MachineId)).ShouldContain("PROPERTIES {\"motd\":\"hello\",\"workers\":\"4\"}");
    }

    [Fact]
    public async Task Guest_PoweringItselfOff_StopsTheMachine_WithAMachineStoppedEvent_NotACrash()
    {
        var driver = NewDriver();
        var spec = Spec(driver, "qemu-a", properties: new Dictionary<string, string> { ["kernel.args"] = "welkin.poweroff-after=2" });

        await driver.CreateAsync(spec, null, Ct);

        var stopped = await driver.Events.ReadAsync(Ct);
        stopped.Kind.ShouldBe(DriverEvent.MachineStopped);
        stopped.MachineId.ShouldBe(spec.MachineId);
        var machine = (await driver.InspectAsync(spec.MachineId, Ct))!;
        machine.State.ShouldBe(DriverMachineState.Stopped);
        machine.Error.ShouldBeNull();
        (await ConsoleAsync(driver, spec.MachineId)).ShouldContain("GUEST-POWEROFF");
        TestGuest.ProcessesMentioning(Path.Combine(_root, "machines", spec.MachineId)).ShouldBeEmpty();
    }

    [Fact]
    public async Task Create_BeyondTheHostsCores_ReturnsHostUnavailable_WithoutStartingQemu()
    {
        var driver = NewDriver();

        var result = await driver.CreateAsync(Spec(driver, "qemu-a", vcpus: 65), null, Ct);

        result.Error!.Code.ShouldBe("host-unavailable");
        result.Error.Detail.ShouldContain("vCPUs");
        Directory.EnumerateDirectories(Path.Combine(_root, "machines")).ShouldBeEmpty();
    }

    [Fact]
    public async Task Machine_WithADisplay_ReportsAVncEndpointThatAnswers()
    {
        var driver = NewDriver();
        var spec = Spec(driver, "qemu-a", properties: new Dictionary<string, string> { ["display"] = "vnc" });

        var machine = (await driver.CreateAsync(spec, null, Ct)).Value;

        var vnc = machine.Endpoints.Single(e => e.Protocol == "vnc");
        using var socket = new System.Net.Sockets.TcpClient();
        await socket.ConnectAsync(vnc.Host, vnc.Port, Ct);
        var banner = new byte[12];
        await socket.GetStream().ReadExactlyAsync(banner, Ct);
        System.Text.Encoding.ASCII.GetString(banner).ShouldStartWith("RFB 003.");
    }

    [Fact]
    public async Task Recover_EndsTheQemuOfAMachineWelkinDoesNotKnow_AndMarksAMachineThatDiedWhileAwayInError()
    {
        var first = NewDriver();
        var orphan = Spec(first, "qemu-a");
        var died = Spec(first, "qemu-b");
        await first.CreateAsync(orphan, null, Ct);
        await first.CreateAsync(died, null, Ct);
        await first.DisposeAsync();
        await QemuProcess.KillAsync(QemuProcess.ReadPid(Path.Combine(_root, "machines", died.MachineId, "run-a", "qemu.pid"))!.Value);

        var second = NewDriver();
        var recovered = await second.RecoverAsync([new KnownMachine(died, DriverMachineState.Running)], Ct);

        recovered.ShouldHaveSingleItem().State.ShouldBe(DriverMachineState.Error);
        recovered[0].Error!.ShouldContain("ended while Welkin was not running");
        TestGuest.ProcessesMentioning(Path.Combine(_root, "machines", orphan.MachineId)).ShouldBeEmpty();
        Directory.Exists(Path.Combine(_root, "machines", orphan.MachineId)).ShouldBeFalse();
        (await second.StartAsync(died.MachineId, Ct)).Value.State.ShouldBe(DriverMachineState.Running);
    }

    [Fact]
    public async Task Create_WhenQemuCannotBeLaunched_TellsTheTenantAFixedSentence_AndKeepsTheCauseWithItsPathApart()
    {
        var options = QemuDriverConformanceTests.Options(guest, _root);
        options.Executable = Path.Combine(_root, "no-such-qemu");
        var driver = new QemuDriver(options, TimeProvider.System);
        _drivers.Add(driver);
        var spec = Spec(driver, "qemu-a");

        var result = await driver.CreateAsync(spec, null, Ct);

        var error = result.Error!;
        error.Code.ShouldBe("hypervisor-error");
        error.Detail.ShouldBe($"Machine '{spec.MachineId}': the machine could not be launched.");
        error.Detail.ShouldNotContain(_root);
        error.Detail.ShouldNotContain("no-such-qemu");
        error.Cause.ShouldNotBeNull();
        error.Cause.ShouldContain(options.Executable);
        System.Text.Json.JsonSerializer.Serialize(error).ShouldNotContain("no-such-qemu");
        (await driver.InspectAsync(spec.MachineId, Ct)).ShouldBeNull();
        Directory.Exists(Path.Combine(_root, "machines", spec.MachineId)).ShouldBeFalse();
    }

    [GeneratedRegex(@"TICK (\d+) ")]
    private static partial Regex TickPattern();

    public void Dispose()
    {
        foreach (var driver in _drivers)
        {
            driver.Dispose();
        }
        TestGuest.KillProcessesMentioningAsync(_root).GetAwaiter().GetResult();
        Directory.Delete(_root, recursive: true);
    }
}

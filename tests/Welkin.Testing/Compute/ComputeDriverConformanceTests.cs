using Welkin.Core.Common;
using Welkin.Core.Compute;

namespace Welkin.Testing.Compute;

/// <summary>
/// What every <see cref="IComputeDriver"/> must do, the same way: states, errors, idempotency,
/// failure events, console and recovery. A driver's test project inherits it, so its tests run
/// under the subclass's name; the subclass supplies fresh drivers (with zero or small operation
/// times) and a way to crash a machine.
/// </summary>
public abstract class ComputeDriverConformanceTests : IDisposable
{
    private readonly List<IComputeDriver> _drivers = [];

    /// <summary>A fresh driver; called again, it stands for the same fabric after Welkin restarted.</summary>
    protected abstract IComputeDriver CreateDriver();

    /// <summary>Makes the machine's guest die (the hypervisor process ends).</summary>
    protected abstract Task CrashAsync(IComputeDriver driver, string machineId);

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    protected IComputeDriver NewDriver()
    {
        var driver = CreateDriver();
        _drivers.Add(driver);
        return driver;
    }

    /// <summary>
    /// How many machines per host <see cref="Create_GivesEveryMachineItsOwnAddressAndSshPort"/> creates at
    /// once. Drivers that boot real guests lower it: a dozen guests booting together on a two-core machine
    /// prove nothing more about allocation than a handful, and only test the machine's speed.
    /// </summary>
    protected virtual int ConcurrentMachinesPerHost => 10;

    protected virtual MachineSpec Spec(IComputeDriver driver, string? host = null, string? id = null, int vcpus = 1, long memoryMiB = 512) =>
        new(id ?? Ids.New(Ids.Machine, TimeProvider.System), "acc_test", host ?? driver.Hosts[0].Name, vcpus, memoryMiB, 10, null, "Welkin Test OS",
            new Dictionary<string, string>(), new Dictionary<string, string>(), null, [], []);

    protected static async Task<DriverMachine> CreateRunningAsync(IComputeDriver driver, MachineSpec spec)
    {
        var created = await driver.CreateAsync(spec, null, Ct);
        created.Error.ShouldBeNull();
        return created.Value;
    }

    protected static async Task<DriverMachine> CreateStoppedAsync(IComputeDriver driver, MachineSpec spec)
    {
        await CreateRunningAsync(driver, spec);
        var stopped = await driver.StopAsync(spec.MachineId, false, Ct);
        stopped.Error.ShouldBeNull();
        return stopped.Value;
    }

    /// <summary>The console once it shows <paramref name="text"/> (a real guest takes seconds to boot); fails after two minutes.</summary>
    protected static async Task<string> ConsoleShowingAsync(IComputeDriver driver, string machineId, string text)
    {
        var deadline = TimeProvider.System.GetUtcNow().AddMinutes(2);
        while (true)
        {
            var console = (await driver.ConsoleLogAsync(machineId, 64 * 1024, Ct)).Value;
            if (console.Contains(text, StringComparison.Ordinal) || TimeProvider.System.GetUtcNow() > deadline)
            {
                return console;
            }
            await Task.Delay(100, Ct);
        }
    }

    protected static async Task<List<DriverEvent>> ReadEventsAsync(IComputeDriver driver, int count)
    {
        var events = new List<DriverEvent>();
        while (events.Count < count)
        {
            events.Add(await driver.Events.ReadAsync(Ct));
        }
        return events;
    }

    /// <summary>
    /// A driver without <see cref="DriverCapabilities.FailureInjection"/> says so: failing its host is
    /// <c>unsupported</c> and raises no event. True when that is the case (the test has nothing more to check).
    /// </summary>
    protected static async Task<bool> RefusesFailureInjectionAsync(IComputeDriver driver)
    {
        if (driver.Capabilities.HasFlag(DriverCapabilities.FailureInjection))
        {
            return false;
        }
        ShouldFail(await driver.SetHostFailedAsync(driver.Hosts[0].Name, true, Ct), "unsupported");
        driver.Events.TryRead(out _).ShouldBeFalse();
        return true;
    }

    protected static void ShouldFail<T>(Result<T> result, string code)
    {
        result.IsSuccess.ShouldBeFalse($"expected {code}");
        result.Error!.Code.ShouldBe(code);
    }

    public virtual void Dispose()
    {
        foreach (var driver in _drivers)
        {
            (driver as IDisposable)?.Dispose();
        }
        GC.SuppressFinalize(this);
    }

    // ---- create ----------------------------------------------------------------------------

    [Fact]
    public async Task Create_ReturnsRunningMachineWithPrivateAddressAndSshEndpoint()
    {
        var driver = NewDriver();
        var spec = Spec(driver, vcpus: 2, memoryMiB: 1024);

        var machine = await CreateRunningAsync(driver, spec);

        machine.MachineId.ShouldBe(spec.MachineId);
        machine.Host.ShouldBe(spec.Host);
        machine.State.ShouldBe(DriverMachineState.Running);
        machine.Vcpus.ShouldBe(2);
        machine.MemoryMiB.ShouldBe(1024);
        machine.Addresses.ShouldNotBeEmpty();
        machine.Addresses[0].ShouldStartWith("10.");
        // SSH comes first; a driver may add more (HTTP, a VNC display).
        var ssh = machine.Endpoints[0];
        ssh.Protocol.ShouldBe("ssh");
        ssh.Port.ShouldBeInRange(1, 65_535);
        (await driver.InspectAsync(spec.MachineId, Ct))!.State.ShouldBe(DriverMachineState.Running);
    }

    [Fact]
    public async Task Create_Again_WithTheSameSpec_ReturnsTheExistingMachine()
    {
        var driver = NewDriver();
        var spec = Spec(driver);
        var first = await CreateRunningAsync(driver, spec);
        await driver.StopAsync(spec.MachineId, false, Ct);

        var again = await driver.CreateAsync(spec, null, Ct);

        again.Error.ShouldBeNull();
        again.Value.State.ShouldBe(DriverMachineState.Stopped);
        again.Value.Addresses.ShouldBe(first.Addresses);
        again.Value.Endpoints.ShouldBe(first.Endpoints);
    }

    [Fact]
    public async Task Create_Again_WithADifferentSpec_ReturnsInvalidState()
    {
        var driver = NewDriver();
        var spec = Spec(driver);
        await CreateRunningAsync(driver, spec);

        ShouldFail(await driver.CreateAsync(spec with { Vcpus = spec.Vcpus + 1 }, null, Ct), "invalid-state");
    }

    [Fact]
    public async Task Create_OnAnUnknownHost_ReturnsUnknownHost()
    {
        var driver = NewDriver();

        ShouldFail(await driver.CreateAsync(Spec(driver, host: "no-such-host"), null, Ct), "unknown-host");
    }

    [Fact]
    public async Task Create_ReportsProgressUpTo100()
    {
        var driver = NewDriver();
        var reports = new List<int>();
        var progress = new SynchronousProgress(reports);

        await driver.CreateAsync(Spec(driver), progress, Ct);

        reports.ShouldNotBeEmpty();
        reports[^1].ShouldBe(100);
        reports.ShouldBeInOrder();
    }

    [Fact]
    public async Task Create_GivesEveryMachineItsOwnAddressAndSshPort()
    {
        var driver = NewDriver();
        // Created all at once: allocation must hold up under concurrency too.
        var machines = await Task.WhenAll(driver.Hosts.Take(2)
            .SelectMany(host => Enumerable.Range(0, ConcurrentMachinesPerHost).Select(_ => CreateRunningAsync(driver, Spec(driver, host: host.Name)))));

        machines.Select(m => m.Addresses[0]).ShouldBeUnique();
        machines.Select(m => (m.Endpoints[0].Host, m.Endpoints[0].Port)).ShouldBeUnique();
    }

    // ---- start / stop ----------------------------------------------------------------------

    [Fact]
    public async Task Stop_RunningMachine_StopsIt()
    {
        var driver = NewDriver();
        var spec = Spec(driver);
        await CreateRunningAsync(driver, spec);

        var stopped = await driver.StopAsync(spec.MachineId, false, Ct);

        stopped.Value.State.ShouldBe(DriverMachineState.Stopped);
        (await driver.InspectAsync(spec.MachineId, Ct))!.State.ShouldBe(DriverMachineState.Stopped);
    }

    [Fact]
    public async Task Stop_Forced_StopsIt()
    {
        var driver = NewDriver();
        var spec = Spec(driver);
        await CreateRunningAsync(driver, spec);

        (await driver.StopAsync(spec.MachineId, true, Ct)).Value.State.ShouldBe(DriverMachineState.Stopped);
    }

    [Fact]
    public async Task Stop_StoppedMachine_SucceedsWithoutChange()
    {
        var driver = NewDriver();
        var spec = Spec(driver);
        await CreateStoppedAsync(driver, spec);

        (await driver.StopAsync(spec.MachineId, false, Ct)).Value.State.ShouldBe(DriverMachineState.Stopped);
    }

    [Fact]
    public async Task Start_StoppedMachine_RunsIt()
    {
        var driver = NewDriver();
        var spec = Spec(driver);
        await CreateStoppedAsync(driver, spec);

        (await driver.StartAsync(spec.MachineId, Ct)).Value.State.ShouldBe(DriverMachineState.Running);
    }

    [Fact]
    public async Task Start_RunningMachine_SucceedsWithoutChange()
    {
        var driver = NewDriver();
        var spec = Spec(driver);
        await CreateRunningAsync(driver, spec);

        (await driver.StartAsync(spec.MachineId, Ct)).Value.State.ShouldBe(DriverMachineState.Running);
    }

    // ---- pause / resume / reboot -----------------------------------------------------------

    [Fact]
    public async Task Pause_RunningMachine_PausesIt_AndResumeRunsIt()
    {
        var driver = NewDriver();
        var spec = Spec(driver);
        await CreateRunningAsync(driver, spec);

        (await driver.PauseAsync(spec.MachineId, Ct)).Value.State.ShouldBe(DriverMachineState.Paused);
        (await driver.PauseAsync(spec.MachineId, Ct)).Value.State.ShouldBe(DriverMachineState.Paused);
        (await driver.ResumeAsync(spec.MachineId, Ct)).Value.State.ShouldBe(DriverMachineState.Running);
        (await driver.ResumeAsync(spec.MachineId, Ct)).Value.State.ShouldBe(DriverMachineState.Running);
    }

    [Fact]
    public async Task Pause_StoppedMachine_ReturnsInvalidState()
    {
        var driver = NewDriver();
        var spec = Spec(driver);
        await CreateStoppedAsync(driver, spec);

        ShouldFail(await driver.PauseAsync(spec.MachineId, Ct), "invalid-state");
    }

    [Fact]
    public async Task Resume_StoppedMachine_ReturnsInvalidState()
    {
        var driver = NewDriver();
        var spec = Spec(driver);
        await CreateStoppedAsync(driver, spec);

        ShouldFail(await driver.ResumeAsync(spec.MachineId, Ct), "invalid-state");
    }

    [Fact]
    public async Task Start_PausedMachine_ReturnsInvalidState()
    {
        var driver = NewDriver();
        var spec = Spec(driver);
        await CreateRunningAsync(driver, spec);
        await driver.PauseAsync(spec.MachineId, Ct);

        ShouldFail(await driver.StartAsync(spec.MachineId, Ct), "invalid-state");
    }

    [Fact]
    public async Task Stop_PausedMachine_StopsIt()
    {
        var driver = NewDriver();
        var spec = Spec(driver);
        await CreateRunningAsync(driver, spec);
        await driver.PauseAsync(spec.MachineId, Ct);

        (await driver.StopAsync(spec.MachineId, false, Ct)).Value.State.ShouldBe(DriverMachineState.Stopped);
    }

    [Fact]
    public async Task Reboot_RunningMachine_KeepsItRunning()
    {
        var driver = NewDriver();
        var spec = Spec(driver);
        await CreateRunningAsync(driver, spec);

        (await driver.RebootAsync(spec.MachineId, Ct)).Value.State.ShouldBe(DriverMachineState.Running);
    }

    [Fact]
    public async Task Reboot_StoppedMachine_ReturnsInvalidState()
    {
        var driver = NewDriver();
        var spec = Spec(driver);
        await CreateStoppedAsync(driver, spec);

        ShouldFail(await driver.RebootAsync(spec.MachineId, Ct), "invalid-state");
    }

    // ---- resize ----------------------------------------------------------------------------

    [Fact]
    public void Capabilities_DoNotIncludeResizeWhileRunning()
    {
        NewDriver().Capabilities.HasFlag(DriverCapabilities.ResizeWhileRunning).ShouldBeFalse();
    }

    [Fact]
    public async Task Resize_RunningMachine_ReturnsInvalidState()
    {
        var driver = NewDriver();
        var spec = Spec(driver);
        await CreateRunningAsync(driver, spec);

        ShouldFail(await driver.ResizeAsync(spec.MachineId, 2, 1024, Ct), "invalid-state");
    }

    [Fact]
    public async Task Resize_StoppedMachine_TakesTheNewSize_AndKeepsItAtStart()
    {
        var driver = NewDriver();
        var spec = Spec(driver);
        await CreateStoppedAsync(driver, spec);

        var resized = await driver.ResizeAsync(spec.MachineId, 2, 1024, Ct);
        var started = await driver.StartAsync(spec.MachineId, Ct);

        resized.Value.Vcpus.ShouldBe(2);
        resized.Value.MemoryMiB.ShouldBe(1024);
        started.Value.Vcpus.ShouldBe(2);
        started.Value.MemoryMiB.ShouldBe(1024);
    }

    // ---- migrate ---------------------------------------------------------------------------

    [Fact]
    public async Task Migrate_StoppedMachine_MovesItCold_AndItStartsOnTheTarget()
    {
        var driver = NewDriver();
        var spec = Spec(driver, host: driver.Hosts[0].Name);
        var before = await CreateStoppedAsync(driver, spec);
        if (driver.Hosts.Count < 2)
        {
            // One host: the machine has nowhere else to go in the pool, and a move to where it is changes nothing.
            (await driver.MigrateAsync(spec.MachineId, spec.Host, null, Ct)).Value.State.ShouldBe(DriverMachineState.Stopped);
            (await driver.StartAsync(spec.MachineId, Ct)).Value.Host.ShouldBe(spec.Host);
            return;
        }

        var moved = await driver.MigrateAsync(spec.MachineId, driver.Hosts[1].Name, null, Ct);
        var started = await driver.StartAsync(spec.MachineId, Ct);

        moved.Error.ShouldBeNull();
        moved.Value.Host.ShouldBe(driver.Hosts[1].Name);
        moved.Value.State.ShouldBe(DriverMachineState.Stopped);
        started.Value.Host.ShouldBe(driver.Hosts[1].Name);
        started.Value.State.ShouldBe(DriverMachineState.Running);
        started.Value.Endpoints.ShouldBe(before.Endpoints);
    }

    [Fact]
    public async Task Migrate_RunningMachine_KeepsItRunningOnTheTarget_WithItsAddressAndEndpoints()
    {
        var driver = NewDriver();
        var spec = Spec(driver, host: driver.Hosts[0].Name);
        var before = await CreateRunningAsync(driver, spec);
        if (!driver.Capabilities.HasFlag(DriverCapabilities.LiveMigration))
        {
            // Said up front, and nothing moves: another host is refused, its own host changes nothing.
            if (driver.Hosts.Count > 1)
            {
                ShouldFail(await driver.MigrateAsync(spec.MachineId, driver.Hosts[1].Name, null, Ct), "unsupported");
            }
            (await driver.MigrateAsync(spec.MachineId, spec.Host, null, Ct)).Value.State.ShouldBe(DriverMachineState.Running);
            (await driver.InspectAsync(spec.MachineId, Ct))!.Host.ShouldBe(spec.Host);
            return;
        }
        var reports = new List<int>();

        var moved = await driver.MigrateAsync(spec.MachineId, driver.Hosts[1].Name, new SynchronousProgress(reports), Ct);

        moved.Error.ShouldBeNull();
        moved.Value.Host.ShouldBe(driver.Hosts[1].Name);
        moved.Value.State.ShouldBe(DriverMachineState.Running);
        moved.Value.Addresses.ShouldBe(before.Addresses);
        moved.Value.Endpoints.ShouldBe(before.Endpoints);
        reports[^1].ShouldBe(100);
        (await driver.InspectAsync(spec.MachineId, Ct))!.Host.ShouldBe(driver.Hosts[1].Name);
        (await driver.StopAsync(spec.MachineId, false, Ct)).Value.State.ShouldBe(DriverMachineState.Stopped);
    }

    [Fact]
    public async Task Migrate_ToAnUnknownHost_ReturnsUnknownHost_AndToItsOwnHostChangesNothing()
    {
        var driver = NewDriver();
        var spec = Spec(driver);
        await CreateStoppedAsync(driver, spec);

        ShouldFail(await driver.MigrateAsync(spec.MachineId, "no-such-host", null, Ct), "unknown-host");
        (await driver.MigrateAsync(spec.MachineId, spec.Host, null, Ct)).Value.Host.ShouldBe(spec.Host);
    }

    // ---- destroy ---------------------------------------------------------------------------

    [Fact]
    public async Task Destroy_RemovesTheMachine()
    {
        var driver = NewDriver();
        var spec = Spec(driver);
        await CreateRunningAsync(driver, spec);

        (await driver.DestroyAsync(spec.MachineId, Ct)).Value.ShouldBeTrue();

        (await driver.InspectAsync(spec.MachineId, Ct)).ShouldBeNull();
        ShouldFail(await driver.StartAsync(spec.MachineId, Ct), "machine-not-found");
    }

    [Fact]
    public async Task Destroy_MissingMachine_Succeeds()
    {
        var driver = NewDriver();

        (await driver.DestroyAsync(Ids.New(Ids.Machine, TimeProvider.System), Ct)).IsSuccess.ShouldBeTrue();
    }

    [Fact]
    public async Task Destroy_ThenCreateAgain_CreatesAFreshMachine()
    {
        var driver = NewDriver();
        var spec = Spec(driver);
        await CreateStoppedAsync(driver, spec);
        await driver.DestroyAsync(spec.MachineId, Ct);

        (await CreateRunningAsync(driver, spec)).State.ShouldBe(DriverMachineState.Running);
    }

    // ---- missing machines ------------------------------------------------------------------

    public static TheoryData<string> Operations() =>
        ["start", "stop", "pause", "resume", "reboot", "resize", "console", "metrics", "attach", "detach", "connect", "disconnect", "properties", "migrate"];

    [Theory]
    [MemberData(nameof(Operations))]
    public async Task Operation_OnAMissingMachine_ReturnsMachineNotFound(string operation)
    {
        var driver = NewDriver();
        var id = Ids.New(Ids.Machine, TimeProvider.System);

        var error = operation switch
        {
            "start" => (await driver.StartAsync(id, Ct)).Error,
            "stop" => (await driver.StopAsync(id, false, Ct)).Error,
            "pause" => (await driver.PauseAsync(id, Ct)).Error,
            "resume" => (await driver.ResumeAsync(id, Ct)).Error,
            "reboot" => (await driver.RebootAsync(id, Ct)).Error,
            "resize" => (await driver.ResizeAsync(id, 1, 512, Ct)).Error,
            "console" => (await driver.ConsoleLogAsync(id, 1024, Ct)).Error,
            "metrics" => (await driver.MetricsAsync(id, Ct)).Error,
            "attach" => (await driver.AttachVolumeAsync(id, new VolumeAttachment("vol_x", 100, "vdb"), Ct)).Error,
            "detach" => (await driver.DetachVolumeAsync(id, "vol_x", Ct)).Error,
            "connect" => (await driver.ConnectNetworkAsync(id, new NetworkAttachment("net_x", "192.168.10.5", "52:54:00:00:00:01", "192.168.10.0/24"), Ct)).Error,
            "disconnect" => (await driver.DisconnectNetworkAsync(id, "net_x", Ct)).Error,
            "properties" => (await driver.SetPropertiesAsync(id, new Dictionary<string, string> { ["a"] = "b" }, Ct)).Error,
            "migrate" => (await driver.MigrateAsync(id, driver.Hosts[^1].Name, null, Ct)).Error,
            _ => throw new ArgumentOutOfRangeException(nameof(operation)),
        };

        error.ShouldNotBeNull();
        error.Code.ShouldBe("machine-not-found");
        error.Kind.ShouldBe(ErrorKind.NotFound);
        (await driver.InspectAsync(id, Ct)).ShouldBeNull();
    }

    // ---- console and metrics ---------------------------------------------------------------

    [Fact]
    public async Task Console_OfARunningMachine_EndsWithTheGuestReadyMarker()
    {
        var driver = NewDriver();
        var spec = Spec(driver);
        await CreateRunningAsync(driver, spec);

        // A machine runs once its virtual CPUs do; the guest says when it is up.
        var console = await ConsoleShowingAsync(driver, spec.MachineId, "welkin-guest ready");

        console.ShouldContain("welkin-guest ready");
    }

    [Fact]
    public async Task Console_IsCutToMaxBytes()
    {
        var driver = NewDriver();
        var spec = Spec(driver);
        await CreateRunningAsync(driver, spec);
        await ConsoleShowingAsync(driver, spec.MachineId, "welkin-guest ready");

        var tail = (await driver.ConsoleLogAsync(spec.MachineId, 40, Ct)).Value;

        System.Text.Encoding.UTF8.GetByteCount(tail).ShouldBeLessThanOrEqualTo(40);
        tail.ShouldNotBeEmpty();
    }

    [Fact]
    public async Task Metrics_OfAStoppedMachine_DoNotAdvance()
    {
        var driver = NewDriver();
        var spec = Spec(driver);
        await CreateStoppedAsync(driver, spec);

        var first = (await driver.MetricsAsync(spec.MachineId, Ct)).Value;
        var second = (await driver.MetricsAsync(spec.MachineId, Ct)).Value;

        second.CpuUtilizationPercent.ShouldBe(0);
        second.CpuTimeMs.ShouldBe(first.CpuTimeMs);
        second.DiskReadBytes.ShouldBe(first.DiskReadBytes);
        second.NetworkRxBytes.ShouldBe(first.NetworkRxBytes);
    }

    // ---- volumes, networks, properties -----------------------------------------------------

    [Fact]
    public async Task AttachVolume_ToARunningMachine_IsIdempotent_AndDetachOfAMissingVolumeSucceeds()
    {
        var driver = NewDriver();
        var spec = Spec(driver);
        await CreateRunningAsync(driver, spec);
        var volume = new VolumeAttachment("vol_a", 100, "vdb");
        if (!driver.Capabilities.HasFlag(DriverCapabilities.Volumes))
        {
            ShouldFail(await driver.AttachVolumeAsync(spec.MachineId, volume, Ct), "unsupported");
            ShouldFail(await driver.DetachVolumeAsync(spec.MachineId, "vol_a", Ct), "unsupported");
            return;
        }

        (await driver.AttachVolumeAsync(spec.MachineId, volume, Ct)).Value.ShouldBeTrue();
        (await driver.AttachVolumeAsync(spec.MachineId, volume, Ct)).Value.ShouldBeTrue();
        (await driver.DetachVolumeAsync(spec.MachineId, "vol_a", Ct)).Value.ShouldBeTrue();
        (await driver.DetachVolumeAsync(spec.MachineId, "vol_a", Ct)).Value.ShouldBeTrue();
    }

    [Fact]
    public async Task DeleteVolume_WhileAttached_ReturnsInvalidState_AndOnceDetachedSucceeds_AsForOneNeverStored()
    {
        var driver = NewDriver();
        var spec = Spec(driver);
        await CreateStoppedAsync(driver, spec);
        if (!driver.Capabilities.HasFlag(DriverCapabilities.Volumes))
        {
            // It stores none of this cloud's volumes, so deleting one always succeeds.
            (await driver.DeleteVolumeAsync("vol_never", Ct)).Value.ShouldBeTrue();
            return;
        }
        await driver.AttachVolumeAsync(spec.MachineId, new VolumeAttachment("vol_gone", 1, "vdb"), Ct);

        ShouldFail(await driver.DeleteVolumeAsync("vol_gone", Ct), "invalid-state");
        await driver.DetachVolumeAsync(spec.MachineId, "vol_gone", Ct);
        (await driver.DeleteVolumeAsync("vol_gone", Ct)).Value.ShouldBeTrue();
        (await driver.DeleteVolumeAsync("vol_never", Ct)).Value.ShouldBeTrue();
    }

    [Fact]
    public async Task ConnectNetwork_AddsTheNicAddress_AndDisconnectRemovesIt()
    {
        var driver = NewDriver();
        var spec = Spec(driver);
        await CreateRunningAsync(driver, spec);
        var nic = new NetworkAttachment("net_a", "192.168.10.5", "52:54:00:00:00:01", "192.168.10.0/24");
        if (!driver.Capabilities.HasFlag(DriverCapabilities.Devices))
        {
            ShouldFail(await driver.ConnectNetworkAsync(spec.MachineId, nic, Ct), "unsupported");
            ShouldFail(await driver.DisconnectNetworkAsync(spec.MachineId, "net_a", Ct), "unsupported");
            (await driver.InspectAsync(spec.MachineId, Ct))!.Addresses.ShouldNotContain("192.168.10.5");
            return;
        }

        (await driver.ConnectNetworkAsync(spec.MachineId, nic, Ct)).Value.ShouldBeTrue();
        (await driver.ConnectNetworkAsync(spec.MachineId, nic, Ct)).Value.ShouldBeTrue();
        (await driver.InspectAsync(spec.MachineId, Ct))!.Addresses.ShouldContain("192.168.10.5");

        (await driver.DisconnectNetworkAsync(spec.MachineId, "net_a", Ct)).Value.ShouldBeTrue();
        (await driver.DisconnectNetworkAsync(spec.MachineId, "net_a", Ct)).Value.ShouldBeTrue();
        (await driver.InspectAsync(spec.MachineId, Ct))!.Addresses.ShouldNotContain("192.168.10.5");
    }

    [Fact]
    public async Task SetProperties_OnARunningMachine_Succeeds()
    {
        var driver = NewDriver();
        var spec = Spec(driver);
        await CreateRunningAsync(driver, spec);
        if (!driver.Capabilities.HasFlag(DriverCapabilities.Devices))
        {
            ShouldFail(await driver.SetPropertiesAsync(spec.MachineId, new Dictionary<string, string> { ["motd"] = "hello" }, Ct), "unsupported");
            return;
        }

        (await driver.SetPropertiesAsync(spec.MachineId, new Dictionary<string, string> { ["motd"] = "hello" }, Ct)).Value.ShouldBeTrue();
    }

    // ---- failures --------------------------------------------------------------------------

    [Fact]
    public async Task SetHostFailed_PutsItsMachinesInError_AndRaisesOneEventPerMachine()
    {
        var driver = NewDriver();
        if (await RefusesFailureInjectionAsync(driver))
        {
            return;
        }
        var host = driver.Hosts[0].Name;
        var a = await CreateRunningAsync(driver, Spec(driver, host: host));
        var b = await CreateRunningAsync(driver, Spec(driver, host: host));
        var elsewhere = await CreateRunningAsync(driver, Spec(driver, host: driver.Hosts[1].Name));

        (await driver.SetHostFailedAsync(host, true, Ct)).Value.ShouldBeTrue();

        var events = await ReadEventsAsync(driver, 3);
        events[0].Kind.ShouldBe(DriverEvent.HostFailed);
        events[0].Host.ShouldBe(host);
        events.Skip(1).ShouldAllBe(e => e.Kind == DriverEvent.MachineCrashed && e.Host == host);
        events.Skip(1).Select(e => e.MachineId).ShouldBe([a.MachineId, b.MachineId], ignoreOrder: true);
        (await driver.InspectAsync(a.MachineId, Ct))!.State.ShouldBe(DriverMachineState.Error);
        (await driver.InspectAsync(a.MachineId, Ct))!.Error.ShouldNotBeNullOrEmpty();
        (await driver.InspectAsync(elsewhere.MachineId, Ct))!.State.ShouldBe(DriverMachineState.Running);
        driver.Events.TryRead(out _).ShouldBeFalse();
    }

    [Fact]
    public async Task FailedHost_RefusesCreateAndStart_WithHostUnavailable_ButDestroySucceeds()
    {
        var driver = NewDriver();
        if (await RefusesFailureInjectionAsync(driver))
        {
            return;
        }
        var host = driver.Hosts[0].Name;
        var spec = Spec(driver, host: host);
        await CreateRunningAsync(driver, spec);
        await driver.SetHostFailedAsync(host, true, Ct);

        ShouldFail(await driver.CreateAsync(Spec(driver, host: host), null, Ct), "host-unavailable");
        ShouldFail(await driver.StartAsync(spec.MachineId, Ct), "host-unavailable");
        (await driver.DestroyAsync(spec.MachineId, Ct)).Value.ShouldBeTrue();
        (await driver.InspectAsync(spec.MachineId, Ct)).ShouldBeNull();
    }

    [Fact]
    public async Task HostRecovered_RaisesAnEvent_MachinesStayInErrorUntilStarted()
    {
        var driver = NewDriver();
        if (await RefusesFailureInjectionAsync(driver))
        {
            return;
        }
        var host = driver.Hosts[0].Name;
        var spec = Spec(driver, host: host);
        await CreateRunningAsync(driver, spec);
        await driver.SetHostFailedAsync(host, true, Ct);
        await ReadEventsAsync(driver, 2);

        (await driver.SetHostFailedAsync(host, false, Ct)).Value.ShouldBeTrue();

        var recovered = (await ReadEventsAsync(driver, 1)).Single();
        recovered.Kind.ShouldBe(DriverEvent.HostRecovered);
        recovered.Host.ShouldBe(host);
        (await driver.InspectAsync(spec.MachineId, Ct))!.State.ShouldBe(DriverMachineState.Error);
        (await driver.StartAsync(spec.MachineId, Ct)).Value.State.ShouldBe(DriverMachineState.Running);
        (await driver.InspectAsync(spec.MachineId, Ct))!.Error.ShouldBeNull();
    }

    [Fact]
    public async Task SetHostFailed_OnAnUnknownHost_ReturnsUnknownHost()
    {
        var driver = NewDriver();
        if (await RefusesFailureInjectionAsync(driver))
        {
            return;
        }

        ShouldFail(await driver.SetHostFailedAsync("no-such-host", true, Ct), "unknown-host");
    }

    [Fact]
    public async Task SetHostFailed_Twice_RaisesTheEventsOnce()
    {
        var driver = NewDriver();
        if (await RefusesFailureInjectionAsync(driver))
        {
            return;
        }
        var host = driver.Hosts[0].Name;

        await driver.SetHostFailedAsync(host, true, Ct);
        await driver.SetHostFailedAsync(host, true, Ct);

        (await ReadEventsAsync(driver, 1)).Single().Kind.ShouldBe(DriverEvent.HostFailed);
        driver.Events.TryRead(out _).ShouldBeFalse();
    }

    [Fact]
    public async Task Crash_PutsTheMachineInError_RaisesAnEvent_AndStartBringsItBack()
    {
        var driver = NewDriver();
        var spec = Spec(driver);
        await CreateRunningAsync(driver, spec);

        await CrashAsync(driver, spec.MachineId);

        var crashed = (await ReadEventsAsync(driver, 1)).Single();
        crashed.Kind.ShouldBe(DriverEvent.MachineCrashed);
        crashed.MachineId.ShouldBe(spec.MachineId);
        (await driver.InspectAsync(spec.MachineId, Ct))!.State.ShouldBe(DriverMachineState.Error);
        ShouldFail(await driver.PauseAsync(spec.MachineId, Ct), "invalid-state");
        (await driver.StartAsync(spec.MachineId, Ct)).Value.State.ShouldBe(DriverMachineState.Running);
    }

    [Fact]
    public async Task Stop_CrashedMachine_StopsIt()
    {
        var driver = NewDriver();
        var spec = Spec(driver);
        await CreateRunningAsync(driver, spec);
        await CrashAsync(driver, spec.MachineId);

        (await driver.StopAsync(spec.MachineId, false, Ct)).Value.State.ShouldBe(DriverMachineState.Stopped);
    }

    // ---- recovery --------------------------------------------------------------------------

    [Fact]
    public async Task Recover_AfterARestart_ReturnsEachMachineInItsRecordedState()
    {
        var before = NewDriver();
        var running = Spec(before);
        var stopped = Spec(before);
        var paused = Spec(before, host: before.Hosts[^1].Name);
        await CreateRunningAsync(before, running);
        await CreateStoppedAsync(before, stopped);
        await CreateRunningAsync(before, paused);
        await before.PauseAsync(paused.MachineId, Ct);
        // Welkin stops (its machines run on) and starts again.
        (before as IDisposable)?.Dispose();

        var after = NewDriver();
        var recovered = await after.RecoverAsync(
            [new KnownMachine(running, DriverMachineState.Running), new KnownMachine(stopped, DriverMachineState.Stopped), new KnownMachine(paused, DriverMachineState.Paused)], Ct);

        recovered.Count.ShouldBe(3);
        recovered.Single(m => m.MachineId == running.MachineId).State.ShouldBe(DriverMachineState.Running);
        recovered.Single(m => m.MachineId == stopped.MachineId).State.ShouldBe(DriverMachineState.Stopped);
        recovered.Single(m => m.MachineId == paused.MachineId).Host.ShouldBe(paused.Host);
        recovered.Single(m => m.MachineId == paused.MachineId).State.ShouldBe(DriverMachineState.Paused);
        (await after.StartAsync(stopped.MachineId, Ct)).Value.State.ShouldBe(DriverMachineState.Running);
        (await after.StopAsync(running.MachineId, false, Ct)).Value.State.ShouldBe(DriverMachineState.Stopped);
    }

    [Fact]
    public async Task Recover_Twice_ReturnsTheSameMachines()
    {
        var driver = NewDriver();
        var spec = Spec(driver);
        var created = await CreateRunningAsync(driver, spec);

        var recovered = await driver.RecoverAsync([new KnownMachine(spec, DriverMachineState.Running)], Ct);

        recovered.ShouldHaveSingleItem().Addresses.ShouldBe(created.Addresses);
        recovered[0].Endpoints.ShouldBe(created.Endpoints);
    }

    // ---- data disks ------------------------------------------------------------------------

    /// <summary>An image a data disk can start from on this driver's fabric.</summary>
    protected virtual string DataDiskImageId => "img_conformancedata";

    /// <summary>The disks the machine's guest has on its current boot (device → GiB), its system disk among them.</summary>
    protected abstract Task<IReadOnlyDictionary<string, long>> DisksSeenAsync(IComputeDriver driver, string machineId);

    private MachineSpec WithDataDisks(IComputeDriver driver) =>
        Spec(driver) with { DataDisks = [new DataDisk("data", 2, DataDiskImageId, "vdb"), new DataDisk("scratch", 3, null, "vdc")] };

    [Fact]
    public async Task Create_WithTwoDataDisks_FromAnImageAndEmpty_TheGuestHasThemAfterItsSystemDisk_AcrossAStopAndARestart()
    {
        var driver = NewDriver();
        var spec = WithDataDisks(driver);
        if (!driver.Capabilities.HasFlag(DriverCapabilities.DataDisks))
        {
            ShouldFail(await driver.CreateAsync(spec, null, Ct), "unsupported");
            return;
        }

        await CreateRunningAsync(driver, spec);

        var seen = await DisksSeenAsync(driver, spec.MachineId);
        seen.Keys.Order(StringComparer.Ordinal).ShouldBe(["vda", "vdb", "vdc"]);
        seen["vdb"].ShouldBe(2);
        seen["vdc"].ShouldBe(3);
        await driver.StopAsync(spec.MachineId, false, Ct);
        (await driver.StartAsync(spec.MachineId, Ct)).Value.State.ShouldBe(DriverMachineState.Running);
        (await DisksSeenAsync(driver, spec.MachineId)).ShouldBe(seen);
        await driver.StopAsync(spec.MachineId, false, Ct);
        (driver as IDisposable)?.Dispose();

        var after = NewDriver();
        (await after.RecoverAsync([new KnownMachine(spec, DriverMachineState.Stopped)], Ct)).ShouldHaveSingleItem().State.ShouldBe(DriverMachineState.Stopped);
        (await after.StartAsync(spec.MachineId, Ct)).Value.State.ShouldBe(DriverMachineState.Running);
        (await DisksSeenAsync(after, spec.MachineId)).ShouldBe(seen);
    }

    [Fact]
    public async Task Create_WithDataDisksOnTheWrongDevices_OrTwiceTheSameName_ReturnsValidationFailed_AndNoMachine()
    {
        var driver = NewDriver();
        var outOfOrder = Spec(driver) with { DataDisks = [new DataDisk("a", 1, null, "vdc")] };
        var twice = Spec(driver) with { DataDisks = [new DataDisk("a", 1, null, "vdb"), new DataDisk("a", 1, null, "vdc")] };
        var empty = Spec(driver) with { DataDisks = [new DataDisk("a", 0, null, "vdb")] };
        var code = driver.Capabilities.HasFlag(DriverCapabilities.DataDisks) ? "validation-failed" : "unsupported";

        foreach (var spec in new[] { outOfOrder, twice, empty })
        {
            ShouldFail(await driver.CreateAsync(spec, null, Ct), code);
            (await driver.InspectAsync(spec.MachineId, Ct)).ShouldBeNull();
        }
    }

    private sealed class SynchronousProgress(List<int> reports) : IProgress<int>
    {
        public void Report(int value)
        {
            lock (reports)
            {
                reports.Add(value);
            }
        }
    }
}

using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Testing;

namespace Welkin.Compute.Simulated.Tests;

/// <summary>What only the simulated fabric has: timing on the injected clock, loads, the host memory guard, its bookkeeping.</summary>
public sealed class SimulatedDriverTests : IDisposable
{
    private const string HostA = "sim-us-east-1";
    private const string HostB = "sim-us-east-2";

    private readonly FakeTimeProvider _clock = new() { ControlsTimers = true };
    private readonly List<SimulatedDriver> _drivers = [];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        _drivers.ForEach(d => d.Dispose());
    }

    private SimulatedDriver Driver(SimulatedTiming? timing = null, Action<SimulatedFabricOptions>? configure = null)
    {
        var options = new SimulatedFabricOptions { Timing = timing ?? SimulatedTiming.Zero };
        configure?.Invoke(options);
        var driver = new SimulatedDriver(options, _clock);
        _drivers.Add(driver);
        return driver;
    }

    private static SimulatedTiming Timed() => new()
    {
        Create = TimeSpan.FromSeconds(2),
        Start = TimeSpan.FromSeconds(1),
        Stop = TimeSpan.FromSeconds(1),
    };

    private static MachineSpec Spec(string host = HostA, long memoryMiB = 512, string? instanceId = null, string? id = null) =>
        new(id ?? Ids.New(Ids.Machine, TimeProvider.System), "acc_test", host, 2, memoryMiB, 10, null, "Welkin Test OS",
            new Dictionary<string, string>(), new Dictionary<string, string> { ["role"] = "web" }, null,
            [new VolumeAttachment("vol_boot", 100, "vdb")], [], instanceId);

    /// <summary>Waits (without moving the clock) until an operation under way has started its delay.</summary>
    private async Task WaitForTimerAsync()
    {
        while (_clock.PendingTimers == 0)
        {
            await Task.Yield();
        }
    }

    /// <summary>Moves the clock in small steps until the operation completes.</summary>
    private async Task<T> DriveAsync<T>(Task<T> operation)
    {
        while (!operation.IsCompleted)
        {
            if (_clock.PendingTimers > 0)
            {
                _clock.Advance(TimeSpan.FromMilliseconds(100));
            }
            else
            {
                await Task.Yield();
            }
        }
        return await operation;
    }

    [Fact]
    public async Task ZeroTiming_CompletesEveryOperationAtOnce_WithoutTimers()
    {
        var driver = Driver();
        var spec = Spec();

        var create = driver.CreateAsync(spec, null, Ct);
        var stop = driver.StopAsync(spec.MachineId, false, Ct);
        var destroy = driver.DestroyAsync(spec.MachineId, Ct);

        create.IsCompleted.ShouldBeTrue();
        stop.IsCompleted.ShouldBeTrue();
        destroy.IsCompleted.ShouldBeTrue();
        _clock.PendingTimers.ShouldBe(0);
        (await stop).Value.State.ShouldBe(DriverMachineState.Stopped);
    }

    [Fact]
    public async Task Create_IsCreatingUntilTheCreateDelayHasPassedOnTheClock()
    {
        var driver = Driver(Timed());
        var spec = Spec();
        var started = _clock.GetUtcNow();

        var create = driver.CreateAsync(spec, null, Ct);
        await WaitForTimerAsync();

        (await driver.InspectAsync(spec.MachineId, Ct))!.State.ShouldBe(DriverMachineState.Creating);
        (await DriveAsync(create)).Value.State.ShouldBe(DriverMachineState.Running);
        (_clock.GetUtcNow() - started).ShouldBe(TimeSpan.FromSeconds(2));
    }

    [Fact]
    public async Task Stop_KeepsTheMachineRunningUntilTheStopDelayHasPassed()
    {
        var driver = Driver(Timed());
        var spec = Spec();
        await DriveAsync(driver.CreateAsync(spec, null, Ct));

        var stop = driver.StopAsync(spec.MachineId, false, Ct);
        await WaitForTimerAsync();

        (await driver.InspectAsync(spec.MachineId, Ct))!.State.ShouldBe(DriverMachineState.Running);
        _clock.Advance(TimeSpan.FromSeconds(1));
        (await stop).Value.State.ShouldBe(DriverMachineState.Stopped);
    }

    [Fact]
    public async Task Stop_Forced_TakesNoTime()
    {
        var driver = Driver(Timed());
        var spec = Spec();
        await DriveAsync(driver.CreateAsync(spec, null, Ct));

        var stop = driver.StopAsync(spec.MachineId, true, Ct);

        stop.IsCompleted.ShouldBeTrue();
        (await stop).Value.State.ShouldBe(DriverMachineState.Stopped);
    }

    [Fact]
    public async Task Operations_OnOneMachine_RunOneAfterAnother()
    {
        var driver = Driver(Timed());
        var spec = Spec();
        await DriveAsync(driver.CreateAsync(spec, null, Ct));

        var stop = driver.StopAsync(spec.MachineId, false, Ct);
        await WaitForTimerAsync();
        var start = driver.StartAsync(spec.MachineId, Ct);

        start.IsCompleted.ShouldBeFalse();
        (await DriveAsync(stop)).Value.State.ShouldBe(DriverMachineState.Stopped);
        (await DriveAsync(start)).Value.State.ShouldBe(DriverMachineState.Running);
    }

    [Fact]
    public async Task Create_RepeatedWhileTheFirstIsUnderWay_WaitsAndReturnsTheSameMachine()
    {
        var driver = Driver(Timed());
        var spec = Spec();

        var first = driver.CreateAsync(spec, null, Ct);
        await WaitForTimerAsync();
        var second = driver.CreateAsync(spec, null, Ct);

        var a = await DriveAsync(first);
        var b = await DriveAsync(second);
        b.Value.State.ShouldBe(DriverMachineState.Running);
        b.Value.Endpoints.ShouldBe(a.Value.Endpoints);
        driver.Machines().ShouldHaveSingleItem();
    }

    [Fact]
    public async Task Create_Cancelled_LeavesNothingBehind()
    {
        var driver = Driver(Timed());
        var spec = Spec();
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        var create = driver.CreateAsync(spec, null, cts.Token);
        await WaitForTimerAsync();
        await cts.CancelAsync();

        await Should.ThrowAsync<OperationCanceledException>(create);
        (await driver.InspectAsync(spec.MachineId, Ct)).ShouldBeNull();
        (await DriveAsync(driver.CreateAsync(spec, null, Ct))).Value.State.ShouldBe(DriverMachineState.Running);
    }

    [Fact]
    public async Task HostFailure_DuringCreate_FailsTheCreateWithHostUnavailable()
    {
        var driver = Driver(Timed());
        var spec = Spec();

        var create = driver.CreateAsync(spec, null, Ct);
        await WaitForTimerAsync();
        await driver.SetHostFailedAsync(HostA, true, Ct);

        (await DriveAsync(create)).Error!.Code.ShouldBe("host-unavailable");
        (await driver.InspectAsync(spec.MachineId, Ct))!.State.ShouldBe(DriverMachineState.Error);
    }

    [Fact]
    public async Task Crash_DuringAStop_FailsTheStopWithInvalidState()
    {
        var driver = Driver(Timed());
        var spec = Spec();
        await DriveAsync(driver.CreateAsync(spec, null, Ct));

        var stop = driver.StopAsync(spec.MachineId, false, Ct);
        await WaitForTimerAsync();
        driver.CrashMachine(spec.MachineId).ShouldBeTrue();

        (await DriveAsync(stop)).Error!.Code.ShouldBe("invalid-state");
        (await driver.InspectAsync(spec.MachineId, Ct))!.State.ShouldBe(DriverMachineState.Error);
    }

    [Fact]
    public async Task CrashMachine_OnAStoppedOrMissingMachine_ReturnsFalse()
    {
        var driver = Driver();
        var spec = Spec();
        await driver.CreateAsync(spec, null, Ct);
        await driver.StopAsync(spec.MachineId, false, Ct);

        driver.CrashMachine(spec.MachineId).ShouldBeFalse();
        driver.CrashMachine("mch_missing").ShouldBeFalse();
        driver.Events.TryRead(out _).ShouldBeFalse();
    }

    [Fact]
    public async Task Create_BeyondTheHostsMemoryAndOvercommit_ReturnsHostUnavailable()
    {
        var driver = Driver(configure: o =>
        {
            o.Hosts = [new FabricHost("small", "r", "US", 4, 1024, 100)];
            o.MemoryOvercommit = 1.5;
        });

        (await driver.CreateAsync(Spec("small", memoryMiB: 1024), null, Ct)).IsSuccess.ShouldBeTrue();
        (await driver.CreateAsync(Spec("small", memoryMiB: 512), null, Ct)).IsSuccess.ShouldBeTrue();
        var refused = await driver.CreateAsync(Spec("small", memoryMiB: 1), null, Ct);

        refused.Error!.Code.ShouldBe("host-unavailable");
        refused.Error.Detail.ShouldContain("1536 MiB");
    }

    [Fact]
    public async Task Destroy_GivesTheHostsMemoryBack()
    {
        var driver = Driver(configure: o => o.Hosts = [new FabricHost("small", "r", "US", 4, 1024, 100)]);
        var first = Spec("small", memoryMiB: 1536);
        await driver.CreateAsync(first, null, Ct);

        await driver.DestroyAsync(first.MachineId, Ct);

        (await driver.CreateAsync(Spec("small", memoryMiB: 1536), null, Ct)).IsSuccess.ShouldBeTrue();
    }

    [Fact]
    public async Task Resize_BeyondTheHostsMemory_ReturnsHostUnavailable()
    {
        var driver = Driver(configure: o => o.Hosts = [new FabricHost("small", "r", "US", 4, 1024, 100)]);
        var spec = Spec("small", memoryMiB: 1024);
        await driver.CreateAsync(spec, null, Ct);
        await driver.StopAsync(spec.MachineId, false, Ct);

        (await driver.ResizeAsync(spec.MachineId, 2, 2048, Ct)).Error!.Code.ShouldBe("host-unavailable");
        (await driver.ResizeAsync(spec.MachineId, 4, 1536, Ct)).Value.MemoryMiB.ShouldBe(1536);
    }

    [Fact]
    public async Task Addresses_ComeFromEachHostsOwnBlock_AndSshIsForwardedOnTheManagementAddress()
    {
        var driver = Driver(configure: o => o.ManagementAddresses[HostB] = "192.0.2.7");

        var a = (await driver.CreateAsync(Spec(HostA), null, Ct)).Value;
        var b = (await driver.CreateAsync(Spec(HostB), null, Ct)).Value;

        a.Addresses[0].ShouldStartWith("10.0.");
        b.Addresses[0].ShouldStartWith("10.1.");
        a.Endpoints[0].ShouldBe(new Contracts.AccessEndpoint("ssh", "127.0.0.1", a.Endpoints[0].Port, "ssh"));
        a.Endpoints[0].Port.ShouldBeInRange(20_000, 59_999);
        b.Endpoints[0].Host.ShouldBe("192.0.2.7");
    }

    [Fact]
    public async Task Metrics_AdvanceWithTheClockAndTheLoad_OnlyWhileRunning()
    {
        var driver = Driver();
        var spec = Spec();
        await driver.CreateAsync(spec, null, Ct);
        driver.SetLoad(spec.MachineId, new LoadProfile(50, 0.25, 100, 1_000, 2_000, 3_000, 4_000)).ShouldBe(1);

        _clock.Advance(TimeSpan.FromSeconds(10));
        var running = (await driver.MetricsAsync(spec.MachineId, Ct)).Value;
        await driver.PauseAsync(spec.MachineId, Ct);
        _clock.Advance(TimeSpan.FromSeconds(10));
        var paused = (await driver.MetricsAsync(spec.MachineId, Ct)).Value;
        await driver.ResumeAsync(spec.MachineId, Ct);
        await driver.StopAsync(spec.MachineId, false, Ct);
        _clock.Advance(TimeSpan.FromSeconds(10));
        var stopped = (await driver.MetricsAsync(spec.MachineId, Ct)).Value;

        running.At.ShouldBe(_clock.GetUtcNow() - TimeSpan.FromSeconds(20));
        running.CpuUtilizationPercent.ShouldBe(50);
        running.CpuTimeMs.ShouldBe(10_000); // 10 s × 2 vCPUs × 50 %
        running.MemoryUsedBytes.ShouldBe(128L * 1024 * 1024);
        running.PageFaults.ShouldBe(1_000);
        running.DiskReadBytes.ShouldBe(10_000);
        running.DiskWriteBytes.ShouldBe(20_000);
        running.NetworkRxBytes.ShouldBe(30_000);
        running.NetworkTxBytes.ShouldBe(40_000);
        paused.CpuTimeMs.ShouldBe(running.CpuTimeMs);
        paused.CpuUtilizationPercent.ShouldBe(0);
        stopped.CpuTimeMs.ShouldBe(running.CpuTimeMs);
        stopped.DiskReadBytes.ShouldBe(running.DiskReadBytes);
        stopped.MemoryUsedBytes.ShouldBe(0);
    }

    [Fact]
    public async Task Metrics_CountFromZeroAgain_WhenAStoppedMachineStarts()
    {
        var driver = Driver();
        var spec = Spec();
        await driver.CreateAsync(spec, null, Ct);
        _clock.Advance(TimeSpan.FromSeconds(10));
        await driver.StopAsync(spec.MachineId, false, Ct);

        await driver.StartAsync(spec.MachineId, Ct);
        var fresh = (await driver.MetricsAsync(spec.MachineId, Ct)).Value;
        _clock.Advance(TimeSpan.FromSeconds(1));
        var later = (await driver.MetricsAsync(spec.MachineId, Ct)).Value;

        fresh.CpuTimeMs.ShouldBe(0);
        later.CpuTimeMs.ShouldBe(100); // 1 s × 2 vCPUs × the default 5 %
    }

    [Fact]
    public async Task SetLoad_ByInstanceId_SpreadsTheDemandOverItsRunningMachines_AndThoseCreatedLater()
    {
        var driver = Driver();
        var first = Spec(instanceId: "ins_a");
        var other = Spec(instanceId: "ins_b");
        await driver.CreateAsync(first, null, Ct);
        await driver.CreateAsync(other, null, Ct);
        var busy = new LoadProfile(90, 0.8, 500, 1_000, 2_000, 3_000, 4_000);

        driver.SetLoad("ins_a", busy).ShouldBe(1);
        driver.Describe(first.MachineId)!.Load.ShouldBe(busy);
        var later = Spec(instanceId: "ins_a");
        await driver.CreateAsync(later, null, Ct);

        var half = new LoadProfile(45, 0.8, 250, 500, 1_000, 1_500, 2_000);
        driver.Describe(first.MachineId)!.Load.ShouldBe(half);
        driver.Describe(later.MachineId)!.Load.ShouldBe(half);
        driver.Describe(other.MachineId)!.Load.ShouldBe(LoadProfile.Default);
    }

    [Fact]
    public async Task InstanceLoad_StoppingOneOfThreeMachines_RaisesTheOthersUtilization()
    {
        var driver = Driver();
        var specs = Enumerable.Range(0, 3).Select(_ => Spec(instanceId: "ins_c")).ToList();
        foreach (var spec in specs)
        {
            await driver.CreateAsync(spec, null, Ct);
        }
        driver.SetLoad("ins_c", new LoadProfile(120, 0.5, 300, 0, 0, 0, 0)).ShouldBe(3);
        var before = await CpuOverTenSecondsAsync(driver, specs[0].MachineId);

        await driver.StopAsync(specs[2].MachineId, force: false, Ct);
        var afterStop = await CpuOverTenSecondsAsync(driver, specs[0].MachineId);
        await driver.StopAsync(specs[1].MachineId, force: false, Ct);
        var alone = await CpuOverTenSecondsAsync(driver, specs[0].MachineId);
        await driver.StartAsync(specs[1].MachineId, Ct);
        var afterStart = await CpuOverTenSecondsAsync(driver, specs[0].MachineId);

        // 120 % of one machine over 3, 2, 1 (at most 100 %) and again 2 running machines; 2 vCPUs each, 10 s = 10,000 ms × 2 × percent / 100.
        before.ShouldBe(40 * 2 * 100);
        afterStop.ShouldBe(60 * 2 * 100);
        alone.ShouldBe(100 * 2 * 100);
        afterStart.ShouldBe(60 * 2 * 100);
        driver.Describe(specs[1].MachineId)!.Load.PageFaultsPerSecond.ShouldBe(150);
        (await driver.MetricsAsync(specs[2].MachineId, Ct)).Value.CpuUtilizationPercent.ShouldBe(0);
    }

    [Fact]
    public async Task MachineLoad_PinsTheMachine_AndTheRestShareTheInstanceDemand()
    {
        var driver = Driver();
        var a = Spec(instanceId: "ins_d");
        var b = Spec(instanceId: "ins_d");
        await driver.CreateAsync(a, null, Ct);
        await driver.CreateAsync(b, null, Ct);
        driver.SetLoad("ins_d", new LoadProfile(80, 0.5, 0, 0, 0, 0, 0));

        driver.SetLoad(a.MachineId, new LoadProfile(10, 0.2, 0, 0, 0, 0, 0)).ShouldBe(1);

        driver.Describe(a.MachineId)!.Load.CpuUtilizationPercent.ShouldBe(10);
        driver.Describe(b.MachineId)!.Load.CpuUtilizationPercent.ShouldBe(80);
        driver.SetLoad("ins_d", new LoadProfile(80, 0.5, 0, 0, 0, 0, 0)).ShouldBe(2);
        driver.Describe(a.MachineId)!.Load.CpuUtilizationPercent.ShouldBe(40);
    }

    [Fact]
    public async Task LoadSimulation_SetMachineLoad_IsFalseForAMachineTheFabricDoesNotHave()
    {
        ILoadSimulation driver = Driver();
        var spec = Spec();
        await ((SimulatedDriver)driver).CreateAsync(spec, null, Ct);

        driver.SetMachineLoad("mch_01h00000000000000000000000", LoadSettings.Default).ShouldBeFalse();
        driver.SetMachineLoad(spec.MachineId, LoadSettings.Default with { CpuUtilizationPercent = 70 }).ShouldBeTrue();
        ((SimulatedDriver)driver).Describe(spec.MachineId)!.Load.CpuUtilizationPercent.ShouldBe(70);
    }

    /// <summary>The CPU time (ms) a machine uses over the next ten seconds of the clock.</summary>
    private async Task<long> CpuOverTenSecondsAsync(SimulatedDriver driver, string machineId)
    {
        var start = (await driver.MetricsAsync(machineId, Ct)).Value.CpuTimeMs;
        _clock.Advance(TimeSpan.FromSeconds(10));
        return (await driver.MetricsAsync(machineId, Ct)).Value.CpuTimeMs - start;
    }

    [Fact]
    public async Task Describe_ShowsAttachedVolumesNetworksAndProperties()
    {
        var driver = Driver();
        var spec = Spec();
        await driver.CreateAsync(spec, null, Ct);
        var nic = new NetworkAttachment("net_a", "192.168.1.10", "52:54:00:12:34:56", "192.168.1.0/24");

        await driver.AttachVolumeAsync(spec.MachineId, new VolumeAttachment("vol_data", 200, "vdc"), Ct);
        await driver.DetachVolumeAsync(spec.MachineId, "vol_boot", Ct);
        await driver.ConnectNetworkAsync(spec.MachineId, nic, Ct);
        await driver.SetPropertiesAsync(spec.MachineId, new Dictionary<string, string> { ["tier"] = "db" }, Ct);

        var details = driver.Describe(spec.MachineId)!;
        details.Volumes.ShouldBe([new VolumeAttachment("vol_data", 200, "vdc")]);
        details.Networks.ShouldBe([nic]);
        details.Properties.ShouldBe(new Dictionary<string, string> { ["tier"] = "db" });
        driver.Describe("mch_missing").ShouldBeNull();
    }

    [Fact]
    public async Task AttachVolume_ToAStoppedMachine_IsRecordedForItsNextBoot()
    {
        var driver = Driver();
        var spec = Spec();
        await driver.CreateAsync(spec, null, Ct);
        await driver.StopAsync(spec.MachineId, false, Ct);

        (await driver.AttachVolumeAsync(spec.MachineId, new VolumeAttachment("vol_data", 200, "vdc"), Ct)).Value.ShouldBeTrue();
        await driver.StartAsync(spec.MachineId, Ct);

        (await driver.ConsoleLogAsync(spec.MachineId, 64 * 1024, Ct)).Value.ShouldContain("[vdc] 200 GiB (vol_data)");
    }

    [Fact]
    public async Task Console_NamesTheOperatingSystem_StampsKernelLinesWithTheClock_AndEndsWithTheMarker()
    {
        var driver = Driver(Timed());
        var spec = Spec();

        await DriveAsync(driver.CreateAsync(spec, null, Ct));

        var lines = (await driver.ConsoleLogAsync(spec.MachineId, 64 * 1024, Ct)).Value.TrimEnd('\n').Split('\n');
        lines[0].ShouldStartWith("[    0.000000] Linux version");
        lines.ShouldContain(l => l.StartsWith("[    0.800000] Run /sbin/init", StringComparison.Ordinal));
        lines.ShouldContain("Welcome to Welkin Test OS!");
        lines[^1].ShouldStartWith("welkin-guest ready " + spec.MachineId);
    }

    [Fact]
    public async Task Console_KeepsOnlyTheNewestLines()
    {
        var driver = Driver(configure: o => o.ConsoleBytes = 600);
        var spec = Spec();
        await driver.CreateAsync(spec, null, Ct);

        for (var i = 0; i < 20; i++)
        {
            await driver.RebootAsync(spec.MachineId, Ct);
        }

        var console = (await driver.ConsoleLogAsync(spec.MachineId, 64 * 1024, Ct)).Value;
        console.Length.ShouldBeLessThanOrEqualTo(600);
        console.TrimEnd('\n').Split('\n')[^1].ShouldStartWith("welkin-guest ready");
    }

    [Fact]
    public async Task HostFailure_IsVisible_AndCrashEventsComeAfterTheHostEvent()
    {
        var driver = Driver();
        var spec = Spec();
        await driver.CreateAsync(spec, null, Ct);

        await driver.SetHostFailedAsync(HostA, true, Ct);

        driver.IsHostFailed(HostA).ShouldBeTrue();
        driver.IsHostFailed(HostB).ShouldBeFalse();
        driver.Events.TryRead(out var hostFailed).ShouldBeTrue();
        hostFailed!.At.ShouldBe(_clock.GetUtcNow());
        driver.Events.TryRead(out var crashed).ShouldBeTrue();
        crashed!.MachineId.ShouldBe(spec.MachineId);
        (await driver.ConsoleLogAsync(spec.MachineId, 4096, Ct)).Value.ShouldContain("Kernel panic");
    }

    [Fact]
    public async Task Recover_AMachineThatWasBeingCreated_RunsAfterTheCreateDelay()
    {
        var driver = Driver(Timed());
        var spec = Spec();

        var recovered = await driver.RecoverAsync([new KnownMachine(spec, DriverMachineState.Creating)], Ct);
        recovered.ShouldHaveSingleItem().State.ShouldBe(DriverMachineState.Creating);
        var stop = driver.StopAsync(spec.MachineId, false, Ct);

        (await DriveAsync(stop)).Value.State.ShouldBe(DriverMachineState.Stopped);
        (await driver.ConsoleLogAsync(spec.MachineId, 64 * 1024, Ct)).Value.ShouldContain("welkin-guest ready");
    }

    [Fact]
    public async Task Recover_MachinesOnAFailedHost_ComeBackInError_AndOnAMissingHostAreLost()
    {
        var driver = Driver();
        await driver.SetHostFailedAsync(HostA, true, Ct);
        var onFailed = Spec(HostA);
        var onMissing = Spec("gone-host");
        var healthy = Spec(HostB);

        var recovered = await driver.RecoverAsync(
            [new KnownMachine(onFailed, DriverMachineState.Running), new KnownMachine(onMissing, DriverMachineState.Running), new KnownMachine(healthy, DriverMachineState.Running)], Ct);

        recovered.Count.ShouldBe(2);
        recovered.Single(m => m.MachineId == onFailed.MachineId).State.ShouldBe(DriverMachineState.Error);
        recovered.Single(m => m.MachineId == healthy.MachineId).State.ShouldBe(DriverMachineState.Running);
    }

    [Fact]
    public async Task Recover_GivesTheSameAddressAndSshPortAsBeforeTheRestart()
    {
        var before = Driver();
        var spec = Spec();
        var created = (await before.CreateAsync(spec, null, Ct)).Value;

        var after = Driver();
        var recovered = await after.RecoverAsync([new KnownMachine(spec, DriverMachineState.Running)], Ct);

        recovered[0].Addresses.ShouldBe(created.Addresses);
        recovered[0].Endpoints.ShouldBe(created.Endpoints);
    }

    [Fact]
    public void Capabilities_AreThoseTheSimulationImplements()
    {
        Driver().Capabilities.ShouldBe(DriverCapabilities.Pause | DriverCapabilities.HotPlugVolumes | DriverCapabilities.HotPlugNetworks
            | DriverCapabilities.LiveProperties | DriverCapabilities.LiveMigration | DriverCapabilities.FailureInjection | DriverCapabilities.Devices
            | DriverCapabilities.Volumes | DriverCapabilities.DataDisks);
    }

    [Fact]
    public void Hosts_DefaultToTheFourSimulatedHosts()
    {
        var driver = Driver();

        driver.Kind.ShouldBe("simulated");
        driver.Hosts.ShouldBe(SimulatedFabricOptions.DefaultHosts);
    }
}

using Welkin.Core.Compute;
using Welkin.Testing;
using Welkin.Testing.Compute;

namespace Welkin.Compute.Qemu.Tests;

/// <summary>
/// The shared driver conformance suite against real QEMU machines booting the test guest. Every
/// test gets a fabric directory of its own (two logical hosts); drivers created again in one test
/// share it, as a restarted Welkin would. Whatever still runs at the end is ended, and the test
/// checks no QEMU of its fabric is left.
/// </summary>
public sealed class QemuDriverConformanceTests(TestGuest guest) : ComputeDriverConformanceTests
{
    private readonly string _root = Directory.CreateTempSubdirectory("wqc-").FullName;

    protected override IComputeDriver CreateDriver() => new QemuDriver(Options(guest, _root), TimeProvider.System);

    internal static QemuFabricOptions Options(TestGuest guest, string root) => new()
    {
        Root = root,
        Hosts =
        [
            new FabricHost("qemu-a", "local", "local", 16, 16_384, 100),
            new FabricHost("qemu-b", "local", "local", 16, 16_384, 100),
        ],
        DefaultKernel = guest.Kernel,
        DefaultInitrd = guest.Initrd,
        // A bound, not a measure: on a loaded CI machine without KVM a guest among several can take
        // minutes; a test fails on a guest that never boots, not on a slow one.
        BootTimeout = TimeSpan.FromMinutes(8),
    };

    // Six real guests booting together still race the allocator; twenty on two cores only raced the clock.
    protected override int ConcurrentMachinesPerHost => 3;

    protected override MachineSpec Spec(IComputeDriver driver, string? host = null, string? id = null, int vcpus = 1, long memoryMiB = 512) =>
        base.Spec(driver, host, id, vcpus, memoryMiB) with { DiskGiB = 1 };

    protected override async Task CrashAsync(IComputeDriver driver, string machineId)
    {
        var pid = QemuProcess.ReadPid(Path.Combine(_root, "machines", machineId, "run-a", "qemu.pid"));
        pid.ShouldNotBeNull();
        await QemuProcess.KillAsync(pid.Value);
    }

    public override void Dispose()
    {
        base.Dispose();
        TestGuest.KillProcessesMentioningAsync(_root).GetAwaiter().GetResult();
        Directory.Delete(_root, recursive: true);
    }
}

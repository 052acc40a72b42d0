using System.Globalization;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Welkin.Core.Common;
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
public sealed partial class QemuDriverConformanceTests(TestGuest guest) : ComputeDriverConformanceTests
{
    private readonly string _root = Directory.CreateTempSubdirectory("wqc-").FullName;

    protected override IComputeDriver CreateDriver() => new QemuDriver(Options(guest, _root), TimeProvider.System, new DiskImages(_root));

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

    // The guest prints each disk it has at boot ("DISK vdb 4194304 sectors"); the last boot's lines are the disks it has now.
    protected override async Task<IReadOnlyDictionary<string, long>> DisksSeenAsync(IComputeDriver driver, string machineId)
    {
        var console = await ConsoleShowingAsync(driver, machineId, "welkin-guest ready");
        var boot = console[console.LastIndexOf("DISK vda ", StringComparison.Ordinal)..];
        return DiskLine().Matches(boot).ToDictionary(
            m => m.Groups[1].Value, m => long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture) * 512 / (1L << 30), StringComparer.Ordinal);
    }

    [GeneratedRegex(@"DISK (vd[a-z]+) (\d+) sectors")]
    private static partial Regex DiskLine();

    /// <summary>A catalog of one image: a 1 GiB qcow2 made with qemu-img on first use, the image a data disk of the suite starts from.</summary>
    internal sealed class DiskImages(string root) : IImageResolver
    {
        public async Task<Result<BootImage>> ResolveAsync(string imageId, CancellationToken ct)
        {
            var path = Path.Combine(root, imageId + ".qcow2");
            if (!File.Exists(path))
            {
                await ExternalTools.QemuImgAsync("create", "-q", "-f", "qcow2", path + ".tmp", "1G");
                File.Move(path + ".tmp", path, overwrite: true);
            }
            await using var file = File.OpenRead(path);
            var sha256 = Convert.ToHexStringLower(await SHA256.HashDataAsync(file, ct));
            return new BootImage(imageId, path, "qcow2", sha256);
        }
    }

    public override void Dispose()
    {
        base.Dispose();
        TestGuest.KillProcessesMentioningAsync(_root).GetAwaiter().GetResult();
        Directory.Delete(_root, recursive: true);
    }
}

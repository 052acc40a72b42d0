using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Testing;

namespace Welkin.Compute.Qemu.Tests;

/// <summary>
/// Data disks on real QEMU machines: qcow2 files beside the system disk, from an image (its content) or empty, on the
/// guest's virtio bus after the system disk and before volumes, kept while the machine lives and deleted with it.
/// </summary>
public sealed class QemuDataDiskTests(TestGuest guest) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("wqdd-").FullName;
    private readonly List<QemuDriver> _drivers = [];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private QemuDriver NewDriver()
    {
        var driver = new QemuDriver(QemuDriverConformanceTests.Options(guest, _root), TimeProvider.System, new QemuDriverConformanceTests.DiskImages(_root));
        _drivers.Add(driver);
        return driver;
    }

    private static MachineSpec Spec(string host, IReadOnlyList<DataDisk> disks) =>
        new(Ids.New(Ids.Machine, TimeProvider.System), "acc_test", host, 1, 256, 1, null, null,
            new Dictionary<string, string>(), new Dictionary<string, string>(), null, [], [], DataDisks: disks);

    private static async Task<string> ConsoleAsync(QemuDriver driver, string id) => (await driver.ConsoleLogAsync(id, 1 << 20, Ct)).Value;

    /// <summary>Runs a qemu-io command on the backend of one of the guest's virtio disks, as the guest's device sees it.</summary>
    private static async Task<string> DiskIoAsync(QemuDriver driver, string machineId, string device, string command)
    {
        var done = await driver.QmpOf(machineId)!.ExecuteAsync("human-monitor-command",
            new JsonObject { ["command-line"] = $"qemu-io -d /machine/peripheral/{device}/virtio-backend \"{command}\"" }, Ct);
        done.Succeeded.ShouldBeTrue();
        return done.Return.GetString() ?? "";
    }

    /// <summary>qemu-io's account of reading a (stopped machine's) disk file: "read 65536/65536 bytes" per command, or where a pattern did not match.</summary>
    private static async Task<string> ReadAsync(string path, params string[] commands)
    {
        var output = await ExternalTools.RunAsync("qemu-io", ["-r", "-f", "qcow2", .. commands.SelectMany(c => new[] { "-c", c }), path]);
        Regex.Count(output, "read 65536/65536 bytes").ShouldBe(commands.Length, output);
        return output;
    }

    [Fact]
    public async Task DataDisks_FromAnImageAndEmpty_AreTheGuestsVdbAndVdc_WithTheImagesContent_BeforeAVolume_AndGoWithTheMachine()
    {
        // The image a data disk starts from: 1 GiB with a pattern at 1 MiB.
        var image = Path.Combine(_root, "img_content.qcow2");
        await ExternalTools.QemuImgAsync("create", "-q", "-f", "qcow2", image, "1G");
        await ExternalTools.RunAsync("qemu-io", ["-f", "qcow2", "-c", "write -P 0x5a 1M 64k", image]);
        var driver = NewDriver();
        var spec = Spec("qemu-a", [new DataDisk("data", 2, "img_content", "vdb"), new DataDisk("scratch", 1, null, "vdc")]);

        var created = await driver.CreateAsync(spec, null, Ct);

        created.Error.ShouldBeNull();
        var console = await ConsoleAsync(driver, spec.MachineId);
        // 1 GiB = 2,097,152 sectors of 512 bytes: the system disk, the 2 GiB image disk grown from its 1 GiB image, the empty one.
        console.ShouldContain("DISK vda 2097152 sectors");
        console.ShouldContain("DISK vdb 4194304 sectors");
        console.ShouldContain("DISK vdc 2097152 sectors");
        // A volume plugged in later comes after the data disks.
        (await driver.AttachVolumeAsync(spec.MachineId, new VolumeAttachment("vol_late", 1, "vdd"), Ct)).Value.ShouldBeTrue();
        await Polling.UntilAsync(async () => (await ConsoleAsync(driver, spec.MachineId)).Contains("DISK-ADDED vdd 2097152 sectors", StringComparison.Ordinal),
            "the guest sees the volume as vdd", TimeSpan.FromMinutes(2), TimeSpan.FromMilliseconds(100));
        (await driver.DetachVolumeAsync(spec.MachineId, "vol_late", Ct)).Value.ShouldBeTrue();
        // A move to another fabric would leave the data disks behind: refused, the machine runs on.
        (await driver.DescribeOutgoingAsync(spec.MachineId, Ct)).Error.ShouldNotBeNull().Code.ShouldBe("unsupported");
        // The test guest has no disk writer of its own: patterns go through its virtio disks' backends.
        await DiskIoAsync(driver, spec.MachineId, "dev-data-vdb", "write -P 0xa5 3M 64k");
        await DiskIoAsync(driver, spec.MachineId, "dev-data-vdc", "write -P 0x3c 3M 64k");
        (await driver.StopAsync(spec.MachineId, false, Ct)).Value.State.ShouldBe(DriverMachineState.Stopped);

        // Each device is backed by its own file beside the system disk: the image's content and what the guest wrote are there.
        var directory = Path.Combine(_root, "machines", spec.MachineId);
        var vdb = Path.Combine(directory, "data-vdb.qcow2");
        var vdc = Path.Combine(directory, "data-vdc.qcow2");
        (await ReadAsync(vdb, "read -P 0x5a 1M 64k", "read -P 0xa5 3M 64k")).ShouldNotContain("Pattern verification failed");
        (await ReadAsync(vdc, "read -P 0 1M 64k", "read -P 0x3c 3M 64k")).ShouldNotContain("Pattern verification failed");
        using (var info = JsonDocument.Parse(await ExternalTools.QemuImgAsync("info", "--output=json", "-f", "qcow2", vdb)))
        {
            info.RootElement.GetProperty("virtual-size").GetInt64().ShouldBe(2L << 30);
        }
        using (var info = JsonDocument.Parse(await ExternalTools.QemuImgAsync("info", "--output=json", "-f", "qcow2", vdc)))
        {
            info.RootElement.GetProperty("virtual-size").GetInt64().ShouldBe(1L << 30);
            info.RootElement.TryGetProperty("backing-filename", out _).ShouldBeFalse();
        }
        (await driver.StartAsync(spec.MachineId, Ct)).Value.State.ShouldBe(DriverMachineState.Running);
        (await DiskIoAsync(driver, spec.MachineId, "dev-data-vdb", "write -P 0xa5 3M 64k")).ShouldNotContain("error", Case.Insensitive);

        (await driver.DestroyAsync(spec.MachineId, Ct)).Value.ShouldBeTrue();

        Directory.Exists(directory).ShouldBeFalse("the data disks went with the machine");
    }

    [Fact]
    public async Task DataDisk_FromAnImageTheCatalogCannotFind_FailsTheCreate_WithImageUnavailable_AndLeavesNothing()
    {
        var driver = new QemuDriver(QemuDriverConformanceTests.Options(guest, _root), TimeProvider.System);
        _drivers.Add(driver);
        var spec = Spec("qemu-a", [new DataDisk("data", 2, "img_missing", "vdb")]);

        var created = await driver.CreateAsync(spec, null, Ct);

        created.Error.ShouldNotBeNull().Code.ShouldBe("image-unavailable");
        (await driver.InspectAsync(spec.MachineId, Ct)).ShouldBeNull();
        Directory.Exists(Path.Combine(_root, "machines", spec.MachineId)).ShouldBeFalse();
    }

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

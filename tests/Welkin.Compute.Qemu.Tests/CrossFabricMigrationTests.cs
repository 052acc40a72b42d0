using System.Globalization;
using System.Net.Http;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Intercloud.Trust;
using Welkin.Testing;

namespace Welkin.Compute.Qemu.Tests;

/// <summary>
/// A live move between two QEMU fabrics with separate roots (two clouds that share no storage), over
/// TLS with certificates of the federation's authority: the guest, its disk and its HTTP server arrive.
/// </summary>
public sealed partial class CrossFabricMigrationTests(TestGuest guest) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("wqx-").FullName;
    private readonly List<QemuDriver> _drivers = [];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Move_RunningGuest_ArrivesWithItsDisk_KeepsCounting_AndServesHttpOnTheDestinationsEndpoint()
    {
        var (cloud1, cloud2) = (Cloud("cloud-1"), Cloud("cloud-2"));
        var authority = Authority("federation");
        var spec = Spec("qemu-a") with { Volumes = [new VolumeAttachment("vol_data", 1, "vdb")] };
        await cloud1.CreateAsync(spec, null, Ct);
        await WaitForAsync(async () => await LastTickAsync(cloud1, spec.MachineId) >= 2, "two ticks before the move");
        // The test guest has no disk writer of its own: the patterns go through its virtio disks' backends in the source QEMU.
        await WriteAsync(cloud1, spec.MachineId, "dev-root", "write -P 0x5a 1M 64k");
        await WriteAsync(cloud1, spec.MachineId, "dev-vol_data", "write -P 0xa5 2M 64k");
        var progress = new List<int>();
        var lastAtSource = await LastTickAsync(cloud1, spec.MachineId);
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var moved = await CrossFabricMigration.MoveAsync(cloud1, cloud2, spec.MachineId, "qemu-b",
            Tls(authority, "cloud-1", peer: "127.0.0.1"), Tls(authority, "cloud-2", peer: "CN=cloud-1"), new SyncProgress(progress), Ct);

        var took = clock.Elapsed;
        moved.Error.ShouldBeNull();
        var report = moved.Value;
        report.Machine.Host.ShouldBe("qemu-b");
        report.Machine.State.ShouldBe(DriverMachineState.Running);
        report.DiskBytes.ShouldBe(2L << 30, "both disks, of 1 GiB each, were mirrored");
        report.MemoryBytes.ShouldBeGreaterThan(0);
        report.Downtime.ShouldBeLessThanOrEqualTo(report.Total);
        progress.ShouldContain(100);
        (await cloud1.InspectAsync(spec.MachineId, Ct)).ShouldBeNull("the machine left the source cloud");
        Directory.Exists(Path.Combine(_root, "cloud-1", "machines", spec.MachineId)).ShouldBeFalse();
        TestGuest.ProcessesMentioning(Path.Combine(_root, "cloud-1")).ShouldBeEmpty("the source QEMU is gone");
        var before = await LastTickAsync(cloud2, spec.MachineId);
        await WaitForAsync(async () => await LastTickAsync(cloud2, spec.MachineId) > before + 2, "ticks at the destination");
        var console = await ConsoleAsync(cloud2, spec.MachineId);
        console.ShouldNotContain("GUEST-UP", Case.Sensitive, "the guest did not boot again at the destination");
        var ticks = TickPattern().Matches(console).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();
        ticks.Zip(ticks.Skip(1)).ShouldAllBe(pair => pair.Second == pair.First + 1, "the counter goes on without a gap");
        // The guest ticks once a second: across the move it can have ticked at most once per second the move took, and it was not reset.
        ticks[0].ShouldBeGreaterThan(lastAtSource);
        ticks[0].ShouldBeLessThanOrEqualTo(lastAtSource + (int)Math.Ceiling(took.TotalSeconds) + 1);
        var http = report.Machine.Endpoints.Single(e => e.Protocol == "http");
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        (await client.GetStringAsync($"http://{http.Host}:{http.Port}/", Ct)).ShouldContain("hello from " + spec.MachineId);
        (await cloud2.StopAsync(spec.MachineId, force: true, Ct)).Value.State.ShouldBe(DriverMachineState.Stopped);
        var disk = Path.Combine(_root, "cloud-2", "machines", spec.MachineId, "disk.qcow2");
        var volume = Path.Combine(_root, "cloud-2", "volumes", "vol_data.qcow2");
        // qemu-io exits non-zero (and the run fails) when the pattern is not there.
        (await ExternalTools.RunAsync("qemu-io", ["-f", "qcow2", "-c", "read -P 0x5a 1M 64k", disk])).ShouldNotContain("Pattern verification failed");
        (await ExternalTools.RunAsync("qemu-io", ["-f", "qcow2", "-c", "read -P 0xa5 2M 64k", volume])).ShouldNotContain("Pattern verification failed");
        File.Exists(Path.Combine(_root, "cloud-1", "volumes", "vol_data.qcow2")).ShouldBeFalse("the volume left the source cloud");
    }

    [Fact]
    public async Task Move_ToADestinationCertifiedByAnotherAuthority_IsRefused_CleansTheDestination_AndTheGuestRunsOnAtTheSource()
    {
        var (cloud1, cloud2) = (Cloud("cloud-1"), Cloud("cloud-2"));
        var spec = Spec("qemu-a");
        await cloud1.CreateAsync(spec, null, Ct);
        await WaitForAsync(async () => await LastTickAsync(cloud1, spec.MachineId) >= 1, "a tick before the move");

        var moved = await CrossFabricMigration.MoveAsync(cloud1, cloud2, spec.MachineId, "qemu-b",
            Tls(Authority("federation"), "cloud-1", peer: "127.0.0.1"), Tls(Authority("impostor"), "cloud-2", peer: "CN=cloud-1"), null, Ct);

        moved.Error.ShouldNotBeNull();
        moved.Error.Code.ShouldBe("hypervisor-error");
        moved.Error.Detail.ShouldBe($"Machine '{spec.MachineId}': the migration failed; the machine stays where it was.");
        moved.Error.Cause.ShouldNotBeNull().ShouldContain("certificate", Case.Insensitive);
        (await cloud2.InspectAsync(spec.MachineId, Ct)).ShouldBeNull("the destination is cleaned up");
        TestGuest.ProcessesMentioning(Path.Combine(_root, "cloud-2")).ShouldBeEmpty();
        Directory.Exists(Path.Combine(_root, "cloud-2", "machines", spec.MachineId)).ShouldBeFalse();
        (await cloud1.InspectAsync(spec.MachineId, Ct))!.State.ShouldBe(DriverMachineState.Running);
        var before = await LastTickAsync(cloud1, spec.MachineId);
        await WaitForAsync(async () => await LastTickAsync(cloud1, spec.MachineId) > before + 1, "ticks at the source after the refusal");
    }

    [Fact]
    public async Task Move_FromASourceTheDestinationDoesNotExpect_IsRefusedByTheDestination_AndTheGuestRunsOnAtTheSource()
    {
        var (cloud1, cloud2) = (Cloud("cloud-1"), Cloud("cloud-2"));
        var authority = Authority("federation");
        var spec = Spec("qemu-a");
        await cloud1.CreateAsync(spec, null, Ct);

        // Same authority, right destination name: only the destination's check of the source's subject refuses.
        var moved = await CrossFabricMigration.MoveAsync(cloud1, cloud2, spec.MachineId, "qemu-b",
            Tls(authority, "cloud-1", peer: "127.0.0.1"), Tls(authority, "cloud-2", peer: "CN=cloud-3"), null, Ct);

        moved.Error.ShouldNotBeNull().Code.ShouldBe("hypervisor-error");
        (await cloud2.InspectAsync(spec.MachineId, Ct)).ShouldBeNull("the destination is cleaned up");
        TestGuest.ProcessesMentioning(Path.Combine(_root, "cloud-2")).ShouldBeEmpty();
        (await cloud1.InspectAsync(spec.MachineId, Ct))!.State.ShouldBe(DriverMachineState.Running);
        var before = await LastTickAsync(cloud1, spec.MachineId);
        await WaitForAsync(async () => await LastTickAsync(cloud1, spec.MachineId) > before + 1, "ticks at the source after the refusal");
    }

    private static async Task WriteAsync(QemuDriver driver, string machineId, string device, string command)
    {
        var written = await driver.QmpOf(machineId)!.ExecuteAsync("human-monitor-command",
            new JsonObject { ["command-line"] = $"qemu-io -d /machine/peripheral/{device}/virtio-backend \"{command}\"" }, Ct);
        written.Succeeded.ShouldBeTrue();
        (written.Return.GetString() ?? "").ShouldNotContain("error", Case.Insensitive);
    }

    private QemuDriver Cloud(string name)
    {
        var options = QemuDriverConformanceTests.Options(guest, Path.Combine(_root, name));
        var driver = new QemuDriver(options, TimeProvider.System);
        _drivers.Add(driver);
        return driver;
    }

    private FederationAuthority Authority(string name) =>
        FederationAuthority.Create(Path.Combine(_root, "ca-" + name), name, FederationKeyAlgorithm.Ecdsa, TimeProvider.System);

    /// <summary>A cloud's certificate from <paramref name="authority"/>, as the federation issues it (API URL on loopback), written as PEM files.</summary>
    private MigrationTls Tls(FederationAuthority authority, string cloud, string peer)
    {
        var issued = authority.Issue(new CloudIdentity(cloud, cloud + "@xmpp.test", new Uri("https://127.0.0.1:9443/")));
        var directory = Directory.CreateDirectory(Path.Combine(_root, "pem-" + cloud + "-" + issued.Issued.Serial[..8])).FullName;
        File.WriteAllText(Path.Combine(directory, "ca.pem"), authority.Certificate.ExportCertificatePem() + "\n");
        File.WriteAllText(Path.Combine(directory, "cert.pem"), issued.CertificatePem);
        File.WriteAllText(Path.Combine(directory, "key.pem"), issued.PrivateKeyPem);
        return new MigrationTls(Path.Combine(directory, "ca.pem"), Path.Combine(directory, "cert.pem"), Path.Combine(directory, "key.pem"), peer);
    }

    private static MachineSpec Spec(string host) =>
        new(Ids.New(Ids.Machine, TimeProvider.System), "acc_test", host, 1, 256, 1, null, null,
            new Dictionary<string, string>(), new Dictionary<string, string>(), null, [], []);

    private static async Task<string> ConsoleAsync(QemuDriver driver, string id) => (await driver.ConsoleLogAsync(id, 1 << 20, Ct)).Value;

    private static async Task<int> LastTickAsync(QemuDriver driver, string id)
    {
        var ticks = TickPattern().Matches(await ConsoleAsync(driver, id));
        return ticks.Count == 0 ? 0 : int.Parse(ticks[^1].Groups[1].Value, CultureInfo.InvariantCulture);
    }

    private static Task WaitForAsync(Func<Task<bool>> condition, string what) =>
        Polling.UntilAsync(condition, what, TimeSpan.FromMinutes(2), TimeSpan.FromMilliseconds(100));

    [GeneratedRegex(@"TICK (\d+) ")]
    private static partial Regex TickPattern();

    /// <summary>Records progress as it is reported (Progress&lt;T&gt; would post it later, on the thread pool).</summary>
    private sealed class SyncProgress(List<int> values) : IProgress<int>
    {
        public void Report(int value)
        {
            lock (values)
            {
                values.Add(value);
            }
        }
    }

    public void Dispose()
    {
        foreach (var driver in _drivers)
        {
            driver.Dispose();
        }
        TestGuest.KillProcessesMentioningAsync(_root).GetAwaiter().GetResult();
        TempDirectories.TryDelete(_root);
    }
}

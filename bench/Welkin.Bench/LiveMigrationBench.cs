using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Welkin.Compute.Qemu;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Intercloud.Trust;

namespace Welkin.Bench;

/// <summary>
/// A live move between two fabrics that share no storage, with the disk, over TLS: through the QEMU
/// driver (two <see cref="QemuDriver"/>s with roots of their own, <see cref="CrossFabricMigration"/>)
/// against two bare QEMU processes driven by QMP alone with the same sequence (NBD export on the
/// destination, <c>blockdev-mirror</c>, <c>migrate</c>, mirror ended, destination resumed), the same
/// guest (the test guest, 256 MiB, 1 vCPU), the same disk (a 1 GiB overlay on a base holding 32 MiB
/// of data) and the same certificates (the federation authority's, ECDSA), TLS on in both. Rounds
/// alternate; each side moves its guest back and forth. Times run from creating the destination's
/// disk until the guest runs there and the source QEMU has ended.
/// </summary>
internal static class LiveMigrationBench
{
    private const string Marker = "welkin-guest ready";
    private static readonly CancellationToken None = CancellationToken.None;

    public static async Task RunAsync(string[] args)
    {
        var rounds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 5;
        var root = args.Length > 1 ? args[1] : Path.Combine(Path.GetTempPath(), "welkin-live-bench-" + Guid.NewGuid().ToString("n")[..8]);
        Directory.CreateDirectory(root);
        Console.WriteLine($"welkin-bench live-migration: {Environment.ProcessorCount} cores, {rounds} rounds, directory {root}");
        try
        {
            var guestDirectory = Path.Combine(Path.GetTempPath(), "welkin-test-guest");
            await RunAsync(Path.Combine(ServerProcess.RepositoryRoot(), "scripts", "build-test-guest.sh"), guestDirectory);
            var image = await ImageAsync(root, Path.Combine(guestDirectory, "vmlinuz"), Path.Combine(guestDirectory, "initrd.gz"));
            var (tls1, tls2) = Certificates(root);
            var welkin = await WelkinAsync(root, image, tls1, tls2, rounds);
            var bare = await BareAsync(root, image, tls1, tls2, rounds);
            Print("through the driver", welkin);
            Print("bare QEMU over QMP ", bare);
            var w = Median(welkin.Select(r => r.Total.TotalMilliseconds));
            var b = Median(bare.Select(r => r.Total.TotalMilliseconds));
            Console.WriteLine($"median total: driver {w / 1000:0.000} s | bare {b / 1000:0.000} s | ratio {w / b:0.00} (overhead {w - b:0} ms)");
        }
        finally
        {
            foreach (var pid in QemuProcess.ProcessesMentioning(root))
            {
                await QemuProcess.KillAsync(pid);
            }
            Directory.Delete(root, recursive: true);
        }
    }

    private sealed record Round(TimeSpan Total, TimeSpan Downtime, long DiskBytes, long MemoryBytes);

    private static void Print(string what, List<Round> rounds) =>
        Console.WriteLine($"{what}: total median {Median(rounds.Select(r => r.Total.TotalMilliseconds)) / 1000:0.000} s "
            + $"({string.Join(", ", rounds.Select(r => r.Total.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture)))}), "
            + $"downtime median {Median(rounds.Select(r => r.Downtime.TotalMilliseconds)):0} ms, "
            + $"disk mirrored over {Median(rounds.Select(r => (double)r.DiskBytes)) / (1 << 20):0.0} MiB, memory sent {Median(rounds.Select(r => (double)r.MemoryBytes)) / (1 << 20):0.0} MiB");

    // ---- through the driver ------------------------------------------------------------------

    private static async Task<List<Round>> WelkinAsync(string root, BootImage image, MigrationTls tls1, MigrationTls tls2, int rounds)
    {
        await using var cloud1 = Driver(Path.Combine(root, "cloud-1"), "c1-host", image);
        await using var cloud2 = Driver(Path.Combine(root, "cloud-2"), "c2-host", image);
        var spec = new MachineSpec(Ids.New(Ids.Machine, TimeProvider.System), "acc_bench", "c1-host", 1, 256, 1, image.ImageId, null,
            new Dictionary<string, string>(), new Dictionary<string, string>(), null, [], []);
        var created = await cloud1.CreateAsync(spec, null, None);
        Check(created.Error);
        var results = new List<Round>();
        for (var i = 0; i < rounds; i++)
        {
            var (from, to, host) = i % 2 == 0 ? (cloud1, cloud2, "c2-host") : (cloud2, cloud1, "c1-host");
            var (fromTls, toTls) = Roles(i, tls1, tls2);
            var moved = await CrossFabricMigration.MoveAsync(from, to, spec.MachineId, host, fromTls, toTls, null, None);
            Check(moved.Error);
            results.Add(new Round(moved.Value.Total, moved.Value.Downtime, moved.Value.DiskBytes, moved.Value.MemoryBytes));
        }
        await (rounds % 2 == 0 ? cloud1 : cloud2).DestroyAsync(spec.MachineId, None);
        return results;
    }

    /// <summary>Even rounds go from cloud 1 to cloud 2: a source names the destination's host (its certificate's subjectAltName), a destination the source's subject.</summary>
    private static (MigrationTls From, MigrationTls To) Roles(int round, MigrationTls tls1, MigrationTls tls2) => round % 2 == 0
        ? (tls1 with { PeerName = "127.0.0.1" }, tls2 with { PeerName = "CN=cloud-1" })
        : (tls2 with { PeerName = "127.0.0.1" }, tls1 with { PeerName = "CN=cloud-2" });

    private static QemuDriver Driver(string root, string host, BootImage image) =>
        new(new QemuFabricOptions
        {
            Root = root,
            Hosts = [new FabricHost(host, "local", "local", 8, 8192, 100)],
            StopMachinesOnShutdown = true,
        }, TimeProvider.System, new Images(image));

    private sealed class Images(BootImage image) : IImageResolver
    {
        public Task<Result<BootImage>> ResolveAsync(string imageId, CancellationToken ct) => Task.FromResult<Result<BootImage>>(image);
    }

    // ---- bare QEMU ---------------------------------------------------------------------------

    private static async Task<List<Round>> BareAsync(string root, BootImage image, MigrationTls tls1, MigrationTls tls2, int rounds)
    {
        var directory = Path.Combine(root, "bare");
        Directory.CreateDirectory(directory);
        var disk = Path.Combine(directory, "disk-0.qcow2");
        await RunAsync("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", image.DiskPath, disk, "1G");
        var source = await QemuProcess.StartAsync(BareOptions(image, Path.Combine(directory, "run-0"), disk, incoming: false), None);
        await source.WaitForConsoleAsync(Marker, None);
        var results = new List<Round>();
        for (var i = 0; i < rounds; i++)
        {
            var (fromTls, toTls) = Roles(i, tls1, tls2);
            var (destination, round) = await BareMoveAsync(image, source, Path.Combine(directory, $"run-{i + 1}"), fromTls, toTls);
            results.Add(round);
            source = destination;
        }
        await source.DisposeAsync();
        return results;
    }

    private static QemuLaunchOptions BareOptions(BootImage image, string run, string disk, bool incoming) =>
        new("bare", run, image.KernelPath!, image.RamdiskPath!, MemoryMiB: 256, Vcpus: 1,
            HostForwards: [new HostForward(ServerProcess.FreePort(), 22), new HostForward(ServerProcess.FreePort(), 80)],
            QmpSocket: Path.Combine(run, "q.sock"), Disks: [new QemuDisk("root", disk)], HotplugPorts: 6,
            ExtraKernelArguments: "welkin.ip=10.9.9.15/24,10.9.9.2", UserNetwork: "10.9.9.0/24",
            Incoming: incoming ? "defer" : null, StartPaused: incoming);

    /// <summary>The same QMP sequence as the driver's, written out: returns the destination (the new source) and what the move took.</summary>
    private static async Task<(QemuProcess Destination, Round Round)> BareMoveAsync(BootImage image, QemuProcess source, string run, MigrationTls fromTls, MigrationTls toTls)
    {
        Directory.CreateDirectory(run);
        var disk = Path.Combine(run, "disk.qcow2");
        var size = JsonDocument.Parse(await OutputAsync("qemu-img", "info", "-U", "--output=json", source.Options.Disks![0].Path)).RootElement.GetProperty("virtual-size").GetInt64();
        // As for the driver, whose total starts once the source has said what the destination needs (the disk's size).
        var started = Stopwatch.GetTimestamp();
        await RunAsync("qemu-img", "create", "-q", "-f", "qcow2", disk, size.ToString(CultureInfo.InvariantCulture));
        var destination = await QemuProcess.StartAsync(BareOptions(image, run, disk, incoming: true), None);
        var (a, b) = (source.Qmp, destination.Qmp);
        var (nbdPort, migrationPort) = (ServerProcess.FreePort(), ServerProcess.FreePort());
        await Qmp(b, "object-add", Credentials(toTls, Path.Combine(run, "tls-in"), "server"));
        await Qmp(b, "object-add", new JsonObject { ["qom-type"] = "authz-simple", ["id"] = "authz0", ["identity"] = toTls.PeerName });
        await Qmp(b, "migrate-set-parameters", new JsonObject { ["tls-creds"] = "tls0", ["tls-authz"] = "authz0" });
        await Qmp(b, "nbd-server-start", new JsonObject
        {
            ["addr"] = new JsonObject { ["type"] = "inet", ["data"] = new JsonObject { ["host"] = "127.0.0.1", ["port"] = nbdPort.ToString(CultureInfo.InvariantCulture) } },
            ["tls-creds"] = "tls0",
            ["tls-authz"] = "authz0",
        });
        await Qmp(b, "block-export-add", new JsonObject { ["type"] = "nbd", ["id"] = "exp0", ["node-name"] = "disk-root", ["name"] = "root", ["writable"] = true });
        await Qmp(b, "migrate-incoming", new JsonObject { ["uri"] = $"tcp:127.0.0.1:{migrationPort}" });
        await Qmp(a, "object-add", Credentials(fromTls, Path.Combine(run, "tls-out"), "client"));
        await Qmp(a, "blockdev-add", new JsonObject
        {
            ["driver"] = "nbd", ["node-name"] = "tgt0", ["export"] = "root", ["tls-creds"] = "tls0", ["tls-hostname"] = fromTls.PeerName,
            ["server"] = new JsonObject { ["type"] = "inet", ["host"] = "127.0.0.1", ["port"] = nbdPort.ToString(CultureInfo.InvariantCulture) },
        });
        await Qmp(a, "blockdev-mirror", new JsonObject { ["job-id"] = "m0", ["device"] = "disk-root", ["target"] = "tgt0", ["sync"] = "full" });
        long diskBytes;
        while (true)
        {
            var job = (await Qmp(a, "query-block-jobs", null)).EnumerateArray().Single();
            if (job.GetProperty("ready").GetBoolean())
            {
                diskBytes = job.GetProperty("offset").GetInt64();
                break;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(10));
        }
        await Qmp(a, "migrate-set-parameters", new JsonObject { ["tls-creds"] = "tls0", ["tls-hostname"] = fromTls.PeerName });
        await Qmp(a, "migrate", new JsonObject { ["uri"] = $"tcp:127.0.0.1:{migrationPort}" });
        JsonElement status;
        while ((status = await Qmp(a, "query-migrate", null)).GetProperty("status").GetString() != "completed")
        {
            if (status.GetProperty("status").GetString() is "failed" or "cancelled")
            {
                throw new InvalidOperationException("bare migration failed: " + status);
            }
            await Task.Delay(TimeSpan.FromMilliseconds(10));
        }
        await Qmp(a, "block-job-cancel", new JsonObject { ["device"] = "m0" });
        while ((await Qmp(a, "query-block-jobs", null)).GetArrayLength() > 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(10));
        }
        await Qmp(a, "blockdev-del", new JsonObject { ["node-name"] = "tgt0" });
        await Qmp(b, "block-export-del", new JsonObject { ["id"] = "exp0", ["mode"] = "hard" });
        await Qmp(b, "nbd-server-stop", null);
        await Qmp(b, "cont", null);
        // The driver's move ends the source QEMU before it returns: so does this one.
        await source.DisposeAsync();
        var total = Stopwatch.GetElapsedTime(started);
        // The next move starts from a clean destination: credentials are added again there.
        await Qmp(b, "migrate-set-parameters", new JsonObject { ["tls-creds"] = "", ["tls-hostname"] = "", ["tls-authz"] = "" });
        await Qmp(b, "object-del", new JsonObject { ["id"] = "authz0" });
        await Qmp(b, "object-del", new JsonObject { ["id"] = "tls0" });
        var round = new Round(total, TimeSpan.FromMilliseconds(status.GetProperty("downtime").GetInt64()), diskBytes, status.GetProperty("ram").GetProperty("transferred").GetInt64());
        return (destination, round);
    }

    private static JsonObject Credentials(MigrationTls tls, string directory, string endpoint)
    {
        Directory.CreateDirectory(directory);
        File.Copy(tls.CaCertificatePath, Path.Combine(directory, "ca-cert.pem"));
        File.Copy(tls.CertificatePath, Path.Combine(directory, endpoint + "-cert.pem"));
        File.Copy(tls.PrivateKeyPath, Path.Combine(directory, endpoint + "-key.pem"));
        return new JsonObject { ["qom-type"] = "tls-creds-x509", ["id"] = "tls0", ["dir"] = directory, ["endpoint"] = endpoint, ["verify-peer"] = true };
    }

    private static async Task<JsonElement> Qmp(QmpClient qmp, string command, JsonObject? arguments)
    {
        var answer = await qmp.ExecuteAsync(command, arguments, None);
        return answer.Succeeded ? answer.Return : throw new InvalidOperationException($"QMP {command}: {answer.Error!.Description}");
    }

    // ---- the guest, its disk and the certificates --------------------------------------------

    /// <summary>The test guest as an image whose base disk holds 32 MiB of data, so the disk copy is not empty.</summary>
    private static async Task<BootImage> ImageAsync(string root, string kernel, string initrd)
    {
        var disk = Path.Combine(root, "base.qcow2");
        await RunAsync("qemu-img", "create", "-q", "-f", "qcow2", disk, "64M");
        await RunAsync("qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 32M", disk);
        return new BootImage("img_bench", disk, "qcow2", Sha256(disk), kernel, Sha256(kernel), initrd, Sha256(initrd), null, Marker);
    }

    private static string Sha256(string path)
    {
        using var file = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(file));
    }

    /// <summary>Two clouds' certificates from one federation authority, as PEM files.</summary>
    private static (MigrationTls Cloud1, MigrationTls Cloud2) Certificates(string root)
    {
        using var authority = FederationAuthority.Create(Path.Combine(root, "ca"), "federation", FederationKeyAlgorithm.Ecdsa, TimeProvider.System);
        MigrationTls Issue(string cloud)
        {
            var issued = authority.Issue(new CloudIdentity(cloud, cloud + "@xmpp.test", new Uri("https://127.0.0.1:9443/")));
            var directory = Directory.CreateDirectory(Path.Combine(root, "pem-" + cloud)).FullName;
            File.WriteAllText(Path.Combine(directory, "ca.pem"), authority.Certificate.ExportCertificatePem() + "\n");
            File.WriteAllText(Path.Combine(directory, "cert.pem"), issued.CertificatePem);
            File.WriteAllText(Path.Combine(directory, "key.pem"), issued.PrivateKeyPem);
            return new MigrationTls(Path.Combine(directory, "ca.pem"), Path.Combine(directory, "cert.pem"), Path.Combine(directory, "key.pem"), null);
        }
        return (Issue("cloud-1"), Issue("cloud-2"));
    }

    private static void Check(Error? error)
    {
        if (error is not null)
        {
            throw new InvalidOperationException($"{error.Code}: {error.Detail} ({error.Cause})");
        }
    }

    private static async Task RunAsync(string program, params string[] arguments) => await OutputAsync(program, arguments);

    private static async Task<string> OutputAsync(string program, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true })!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return process.ExitCode == 0 ? output : throw new InvalidOperationException($"{program} {arguments[0]} failed");
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }
}

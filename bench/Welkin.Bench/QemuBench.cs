using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Welkin.Compute.Qemu;
using Welkin.Contracts;

namespace Welkin.Bench;

/// <summary>
/// Real virtual machines through Welkin against QEMU launched by hand, in the same run on the same
/// machine, with the test guest (scripts/build-test-guest.sh) as the image:
/// <list type="bullet">
/// <item>boot: from the API's provision request to the guest's ready marker on its serial console,
/// against a bare <c>qemu-system-x86_64</c> of the same kernel, initramfs, disk base, size and
/// accelerator from its launch to the same marker; rounds alternate, one machine at a time;</item>
/// <item>throughput: four provisions at once, until all four guests are up (machines booted per minute), and four bare launches at once;</item>
/// <item>live migration: through Welkin (the request until its job has succeeded) against a bare QMP
/// migration of the same guest (from starting the destination until <c>query-migrate</c> says completed).</item>
/// </list>
/// Both sides detect the marker the same way: the serial log file polled every 10 ms.
/// </summary>
internal static class QemuBench
{
    private const string Marker = "welkin-guest ready";
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(10);
    private static readonly string[] HostNames = ["qemu-a", "qemu-b"];

    public static async Task RunAsync(string[] args)
    {
        var rounds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 5;
        var root = args.Length > 1 ? args[1] : Path.Combine(Path.GetTempPath(), "welkin-qemu-bench-" + Guid.NewGuid().ToString("n")[..8]);
        Directory.CreateDirectory(root);
        Console.WriteLine($"welkin-bench qemu: {Environment.ProcessorCount} cores, {rounds} rounds, directory {root}");
        var guest = await BuildGuestAsync(Path.Combine(Path.GetTempPath(), "welkin-test-guest"));
        var server = await ServerProcess.StartAsync(root, Settings);
        try
        {
            var admin = server.Client(server.AdminToken);
            var bench = await SetUpAsync(server, admin, guest, root);
            await BootAsync(bench, guest, root, rounds);
            await ThroughputAsync(bench, guest, root);
            await MigrationAsync(bench, admin, guest, root, Math.Max(3, rounds));
        }
        finally
        {
            await server.StopAsync();
            await server.DisposeAsync();
            foreach (var pid in QemuProcess.ProcessesMentioning(root))
            {
                await QemuProcess.KillAsync(pid);
            }
            Directory.Delete(root, recursive: true);
        }
    }

    private sealed record Guest(string Kernel, string Initrd);

    private sealed record Bench(HttpClient Tenant, string ContractId, string DataDir, string BaseDisk);

    private static object Settings(int port, string dataDir) => new Dictionary<string, object>
    {
        ["Logging"] = new Dictionary<string, object> { ["LogLevel"] = new Dictionary<string, string> { ["Default"] = "Warning" } },
        ["Welkin"] = new Dictionary<string, object> { ["Port"] = port, ["Bind"] = "127.0.0.1", ["DataDir"] = dataDir, ["Fabric"] = "qemu" },
        ["Fabric"] = new Dictionary<string, object>
        {
            ["StopMachinesOnShutdown"] = true,
            ["Hosts"] = HostNames.Select(name => new Dictionary<string, object>
            {
                ["Name"] = name, ["Region"] = "local", ["Jurisdiction"] = "US", ["Cores"] = 8, ["MemoryMiB"] = 8192, ["DiskGiB"] = 100,
            }).ToList(),
        },
    };

    private static async Task<Guest> BuildGuestAsync(string directory)
    {
        var script = Path.Combine(ServerProcess.RepositoryRoot(), "scripts", "build-test-guest.sh");
        using var build = Process.Start(script, [directory]);
        await build.WaitForExitAsync();
        return build.ExitCode == 0
            ? new Guest(Path.Combine(directory, "vmlinuz"), Path.Combine(directory, "initrd.gz"))
            : throw new InvalidOperationException("build-test-guest.sh failed");
    }

    /// <summary>The guest as images, a template and offering of 1 vCPU / 256 MiB / 1 GiB machines, and a tenant with a contract for 20.</summary>
    private static async Task<Bench> SetUpAsync(ServerProcess server, HttpClient admin, Guest guest, string root)
    {
        var baseDisk = Path.Combine(root, "guest-disk.qcow2");
        await RunAsync("qemu-img", "create", "-q", "-f", "qcow2", baseDisk, "64M");
        async Task<ImageView> UploadAsync(string path, string name)
        {
            await using var file = File.OpenRead(path);
            using var content = new StreamContent(file);
            content.Headers.ContentType = new("application/octet-stream");
            return await ServerProcess.ReadAsync<ImageView>(await admin.PostAsync($"/api/v1/images?name={name}", content));
        }
        var kernel = await UploadAsync(guest.Kernel, "kernel");
        var ramdisk = await UploadAsync(guest.Initrd, "initrd");
        var image = await UploadAsync(baseDisk, "guest");
        await ServerProcess.ReadAsync<ImageView>(await admin.PutAsJsonAsync($"/api/v1/images/{image.Id}/boot",
            new ImageBoot(kernel.Id, ramdisk.Id, null, Marker), WelkinJson.Client));
        var spec = new TemplateSpec("bench-guest",
        [
            new VirtualSystemSpec("web", new HardwareChoices(new Choice<int>([1], 1), new Choice<long>([256], 256), new Choice<long>([1], 1)), ImageId: image.Id),
        ]);
        var template = await ServerProcess.ReadAsync<TemplateView>(await admin.PostAsJsonAsync("/api/v1/templates", spec, WelkinJson.Client));
        await ServerProcess.ReadAsync<TemplateView>(await admin.PostAsJsonAsync($"/api/v1/templates/{template.Id}/publish", new TemplateTransitionRequest(null), WelkinJson.Client));
        var offering = await ServerProcess.ReadAsync<OfferingView>(await admin.PostAsJsonAsync("/api/v1/offerings",
            new OfferingSpec("bench-vm", OfferingKind.Compute, new PricePlan("USD", "month", [new PriceRate("compute-unit", "unit-month", 10m)]),
                new SlaTerms(99.9m, 90m), new OfferingTerms(0, 0m), "compute-unit", TemplateId: template.Id, TemplateVersion: 1), WelkinJson.Client));
        await ServerProcess.ReadAsync<OfferingView>(await admin.PostAsJsonAsync($"/api/v1/offerings/{offering.Id}/publish", new OfferingTransitionRequest(), WelkinJson.Client));
        var signUp = await ServerProcess.ReadAsync<SignUpResponse>(await server.Client(null).PostAsJsonAsync("/api/v1/catalog/sign-up",
            new SignUpRequest("qemu-bench", "QEMU Bench", new SignUpAdmin("admin")), WelkinJson.Client));
        await ServerProcess.ReadAsync<AccountView>(await admin.PutAsJsonAsync($"/api/v1/accounts/{signUp.Account.Id}/limits",
            new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = 100, ["storage-unit"] = 100 }), WelkinJson.Client));
        var tenant = server.Client(signUp.Token.Secret);
        var proposed = await ServerProcess.ReadAsync<ContractView>(await tenant.PostAsJsonAsync("/api/v1/contracts",
            new ContractRequest([new ContractItemRequest(offering.Id, 20)]), WelkinJson.Client));
        await ServerProcess.ReadAsync<ContractView>(await tenant.PostAsJsonAsync($"/api/v1/contracts/{proposed.Id}/accept", new ContractTransitionRequest(), WelkinJson.Client));
        return new Bench(tenant, proposed.Id, Path.Combine(root, "data"), baseDisk);
    }

    // ---- boot ------------------------------------------------------------------------------------

    private static async Task BootAsync(Bench bench, Guest guest, string root, int rounds)
    {
        var welkin = new List<double>();
        var bare = new List<double>();
        var welkinLaunch = new List<double>();
        var bareLaunch = new List<double>();
        for (var i = 0; i < rounds; i++)
        {
            var (instance, ms, launch) = await ProvisionToMarkerAsync(bench);
            welkin.Add(ms);
            welkinLaunch.Add(launch);
            await TerminateAsync(bench, instance);
            var (bareMs, bareLaunchMs) = await BareToMarkerAsync(guest, bench.BaseDisk, Path.Combine(root, $"bare-{i}"));
            bare.Add(bareMs);
            bareLaunch.Add(bareLaunchMs);
        }
        var w = Median(welkin);
        var b = Median(bare);
        Console.WriteLine($"boot to '{Marker}': Welkin provision {Fmt(welkin)} | bare qemu {Fmt(bare)} | median ratio {w / b:0.000} (difference {w - b:0} ms)");
        Console.WriteLine($"  until QEMU has written its pid file (the guest starts): Welkin {Fmt(welkinLaunch)} | bare {Fmt(bareLaunch)} | control plane before the boot {Median(welkinLaunch) - Median(bareLaunch):0} ms");
    }

    /// <summary>POST /api/v1/instances until the guest's marker shows in its serial log.</summary>
    private static async Task<(string Instance, double Ms, double LaunchMs)> ProvisionToMarkerAsync(Bench bench)
    {
        var started = Stopwatch.GetTimestamp();
        var accepted = await ServerProcess.ReadAsync<AcceptedView<InstanceView>>(await bench.Tenant.PostAsJsonAsync("/api/v1/instances",
            new ProvisionRequest(bench.ContractId, VirtualSystems: [new VirtualSystemChoice("web", 1)]), WelkinJson.Client));
        var run = Path.Combine(bench.DataDir, "qemu", "machines", accepted.Resource.Machines[0], "run-a");
        var launch = await WaitForFileAsync(Path.Combine(run, "qemu.pid"), started);
        await WaitForMarkerAsync(Path.Combine(run, "serial.log"));
        var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        await WaitJobAsync(bench.Tenant, accepted.Job.Id);
        return (accepted.Resource.Id, ms, launch);
    }

    /// <summary>Milliseconds from <paramref name="started"/> until <paramref name="path"/> exists.</summary>
    private static async Task<double> WaitForFileAsync(string path, long started)
    {
        while (!File.Exists(path))
        {
            if (Stopwatch.GetElapsedTime(started) > TimeSpan.FromMinutes(3))
            {
                throw new TimeoutException($"{path} never appeared");
            }
            await Task.Delay(TimeSpan.FromMilliseconds(1));
        }
        return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    }

    /// <summary>The same guest launched by hand: a fresh overlay on the same base, the same size, devices and accelerator.</summary>
    private static async Task<(double Ms, double LaunchMs)> BareToMarkerAsync(Guest guest, string baseDisk, string directory)
    {
        var options = await BareOptionsAsync(guest, baseDisk, directory);
        var started = Stopwatch.GetTimestamp();
        var launched = LaunchAsync(options);
        var launch = await WaitForFileAsync(options.PidFilePath, started);
        await launched;
        await WaitForMarkerAsync(options.SerialLogPath);
        var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        await KillAsync(options);
        return (ms, launch);
    }

    private static async Task<QemuLaunchOptions> BareOptionsAsync(Guest guest, string baseDisk, string directory, string? incoming = null, string? disk = null)
    {
        Directory.CreateDirectory(directory);
        if (disk is null)
        {
            disk = Path.Combine(directory, "disk.qcow2");
            await RunAsync("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", baseDisk, disk, "1G");
        }
        return new QemuLaunchOptions("bare", directory, guest.Kernel, guest.Initrd, MemoryMiB: 256, Vcpus: 1,
            HostForwards: incoming is null ? [new HostForward(ServerProcess.FreePort(), 22), new HostForward(ServerProcess.FreePort(), 80)] : [],
            QmpSocket: Path.Combine(directory, "q.sock"), Disks: [new QemuDisk("root", disk)], HotplugPorts: 6,
            ExtraKernelArguments: "welkin.ip=10.9.9.15/24,10.9.9.2", UserNetwork: "10.9.9.0/24", Incoming: incoming);
    }

    private static async Task LaunchAsync(QemuLaunchOptions options)
    {
        using var qemu = Process.Start(options.Executable, QemuProcess.BuildArguments(options));
        await qemu.WaitForExitAsync();
        if (qemu.ExitCode != 0)
        {
            throw new InvalidOperationException($"bare qemu refused to start ({qemu.ExitCode})");
        }
    }

    private static async Task KillAsync(QemuLaunchOptions options)
    {
        if (QemuProcess.ReadPid(options.PidFilePath) is { } pid)
        {
            await QemuProcess.KillAsync(pid);
        }
    }

    // ---- throughput --------------------------------------------------------------------------

    private static async Task ThroughputAsync(Bench bench, Guest guest, string root)
    {
        var started = Stopwatch.GetTimestamp();
        var booted = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => ProvisionToMarkerAsync(bench)));
        var welkin = Stopwatch.GetElapsedTime(started).TotalSeconds;
        foreach (var (instance, _, _) in booted)
        {
            await TerminateAsync(bench, instance);
        }
        started = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, 4).Select(i => BareToMarkerAsync(guest, bench.BaseDisk, Path.Combine(root, $"bare-four-{i}"))));
        var bare = Stopwatch.GetElapsedTime(started).TotalSeconds;
        Console.WriteLine($"four at once: Welkin {welkin:0.00} s until all four guests were up = {4 * 60 / welkin:0.0} machines booted/min "
            + $"(each {string.Join(", ", booted.Select(b => (b.Ms / 1000).ToString("0.00", CultureInfo.InvariantCulture)))} s) | bare qemu {bare:0.00} s = {4 * 60 / bare:0.0}/min");
    }

    // ---- live migration ----------------------------------------------------------------------

    private static async Task MigrationAsync(Bench bench, HttpClient admin, Guest guest, string root, int rounds)
    {
        var (instance, _, _) = await ProvisionToMarkerAsync(bench);
        var machine = (await ServerProcess.ReadAsync<InstanceView>(await bench.Tenant.GetAsync($"/api/v1/instances/{instance}"))).Machines[0];
        var source = await BareOptionsAsync(guest, bench.BaseDisk, Path.Combine(root, "bare-mig-a"));
        await LaunchAsync(source);
        await WaitForMarkerAsync(source.SerialLogPath);
        var welkin = new List<double>();
        var bare = new List<double>();
        for (var i = 0; i < rounds; i++)
        {
            var host = (await ServerProcess.ReadAsync<MachineView>(await admin.GetAsync($"/api/v1/machines/{machine}"))).Host == "qemu-a" ? "qemu-b" : "qemu-a";
            var started = Stopwatch.GetTimestamp();
            var accepted = await ServerProcess.ReadAsync<AcceptedView<MachineView>>(await admin.PostAsJsonAsync($"/api/v1/machines/{machine}/migrate", new MigrateRequest(host), WelkinJson.Client));
            var job = await WaitJobAsync(admin, accepted.Job.Id);
            welkin.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            if (job.State != JobState.Succeeded)
            {
                throw new InvalidOperationException($"migration failed: {job.ErrorDetail}");
            }
            (source, var ms) = await BareMigrateAsync(guest, bench.BaseDisk, source, Path.Combine(root, $"bare-mig-{i}"));
            bare.Add(ms);
        }
        await KillAsync(source);
        await TerminateAsync(bench, instance);
        var w = Median(welkin);
        var b = Median(bare);
        Console.WriteLine($"live migration: Welkin {Fmt(welkin)} | bare QMP {Fmt(bare)} | median ratio {w / b:0.00} (overhead {w - b:0} ms)");
    }

    /// <summary>Starts a destination waiting for the guest, migrates the source there over QMP and waits for completion; returns the new source.</summary>
    private static async Task<(QemuLaunchOptions Destination, double Ms)> BareMigrateAsync(Guest guest, string baseDisk, QemuLaunchOptions source, string directory)
    {
        var port = ServerProcess.FreePort();
        var started = Stopwatch.GetTimestamp();
        var destination = await BareOptionsAsync(guest, baseDisk, directory, $"tcp:127.0.0.1:{port}", disk: source.Disks![0].Path);
        await LaunchAsync(destination);
        await using (var qmp = await QmpClient.ConnectAsync(source.QmpSocketPath, CancellationToken.None))
        {
            var migrate = await qmp.ExecuteAsync("migrate", new JsonObject { ["uri"] = $"tcp:127.0.0.1:{port}" }, CancellationToken.None);
            if (!migrate.Succeeded)
            {
                throw new InvalidOperationException("bare migrate: " + migrate.Error!.Description);
            }
            while ((await qmp.ExecuteAsync("query-migrate", null, CancellationToken.None)).Return.GetProperty("status").GetString() != "completed")
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20));
            }
        }
        var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        await KillAsync(source);
        return (destination, ms);
    }

    // ---- helpers -----------------------------------------------------------------------------

    private static async Task WaitForMarkerAsync(string serialLog)
    {
        var deadline = Stopwatch.StartNew();
        while (!QemuProcess.ReadConsole(serialLog).Contains(Marker, StringComparison.Ordinal))
        {
            if (deadline.Elapsed > TimeSpan.FromMinutes(3))
            {
                throw new TimeoutException($"no '{Marker}' in {serialLog}");
            }
            await Task.Delay(Poll);
        }
    }

    private static async Task<JobView> WaitJobAsync(HttpClient client, string jobId)
    {
        while (true)
        {
            var job = await ServerProcess.ReadAsync<JobView>(await client.GetAsync($"/api/v1/jobs/{jobId}"));
            if (job.State is JobState.Succeeded or JobState.Failed)
            {
                return job;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(20));
        }
    }

    private static async Task TerminateAsync(Bench bench, string instance)
    {
        var accepted = await ServerProcess.ReadAsync<AcceptedView<InstanceView>>(await bench.Tenant.PostAsJsonAsync($"/api/v1/instances/{instance}/terminate", new { }, WelkinJson.Client));
        await WaitJobAsync(bench.Tenant, accepted.Job.Id);
    }

    private static async Task RunAsync(string program, params string[] arguments)
    {
        using var process = Process.Start(program, arguments);
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {arguments[0]} failed");
        }
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    private static string Fmt(List<double> ms) =>
        $"median {Median(ms) / 1000:0.000} s ({string.Join(", ", ms.Select(v => (v / 1000).ToString("0.000", CultureInfo.InvariantCulture)))})";
}

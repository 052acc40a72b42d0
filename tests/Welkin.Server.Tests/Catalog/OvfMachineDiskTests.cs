using System.Diagnostics;
using System.Formats.Tar;
using System.Net;
using System.Threading.Channels;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Compute.Simulated;
using Welkin.Contracts;
using Welkin.Core.Catalog;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;

namespace Welkin.Server.Tests.Catalog;

/// <summary>
/// A cloud whose compute driver can copy machine disks out (<see cref="IMachineDiskExport"/>), as the
/// QEMU fabric does: the simulated fabric, plus a disk per machine that qemu-img writes on request.
/// </summary>
public sealed class DiskExportApp : WelkinApp
{
    public string DiskSource { get; } = Path.Combine(Path.GetTempPath(), "welkin-machine-disk-" + Guid.NewGuid().ToString("n") + ".raw");

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(services =>
            services.AddSingleton<IComputeDriver>(sp => new DiskExportingDriver(sp.GetRequiredService<SimulatedDriver>(), DiskSource)));
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        File.Delete(DiskSource);
    }

    /// <summary>The simulated driver, and a machine's "disk" is one raw file, exported as a qcow2 copy when the machine is stopped.</summary>
    private sealed class DiskExportingDriver(SimulatedDriver inner, string disk) : IComputeDriver, IMachineDiskExport
    {
        public async Task<Result<bool>> ExportDiskAsync(string machineId, string destinationPath, CancellationToken ct)
        {
            var machine = await inner.InspectAsync(machineId, ct);
            if (machine is null)
            {
                return DriverErrors.MachineNotFound(machineId);
            }
            if (machine.State != DriverMachineState.Stopped)
            {
                return DriverErrors.InvalidState(machineId, machine.State, "export its disk");
            }
            var start = new ProcessStartInfo("qemu-img") { ArgumentList = { "convert", "-f", "raw", "-O", "qcow2", disk, destinationPath }, RedirectStandardError = true };
            using var process = Process.Start(start)!;
            await process.WaitForExitAsync(ct);
            process.ExitCode.ShouldBe(0);
            return true;
        }

        public string Kind => inner.Kind;

        public IReadOnlyList<FabricHost> Hosts => inner.Hosts;

        public DriverCapabilities Capabilities => inner.Capabilities;

        public ChannelReader<DriverEvent> Events => inner.Events;

        public Task<Result<DriverMachine>> CreateAsync(MachineSpec spec, IProgress<int>? progress, CancellationToken ct) => inner.CreateAsync(spec, progress, ct);

        public Task<Result<DriverMachine>> StartAsync(string machineId, CancellationToken ct) => inner.StartAsync(machineId, ct);

        public Task<Result<DriverMachine>> StopAsync(string machineId, bool force, CancellationToken ct) => inner.StopAsync(machineId, force, ct);

        public Task<Result<DriverMachine>> PauseAsync(string machineId, CancellationToken ct) => inner.PauseAsync(machineId, ct);

        public Task<Result<DriverMachine>> ResumeAsync(string machineId, CancellationToken ct) => inner.ResumeAsync(machineId, ct);

        public Task<Result<DriverMachine>> RebootAsync(string machineId, CancellationToken ct) => inner.RebootAsync(machineId, ct);

        public Task<Result<DriverMachine>> ResizeAsync(string machineId, int vcpus, long memoryMiB, CancellationToken ct) => inner.ResizeAsync(machineId, vcpus, memoryMiB, ct);

        public Task<Result<bool>> DestroyAsync(string machineId, CancellationToken ct) => inner.DestroyAsync(machineId, ct);

        public Task<DriverMachine?> InspectAsync(string machineId, CancellationToken ct) => inner.InspectAsync(machineId, ct);

        public Task<Result<string>> ConsoleLogAsync(string machineId, int maxBytes, CancellationToken ct) => inner.ConsoleLogAsync(machineId, maxBytes, ct);

        public Task<Result<MachineMetrics>> MetricsAsync(string machineId, CancellationToken ct) => inner.MetricsAsync(machineId, ct);

        public Task<Result<bool>> AttachVolumeAsync(string machineId, VolumeAttachment volume, CancellationToken ct) => inner.AttachVolumeAsync(machineId, volume, ct);

        public Task<Result<bool>> DetachVolumeAsync(string machineId, string volumeId, CancellationToken ct) => inner.DetachVolumeAsync(machineId, volumeId, ct);

        public Task<Result<bool>> ConnectNetworkAsync(string machineId, NetworkAttachment nic, CancellationToken ct) => inner.ConnectNetworkAsync(machineId, nic, ct);

        public Task<Result<bool>> DisconnectNetworkAsync(string machineId, string networkId, CancellationToken ct) => inner.DisconnectNetworkAsync(machineId, networkId, ct);

        public Task<Result<bool>> SetPropertiesAsync(string machineId, IReadOnlyDictionary<string, string> properties, CancellationToken ct) =>
            inner.SetPropertiesAsync(machineId, properties, ct);

        public Task<IReadOnlyList<DriverMachine>> RecoverAsync(IReadOnlyList<KnownMachine> known, CancellationToken ct) => inner.RecoverAsync(known, ct);

        public Task<Result<bool>> SetHostFailedAsync(string host, bool failed, CancellationToken ct) => inner.SetHostFailedAsync(host, failed, ct);
    }
}

public sealed class OvfMachineDiskTests(DiskExportApp app) : IClassFixture<DiskExportApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ExportMachine_WhenTheDriverCopiesDisks_SendsTheMachinesOwnDiskOnceStopped()
    {
        var content = new byte[1 << 20];
        new Random(11).NextBytes(content.AsSpan(0, 64 * 1024));
        await File.WriteAllBytesAsync(app.DiskSource, content, Ct);
        var spec = CatalogApi.Template(CatalogApi.UniquePrefix("ovf") + "own-disk", vcpus: 1, memoryMiB: 512);
        var tenant = await InstancesApi.TenantAsync(app, quantity: 1, template: spec);
        var (_, instance) = await tenant.Client.ProvisionedAsync(new ProvisionRequest(tenant.Contract.Id));
        var machineId = instance.Machines[0];

        var running = await tenant.Client.GetAsync($"/api/v1/machines/{machineId}/export", Ct);
        await running.ProblemAsync(HttpStatusCode.Conflict, "invalid-state");

        (await tenant.Client.ActAsync(machineId, "stop")).State.ShouldBe(JobState.Succeeded);
        var stopped = await tenant.Client.GetAsync($"/api/v1/machines/{machineId}/export", Ct);

        stopped.StatusCode.ShouldBe(HttpStatusCode.OK);
        stopped.Headers.GetValues(OvfExportHeaders.DiskSource).ShouldBe([OvfDiskSource.MachineDisk]);
        var dir = Directory.CreateTempSubdirectory("welkin-ovf-machine-").FullName;
        try
        {
            await using (var tar = new TarReader(await stopped.Content.ReadAsStreamAsync(Ct)))
            {
                while (await tar.GetNextEntryAsync(copyData: false, Ct) is { } entry)
                {
                    await entry.ExtractToFileAsync(Path.Combine(dir, entry.Name), overwrite: false, Ct);
                }
            }
            var vmdk = Directory.GetFiles(dir, "*.vmdk").ShouldHaveSingleItem();
            var compare = new ProcessStartInfo("qemu-img") { ArgumentList = { "compare", "-f", "raw", "-F", "vmdk", app.DiskSource, vmdk }, RedirectStandardOutput = true };
            using var process = Process.Start(compare)!;
            await process.WaitForExitAsync(Ct);
            process.ExitCode.ShouldBe(0);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Testing;
using Welkin.Testing.Clouds;

using static Welkin.Bench.MoveBenchSteps;

namespace Welkin.Bench;

/// <summary>
/// A live move of a running QEMU guest (the test guest, 1 vCPU, 256 MiB, a 1 GiB disk) from Cloud1's pool to Cloud2's
/// QEMU pool between two Welkin clouds (<see cref="QemuMoveClouds"/>: both in this process, Cloud2's federation listener
/// on loopback with mutual TLS, an agreement in force) through the Change Manager (<c>POST /api/v1/machines/{id}/move</c>
/// with mode live, from the request until the job has succeeded), against the same two QEMU drivers moving the same
/// guest directly (<see cref="CrossFabricMigration.MoveAsync"/>, the clouds' own certificate files) in the same run:
/// what the federation adds (the peer's API, its placement and records, the handover's switch) to the hypervisor's move.
/// Rounds alternate between the two sides, each with a freshly provisioned guest.
/// </summary>
internal static partial class LiveMoveCloudsBench
{

    public static async Task RunAsync(string[] args)
    {
        var rounds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 3;
        Console.WriteLine($"welkin-bench live-move-clouds: {Environment.ProcessorCount} cores, {rounds} rounds per side");
        var guest = new TestGuest();
        await guest.InitializeAsync();
        await using var clouds = new QemuMoveClouds();
        await clouds.InitializeAsync();
        var (_, tenant, contract) = await clouds.TenantAsync(await clouds.RegisterGuestAsync(guest), "bench");
        var source = (ILiveMigrationSource)clouds.Consumer.Services.GetRequiredService<ComputeFabric>().Find(MoveClouds.LocalPool)!.Driver;
        var target = clouds.Provider.Services.GetRequiredService<ComputeFabric>().Find(QemuMoveClouds.PeerLocalPool)!.Driver;
        await clouds.PeerOnlineAsync();
        var link = (await clouds.Consumer.Services.GetRequiredService<IPeerLinks>().GetAsync(MoveClouds.Peer, CancellationToken.None)).Value;
        var sourceTls = clouds.Consumer.Services.GetRequiredService<IMigrationCredentials>().For(link.ApiUrl.Host).Value;
        var targetTls = clouds.Provider.Services.GetRequiredService<IMigrationCredentials>().For("CN=Cloud1").Value;
        var (moved, movedDowntime, direct, directDowntime) = (new List<double>(), new List<double>(), new List<double>(), new List<double>());
        for (var i = 0; i < rounds * 2; i++)
        {
            var machine = await ProvisionAsync(tenant, contract.Id);
            if (i % 2 == 0)
            {
                await clouds.PeerOnlineAsync();
                var watch = Stopwatch.StartNew();
                var accepted = await (await clouds.Consumer.OrdinaryAdmin().PostAsJsonAsync($"/api/v1/machines/{machine}/move",
                    new MoveRequest(Cloud: MoveClouds.Peer, Mode: MoveMode.Live), WelkinJson.Client)).Content.ReadFromJsonAsync<AcceptedView<MachineView>>(WelkinJson.Client);
                var job = await WaitAsync(tenant, accepted!.Job.Id);
                moved.Add(watch.Elapsed.TotalSeconds);
                movedDowntime.Add(double.Parse(DowntimePattern().Match(job.StatusMessage ?? "").Groups[1].Value, CultureInfo.InvariantCulture));
            }
            else
            {
                var watch = Stopwatch.StartNew();
                var report = await CrossFabricMigration.MoveAsync(new WithoutImage(source), (ILiveMigrationTarget)target, machine, QemuMoveClouds.PeerHost,
                    sourceTls, targetTls, null, CancellationToken.None);
                direct.Add(watch.Elapsed.TotalSeconds);
                if (!report.IsSuccess)
                {
                    throw new InvalidOperationException($"the direct move failed: {report.Error!.Detail} ({report.Error.Cause})");
                }
                directDowntime.Add(report.Value.Downtime.TotalMilliseconds);
                await target.DestroyAsync(machine, CancellationToken.None);
            }
            await WaitAsync(tenant, (await (await tenant.PostAsJsonAsync($"/api/v1/machines/{machine}/destroy", new MachineActionRequest(), WelkinJson.Client))
                .Content.ReadFromJsonAsync<AcceptedView<MachineView>>(WelkinJson.Client))!.Job.Id);
        }
        Console.WriteLine($"through the Change Manager and the peer's API: median {Median(moved):0.000} s ({Join(moved, "0.000")}), downtime median {Median(movedDowntime):0} ms");
        Console.WriteLine($"the two clouds' QEMU drivers directly:       median {Median(direct):0.000} s ({Join(direct, "0.000")}), downtime median {Median(directDowntime):0} ms");
        Console.WriteLine($"ratio {Median(moved) / Median(direct):0.00} (overhead {(Median(moved) - Median(direct)) * 1000:0} ms)");
    }

    /// <summary>The source's description without Cloud1's image, which Cloud2's driver does not know (Cloud2's API gives its own).</summary>
    private sealed class WithoutImage(ILiveMigrationSource inner) : ILiveMigrationSource
    {
        public async Task<Result<OutgoingMachine>> DescribeOutgoingAsync(string machineId, CancellationToken ct)
        {
            var described = await inner.DescribeOutgoingAsync(machineId, ct);
            return described.IsSuccess ? described.Value with { Spec = described.Value.Spec with { ImageId = null } } : described;
        }

        public Task<Result<LiveMigrationReport>> MigrateOutAsync(
            string machineId, IncomingMachine target, MigrationTls tls, Func<CancellationToken, Task<Result<DriverMachine>>> resumeAtTarget,
            IProgress<int>? progress, CancellationToken ct) => inner.MigrateOutAsync(machineId, target, tls, resumeAtTarget, progress, ct);
    }

    [GeneratedRegex(@"downtime (\d+) ms")]
    private static partial Regex DowntimePattern();
}

using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Client;
using Welkin.Contracts;
using Welkin.Core.Compute;
using Welkin.Testing;
using Welkin.Testing.Clouds;

using static Welkin.Bench.MoveBenchSteps;

namespace Welkin.Bench;

/// <summary>
/// A QEMU machine brought home cold from a peer cloud through the Change Manager (<c>POST /api/v1/machines/{id}/move</c>
/// naming Cloud1's QEMU pool, from the request until the job has succeeded) against the bare sequence of the same
/// steps by hand in the same run: stop it at the peer, have the peer write its package, download it (Range, digest
/// checked), import it here (the OVA as a template and image, booting the guest's kernel) and boot it here (the QEMU
/// driver's create, to the guest's ready marker). Before each round the machine (the test guest, 1 vCPU, 256 MiB, a
/// 1 GiB disk) is provisioned on Cloud1 and moved cold to Cloud2's QEMU pool (<see cref="QemuMoveClouds"/>: a peer
/// with a simulated pool could hand out no disk, only the image it deleted); rounds alternate between the two sides.
/// </summary>
internal static class RepatriateBench
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(20);

    public static async Task RunAsync(string[] args)
    {
        var rounds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 3;
        Console.WriteLine($"welkin-bench repatriate: {Environment.ProcessorCount} cores, {rounds} rounds per side");
        var guest = new TestGuest();
        await guest.InitializeAsync();
        await using var clouds = new QemuMoveClouds();
        await clouds.InitializeAsync();
        var imageId = await clouds.RegisterGuestAsync(guest);
        var (_, tenant, contract) = await clouds.TenantAsync(imageId, "bench");
        using var admin = new WelkinClient(clouds.Consumer.OrdinaryAdmin(), clouds.Consumer.OrdinaryAdmin().BaseAddress!);
        var boot = (await admin.Images.GetAsync(imageId)).Boot!;
        var link = (await clouds.Consumer.Services.GetRequiredService<IPeerLinks>().GetAsync(MoveClouds.Peer, CancellationToken.None)).Value;
        using var peer = new WelkinClient(link.Http, link.ApiUrl, link.Credential);
        var home = new List<double>();
        var bare = new List<double>();
        long size = 0;
        for (var i = 0; i < rounds * 2; i++)
        {
            var machine = await ProvisionAsync(tenant, contract.Id);
            await clouds.PeerOnlineAsync();
            await MoveAsync(clouds, tenant, machine, new MoveRequest(Cloud: MoveClouds.Peer));
            var watch = Stopwatch.StartNew();
            if (i % 2 == 0)
            {
                await MoveAsync(clouds, tenant, machine, new MoveRequest(MoveClouds.LocalPool));
                home.Add(watch.Elapsed.TotalSeconds);
            }
            else
            {
                size = await BareAsync(clouds, admin, peer, boot, machine);
                bare.Add(watch.Elapsed.TotalSeconds);
            }
            await WaitAsync(tenant, (await (await tenant.PostAsJsonAsync($"/api/v1/machines/{machine}/destroy", new MachineActionRequest(), WelkinJson.Client))
                .Content.ReadFromJsonAsync<AcceptedView<MachineView>>(WelkinJson.Client))!.Job.Id);
        }
        Console.WriteLine($"package: {size / 1024.0:0} KiB");
        Console.WriteLine($"repatriation through the Change Manager: median {Median(home):0.000} s ({Join(home, "0.000")})");
        Console.WriteLine($"bare sequence (stop, package, download, import, boot): median {Median(bare):0.000} s ({Join(bare, "0.000")})");
        Console.WriteLine($"ratio {Median(home) / Median(bare):0.00}");
    }

    /// <summary>The same steps by hand; returns the package's size. The machine stays recorded at the peer (the round destroys it there).</summary>
    private static async Task<long> BareAsync(QemuMoveClouds clouds, WelkinClient admin, WelkinClient peer, ImageBoot boot, string machine)
    {
        var remote = (await peer.Machines.ListAsync(limit: 1000)).Items.Single(m => m.State == MachineState.Running);
        await FinishedAsync(peer, (await peer.Machines.ActAsync(remote.Id, "stop")).Job);
        var package = await peer.MachinePackages.CreateAsync(remote.Id);
        var file = Path.Combine(Path.GetTempPath(), $"welkin-bench-{machine}.ova");
        try
        {
            await peer.MachinePackages.DownloadAsync(package, file);
            OvfImportResult imported;
            await using (var ova = File.OpenRead(file))
            {
                imported = await admin.Ovf.ImportAsync(ova);
            }
            var disk = imported.Images.Single();
            await admin.Images.SetBootAsync(disk.Id, boot);
            var driver = clouds.Consumer.Services.GetRequiredService<ComputeFabric>().Find(MoveClouds.LocalPool)!.Driver;
            var id = Welkin.Core.Common.Ids.New(Welkin.Core.Common.Ids.Machine, TimeProvider.System);
            var created = await driver.CreateAsync(new MachineSpec(id, "acc_bench", "lab-a", 1, 256, 1, disk.Id, "debian",
                new Dictionary<string, string>(), new Dictionary<string, string>(), null, [], []), null, CancellationToken.None);
            if (!created.IsSuccess || created.Value.State != DriverMachineState.Running)
            {
                throw new InvalidOperationException($"The bare boot failed: {created.Error?.Detail} {created.Error?.Cause}");
            }
            await driver.DestroyAsync(id, CancellationToken.None);
            await peer.MachinePackages.DeleteAsync(remote.Id);
            return package.SizeBytes;
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static async Task MoveAsync(MoveClouds clouds, HttpClient tenant, string machine, MoveRequest request)
    {
        var accepted = await (await clouds.Consumer.OrdinaryAdmin().PostAsJsonAsync($"/api/v1/machines/{machine}/move", request, WelkinJson.Client))
            .Content.ReadFromJsonAsync<AcceptedView<MachineView>>(WelkinJson.Client);
        await WaitAsync(tenant, accepted!.Job.Id);
    }

    private static async Task FinishedAsync(WelkinClient client, JobView job)
    {
        while (job.State is JobState.Queued or JobState.Running)
        {
            await Task.Delay(Poll);
            job = await client.Jobs.GetAsync(job.Id);
        }
        Check(job);
    }
}

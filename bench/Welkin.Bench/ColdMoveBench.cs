using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using Welkin.Client;
using Welkin.Contracts;
using Welkin.Testing;
using Welkin.Testing.Clouds;

using static Welkin.Bench.MoveBenchSteps;

namespace Welkin.Bench;

/// <summary>
/// A cold move of a running QEMU machine (the test guest, 1 vCPU, 256 MiB, a 1 GiB disk) from Cloud1 to a peer
/// Cloud2 through the Change Manager (<c>POST /api/v1/machines/{id}/move</c>, from the request until the job has
/// succeeded), against the bare sequence of the same steps by hand in the same run: stop, export the OVA to a file,
/// copy it to Cloud2 (the resumable upload under the agreement's credential, in the pool's chunks of
/// <see cref="MoveClouds.ChunkBytes"/> on both sides), import it there (an account image),
/// boot it there (a provision from that image). Both clouds run in this process on loopback with mutual TLS
/// (<see cref="MoveClouds"/>); Cloud2's pool is simulated, so "boot" at the peer is its provision without a guest.
/// Rounds alternate between the two sides, each with a freshly provisioned guest.
/// </summary>
internal static class ColdMoveBench
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(20);

    public static async Task RunAsync(string[] args)
    {
        var rounds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 3;
        Console.WriteLine($"welkin-bench cold-move: {Environment.ProcessorCount} cores, {rounds} rounds per side");
        var guest = new TestGuest();
        await guest.InitializeAsync();
        await using var clouds = new MoveClouds();
        await clouds.InitializeAsync();
        var imageId = await clouds.RegisterGuestAsync(guest);
        var (_, tenant, contract) = await clouds.TenantAsync(imageId, "bench");
        var link = (await ((Welkin.Core.Compute.IPeerLinks)clouds.Consumer.Services.GetService(typeof(Welkin.Core.Compute.IPeerLinks))!).GetAsync(MoveClouds.Peer, CancellationToken.None)).Value;
        using var peer = new WelkinClient(link.Http, link.ApiUrl, link.Credential);
        var moved = new List<double>();
        var bare = new List<double>();
        long size = 0;
        for (var i = 0; i < rounds * 2; i++)
        {
            var machine = await ProvisionAsync(tenant, contract.Id);
            if (i % 2 == 0)
            {
                await clouds.PeerOnlineAsync();
                var watch = Stopwatch.StartNew();
                var accepted = await (await clouds.Consumer.OrdinaryAdmin().PostAsJsonAsync($"/api/v1/machines/{machine}/move", new MoveRequest(Cloud: MoveClouds.Peer), WelkinJson.Client))
                    .Content.ReadFromJsonAsync<AcceptedView<MachineView>>(WelkinJson.Client);
                await WaitAsync(tenant, accepted!.Job.Id);
                moved.Add(watch.Elapsed.TotalSeconds);
            }
            else
            {
                var watch = Stopwatch.StartNew();
                size = await BareAsync(tenant, peer, link, machine);
                bare.Add(watch.Elapsed.TotalSeconds);
            }
            await WaitAsync(tenant, (await (await tenant.PostAsJsonAsync($"/api/v1/machines/{machine}/destroy", new MachineActionRequest(), WelkinJson.Client))
                .Content.ReadFromJsonAsync<AcceptedView<MachineView>>(WelkinJson.Client))!.Job.Id);
        }
        Console.WriteLine($"package: {size / 1024.0:0} KiB");
        Console.WriteLine($"move through the Change Manager: median {Median(moved):0.000} s ({Join(moved, "0.000")})");
        Console.WriteLine($"bare sequence (stop, export, copy, import, boot): median {Median(bare):0.000} s ({Join(bare, "0.000")})");
        Console.WriteLine($"ratio {Median(moved) / Median(bare):0.00}");
    }

    /// <summary>The same steps by hand; returns the package's size.</summary>
    private static async Task<long> BareAsync(HttpClient tenant, WelkinClient peer, Welkin.Core.Compute.PeerLink link, string machine)
    {
        await WaitAsync(tenant, (await (await tenant.PostAsJsonAsync($"/api/v1/machines/{machine}/stop", new MachineActionRequest(), WelkinJson.Client))
            .Content.ReadFromJsonAsync<AcceptedView<MachineView>>(WelkinJson.Client))!.Job.Id);
        var file = Path.Combine(Path.GetTempPath(), $"welkin-bench-{machine}.ova");
        try
        {
            await using (var output = File.Create(file))
            {
                using var exported = await tenant.GetAsync($"/api/v1/machines/{machine}/export", HttpCompletionOption.ResponseHeadersRead);
                exported.EnsureSuccessStatusCode();
                await exported.Content.CopyToAsync(output);
            }
            var upload = await peer.Uploads.UploadFileAsync(file, settings: new UploadSettings(MoveClouds.ChunkBytes));
            var image = await peer.AccountImages.CreateAsync(upload.Id, "bench-" + machine);
            var contract = await peer.Contracts.GetAsync(link.ContractIds[0]);
            var item = contract.Items.First(i => i.Kind == OfferingKind.Compute);
            var accepted = await peer.Instances.ProvisionAsync(new ProvisionRequest(contract.Id, "bench-" + machine, item.Item,
                [new VirtualSystemChoice(item.Choices![0].VirtualSystem, 1, 1, 256, 1, "debian", ImageId: image.Id)]));
            var job = accepted.Job;
            while (job.State is JobState.Queued or JobState.Running)
            {
                await Task.Delay(Poll);
                job = await peer.Jobs.GetAsync(job.Id);
            }
            Check(job);
            await peer.Instances.TerminateAsync(accepted.Resource.Id);
            await peer.AccountImages.DeleteAsync(image.Id);
            return new FileInfo(file).Length;
        }
        finally
        {
            File.Delete(file);
        }
    }
}

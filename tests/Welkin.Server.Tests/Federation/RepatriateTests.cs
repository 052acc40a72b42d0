using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Client;
using Welkin.Contracts;
using Welkin.Core.Data;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;
using Welkin.Testing;
using Welkin.Testing.Clouds;

namespace Welkin.Server.Tests.Federation;

/// <summary>
/// A QEMU machine of Cloud1 moved cold to Cloud2's QEMU pool comes home cold (<see cref="QemuMoveClouds"/>): its disk's
/// content, its record and its running state come back, and nothing is left at the peer.
/// </summary>
public sealed class RepatriateTests(QemuMoveClouds clouds, TestGuest guest) : IClassFixture<QemuMoveClouds>
{
    private const string Marker = "0x5a";
    private const string MarkerAt = "1M";
    private const string MarkerLength = "64k";
    private const int ContentAt = 4 << 20;
    private const int ContentLength = 8 << 20;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string DiskOf(string machineId) => Path.Combine(clouds.Consumer.DataDir, "pools", MoveClouds.LocalPool, "machines", machineId, "disk.qcow2");

    private async Task<JobView> MoveAsync(string machineId, MoveRequest request)
    {
        var admin = clouds.Consumer.OrdinaryAdmin();
        var accepted = await (await admin.PostAsync($"/api/v1/machines/{machineId}/move", request)).ReadAsync<AcceptedView<MachineView>>(HttpStatusCode.Accepted);
        accepted.Job.Action.ShouldBe("machine.move");
        return await admin.WaitAsync(accepted.Job.Id);
    }

    [Fact]
    public async Task MachineMovedToThePeer_ComesHomeCold_WithItsDisk_ResumingACutDownload_AndAFailedAttemptLeavesItAtThePeer()
    {
        var (signUp, client, contract) = await clouds.TenantAsync(await clouds.RegisterGuestAsync(guest), "home");
        var tenant = new InstancesApi.Tenant(signUp, client, contract);
        var (_, instance) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant));
        var machine = await tenant.Client.GetMachineAsync(instance.Machines.Single());
        (await tenant.Client.ActAsync(machine.Id, "stop")).State.ShouldBe(JobState.Succeeded);
        // A marker and 8 MiB that do not compress (so the package is mostly the disk's content) go into the stopped machine's disk.
        var content = Path.Combine(clouds.Consumer.DataDir, "content.bin");
        var random = RandomNumberGenerator.GetBytes(ContentLength);
        await File.WriteAllBytesAsync(content, random, Ct);
        await ExternalTools.RunAsync("qemu-io", ["-f", "qcow2", "-c", $"write -P {Marker} {MarkerAt} {MarkerLength}", "-c", $"write -s {content} {ContentAt} {ContentLength}", DiskOf(machine.Id)]);
        var size = (await clouds.Consumer.OrdinaryAdmin().GetByteArrayAsync($"/api/v1/machines/{machine.Id}/export", Ct)).LongLength;
        (await tenant.Client.ActAsync(machine.Id, "start")).State.ShouldBe(JobState.Succeeded);
        await clouds.PeerOnlineAsync();
        (await MoveAsync(machine.Id, new MoveRequest(Cloud: MoveClouds.Peer))).State.ShouldBe(JobState.Succeeded);
        var away = await tenant.Client.GetMachineAsync(machine.Id);
        (away.Pool, away.Peer, away.State).ShouldBe((MoveClouds.PeerPool, MoveClouds.Peer, MachineState.Running));
        var link = (await clouds.Consumer.Services.GetRequiredService<Core.Compute.IPeerLinks>().GetAsync(MoveClouds.Peer, Ct)).Value;
        using var peer = new WelkinClient(link.Http, link.ApiUrl, link.Credential);
        var there = (await peer.Machines.ListAsync(limit: 1000, ct: Ct)).Items.Where(m => m.State == MachineState.Running).ShouldHaveSingleItem();

        // The peer cannot write the package (its package directory is a file): the job fails, the machine runs at the peer again.
        var blocked = Path.Combine(clouds.Provider.DataDir, "packages");
        await File.WriteAllTextAsync(blocked, "", Ct);
        var failed = await MoveAsync(machine.Id, new MoveRequest(MoveClouds.LocalPool));
        File.Delete(blocked);

        failed.State.ShouldBe(JobState.Failed);
        failed.ErrorDetail.ShouldNotBeNull().ShouldContain(machine.Id);
        var stayed = await tenant.Client.GetMachineAsync(machine.Id);
        (stayed.Pool, stayed.Peer, stayed.State).ShouldBe((MoveClouds.PeerPool, MoveClouds.Peer, MachineState.Running));
        (await peer.Machines.GetAsync(there.Id, Ct)).State.ShouldBe(MachineState.Running);
        (await tenant.Client.EventsAsync(machine.Id)).Count(e => e.Type == "machine.migrated").ShouldBe(1);
        Directory.EnumerateFiles(Path.Combine(clouds.Consumer.DataDir, "ovf-work"), "repatriate-*").ShouldBeEmpty();
        File.Exists(DiskOf(machine.Id)).ShouldBeFalse();

        // Home, with the download cut half-way: it resumes from what arrived.
        var before = clouds.Proxy.Downstream;
        var cuts = clouds.Proxy.Cuts;
        clouds.Proxy.CutAfterDownstream(size / 2);
        var job = await MoveAsync(machine.Id, new MoveRequest(MoveClouds.LocalPool));

        job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
        clouds.Proxy.Cuts.ShouldBe(cuts + 1);
        var received = clouds.Proxy.Downstream - before;
        var afterCut = clouds.Proxy.Downstream - clouds.Proxy.DownstreamAtCut;
        TestContext.Current.TestOutputHelper?.WriteLine($"package about {size} bytes; received from the peer during the move home: {received} bytes, {afterCut} after the cut");
        // Fetching the package again from its start would take the half before the cut and the whole package after it.
        received.ShouldBeLessThan(size / 2 + size, $"the package is about {size} bytes");
        afterCut.ShouldBeLessThan(size, $"the package is about {size} bytes");
        var home = await tenant.Client.GetMachineAsync(machine.Id);
        (home.Pool, home.Peer, home.Host, home.State).ShouldBe((MoveClouds.LocalPool, null, "lab-a", MachineState.Running));
        var migrated = (await tenant.Client.EventsAsync(machine.Id)).Where(e => e.Type == "machine.migrated").ToList();
        migrated.Count.ShouldBe(2);
        (migrated[1].Data["from"], migrated[1].Data["to"], migrated[1].Data["mode"], migrated[1].Data["cloud"])
            .ShouldBe((MoveClouds.PeerPool, MoveClouds.LocalPool, "cold", MoveClouds.Peer));
        home.Access!.Endpoints.ShouldNotBeEmpty();
        (await ExternalTools.RunAsync("qemu-io", ["-U", "-r", "-f", "qcow2", "-c", $"read -P {Marker} {MarkerAt} {MarkerLength}", DiskOf(machine.Id)]))
            .ShouldNotContain("verification failed");
        var raw = Path.Combine(clouds.Consumer.DataDir, "home.raw");
        await ExternalTools.QemuImgAsync("convert", "-U", "-f", "qcow2", "-O", "raw", DiskOf(machine.Id), raw);
        (await File.ReadAllBytesAsync(raw, Ct)).AsSpan(ContentAt, ContentLength).SequenceEqual(random).ShouldBeTrue("the disk's content came home");
        File.Delete(raw);
        TestGuest.ProcessesMentioning(Path.GetDirectoryName(DiskOf(machine.Id))!).ShouldHaveSingleItem();

        // Nothing is left at the peer, nor of the way home here.
        (await peer.Machines.ListAsync(limit: 1000, ct: Ct)).Items.Where(m => m.State != MachineState.Terminated).ShouldBeEmpty();
        (await peer.AccountImages.ListAsync(ct: Ct)).Items.ShouldBeEmpty();
        await Should.ThrowAsync<WelkinApiException>(() => peer.MachinePackages.GetAsync(there.Id, Ct));
        var destroyed = await clouds.Consumer.Services.GetRequiredService<IDatabase>()
            .ExecuteScalarAsync<long>("SELECT destroyed FROM peer_machines WHERE machine_id = @Id", new { machine.Id }, Ct);
        destroyed.ShouldBe(1);
        (await (await tenant.Client.GetAsync("/api/v1/account-images", Ct)).ReadAsync<Page<AccountImageView>>()).Items.ShouldBeEmpty();
        Directory.EnumerateFiles(Path.Combine(clouds.Consumer.DataDir, "ovf-work"), "repatriate-*").ShouldBeEmpty();

        (await tenant.Client.ActAsync(machine.Id, "destroy")).State.ShouldBe(JobState.Succeeded);
    }
}

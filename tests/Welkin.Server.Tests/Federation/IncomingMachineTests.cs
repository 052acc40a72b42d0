using Microsoft.Extensions.DependencyInjection;
using Welkin.Client;
using Welkin.Contracts;
using Welkin.Core.Compute;
using Welkin.Testing.Clouds;

namespace Welkin.Server.Tests.Federation;

/// <summary>
/// The peer's side of a live move, called as Cloud1 calls it (under the agreement's credential on Cloud2's federation
/// listener): hostile input is refused before anything is placed, and Cloud2's simulated pool takes no machine live.
/// </summary>
public sealed class IncomingMachineTests(MoveClouds clouds) : IClassFixture<MoveClouds>
{
    private const long GiB = 1L << 30;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Prepare_RefusesHostileInput_AndAPeerWithNoPoolThatReceivesMachinesLive()
    {
        var (client, contractId) = await PeerAsync();
        using var peer = client;
        var good = Request(contractId);
        // The other test of the class may have left a machine of its own: what counts is that no refusal added one.
        var before = (await peer.Machines.ListAsync(limit: 1000, ct: Ct)).Items.Select(m => m.Id).ToList();
        var refused = new[]
        {
            good with { Vcpus = 0 },
            good with { MemoryMiB = -1 },
            good with { DiskGiB = 0 },
            good with { VirtualSystem = new string('a', 101) },
            good with { Disks = [] },
            good with { Disks = [new IncomingDisk("vol_data", GiB)] },
            good with { Disks = [new IncomingDisk("root", GiB), new IncomingDisk("root", GiB)] },
            good with { Disks = [new IncomingDisk("root", 2 * GiB)] },
            good with { Disks = [new IncomingDisk("root", 0)] },
            good with { Hypervisor = new Dictionary<string, string> { ["Qemu Subnet"] = "3" } },
            good with { Hypervisor = new Dictionary<string, string> { ["qemu.subnet"] = "3\n" } },
            good with { Hypervisor = Enumerable.Range(0, 33).ToDictionary(i => $"qemu.s{i}", i => "1") },
        };
        foreach (var request in refused)
        {
            var e = await Should.ThrowAsync<WelkinApiException>(() => peer.Machines.PrepareIncomingAsync(request, ct: Ct));
            (e.StatusCode, e.Code).ShouldBe((400, "validation-failed"), e.Problem.Detail);
        }
        var missing = await Should.ThrowAsync<WelkinApiException>(() => peer.Machines.PrepareIncomingAsync(good with { ContractId = "ctr_01h00000000000000000000000" }, ct: Ct));
        missing.StatusCode.ShouldBe(409, "a cloud without a pool that receives machines live refuses before looking at the contract");

        var unsupported = await Should.ThrowAsync<WelkinApiException>(() => peer.Machines.PrepareIncomingAsync(good, "incoming-test", Ct));

        (unsupported.StatusCode, unsupported.Code).ShouldBe((409, "unsupported"));
        (await peer.Machines.ListAsync(limit: 1000, ct: Ct)).Items.Where(m => m.State != MachineState.Terminated && !before.Contains(m.Id)).ShouldBeEmpty();
    }

    [Fact]
    public async Task CompleteAndAbort_FindOnlyIncomingMachines_OfTheCallersAccount()
    {
        var (client, contractId) = await PeerAsync();
        using var peer = client;
        var contract = await peer.Contracts.GetAsync(contractId, Ct);
        var item = contract.Items.First(i => i.Kind == OfferingKind.Compute).Item;
        var accepted = await peer.Instances.ProvisionAsync(
            new ProvisionRequest(contractId, "not-incoming", item, [new VirtualSystemChoice("app", 1, 1, 256, 1, "debian")]), Ct);
        var provisioned = accepted.Resource.Machines.ShouldHaveSingleItem();

        foreach (var id in new[] { provisioned, "mch_01h00000000000000000000000" })
        {
            (await Should.ThrowAsync<WelkinApiException>(() => peer.Machines.CompleteIncomingAsync(id, Ct))).StatusCode.ShouldBe(404);
            (await Should.ThrowAsync<WelkinApiException>(() => peer.Machines.AbortIncomingAsync(id, Ct))).StatusCode.ShouldBe(404);
        }
        (await Should.ThrowAsync<WelkinApiException>(() => peer.Machines.CompleteIncomingAsync("not-an-id", Ct))).StatusCode.ShouldBe(400);
        (await peer.Machines.GetAsync(provisioned, Ct)).State.ShouldNotBe(MachineState.Terminated);
    }

    private static IncomingMachineRequest Request(string contractId) =>
        new(contractId, "app", 1, 256, 1, [new IncomingDisk("root", GiB)], true, OperatingSystem: "debian", Hypervisor: new Dictionary<string, string> { ["qemu.subnet"] = "3" });

    /// <summary>Cloud2's API under the agreement's credential, and the agreement's contract there.</summary>
    private async Task<(WelkinClient Peer, string ContractId)> PeerAsync()
    {
        await clouds.PeerOnlineAsync();
        var link = (await clouds.Consumer.Services.GetRequiredService<IPeerLinks>().GetAsync(MoveClouds.Peer, Ct)).Value;
        return (new WelkinClient(link.Http, link.ApiUrl, link.Credential), link.ContractIds[0]);
    }
}

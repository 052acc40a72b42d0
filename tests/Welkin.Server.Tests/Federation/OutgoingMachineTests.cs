using Microsoft.Extensions.DependencyInjection;
using Welkin.Client;
using Welkin.Contracts;
using Welkin.Core.Compute;
using Welkin.Testing.Clouds;

namespace Welkin.Server.Tests.Federation;

/// <summary>
/// The provider's side of a machine going home live, called as Cloud1 calls it (under the agreement's credential on
/// Cloud2's federation listener): hostile input is refused before anything is looked at, only the caller's own
/// machines are found, and Cloud2's simulated pool sends no machine live (the guest stays where it is).
/// </summary>
public sealed class OutgoingMachineTests(MoveClouds clouds) : IClassFixture<MoveClouds>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly SendMachineRequest Good = new("192.0.2.1", 10809, 4444, new Dictionary<string, string> { ["root"] = "root" }, "cloud1.example");

    [Fact]
    public async Task Send_RefusesHostileInput_BeforeLookingAtTheMachine()
    {
        var (client, _) = await PeerAsync();
        using var peer = client;
        var refused = new[]
        {
            Good with { Address = "" },
            Good with { Address = "host name with spaces" },
            Good with { Address = new string('a', 300) },
            Good with { DiskPort = 0 },
            Good with { MigrationPort = 65536 },
            Good with { Exports = new Dictionary<string, string>() },
            Good with { Exports = new Dictionary<string, string> { ["vol_data"] = "data" } },
            Good with { Exports = new Dictionary<string, string> { ["root"] = "../root" } },
            Good with { PeerName = "" },
            Good with { PeerName = "cloud1.example/x" },
        };
        foreach (var request in refused)
        {
            var e = await Should.ThrowAsync<WelkinApiException>(() => peer.Machines.SendAsync("mch_01h00000000000000000000000", request, Ct));
            (e.StatusCode, e.Code).ShouldBe((400, "validation-failed"), e.Problem.Detail);
        }
        (await Should.ThrowAsync<WelkinApiException>(() => peer.Machines.SendAsync("not-an-id", Good, Ct))).StatusCode.ShouldBe(400);
    }

    [Fact]
    public async Task OnlyTheCallersRunningMachines_AreFound_AndASimulatedPoolSendsNone()
    {
        var (client, contractId) = await PeerAsync();
        using var peer = client;
        var contract = await peer.Contracts.GetAsync(contractId, Ct);
        var item = contract.Items.First(i => i.Kind == OfferingKind.Compute).Item;
        var accepted = await peer.Instances.ProvisionAsync(
            new ProvisionRequest(contractId, "goes-home", item, [new VirtualSystemChoice("app", 1, 1, 256, 1, "debian")]), Ct);
        var id = accepted.Resource.Machines.ShouldHaveSingleItem();
        await WaitRunningAsync(peer, id);

        var unsupported = await Should.ThrowAsync<WelkinApiException>(() => peer.Machines.DescribeOutgoingAsync(id, Ct));
        (unsupported.StatusCode, unsupported.Code).ShouldBe((409, "unsupported"));
        var notSent = await Should.ThrowAsync<WelkinApiException>(() => peer.Machines.SendAsync(id, Good, Ct));
        (notSent.StatusCode, notSent.Code).ShouldBe((409, "unsupported"));
        foreach (var call in new Func<Task>[] { () => peer.Machines.SendStatusAsync(id, Ct), () => peer.Machines.HandoverAsync(id, Ct), () => peer.Machines.CancelSendAsync(id, Ct) })
        {
            (await Should.ThrowAsync<WelkinApiException>(call)).StatusCode.ShouldBe(404, "no send was started");
        }
        var missing = "mch_01h00000000000000000000000";
        (await Should.ThrowAsync<WelkinApiException>(() => peer.Machines.DescribeOutgoingAsync(missing, Ct))).StatusCode.ShouldBe(404);
        (await Should.ThrowAsync<WelkinApiException>(() => peer.Machines.SendAsync(missing, Good, Ct))).StatusCode.ShouldBe(404);
        (await peer.Machines.GetAsync(id, Ct)).State.ShouldBe(MachineState.Running);
    }

    private static async Task WaitRunningAsync(WelkinClient peer, string id)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromMinutes(2));
        while ((await peer.Machines.GetAsync(id, timeout.Token)).State != MachineState.Running)
        {
            await Task.Delay(100, timeout.Token);
        }
    }

    /// <summary>Cloud2's API under the agreement's credential, and the agreement's contract there.</summary>
    private async Task<(WelkinClient Peer, string ContractId)> PeerAsync()
    {
        await clouds.PeerOnlineAsync();
        var link = (await clouds.Consumer.Services.GetRequiredService<IPeerLinks>().GetAsync(MoveClouds.Peer, Ct)).Value;
        return (new WelkinClient(link.Http, link.ApiUrl, link.Credential), link.ContractIds[0]);
    }
}

using System.Net;
using System.Net.Http.Json;
using Welkin.Contracts;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;
using Welkin.Testing;
using static Welkin.Server.Tests.Federation.BurstClouds;

namespace Welkin.Server.Tests.Federation;

/// <summary>
/// ProviderCo-US stops trusting ProviderCo-DE while a consumer's machine runs there: no new machine is placed in DE's
/// pool, and the consumer is told. A fixture of its own: the distrust ends US's agreement with DE for good.
/// </summary>
public sealed class BurstTrustScenarioTests(BurstClouds clouds) : IClassFixture<BurstClouds>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task PeerDistrusted_TakesNoNewPlacement_WithAClearReason_AndTheConsumersWithMachinesThereAreTold()
    {
        var scenario = await clouds.ReadyAsync();
        var filler = await clouds.TenantAsync("us", scenario.LocalOffering.Id, quantity: 1);
        var (_, local) = await filler.Client.ProvisionedAsync(Request(filler));
        (await filler.Client.GetMachineAsync(local.Machines.Single())).Pool.ShouldBe(LocalPool);
        var tenant = await clouds.TenantAsync("us", scenario.UsOffering.Id, quantity: 2);
        var (_, instance) = await tenant.Client.ProvisionedAsync(Request(tenant));
        var machine = await tenant.Client.GetMachineAsync(instance.Machines.Single());
        (machine.Pool, machine.Peer).ShouldBe((Pool, Peer));

        var distrusted = await (await clouds.Admin("us").PostAsJsonAsync($"/api/v1/federation/peers/{Peer}/distrust", new PeerDistrust("its operator reported a key compromise"),
            WelkinJson.Client, Ct)).ReadAsync<PeerView>();
        distrusted.Trust.ShouldBe(PeerTrustState.Untrusted);

        await Polling.UntilAsync(async () => (await tenant.Client.EventsAsync(machine.Id)).Any(e => e.Type == "machine.peer-unavailable"),
            "the consumer told that its machine's peer pool is unavailable", Patience, Poll);
        var told = (await tenant.Client.EventsAsync(machine.Id)).Single(e => e.Type == "machine.peer-unavailable");
        (told.AccountId, told.Data["pool"], told.Data["peer"]).ShouldBe((tenant.AccountId, Pool, Peer));
        told.Data["reason"].ShouldNotBeNullOrWhiteSpace();

        var refused = await (await tenant.Client.PostProvisionAsync(Request(tenant))).ProblemAsync(HttpStatusCode.Conflict, "insufficient-capacity");
        var detail = refused.GetProperty("detail").GetString()!;
        detail.ShouldContain("No capacity for 2 vCPU");
        detail.ShouldContain($"pool '{Pool}' of peer '{Peer}': unavailable (");
        (await tenant.Client.MachinesAsync(instance.Id)).ShouldHaveSingleItem().Pool.ShouldBe(Pool, "nothing placed in DE's pool since");
    }

    private static ProvisionRequest Request(Tenant tenant) => new(tenant.Contract.Id, VirtualSystems: [new VirtualSystemChoice("web", 1)]);
}

using System.Xml.Linq;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Client;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Federation;
using Welkin.Intercloud.Xmpp;
using Welkin.Server.Federation;
using Welkin.Testing;
using Welkin.Testing.Clouds;

namespace Welkin.Compute.Peer.Tests;

/// <summary>
/// Machine notices over a real exchange: Cloud1's tenant provisions a machine that placement puts in the peer pool,
/// and what happens to it on Cloud2 reaches Cloud1 long before the pool's hourly poll.
/// </summary>
public sealed class PeerNoticeTests(PeerXmppClouds clouds) : IClassFixture<PeerXmppClouds>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task MachineChangesOnThePeer_ReachTheConsumer_ThroughNotices_BeforeThePollInterval()
    {
        var pool = (PeerDriver)clouds.Consumer.Services.GetRequiredService<ComputeFabric>().Find(PeerXmppClouds.Pool)!.Driver;
        // Its interval is an hour: after the poll the agreement's acceptance asked for, only notices make it poll again.
        using var tenant = await TenantWithContractAsync();

        var provisioned = await tenant.Client.Instances.ProvisionAsync(new ProvisionRequest(tenant.ContractId), Ct);
        var job = await Polling.FinishedAsync(c => tenant.Client.Jobs.GetAsync(provisioned.Job.Id, c), Ct);

        job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
        var machineId = (await tenant.Client.Instances.GetAsync(provisioned.Resource.Id, Ct)).Machines.Single();
        var machine = await tenant.Client.Machines.GetAsync(machineId, Ct);
        (machine.Pool, machine.Peer, machine.Host, machine.State).ShouldBe((PeerXmppClouds.Pool, PeerClouds.Peer, (string?)null, MachineState.Running), "it runs at the peer, whose host names are not shown");
        machine.Access!.Endpoints.ShouldNotBeEmpty();
        await Polling.UntilAsync(() => Task.FromResult(pool.Status.Available), "the pool polled", Patience, Poll);

        clouds.ProviderFabricDriver.CrashMachine(await clouds.RemoteIdAsync(machineId)).ShouldBeTrue();

        await Polling.UntilAsync(async () => (await tenant.Client.Machines.GetAsync(machineId, Ct)).State == MachineState.Error,
            "Cloud1's machine in error, from Cloud2's notice", Patience, Poll);
    }

    /// <summary>A tenant of Cloud1 with an active contract for an offering whose machines fit the peer's.</summary>
    private async Task<Tenant> TenantWithContractAsync()
    {
        using var admin = new WelkinClient(clouds.Consumer.OrdinaryAdmin(), clouds.Consumer.ApiAddress, clouds.Consumer.AdminToken);
        var prefix = CatalogApi.UniquePrefix("pool");
        var os = new Choice<string>(["Welkin Test OS"], "Welkin Test OS");
        var template = await admin.Templates.CreateAsync(new TemplateSpec(prefix + "template",
        [
            new VirtualSystemSpec("web", new HardwareChoices(new Choice<int>([1], 1), new Choice<long>([512], 512), new Choice<long>([10], 10)), new SoftwareChoices(os)),
        ]), Ct);
        await admin.Templates.PublishAsync(template.Id, new TemplateTransitionRequest(), Ct);
        // Cloud1 has no hosts of its own: the offering and the cloud let its machines burst to the peer's pool.
        var offering = await admin.Offerings.CreateAsync(CatalogApi.Compute(prefix + "small", template.Id) with { Burst = new BurstPolicy(true, [PeerClouds.Peer]) }, Ct);
        await admin.Offerings.PublishAsync(offering.Id, new OfferingTransitionRequest(), Ct);
        var policy = await admin.Federation.GetBurstPolicyAsync(Ct);
        await admin.Federation.SetBurstPolicyAsync(policy with { Enabled = true, Peers = [PeerClouds.Peer] }, Ct);
        var anonymous = new WelkinClient(clouds.Consumer.Ordinary(null), clouds.Consumer.ApiAddress);
        var signUp = await anonymous.Accounts.SignUpAsync(new SignUpRequest("pool-" + Guid.NewGuid().ToString("n")[..12], "Pool Inc.", new SignUpAdmin("admin")), Ct);
        await admin.Accounts.SetLimitsAsync(signUp.Account.Id, new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = 1 }), Ct);
        var client = anonymous.WithToken(signUp.Token.Secret);
        var contract = await client.Contracts.RequestAsync(new ContractRequest([new ContractItemRequest(offering.Id, 1)]), Ct);
        await client.Contracts.AcceptAsync(contract.Id, null, Ct);
        return new Tenant(client, contract.Id);
    }

    private sealed record Tenant(WelkinClient Client, string ContractId) : IDisposable
    {
        public void Dispose() => Client.Dispose();
    }
}

/// <summary>Which machine notices a consumer takes: only the verified session of the peer it has the named agreement in force with.</summary>
public sealed class MachineNoticeTests(PeerClouds clouds) : IClassFixture<PeerClouds>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(XmppIqAnswer Answer, bool Nudged)> SendAsync(string from, bool verified, XElement payload, string type = "set")
    {
        var driver = clouds.NewDriver(TimeSpan.FromHours(1));
        // Stopped, the driver takes nudges but never polls: a nudge the notice made is still due when the test nudges.
        driver.Dispose();
        await using var fabric = new ComputeFabric([new HostPool(PeerClouds.Host, driver)]);
        var answer = await MachineNotice.AnswerAsync(new XmppIqRequest(from + "/welkin", type, payload), verified,
            clouds.Consumer.Services.GetRequiredService<AgreementStore>(), fabric, Ct);
        return (answer, !driver.Nudge());
    }

    [Fact]
    public async Task Notice_FromThePeerOfTheAgreement_NudgesItsPool()
    {
        var (answer, nudged) = await SendAsync(clouds.Provider.XmppAddress, true, MachineNotice.Create(clouds.Agreement.Id));

        answer.IsError.ShouldBeFalse();
        nudged.ShouldBeTrue();
    }

    [Theory]
    [InlineData("unverified", "forbidden")]
    [InlineData("other-agreement", "item-not-found")]
    [InlineData("other-sender", "item-not-found")]
    [InlineData("no-agreement", "item-not-found")]
    [InlineData("get", "bad-request")]
    public async Task Notice_NotFromThePeerOfAnAgreementInForce_IsRefused_AndNudgesNothing(string what, string condition)
    {
        var notice = MachineNotice.Create(clouds.Agreement.Id);
        var (answer, nudged) = what switch
        {
            "unverified" => await SendAsync(clouds.Provider.XmppAddress, false, notice),
            "other-agreement" => await SendAsync(clouds.Provider.XmppAddress, true, MachineNotice.Create(Ids.New(Ids.Agreement, TimeProvider.System))),
            "other-sender" => await SendAsync("rogue@exchange.test", true, notice),
            "no-agreement" => await SendAsync(clouds.Provider.XmppAddress, true, new XElement(MachineNotice.ElementName)),
            _ => await SendAsync(clouds.Provider.XmppAddress, true, notice, "get"),
        };

        answer.Condition.ShouldBe(condition);
        nudged.ShouldBeFalse();
    }
}

using Microsoft.Extensions.DependencyInjection;
using Welkin.Client;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Federation;
using Welkin.Intercloud.Trust;
using Welkin.Testing;

namespace Welkin.Compute.Peer.Tests;

/// <summary>What the peer-cloud driver does beyond the shared suite: a create repeated after a crash, recovery, the pool's status and the peer's events.</summary>
public sealed class PeerDriverTests(PeerClouds clouds) : IClassFixture<PeerClouds>, IDisposable
{
    // Bounds on waiting, generous for a loaded machine; none of them is a performance claim.
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);

    private readonly List<PeerDriver> _drivers = [];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private PeerDriver NewDriver(TimeSpan? pollInterval = null)
    {
        var driver = clouds.NewDriver(pollInterval);
        _drivers.Add(driver);
        return driver;
    }

    private static MachineSpec Spec(string? id = null) =>
        new(id ?? Ids.New(Ids.Machine, TimeProvider.System), "acc_test", PeerClouds.Host, 1, 512, 10, null, "Welkin Test OS",
            new Dictionary<string, string>(), new Dictionary<string, string>(), null, [], []);

    private async Task<WelkinClient> PeerClientAsync()
    {
        var link = (await clouds.Consumer.Services.GetRequiredService<IPeerLinks>().GetAsync(PeerClouds.Peer, Ct)).Value;
        return new WelkinClient(link.Http, link.ApiUrl, link.Credential);
    }

    private WelkinClient ProviderAdmin() => new(clouds.Provider.OrdinaryAdmin(), clouds.Provider.ApiAddress, clouds.Provider.AdminToken);

    [Fact]
    public async Task Create_RepeatedAfterACrashThatLostThePeersAnswer_GetsTheSameRemoteMachine()
    {
        var spec = Spec();
        var link = (await clouds.Consumer.Services.GetRequiredService<IPeerLinks>().GetAsync(PeerClouds.Peer, Ct)).Value;
        // The first driver recorded the machine and sent the provision; the peer took it, and Cloud1 stopped before the answer came.
        var row = await clouds.Store.BeginAsync(PeerClouds.Host, PeerClouds.Peer, link.AgreementId, spec, Ct);
        using var client = await PeerClientAsync();
        var item = (await client.Contracts.GetAsync(link.ContractIds[0], Ct)).Items.Single(i => i.Kind == OfferingKind.Compute).Item;
        var request = new ProvisionRequest(link.ContractIds[0], "welkin-" + spec.MachineId, item,
            [new VirtualSystemChoice("app", 1, spec.Vcpus, spec.MemoryMiB, spec.DiskGiB, spec.OperatingSystem)]);
        var lost = await client.Instances.ProvisionAsync(request, row.IdempotencyKey, Ct);

        var created = await NewDriver().CreateAsync(spec, null, Ct);

        created.Error.ShouldBeNull();
        created.Value.State.ShouldBe(DriverMachineState.Running);
        var stored = (await clouds.Store.GetAsync(spec.MachineId, Ct))!;
        stored.RemoteInstanceId.ShouldBe(lost.Resource.Id);
        var instances = await client.Instances.ListAsync(contractId: link.ContractIds[0], limit: 1000, ct: Ct);
        instances.Items.Count(i => i.Name == "welkin-" + spec.MachineId).ShouldBe(1);
    }

    [Fact]
    public async Task Recover_AMachineWhoseCreateWasInterrupted_FinishesItOnTheSameRemoteMachine()
    {
        var spec = Spec();
        var link = (await clouds.Consumer.Services.GetRequiredService<IPeerLinks>().GetAsync(PeerClouds.Peer, Ct)).Value;
        await clouds.Store.BeginAsync(PeerClouds.Host, PeerClouds.Peer, link.AgreementId, spec, Ct);
        var before = NewDriver();
        (await before.InspectAsync(spec.MachineId, Ct))!.State.ShouldBe(DriverMachineState.Creating);

        var recovered = await NewDriver().RecoverAsync([new KnownMachine(spec, DriverMachineState.Running)], Ct);

        recovered.ShouldHaveSingleItem().State.ShouldBe(DriverMachineState.Running);
        var again = await NewDriver().RecoverAsync([new KnownMachine(spec, DriverMachineState.Running)], Ct);
        again.ShouldHaveSingleItem().Endpoints.ShouldBe(recovered[0].Endpoints);
        (await clouds.Store.GetAsync(spec.MachineId, Ct))!.RemoteMachineId.ShouldNotBeNull();
    }

    [Fact]
    public async Task Recover_AMachineThePeerNoLongerHas_LeavesItOut()
    {
        var driver = NewDriver();
        var spec = Spec();
        (await driver.CreateAsync(spec, null, Ct)).Error.ShouldBeNull();
        // Terminated on the peer behind this cloud's back (under the agreement's credential, as anyone holding it could).
        using var client = await PeerClientAsync();
        var instance = (await clouds.Store.GetAsync(spec.MachineId, Ct))!.RemoteInstanceId!;
        var terminated = await client.Instances.TerminateAsync(instance, null, Ct);
        await Polling.FinishedAsync(c => client.Jobs.GetAsync(terminated.Job.Id, c), Ct);

        (await NewDriver().RecoverAsync([new KnownMachine(spec, DriverMachineState.Running)], Ct)).ShouldBeEmpty();
    }

    [Fact]
    public async Task Status_WithTheAgreementInForce_IsAvailable_WithItsJurisdictionsPriceAndCapacity()
    {
        var driver = NewDriver();

        await Polling.UntilAsync(() => Task.FromResult(driver.Status.Available), "the first poll", Patience, Poll);

        var status = driver.Status;
        status.AgreementId.ShouldBe(clouds.Agreement.Id);
        status.Jurisdictions.ShouldBe(["DE"]);
        (status.PricePerCpuHour, status.Currency).ShouldBe((0.13m, "USD"));
        // The declared pool (64 vCPUs by default) caps what the agreement's 1,000 machines of up to 2 vCPUs would allow.
        status.Vcpus.ShouldBe(64);
        status.MemoryMiB.ShouldBe(262_144);
    }

    [Fact]
    public async Task Status_OfAPeerWithoutAnAgreement_IsUnavailable()
    {
        var driver = clouds.NewDriver(peer: "Cloud9");
        _drivers.Add(driver);

        await driver.PollAsync(Ct);

        driver.Status.Available.ShouldBeFalse();
        driver.Status.Reason.ShouldNotBeNull().ShouldContain("no agreement in force");
        ShouldFail(await driver.CreateAsync(Spec(), null, Ct), "host-unavailable");
    }

    [Fact]
    public async Task MachineStoppedOnThePeer_ReachesTheDriverByPolling()
    {
        var driver = NewDriver(TimeSpan.FromMilliseconds(100));
        var spec = Spec();
        (await driver.CreateAsync(spec, null, Ct)).Error.ShouldBeNull();

        await StopOnThePeerAsync(spec.MachineId);

        var seen = await driver.Events.ReadAsync(Ct);
        (seen.Kind, seen.MachineId, seen.Host).ShouldBe((DriverEvent.MachineStopped, spec.MachineId, PeerClouds.Host));
        (await driver.InspectAsync(spec.MachineId, Ct))!.State.ShouldBe(DriverMachineState.Stopped);
    }

    [Fact]
    public async Task MachineCrashedOnThePeer_ReachesTheDriverAtOnce_WhenNudged()
    {
        // A poll interval no test waits for: only the nudge can bring the news.
        var driver = NewDriver(TimeSpan.FromHours(1));
        var spec = Spec();
        (await driver.CreateAsync(spec, null, Ct)).Error.ShouldBeNull();
        clouds.ProviderFabricDriver.CrashMachine(await clouds.RemoteIdAsync(spec.MachineId)).ShouldBeTrue();
        using var admin = ProviderAdmin();
        await Polling.UntilAsync(async () => (await admin.Machines.GetAsync(await clouds.RemoteIdAsync(spec.MachineId), Ct)).State == MachineState.Error,
            "Cloud2 records the crash", Patience, Poll);

        driver.Nudge().ShouldBeTrue();

        var seen = await driver.Events.ReadAsync(Ct);
        (seen.Kind, seen.MachineId).ShouldBe((DriverEvent.MachineCrashed, spec.MachineId));
    }

    [Fact]
    public void Nudge_Flooded_MakesOnePollDue()
    {
        var driver = NewDriver(TimeSpan.FromHours(1));
        // Stopped, the driver takes nudges but never polls: what is due stays due.
        driver.Dispose();

        var polls = Enumerable.Range(0, 1_000).Count(_ => driver.Nudge());

        polls.ShouldBe(1);
    }

    [Fact]
    public async Task PeerOffline_RaisesHostUnreachable_AndBackOnline_HostReachable()
    {
        var driver = NewDriver(TimeSpan.FromMilliseconds(100));
        await Polling.UntilAsync(() => Task.FromResult(driver.Status.Available), "the first poll", Patience, Poll);
        var peers = clouds.Consumer.Services.GetRequiredService<PeerStore>();

        await peers.SetOfflineAsync(clouds.Provider.XmppAddress, "test: presence unavailable", Ct);
        try
        {
            var failed = await driver.Events.ReadAsync(Ct);
            (failed.Kind, failed.Host, failed.MachineId).ShouldBe((DriverEvent.HostUnreachable, PeerClouds.Host, null));
            driver.Status.Available.ShouldBeFalse();
        }
        finally
        {
            var fingerprint = clouds.Provider.Services.GetRequiredService<FederationCredentials>().Fingerprint;
            await peers.RecordAsync(new PeerObservation(clouds.Provider.XmppAddress, PeerTrustState.Trusted, "verified", clouds.Provider.Name,
                clouds.Provider.ListenerUrl.AbsoluteUri, fingerprint, 2), Ct);
        }

        var recovered = await driver.Events.ReadAsync(Ct);
        (recovered.Kind, recovered.Host).ShouldBe((DriverEvent.HostReachable, PeerClouds.Host));
        await Polling.UntilAsync(() => Task.FromResult(driver.Status.Available), "available again", Patience, Poll);
    }

    [Fact]
    public async Task CallsFailingRepeatedly_RaiseHostUnreachable_AndAnAnswerAgain_HostReachable()
    {
        var links = new CuttableLinks(clouds.Consumer.Services.GetRequiredService<IPeerLinks>(), Loopback.FreePort());
        using var driver = new PeerDriver(PeerClouds.Host, new PeerPoolOptions { Peer = PeerClouds.Peer, PollInterval = TimeSpan.FromHours(1) }, links,
            clouds.Store, TimeProvider.System);
        links.Cut = true;

        for (var i = 0; i < new PeerPoolOptions().FailuresBeforeUnreachable; i++)
        {
            driver.Events.TryRead(out _).ShouldBeFalse("the host fails only after the last of the failed calls");
            await driver.PollAsync(Ct);
        }
        var failed = await driver.Events.ReadAsync(Ct);
        (failed.Kind, failed.Host).ShouldBe((DriverEvent.HostUnreachable, PeerClouds.Host));
        driver.Status.Available.ShouldBeFalse();

        links.Cut = false;
        await driver.PollAsync(Ct);

        (await driver.Events.ReadAsync(Ct)).Kind.ShouldBe(DriverEvent.HostReachable);
        driver.Status.Available.ShouldBeTrue();
    }

    /// <summary>The real links, or (when cut) the same link to a port nobody listens on.</summary>
    private sealed class CuttableLinks(IPeerLinks real, int closedPort) : IPeerLinks
    {
        public bool Cut { get; set; }

        public async Task<Result<PeerLink>> GetAsync(string peer, CancellationToken ct)
        {
            var link = await real.GetAsync(peer, ct);
            return Cut && link.IsSuccess ? link.Value with { ApiUrl = new Uri($"https://127.0.0.1:{closedPort}/") } : link;
        }
    }

    /// <summary>Stops the machine on the peer behind this driver's back.</summary>
    private async Task StopOnThePeerAsync(string machineId)
    {
        using var client = await PeerClientAsync();
        var stop = await client.Machines.ActAsync(await clouds.RemoteIdAsync(machineId), "stop", null, Ct);
        (await Polling.FinishedAsync(c => client.Jobs.GetAsync(stop.Job.Id, c), Ct)).State.ShouldBe(JobState.Succeeded);
    }

    private static void ShouldFail<T>(Result<T> result, string code)
    {
        result.IsSuccess.ShouldBeFalse($"expected {code}");
        result.Error!.Code.ShouldBe(code);
    }

    public void Dispose()
    {
        foreach (var driver in _drivers)
        {
            driver.Dispose();
        }
    }
}

/// <summary>A peer this cloud stops trusting is no pool to place on (a fixture of its own: the distrust ends the agreement).</summary>
public sealed class PeerPoolTrustTests(PeerClouds clouds) : IClassFixture<PeerClouds>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Status_OfADistrustedPeer_IsUnavailable_AndCreateIsRefused()
    {
        using var driver = clouds.NewDriver();
        await Polling.UntilAsync(() => Task.FromResult(driver.Status.Available), "the first poll", TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(50));
        using var admin = new WelkinClient(clouds.Consumer.OrdinaryAdmin(), clouds.Consumer.ApiAddress, clouds.Consumer.AdminToken);

        await admin.Federation.DistrustPeerAsync(PeerClouds.Peer, "test: no longer trusted", Ct);
        await driver.PollAsync(Ct);

        driver.Status.Available.ShouldBeFalse();
        var refused = await driver.CreateAsync(new MachineSpec(Ids.New(Ids.Machine, TimeProvider.System), "acc_test", PeerClouds.Host, 1, 512, 10, null, null,
            new Dictionary<string, string>(), new Dictionary<string, string>(), null, [], []), null, Ct);
        refused.Error!.Code.ShouldBe("host-unavailable");
    }
}

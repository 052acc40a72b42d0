using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Core.Compute;
using Welkin.Core.Data;
using Welkin.Core.Federation;
using Welkin.Core.Instances;
using Welkin.Core.Placement;
using Welkin.Server.Tests.Catalog;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;

namespace Welkin.Server.Tests.Federation;

public sealed class BurstTests(BurstApp app) : IClassFixture<BurstApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly BurstPolicy On = new(true);

    private static readonly PlacementConstraints Us = new(["US"]);

    [Fact]
    public async Task Provision_PlacesLocallyFirst_ThenBurstsToTheCheapestEligiblePeer_AndTheMachineSaysWhereItRuns()
    {
        await SetCloudPolicyAsync(new CloudBurstPolicy(true));
        var tenant = await InstancesApi.TenantAsync(app, quantity: 3, burst: On, contractConstraints: Us);

        var (_, local) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant));
        var (_, remote) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant));

        var home = await tenant.Client.GetMachineAsync(local.Machines.ShouldHaveSingleItem());
        (home.Pool, home.Peer, home.Host, home.State).ShouldBe(("home", null, BurstApp.LocalHost, MachineState.Running));
        // Under the contract's US constraint cloud-d (US and DE) is not eligible, cloud-c prices in EUR: cloud-b it is.
        var burst = await tenant.Client.GetMachineAsync(remote.Machines.ShouldHaveSingleItem());
        (burst.Pool, burst.Peer, burst.Host, burst.State).ShouldBe(("peer-b", "cloud-b", null, MachineState.Running));
        var json = await tenant.Client.GetStringAsync($"/api/v1/machines/{burst.Id}", Ct);
        json.ShouldNotContain("\"host\":\"b-1\"");

        await TerminateAsync(tenant, local.Id, remote.Id);
    }

    [Fact]
    public async Task Scale_WhenLocalHostsAreFull_BurstsTheNewMachine()
    {
        await SetCloudPolicyAsync(new CloudBurstPolicy(true, ["cloud-b"]));
        var tenant = await InstancesApi.TenantAsync(app, quantity: 2, burst: On);
        var (_, instance) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant));
        (await tenant.Client.GetMachineAsync(instance.Machines.Single())).Pool.ShouldBe("home");

        var scaled = await (await tenant.Client.PostAsync($"/api/v1/instances/{instance.Id}/scale", new ScaleRequest("web", 2)))
            .ReadAsync<AcceptedView<InstanceView>>(HttpStatusCode.Accepted);
        (await tenant.Client.WaitAsync(scaled.Job.Id)).State.ShouldBe(JobState.Succeeded);

        var machines = await tenant.Client.MachinesAsync(instance.Id);
        machines.Select(m => (m.Pool, m.Peer, m.State)).Order().ShouldBe([("home", null, MachineState.Running), ("peer-b", "cloud-b", MachineState.Running)]);
        await TerminateAsync(tenant, instance.Id);
    }

    [Fact]
    public async Task Provision_WithoutLocalRoom_RefusesAndSaysWhyForTheOfferingTheCloudAndEachPeer()
    {
        using var full = LocalHostDown();
        await SetCloudPolicyAsync(new CloudBurstPolicy(true));
        var off = await InstancesApi.TenantAsync(app, quantity: 1);
        var refused = await (await off.Client.PostProvisionAsync(InstancesApi.Request(off))).ProblemAsync(HttpStatusCode.Conflict, "insufficient-capacity");
        refused.GetProperty("detail").GetString()!.ShouldContain("Bursting to a peer cloud is off: the offering does not allow it");

        var capped = await InstancesApi.TenantAsync(app, quantity: 1, burst: new BurstPolicy(true, MaxPricePerCpuHour: 0.01m), contractConstraints: Us);
        var detail = (await (await capped.Client.PostProvisionAsync(InstancesApi.Request(capped))).ProblemAsync(HttpStatusCode.Conflict, "insufficient-capacity"))
            .GetProperty("detail").GetString()!;
        detail.ShouldContain("No capacity for 2 vCPU");
        detail.ShouldContain("pool 'peer-b' of peer 'cloud-b': its price 0.05 USD per vCPU-hour is above the ceiling 0.01");
        detail.ShouldContain("pool 'peer-c' of peer 'cloud-c': it prices in EUR, the offering in USD");
        detail.ShouldContain("pool 'peer-d' of peer 'cloud-d': it may run machines in DE, outside the allowed jurisdictions US");

        await SetCloudPolicyAsync(new CloudBurstPolicy(true, ["cloud-x"]));
        var allowed = await InstancesApi.TenantAsync(app, quantity: 1, burst: On);
        (await (await allowed.Client.PostProvisionAsync(InstancesApi.Request(allowed))).ProblemAsync(HttpStatusCode.Conflict, "insufficient-capacity"))
            .GetProperty("detail").GetString()!.ShouldContain("pool 'peer-d' of peer 'cloud-d': not a peer the bursting policy allows");

        await SetCloudPolicyAsync(new CloudBurstPolicy(false));
        (await (await allowed.Client.PostProvisionAsync(InstancesApi.Request(allowed))).ProblemAsync(HttpStatusCode.Conflict, "insufficient-capacity"))
            .GetProperty("detail").GetString()!.ShouldContain("this cloud's policy does not allow it");
    }

    [Fact]
    public async Task PeerPoolBecomingUnavailable_TakesNoNewMachines_AndTellsTheConsumersWhoseMachinesRunThere()
    {
        using var full = LocalHostDown();
        await SetCloudPolicyAsync(new CloudBurstPolicy(true));
        var watch = app.Services.GetRequiredService<PeerPoolWatch>();
        try
        {
            await watch.CheckAsync(Ct);
            var tenant = await InstancesApi.TenantAsync(app, quantity: 3, burst: On);
            var (_, first) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant));
            var there = await tenant.Client.GetMachineAsync(first.Machines.ShouldHaveSingleItem());
            (there.Pool, there.Peer).ShouldBe(("peer-d", "cloud-d"));

            app.D.Status = PeerPoolStatus.Unavailable("trust in cloud-d was revoked");
            // The server's own watch may see the change first; either way it is told once.
            await watch.CheckAsync(Ct);
            (await watch.CheckAsync(Ct)).ShouldBe(0);
            var told = (await tenant.Client.EventsAsync(there.Id)).Where(e => e.Type == PeerPoolWatch.Unavailable).ShouldHaveSingleItem();
            told.Data["peer"].ShouldBe("cloud-d");
            told.Data["reason"].ShouldBe("trust in cloud-d was revoked");

            var (_, second) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant));
            (await tenant.Client.GetMachineAsync(second.Machines.ShouldHaveSingleItem())).Pool.ShouldBe("peer-b");

            app.B.Status = PeerPoolStatus.Unavailable("the agreement with cloud-b ended");
            (await (await tenant.Client.PostProvisionAsync(InstancesApi.Request(tenant))).ProblemAsync(HttpStatusCode.Conflict, "insufficient-capacity"))
                .GetProperty("detail").GetString()!.ShouldContain("pool 'peer-d' of peer 'cloud-d': unavailable (trust in cloud-d was revoked)");
            await TerminateAsync(tenant, first.Id, second.Id);
        }
        finally
        {
            app.ResetPeers();
            await watch.CheckAsync(Ct);
        }
    }

    [Fact]
    public async Task MachinePlacedWhileTheWatchLastSawThePoolUnavailable_IsToldWhenThePoolGoesAgain()
    {
        using var full = LocalHostDown();
        await SetCloudPolicyAsync(new CloudBurstPolicy(true, ["cloud-d"]));
        var watch = app.Services.GetRequiredService<PeerPoolWatch>();
        try
        {
            // The watch last looked while cloud-d's pool was unavailable; it came back and took a machine before the next look.
            app.D.Status = PeerPoolStatus.Unavailable("cloud-d is offline");
            await watch.CheckAsync(Ct);
            app.ResetPeers();
            var tenant = await InstancesApi.TenantAsync(app, quantity: 1, burst: On);
            var (_, instance) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant));
            var there = await tenant.Client.GetMachineAsync(instance.Machines.ShouldHaveSingleItem());
            there.Pool.ShouldBe("peer-d");

            app.D.Status = PeerPoolStatus.Unavailable("trust in cloud-d was revoked");
            await watch.CheckAsync(Ct);

            var told = (await tenant.Client.EventsAsync(there.Id)).Where(e => e.Type == PeerPoolWatch.Unavailable).ShouldHaveSingleItem();
            told.Data["reason"].ShouldBe("trust in cloud-d was revoked");
            app.ResetPeers();
            await watch.CheckAsync(Ct);
            (await tenant.Client.EventsAsync(there.Id)).ShouldContain(e => e.Type == PeerPoolWatch.Available);
            await TerminateAsync(tenant, instance.Id);
        }
        finally
        {
            app.ResetPeers();
            await watch.CheckAsync(Ct);
        }
    }

    [Fact]
    public async Task OfferingBurstPolicy_IsValidated_AndShownInTheCatalog()
    {
        var admin = app.Admin();
        var template = await admin.PublishedTemplateAsync(CatalogApi.Template(CatalogApi.UniquePrefix("burst") + "template"));
        var spec = CatalogApi.Compute(CatalogApi.UniquePrefix("burst") + "compute", template.Id);
        var bad = await admin.PostAsJsonAsync("/api/v1/offerings", spec with { Burst = new BurstPolicy(true, [""], -1m) }, WelkinJson.Client, Ct);
        var problem = await bad.ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        problem.GetRawText().ShouldContain("burst.maxPricePerCpuHour");
        problem.GetRawText().ShouldContain("burst.peers");

        var offering = await admin.PublishOfferingAsync((await admin.CreateOfferingAsync(spec with { Burst = new BurstPolicy(true, ["cloud-b"], 0.05m) })).Id);
        var shown = await app.Anonymous().GetFromJsonAsync<OfferingView>($"/api/v1/catalog/offerings/{offering.Id}", WelkinJson.Client, Ct);
        shown!.Spec.Burst.ShouldBe(new BurstPolicy(true, ["cloud-b"], 0.05m), new BurstComparer());
    }

    [Fact]
    public async Task CloudBurstPolicy_IsVersionedValidatedAndAudited()
    {
        var admin = app.Admin();
        var current = await admin.GetFromJsonAsync<CloudBurstPolicy>("/api/v1/federation/burst", WelkinJson.Client, Ct);
        var set = await (await admin.PutAsJsonAsync("/api/v1/federation/burst", new CloudBurstPolicy(true, ["cloud-b"], 0.07m, current!.Version), WelkinJson.Client, Ct))
            .ReadAsync<CloudBurstPolicy>();
        (set.Enabled, set.Peers!.Single(), set.MaxPricePerCpuHour, set.Version).ShouldBe((true, "cloud-b", 0.07m, current.Version + 1));
        (await admin.GetFromJsonAsync<CloudBurstPolicy>("/api/v1/federation/burst", WelkinJson.Client, Ct))!.Version.ShouldBe(set.Version);

        await (await admin.PutAsJsonAsync("/api/v1/federation/burst", new CloudBurstPolicy(false, Version: current.Version), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.PreconditionFailed, "precondition-failed");
        await (await admin.PutAsJsonAsync("/api/v1/federation/burst", new CloudBurstPolicy(true, MaxPricePerCpuHour: -1m, Version: set.Version), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        var audited = await app.Services.GetRequiredService<IDatabase>().QueryAsync<string>(
            "SELECT detail FROM audit_log WHERE action = @Action", new { Action = BurstPolicies.UpdateAction }, Ct);
        audited.ShouldContain(d => d.Contains($"version={set.Version};") && d.Contains("maxPricePerCpuHour=0.07"));
    }

    private async Task SetCloudPolicyAsync(CloudBurstPolicy policy)
    {
        var admin = app.Admin();
        var current = await admin.GetFromJsonAsync<CloudBurstPolicy>("/api/v1/federation/burst", WelkinJson.Client, Ct);
        await (await admin.PutAsJsonAsync("/api/v1/federation/burst", policy with { Version = current!.Version }, WelkinJson.Client, Ct)).ReadAsync<CloudBurstPolicy>();
    }

    private async Task TerminateAsync(InstancesApi.Tenant tenant, params string[] instances)
    {
        foreach (var id in instances)
        {
            var accepted = await (await tenant.Client.PostAsync($"/api/v1/instances/{id}/terminate")).ReadAsync<AcceptedView<InstanceView>>(HttpStatusCode.Accepted);
            (await tenant.Client.WaitAsync(accepted.Job.Id)).State.ShouldBe(JobState.Succeeded);
        }
    }

    /// <summary>Takes the local host out of placement until disposed, as if it were full.</summary>
    private DownHost LocalHostDown() => new(app.Services.GetRequiredService<Placer>());

    private sealed class DownHost : IDisposable
    {
        private readonly Placer _placer;

        public DownHost(Placer placer)
        {
            _placer = placer;
            _placer.SetDown(BurstApp.LocalHost, true);
        }

        public void Dispose() => _placer.SetDown(BurstApp.LocalHost, false);
    }

    private sealed class BurstComparer : IEqualityComparer<BurstPolicy?>
    {
        public bool Equals(BurstPolicy? x, BurstPolicy? y) =>
            x is not null && y is not null && x.Enabled == y.Enabled && x.MaxPricePerCpuHour == y.MaxPricePerCpuHour
            && (x.Peers ?? []).SequenceEqual(y.Peers ?? []);

        public int GetHashCode(BurstPolicy? obj) => obj?.Enabled.GetHashCode() ?? 0;
    }
}

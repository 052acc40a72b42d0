using System.Net;
using System.Net.Http.Json;
using Welkin.Contracts;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;
using Welkin.Testing;
using static Welkin.Server.Tests.Federation.BurstClouds;

namespace Welkin.Server.Tests.Federation;

/// <summary>
/// Intercloud III end to end with Prosody and three cloud processes (<see cref="BurstClouds"/>): ProviderCo-US bursts
/// to ProviderCo-DE when its own pool is full, bills the remote machine at its own prices and reconciles against
/// what DE charges it; CloudCoC, a broker without hosts, resells DE's offering with a margin; DE killed and
/// restarted leaves US's machines there unknown, then running again, without billing the time between.
/// </summary>
public sealed class BurstScenarioTests(BurstClouds clouds) : IClassFixture<BurstClouds>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task BurstOnExhaustion_RunsTheMachineInThePeer_SeenAsTheConsumersOwn_AndItStaysWhenLocalRoomComesBack()
    {
        var scenario = await clouds.ReadyAsync();
        var filler = await FillLocalAsync(scenario);
        var tenant = await clouds.TenantAsync("us", scenario.UsOffering.Id);

        var (_, instance) = await tenant.Client.ProvisionedAsync(Request(tenant));

        var machine = await tenant.Client.GetMachineAsync(instance.Machines.ShouldHaveSingleItem());
        (machine.Pool, machine.Peer, machine.Host, machine.State, machine.AccountId, machine.InstanceId).ShouldBe(
            (Pool, Peer, null, MachineState.Running, tenant.AccountId, instance.Id));
        (machine.Vcpus, machine.MemoryMiB, machine.DiskGiB).ShouldBe((2, 6144L, 100L));
        var listed = (await tenant.Client.MachinesAsync(instance.Id)).ShouldHaveSingleItem();
        listed.Id.ShouldBe(machine.Id, "the same id in every view");
        var remote = await RemoteMachineAsync(scenario.UsAgreement, machine);
        machine.Access!.Endpoints.ShouldBe(remote.Access!.Endpoints, "the access endpoints are DE's, relayed");
        machine.Access.Endpoints.ShouldNotBeEmpty();
        (remote.State, remote.Vcpus).ShouldBe((MachineState.Running, 2));

        var console = await (await tenant.Client.GetAsync($"/api/v1/machines/{machine.Id}/console", Ct)).Content.ReadAsStringAsync(Ct);
        console.ShouldBe(await (await clouds.Admin("de").GetAsync($"/api/v1/machines/{remote.Id}/console", Ct)).Content.ReadAsStringAsync(Ct));
        console.ShouldNotBeEmpty();
        var metrics = await (await tenant.Client.GetAsync($"/api/v1/machines/{machine.Id}/metrics", Ct)).ReadAsync<MachineMetricsView>();
        metrics.MachineId.ShouldBe(machine.Id);

        // Local room comes back: the remote machine stays where it is, and the next provision is local.
        await TerminateAsync(filler.Client, filler.InstanceId);
        var (_, local) = await tenant.Client.ProvisionedAsync(Request(tenant));
        (await tenant.Client.GetMachineAsync(local.Machines.Single())).Pool.ShouldBe(LocalPool);
        var after = await tenant.Client.GetMachineAsync(machine.Id);
        (after.Pool, after.Peer, after.State).ShouldBe((Pool, Peer, MachineState.Running));

        await TerminateAsync(tenant.Client, instance.Id, local.Id);
    }

    [Fact]
    public async Task RemoteUsage_IsBilledAtThisCloudsPrices_AndReconciledAgainstWhatThePeerCharges()
    {
        var scenario = await clouds.ReadyAsync();
        var filler = await FillLocalAsync(scenario);
        var tenant = await clouds.TenantAsync("us", scenario.UsOffering.Id, quantity: 1);
        var (_, instance) = await tenant.Client.ProvisionedAsync(Request(tenant));
        var machine = await tenant.Client.GetMachineAsync(instance.Machines.Single());
        machine.Pool.ShouldBe(Pool);
        var remote = await RemoteMachineAsync(scenario.UsAgreement, machine);
        await TerminateAsync(filler.Client, filler.InstanceId);

        await EndedAndMeteredAsync(tenant, instance.Id, scenario.UsAgreement, remote.Id);

        var usage = await UsageAsync(tenant.Client, tenant.AccountId);
        var vcpuMs = usage.Groups.Single(g => g.Key == machine.Id).Totals.Single(t => t.Metric == "vcpu-ms").Quantity;
        vcpuMs.ShouldBePositive();
        var invoice = await PreviewAsync(tenant);
        var cpu = invoice.Lines.Single(l => l.Metric == "cpu-hour");
        (cpu.UnitPrice, cpu.UsageQuantity).ShouldBe((UsCpuHour, vcpuMs), "the remote machine is billed at US's plan, from US's own metering");
        cpu.Amount.ShouldBe(Math.Round(vcpuMs * UsCpuHour / 3_600_000m, 2, MidpointRounding.ToEven));

        var report = await ReconciliationAsync("us", scenario.UsAgreement);
        var line = report.Machines.Single(m => m.MachineId == machine.Id);
        (line.AccountId, line.ContractId, line.Pool).ShouldBe((tenant.AccountId, tenant.Contract.Id, Pool));
        line.Usage.Single(u => u.Metric == "vcpu-ms").Quantity.ShouldBe(vcpuMs);
        line.Revenue.Single().Total.ShouldBe(invoice.Lines.Where(l => l.Kind == InvoiceLineKind.Charge).Sum(l => l.Amount));
        (report.Peer.Name, report.PeerInvoiceIssued).ShouldBe((Peer, false));
        var peerInvoice = await PeerPreviewAsync(scenario.UsAgreement);
        var deCpu = peerInvoice.Lines.Single(l => l.Metric == "cpu-hour");
        deCpu.UnitPrice.ShouldBe(DeCpuHour, "DE charges US at DE's plan");
        var amount = report.Amounts.ShouldHaveSingleItem();
        amount.Currency.ShouldBe("USD");
        // Read a moment apart: DE's charge for ordered units grows by a cent every two minutes or so meanwhile.
        amount.Cost.ShouldBe(peerInvoice.Totals.Single().Total, 0.01m);
        amount.Revenue.ShouldBe(report.Machines.Sum(m => m.Revenue.Single().Total));
        amount.Margin.ShouldBe(amount.Revenue - amount.Cost);
    }

    [Fact]
    public async Task PeerKilledAndRestarted_ItsMachinesGoUnknownUnbilled_CountAsDowntime_AndRunAgainAfterwards()
    {
        var scenario = await clouds.ReadyAsync();
        var filler = await FillLocalAsync(scenario);
        var tenant = await clouds.TenantAsync("us", scenario.UsOffering.Id, quantity: 1);
        var (_, instance) = await tenant.Client.ProvisionedAsync(Request(tenant));
        var machine = await tenant.Client.GetMachineAsync(instance.Machines.Single());
        machine.Pool.ShouldBe(Pool);
        await TerminateAsync(filler.Client, filler.InstanceId);

        await clouds.Server("de").KillAsync();
        await Polling.UntilAsync(async () => (await tenant.Client.GetMachineAsync(machine.Id)).State == MachineState.Unknown,
            "US's machine in DE's pool unknown once DE is gone", Patience, Poll);
        var unreachable = (await tenant.Client.EventsAsync(machine.Id)).Single(e => e.Type == "machine.unreachable");
        (unreachable.Data["vcpus"], unreachable.Data["contractId"]).ShouldBe(("2", tenant.Contract.Id));
        await Polling.UntilAsync(async () => (await AvailabilityAsync(tenant)).Measured < 100m,
            "the SLA evaluation counting the unknown time as downtime (the offering's terms: unknownCountsAsDowntime, default true)", Patience, Poll);
        var availability = await AvailabilityAsync(tenant);
        (availability.Target, availability.Breached).ShouldBe((99.9m, false), "seconds down are within what a month allows");

        await clouds.StartAsync("de");
        await Polling.UntilAsync(async () => (await tenant.Client.GetMachineAsync(machine.Id)).State == MachineState.Running,
            "US's machine running again once DE answers", Patience, Poll);
        var remote = await RemoteMachineAsync(scenario.UsAgreement, machine);
        remote.State.ShouldBe(MachineState.Running, "DE kept the machine through its restart");
        await EndedAndMeteredAsync(tenant, instance.Id, scenario.UsAgreement, remote.Id);

        // Billed exactly for the time the machine was known to run: the unknown interval is not metered, nor twice.
        var events = (await tenant.Client.EventsAsync(machine.Id)).OrderBy(e => e.Seq).ToList();
        var usage = await UsageAsync(tenant.Client, tenant.AccountId);
        var vcpuMs = usage.Groups.Single(g => g.Key == machine.Id).Totals.Single(t => t.Metric == "vcpu-ms").Quantity;
        vcpuMs.ShouldBe(machine.Vcpus * RunningMs(events), string.Join("; ", events.Select(e => $"{e.Type}@{e.At:O}")));
        var unknownStart = events.Single(e => e.Type == "machine.unreachable").At;
        var back = events.First(e => e.Type == "machine.activated" && e.At > unknownStart).At;
        back.ShouldBeGreaterThan(unknownStart);
    }

    [Fact]
    public async Task Broker_ResellsTheProvidersOfferingWithAMargin_ItsConsumersMachineRunsThere_AndItsReportShowsCostRevenueAndMargin()
    {
        var scenario = await clouds.ReadyAsync();
        var cc = clouds.Admin("cc");
        var resold = await (await cc.GetAsync($"/api/v1/catalog/offerings/{scenario.Resale.OfferingId}", Ct)).ReadAsync<OfferingView>();
        resold.Spec.PricePlan.Rates.Select(r => (r.Metric, r.Price)).ShouldBe([("compute-unit", 50m), ("cpu-hour", 450m)]);
        var tenant = await clouds.TenantAsync("cc", resold.Id, quantity: 1);

        var (_, instance) = await tenant.Client.ProvisionedAsync(Request(tenant));

        var machine = await tenant.Client.GetMachineAsync(instance.Machines.ShouldHaveSingleItem());
        (machine.Pool, machine.Peer, machine.State).ShouldBe((Pool, Peer, MachineState.Running));
        var remote = await RemoteMachineAsync(scenario.CcAgreement, machine);
        remote.State.ShouldBe(MachineState.Running);
        await EndedAndMeteredAsync(tenant, instance.Id, scenario.CcAgreement, remote.Id);

        var invoice = await PreviewAsync(tenant);
        var cpu = invoice.Lines.Single(l => l.Metric == "cpu-hour");
        (cpu.UnitPrice, cpu.Offering).ShouldBe((450m, resold.Spec.Name));
        cpu.Amount.ShouldBe(Math.Round(cpu.UsageQuantity!.Value * 450m / 3_600_000m, 2, MidpointRounding.ToEven));
        cpu.Amount.ShouldBePositive();
        invoice.Lines.Single(l => l.Metric == "compute-unit" && l.Kind == InvoiceLineKind.Charge).UnitPrice.ShouldBe(50m);

        var report = await ReconciliationAsync("cc", scenario.CcAgreement);
        var line = report.Machines.ShouldHaveSingleItem();
        (line.MachineId, line.AccountId, line.Pool).ShouldBe((machine.Id, tenant.AccountId, Pool));
        var peerInvoice = await PeerPreviewAsync(scenario.CcAgreement);
        var amount = report.Amounts.ShouldHaveSingleItem();
        // Read a moment apart: DE's charge for ordered units grows by a cent every two minutes or so meanwhile.
        amount.Cost.ShouldBe(peerInvoice.Totals.ShouldHaveSingleItem().Total, 0.01m, "the cost is what DE charges CloudCoC");
        amount.Revenue.ShouldBe(line.Revenue.Single().Total);
        amount.Margin.ShouldBe(amount.Revenue - amount.Cost);
        amount.Cost.ShouldBePositive();
        amount.Revenue.ShouldBePositive();
        // DE charges CloudCoC 360 USD a CPU hour for the machine; CloudCoC's consumer pays 450.
        var deCpu = peerInvoice.Lines.Single(l => l.Metric == "cpu-hour");
        (deCpu.UnitPrice, deCpu.UsageQuantity > 0).ShouldBe((DeCpuHour, true));
    }

    /// <summary>The time the events say the machine ran: from each activation to the deactivation, failure or release that follows it.</summary>
    private static long RunningMs(IReadOnlyList<EventView> events)
    {
        long total = 0;
        DateTimeOffset? since = null;
        foreach (var e in events)
        {
            if (e.Type == "machine.activated")
            {
                since ??= e.At;
            }
            else if (e.Type is "machine.deactivated" or "machine.failed" or "machine.released" && since is { } from)
            {
                total += (long)(e.At - from).TotalMilliseconds;
                since = null;
            }
        }
        return total;
    }

    private static async Task<SlaTermView> AvailabilityAsync(Tenant tenant) =>
        (await (await tenant.Client.GetAsync($"/api/v1/contracts/{tenant.Contract.Id}/sla", Ct)).ReadAsync<SlaReportView>()).Terms.Single(t => t.Term == "availability");

    private static ProvisionRequest Request(Tenant tenant) => new(tenant.Contract.Id, VirtualSystems: [new VirtualSystemChoice("web", 1)]);

    /// <summary>Fills US's local pool with a machine of an offering that may not burst; returns its consumer and instance.</summary>
    private async Task<(HttpClient Client, string InstanceId)> FillLocalAsync(Scenario scenario)
    {
        var filler = await clouds.TenantAsync("us", scenario.LocalOffering.Id, quantity: 2);
        var (_, instance) = await filler.Client.ProvisionedAsync(Request(filler));
        (await filler.Client.GetMachineAsync(instance.Machines.Single())).Pool.ShouldBe(LocalPool);
        var refused = await (await filler.Client.PostProvisionAsync(Request(filler))).ProblemAsync(HttpStatusCode.Conflict, "insufficient-capacity");
        refused.GetProperty("detail").GetString()!.ShouldContain("the offering does not allow it");
        return (filler.Client, instance.Id);
    }

    /// <summary>The provider's view of the consumer cloud's machine: the one machine of the agreement's account on DE with the same sizes.</summary>
    private async Task<MachineView> RemoteMachineAsync(AgreementView agreement, MachineView machine)
    {
        var page = await (await clouds.Admin("de").GetAsync($"/api/v1/machines?accountId={agreement.AccountId}&limit=1000", Ct)).ReadAsync<Page<MachineView>>();
        var live = page.Items.Where(m => m.Released is null).ToList();
        live.ShouldNotBeEmpty($"{machine.Id} has a machine on DE");
        return live.OrderByDescending(m => m.Created).First();
    }

    /// <summary>Terminates the instance and waits until both clouds metered past the release of the machine on each.</summary>
    private async Task EndedAndMeteredAsync(Tenant tenant, string instanceId, AgreementView agreement, string remoteId)
    {
        await TerminateAsync(tenant.Client, instanceId);
        var released = (await tenant.Client.MachinesAsync(instanceId)).Single().Released!.Value;
        await Polling.UntilAsync(async () => (await UsageAsync(tenant.Client, tenant.AccountId)).MeteredTo >= released,
            "the consumer's cloud metered past the machine's release", Patience, Poll);
        var de = clouds.Admin("de");
        await Polling.UntilAsync(async () => (await de.GetMachineAsync(remoteId)).Released is { } gone && (await UsageAsync(de, agreement.AccountId!)).MeteredTo >= gone,
            "DE metered past the release of its machine", Patience, Poll);
    }

    private static async Task<UsageReport> UsageAsync(HttpClient client, string accountId) =>
        await (await client.GetAsync($"/api/v1/accounts/{accountId}/usage?groupBy=resource", Ct)).ReadAsync<UsageReport>();

    private static async Task<InvoiceView> PreviewAsync(Tenant tenant) =>
        await (await tenant.Client.GetAsync($"/api/v1/accounts/{tenant.AccountId}/invoices/preview", Ct)).ReadAsync<InvoiceView>();

    private async Task<AgreementReconciliation> ReconciliationAsync(string user, AgreementView agreement) =>
        await (await clouds.Admin(user).GetAsync($"/api/v1/federation/agreements/{agreement.Id}/reconciliation", Ct)).ReadAsync<AgreementReconciliation>();

    private async Task<InvoiceView> PeerPreviewAsync(AgreementView agreement) =>
        await (await clouds.Admin("de").GetAsync($"/api/v1/accounts/{agreement.AccountId}/invoices/preview", Ct)).ReadAsync<InvoiceView>();

    private static async Task TerminateAsync(HttpClient client, params string[] instances)
    {
        foreach (var id in instances)
        {
            var accepted = await (await client.PostAsync($"/api/v1/instances/{id}/terminate")).ReadAsync<AcceptedView<InstanceView>>(HttpStatusCode.Accepted);
            (await client.WaitAsync(accepted.Job.Id)).State.ShouldBe(JobState.Succeeded);
        }
    }
}

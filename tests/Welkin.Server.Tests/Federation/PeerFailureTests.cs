using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Compute.Peer;
using Welkin.Contracts;
using Welkin.Core.Data;
using Welkin.Server.Tests.Instances;
using Welkin.Testing;

namespace Welkin.Server.Tests.Federation;

/// <summary>
/// A partition Cloud2 does not see: Cloud1 loses Cloud2's presence for two hours while its tenant's machine keeps running
/// there. The tenant gets its availability credit from Cloud1; Cloud2 owes Cloud1 nothing, and the reconciliation shows
/// the difference.
/// </summary>
public sealed class PeerPartitionTests(PeerPoolClouds clouds) : IClassFixture<PeerPoolClouds>
{
    [Fact]
    public async Task PeerUnreachable_CreditsTheTenantOnCloud1sInvoice_AndNothingFromThePeer()
    {
        var (tenant, machineId) = await PeerFailures.RunningMachineAsync(clouds);
        clouds.Clock.Advance(TimeSpan.FromHours(1));

        await clouds.PeerOfflineAsync();
        await PeerFailures.UntilStateAsync(tenant, machineId, MachineState.Unknown);
        clouds.Clock.Advance(TimeSpan.FromHours(2));
        await clouds.PeerOnlineAsync();
        await PeerFailures.UntilStateAsync(tenant, machineId, MachineState.Running);
        clouds.Clock.Advance(TimeSpan.FromHours(1));
        await clouds.EvaluateSlasAsync();

        // Cloud1 bills the two hours its records say the machine ran, and credits 10 % for 50 % availability.
        var invoice = await PeerFailures.TenantInvoiceAsync(tenant);
        invoice.Lines.Single(l => l.Metric == "cpu-hour").Quantity.ShouldBe(2m);
        var credit = PeerFailures.AvailabilityCredit(invoice, tenant.Contract.Id);
        // The machine ran at Cloud2 all along: Cloud2 bills its four hours and credits nothing.
        var peerInvoice = await PeerFailures.PeerInvoiceAsync(clouds);
        peerInvoice.Lines.Single(l => l.Metric == "cpu-hour").Quantity.ShouldBe(4m);
        peerInvoice.Lines.ShouldNotContain(l => l.Kind == InvoiceLineKind.SlaCredit);

        var amount = await PeerFailures.ReconciledAsync(clouds, peerInvoice);
        amount.PeerCredits.ShouldBe(0m);
        amount.CreditsGranted.ShouldBe(credit);
        amount.NetMargin.ShouldBe(amount.Margin + credit);
    }
}

/// <summary>
/// An outage Cloud2's records show: its host fails for two hours under the tenant's machine. Both clouds' SLA evaluations
/// see it, so the tenant gets its credit from Cloud1 and Cloud1 its credit from Cloud2, each on its invoice.
/// </summary>
public sealed class PeerHostFailureTests(PeerPoolClouds clouds) : IClassFixture<PeerPoolClouds>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task HostFailureAtThePeer_CreditsTheTenant_AndCloud1FromThePeer_BothOnTheInvoices()
    {
        var (tenant, machineId) = await PeerFailures.RunningMachineAsync(clouds);
        var remote = (await new PeerMachineStore(clouds.Consumer.Services.GetRequiredService<IDatabase>(), clouds.Clock).GetAsync(machineId, Ct))!.RemoteMachineId!;
        var operatorAtPeer = clouds.Provider.OrdinaryAdmin();
        clouds.Clock.Advance(TimeSpan.FromHours(1));

        await SetHostAsync(operatorAtPeer, down: true);
        (await operatorAtPeer.GetMachineAsync(remote)).State.ShouldBe(MachineState.Error);
        await PeerFailures.UntilStateAsync(tenant, machineId, MachineState.Error);
        clouds.Clock.Advance(TimeSpan.FromHours(2));
        await SetHostAsync(operatorAtPeer, down: false);
        var started = await tenant.Client.ActAsync(machineId, "start");
        started.State.ShouldBe(JobState.Succeeded, started.ErrorDetail);
        (await operatorAtPeer.GetMachineAsync(remote)).State.ShouldBe(MachineState.Running);
        clouds.Clock.Advance(TimeSpan.FromHours(1));
        await clouds.EvaluateSlasAsync();

        // Each side bills the two hours the machine ran, once, and credits 10 % for 50 % availability.
        var invoice = await PeerFailures.TenantInvoiceAsync(tenant);
        invoice.Lines.Single(l => l.Metric == "cpu-hour").Quantity.ShouldBe(2m);
        var credit = PeerFailures.AvailabilityCredit(invoice, tenant.Contract.Id);
        var peerInvoice = await PeerFailures.PeerInvoiceAsync(clouds);
        peerInvoice.Lines.Single(l => l.Metric == "cpu-hour").Quantity.ShouldBe(2m);
        var peerCredit = PeerFailures.AvailabilityCredit(peerInvoice, clouds.Agreement.ContractIds.Single());

        var amount = await PeerFailures.ReconciledAsync(clouds, peerInvoice);
        amount.PeerCredits.ShouldBe(peerCredit);
        amount.CreditsGranted.ShouldBe(credit);
        amount.NetMargin.ShouldBe(amount.Revenue + credit - amount.Cost);
    }

    private static async Task SetHostAsync(HttpClient operatorAtPeer, bool down)
    {
        var response = await operatorAtPeer.PostAsJsonAsync($"/api/v1/fabric/hosts/{PeerPoolClouds.PeerHost}/state", new HostStateRequest(down, "test"), WelkinJson.Client, Ct);
        (await response.ReadAsync<HostStatusView>()).Down.ShouldBe(down);
    }
}

internal static class PeerFailures
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A tenant of Cloud1 and its one machine, placed in Cloud2's pool and running.</summary>
    public static async Task<(InstancesApi.Tenant Tenant, string MachineId)> RunningMachineAsync(PeerPoolClouds clouds)
    {
        var tenant = await clouds.TenantAsync();
        var (_, instance) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant, constraints: PeerPoolClouds.AtPeer));
        var machine = await tenant.Client.GetMachineAsync(instance.Machines.Single());
        (machine.Pool, machine.Peer, machine.State).ShouldBe((PeerPoolClouds.Pool, PeerPoolClouds.Peer, MachineState.Running));
        return (tenant, machine.Id);
    }

    public static Task UntilStateAsync(InstancesApi.Tenant tenant, string machineId, MachineState state) =>
        Polling.UntilAsync(async () => (await tenant.Client.GetMachineAsync(machineId)).State == state, $"machine {machineId} {state}",
            TimeSpan.FromMinutes(1), TimeSpan.FromMilliseconds(20));

    public static async Task<InvoiceView> TenantInvoiceAsync(InstancesApi.Tenant tenant) =>
        await (await tenant.Client.GetAsync($"/api/v1/accounts/{tenant.AccountId}/invoices/preview", Ct)).ReadAsync<InvoiceView>();

    /// <summary>Cloud2's invoice (its preview) to Cloud1's account there, as Cloud2's provider admin reads it.</summary>
    public static async Task<InvoiceView> PeerInvoiceAsync(PeerPoolClouds clouds) =>
        await (await clouds.Provider.OrdinaryAdmin().GetAsync($"/api/v1/accounts/{clouds.Agreement.AccountId}/invoices/preview", Ct)).ReadAsync<InvoiceView>();

    /// <summary>The contract's one credit line: the availability term, 10 % of the contract's charges rounded half-even to the cent.</summary>
    public static decimal AvailabilityCredit(InvoiceView invoice, string contractId)
    {
        var lines = invoice.Lines.Where(l => l.ContractId == contractId).ToList();
        var charges = lines.Where(l => l.Kind != InvoiceLineKind.SlaCredit).Sum(l => l.Amount);
        charges.ShouldBeGreaterThan(0m);
        var credit = lines.Where(l => l.Kind == InvoiceLineKind.SlaCredit).ShouldHaveSingleItem();
        credit.Term.ShouldBe("availability");
        credit.CreditPercent.ShouldBe(10m);
        credit.Amount.ShouldBe(-Math.Round(charges * 10m / 100m, 2, MidpointRounding.ToEven));
        invoice.Totals.Single().Credits.ShouldBe(credit.Amount);
        return credit.Amount;
    }

    /// <summary>Cloud1's reconciliation of the agreement in USD, checked against Cloud2's invoice read at the same instant.</summary>
    public static async Task<ReconciledAmount> ReconciledAsync(PeerPoolClouds clouds, InvoiceView peerInvoice)
    {
        var report = await (await clouds.Consumer.OrdinaryAdmin().GetAsync($"/api/v1/federation/agreements/{clouds.Agreement.Id}/reconciliation", Ct))
            .ReadAsync<AgreementReconciliation>();
        report.Machines.ShouldHaveSingleItem();
        var amount = report.Amounts.ShouldHaveSingleItem();
        var totals = peerInvoice.Totals.Single();
        (amount.Currency, amount.PeerCharges, amount.PeerCredits, amount.Cost).ShouldBe(("USD", totals.Charges, totals.Credits, totals.Total));
        amount.Margin.ShouldBe(amount.Revenue - amount.Cost);
        return amount;
    }
}

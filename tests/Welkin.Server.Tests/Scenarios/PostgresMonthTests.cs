using System.Net;
using System.Net.Http.Json;
using Welkin.Contracts;
using Welkin.Server.Tests.Catalog;
using Welkin.Server.Tests.Configuration;
using Welkin.Server.Tests.Contracts;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;
using Welkin.Server.Tests.Sla;
using Welkin.Testing;

namespace Welkin.Server.Tests.Scenarios;

/// <summary>The month's machinery (monitor, scaling, metering, SLA evaluation, invoicing) in simulation mode on PostgreSQL, from 31 December 2026 at 20:00 UTC.</summary>
public sealed class PostgresMonthApp : MonthApp
{
    public PostgresMonthApp() : base(new DateTimeOffset(2026, 12, 31, 20, 0, 0, TimeSpan.Zero))
    {
        Postgres = new PostgresCluster();
    }
}

public sealed class PostgresMonthTests(PostgresMonthApp app) : IClassFixture<PostgresMonthApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task MeasuredScaledMeteredAndInvoiced_OnPostgres()
    {
        var admin = app.Admin();
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var catalogManager = await app.ProviderPrincipalAsync(Role.CatalogManager);
        var catalog = await ProviderCo.PublishCatalogAsync(developer, catalogManager, CatalogApi.UniquePrefix("pg"));
        var (signUp, businessManager) = await app.SignUpAsync("pgconsumer");
        await ContractsApi.SetLimitsAsync(app, signUp.Account.Id, 5, 5);
        var fred = await AccountPrincipals.CreateAsync(app, businessManager, Role.Engineer);
        var contract = await fred.AcceptAsync((await fred.ProposeAsync((catalog.Compute(4, 8192, "open-source").Id, 3), (catalog.Storage.Id, 5))).Id);
        var provisioned = await fred.ProvisionAsync(new ProvisionRequest(contract.Id, "orders", Item: 0, VirtualSystems: [new VirtualSystemChoice("server", 3)]));
        (await fred.WaitAsync(provisioned.Job.Id)).State.ShouldBe(JobState.Succeeded);
        var instanceId = provisioned.Resource.Id;
        (await new ConfigurationApi.Tenant(signUp, fred, contract).CreateVolumeAsync(200, "data")).SizeGiB.ShouldBe(200);
        (await fred.PutAsJsonAsync($"/api/v1/instances/{instanceId}/scaling-policy",
            new ScalingPolicyRequest(1, 3, 30m, 80m, WindowMinutes: 5, CooldownMinutes: 10), WelkinJson.Client, Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await admin.PutAsJsonAsync($"/api/v1/fabric/instances/{instanceId}/load", new LoadRequest(CpuUtilizationPercent: 50), WelkinJson.Client, Ct))
            .StatusCode.ShouldBe(HttpStatusCode.OK);

        // 20:10 and 20:20: the policy stops two servers on what the monitor measured.
        (await (await admin.PostAdvanceAsync(new ClockAdvanceRequest(To: new DateTimeOffset(2027, 1, 1, 1, 0, 0, TimeSpan.Zero)))).ReadAsync<ClockAdvanceView>())
            .Now.ShouldBe(new DateTimeOffset(2027, 1, 1, 1, 0, 0, TimeSpan.Zero));
        var machines = await fred.MachinesAsync(instanceId);
        machines.Count(m => m.State == MachineState.Running).ShouldBe(1);
        var running = machines.Single(m => m.State == MachineState.Running).Id;

        var series = await (await fred.GetAsync($"/api/v1/machines/{running}/measurements?metric=cpu-utilization-percent&from=2026-12-31T21:00:00Z&to=2027-01-01T00:00:00Z&resolution=raw&aggregation=mean", Ct))
            .ReadAsync<MeasurementSeriesView>();
        series.Points.Count.ShouldBe(36, "a sample every 5 minutes for 3 hours");
        series.Value.ShouldBe(50d, "one server carries the whole 50 % load");

        // December's usage: 4 hours, 3 servers for the first 10 minutes, then 2 until 20:20, then 1.
        // Active server-minutes: 3 x 10 + 2 x 10 + 1 x 220 = 270 -> 4.5 h x 4 vCPU = 18 CPU-hours x $0.13 = $2.34.
        var reconciliation = await (await businessManager.GetAsync(
            $"/api/v1/accounts/{signUp.Account.Id}/usage/reconciliation?from=2026-12-31T20:00:00Z&to=2027-01-01T00:00:00Z", Ct)).ReadAsync<ReconciliationReport>();
        reconciliation.Ok.ShouldBeTrue(string.Join("; ", reconciliation.Discrepancies.Select(d => d.Detail)));
        var sla = await (await businessManager.GetAsync($"/api/v1/contracts/{contract.Id}/sla?period=2026-12", Ct)).ReadAsync<SlaReportView>();
        sla.Terms.ShouldAllBe(t => !t.Breached);
        var invoices = (await (await businessManager.GetAsync($"/api/v1/accounts/{signUp.Account.Id}/invoices", Ct)).ReadAsync<Page<InvoiceSummaryView>>()).Items;
        var december = await (await businessManager.GetAsync($"/api/v1/invoices/{invoices.Single(i => i.Period == "2026-12").Id}", Ct)).ReadAsync<InvoiceView>();
        december.Lines.Single(l => l.Metric == "cpu-hour").Amount.ShouldBe(2.34m);
        // 200 GiB for 4 hours: 200 / 1,024 TB x 1/6 day x $5.00 = $0.16276 -> $0.16.
        december.Lines.Single(l => l.Metric == "storage-tb-day").Amount.ShouldBe(0.16m);
        // Invoice numbers come from a counter row PostgreSQL upserts in the issuing transaction.
        december.Number.ShouldNotBeNull().ShouldMatch(@"^WK-2027-\d{6}$");
        invoices.Select(i => i.Number).ShouldAllBe(n => n != null);
        invoices.Select(i => i.Number).Distinct().Count().ShouldBe(invoices.Count);
    }
}

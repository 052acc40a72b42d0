using System.Globalization;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Core.Data;
using Welkin.Core.Monitoring;
using Welkin.Server.Tests.Catalog;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;

namespace Welkin.Server.Tests.Sla;

/// <summary>SLA evaluation on the virtual clock (every 5 minutes, Sla:Interval), from recorded machine states and measurements.</summary>
public sealed class SlaTests(SimulationApp app) : IClassFixture<SimulationApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(InstancesApi.Tenant Tenant, string Machine)> OneServerAsync(SlaTerms sla)
    {
        var tenant = await SimulationApi.TenantAsync(app, sla, quantity: 1);
        var (_, instance) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant));
        return (tenant, instance.Machines.Single());
    }

    private async Task CrashAsync(HttpClient client, string machine)
    {
        app.Driver.CrashMachine(machine).ShouldBeTrue();
        while ((await client.GetMachineAsync(machine)).State != MachineState.Error)
        {
            await Task.Delay(10, Ct);
        }
    }

    private async Task<SlaReportView> ReportAsync(HttpClient client, string contractId)
    {
        var period = (await client.ClockAsync()).Now.ToString("yyyy-MM", CultureInfo.InvariantCulture);
        return await (await client.GetAsync($"/api/v1/contracts/{contractId}/sla?period={period}", Ct)).ReadAsync<SlaReportView>();
    }

    [Fact]
    public async Task Crash_BreachesAvailabilityAndResponse_OnceEach_WithCredits()
    {
        var admin = app.Admin();
        var (tenant, machine) = await OneServerAsync(new SlaTerms(99.9m, CpuUtilizationPercentMax: 80m, IncidentResponseMinutes: 30, AvailabilityCreditPercent: 12m));
        await admin.AdvanceAsync("PT1H");
        await CrashAsync(tenant.Client, machine);
        await admin.AdvanceAsync("PT2H");

        var report = await ReportAsync(tenant.Client, tenant.Contract.Id);
        var availability = report.Terms.Single(t => t.Term == "availability");
        availability.Breached.ShouldBeTrue();
        availability.CreditPercent.ShouldBe(12m);
        availability.Target.ShouldBe(99.9m);
        // Up one hour, down two: a third of the wanted time.
        availability.Measured.ShouldBe(33.3333m);
        var response = report.Terms.Single(t => t.Term == "incident-response");
        response.Breached.ShouldBeTrue();
        response.Measured.ShouldBe(120m);
        response.CreditPercent.ShouldBe(SlaTerms.DefaultResponseCreditPercent);
        var cpu = report.Terms.Single(t => t.Term == "cpu-utilization");
        cpu.Breached.ShouldBeFalse();
        cpu.Measured.ShouldBeNull();
        report.CreditPercent.ShouldBe(12m + SlaTerms.DefaultResponseCreditPercent);

        // Recovery and more time: the breaches stay recorded once, the measures move on.
        (await tenant.Client.ActAsync(machine, "start")).State.ShouldBe(JobState.Succeeded);
        await admin.AdvanceAsync("PT3H");
        var breaches = (await tenant.Client.EventsAsync(tenant.Contract.Id)).Where(e => e.Type == "sla.breached").ToList();
        breaches.Select(e => e.Data["term"]).Order(StringComparer.Ordinal).ShouldBe(["availability", "incident-response"]);
        var later = await ReportAsync(tenant.Client, tenant.Contract.Id);
        later.Terms.Single(t => t.Term == "availability").Measured.ShouldBe(66.6667m);
        later.Terms.Single(t => t.Term == "incident-response").Measured.ShouldBe(120m);

        var credits = await app.Services.GetRequiredService<IDatabase>().QueryAsync<string>(
            "SELECT term FROM sla_credits WHERE contract_id = @Id ORDER BY term", new { tenant.Contract.Id }, Ct);
        credits.ShouldBe(["availability", "incident-response"]);
        (await admin.AuditAsync()).Count(e => e.Action == "sla.breach" && e.Target == tenant.Contract.Id).ShouldBe(2);
    }

    [Fact]
    public async Task Acknowledged_Incident_EndsTheResponseTime()
    {
        var admin = app.Admin();
        var (tenant, machine) = await OneServerAsync(new SlaTerms(50m, IncidentResponseMinutes: 30));
        await admin.AdvanceAsync("PT2H");
        await CrashAsync(tenant.Client, machine);
        await admin.AdvanceAsync("PT10M");

        // Only an operator (fabric-write) acknowledges; the consumer cannot.
        await (await tenant.Client.PostAsync($"/api/v1/fabric/machines/{machine}/acknowledge")).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        var operatorClient = await app.ProviderPrincipalAsync(Role.Operator);
        (await operatorClient.PostAsync($"/api/v1/fabric/machines/{machine}/acknowledge")).StatusCode.ShouldBe(HttpStatusCode.OK);
        await admin.AdvanceAsync("PT1H");

        var report = await ReportAsync(tenant.Client, tenant.Contract.Id);
        var response = report.Terms.Single(t => t.Term == "incident-response");
        response.Measured.ShouldBe(10m);
        response.Breached.ShouldBeFalse();
        // Two hours up, 70 minutes down: 63.2 % is above the 50 % target.
        var availability = report.Terms.Single(t => t.Term == "availability");
        availability.Measured.ShouldBe(63.1579m);
        availability.Breached.ShouldBeFalse();
        report.CreditPercent.ShouldBe(0m);

        (await tenant.Client.ActAsync(machine, "start")).State.ShouldBe(JobState.Succeeded);
        await (await operatorClient.PostAsync($"/api/v1/fabric/machines/{machine}/acknowledge")).ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
    }

    [Fact]
    public async Task DeactivatedTime_DoesNotCountAgainstAvailability()
    {
        var admin = app.Admin();
        var (tenant, machine) = await OneServerAsync(new SlaTerms(99.9m));
        await admin.AdvanceAsync("PT1H");
        (await tenant.Client.ActAsync(machine, "stop")).State.ShouldBe(JobState.Succeeded);
        await admin.AdvanceAsync("PT5H");

        var availability = (await ReportAsync(tenant.Client, tenant.Contract.Id)).Terms.Single(t => t.Term == "availability");
        availability.Measured.ShouldBe(100m);
        availability.Breached.ShouldBeFalse();
        availability.Evaluated.ShouldNotBeNull();
    }

    [Fact]
    public async Task HighCpu_OverTheWindow_BreachesPerformance()
    {
        var admin = app.Admin();
        var (tenant, machine) = await OneServerAsync(new SlaTerms(99m, CpuUtilizationPercentMax: 80m, PageFaultsPerSecondMax: 1000, PerformanceCreditPercent: 7m));
        app.Measurements.Set([machine], MetricNames.CpuUtilization, 95);
        app.Measurements.Set([machine], MetricNames.PageFaults, 10);
        await admin.AdvanceAsync("PT10M");

        var report = await ReportAsync(tenant.Client, tenant.Contract.Id);
        var cpu = report.Terms.Single(t => t.Term == "cpu-utilization");
        cpu.Breached.ShouldBeTrue();
        cpu.Measured.ShouldBe(95m);
        cpu.CreditPercent.ShouldBe(7m);
        var faults = report.Terms.Single(t => t.Term == "page-faults");
        faults.Breached.ShouldBeFalse();
        faults.Measured.ShouldBe(10m);

        // Load falls: the period keeps its highest mean and its one breach.
        app.Measurements.Set([machine], MetricNames.CpuUtilization, 30);
        await admin.AdvanceAsync("PT10M");
        (await ReportAsync(tenant.Client, tenant.Contract.Id)).Terms.Single(t => t.Term == "cpu-utilization").Measured.ShouldBe(95m);
        (await tenant.Client.EventsAsync(tenant.Contract.Id)).Count(e => e.Type == "sla.breached").ShouldBe(1);
    }

    [Fact]
    public async Task Report_ForAnotherAccount_IsNotFound_AndBadPeriodsAreRefused()
    {
        var (tenant, _) = await OneServerAsync(new SlaTerms(99m));
        var (_, other) = await app.SignUpAsync("other");
        await (await other.GetAsync($"/api/v1/contracts/{tenant.Contract.Id}/sla?period=2026-11", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        foreach (var period in new[] { "2026-13", "2026-1", "november", "0000-01", "2026-11-01" })
        {
            await (await tenant.Client.GetAsync($"/api/v1/contracts/{tenant.Contract.Id}/sla?period={period}", Ct)).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        }
        // A period with no evaluation yet shows the targets without measures.
        var empty = await (await tenant.Client.GetAsync($"/api/v1/contracts/{tenant.Contract.Id}/sla?period=2025-01", Ct)).ReadAsync<SlaReportView>();
        empty.Terms.Single().Measured.ShouldBeNull();
        empty.PeriodStart.ShouldBe(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));
        empty.PeriodEnd.ShouldBe(new DateTimeOffset(2025, 2, 1, 0, 0, 0, TimeSpan.Zero));
        // Billing administrators read any account's SLA report.
        var billing = await app.ProviderPrincipalAsync(Role.BillingAdmin);
        (await (await billing.GetAsync($"/api/v1/contracts/{tenant.Contract.Id}/sla", Ct)).ReadAsync<SlaReportView>()).ContractId.ShouldBe(tenant.Contract.Id);
    }
}

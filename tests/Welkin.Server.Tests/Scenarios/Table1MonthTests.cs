using System.Net;
using System.Net.Http.Json;
using System.Xml.Linq;
using Welkin.Contracts;
using Welkin.Server.Tests.Configuration;
using Welkin.Server.Tests.Contracts;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;
using Welkin.Server.Tests.Catalog;
using Welkin.Server.Tests.Sla;

namespace Welkin.Server.Tests.Scenarios;

/// <summary>
/// A Welkin cloud in simulation mode for ConsumerCo's month: the virtual clock starts on
/// 30 November 2026 at 20:00 UTC; the Service Monitor samples and the scaling policy evaluates
/// every 5 minutes; SLA evaluation, metering and invoicing run hourly. A subclass may start the
/// month elsewhere.
/// </summary>
public class MonthApp : InstancesApp
{
    public static readonly DateTimeOffset Start = new(2026, 11, 30, 20, 0, 0, TimeSpan.Zero);

    private readonly DateTimeOffset _start;

    public MonthApp() : this(Start)
    {
    }

    protected MonthApp(DateTimeOffset start)
    {
        _start = start;
    }

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Welkin:Clock"] = "virtual",
        ["Welkin:ClockStart"] = _start.ToString("o"),
        ["Monitoring:Interval"] = "00:05:00",
        ["Scaling:Interval"] = "00:05:00",
        ["Sla:Interval"] = "01:00:00",
        ["Metering:Interval"] = "01:00:00",
        ["Billing:Interval"] = "01:00:00",
    };
}

/// <summary>
/// Table 1's "Change Resource Capacity", "Contract Reporting" and "Contract Billing" rows as one
/// month of ConsumerCo on ProviderCo's cloud, played on the virtual clock through the HTTP API.
/// Nobody starts or stops a server by hand: the instance's scaling policy (Table 1's "SLA
/// management system") does, from what the Service Monitor measures of the simulated load.
/// </summary>
public sealed class Table1MonthTests(MonthApp app) : IClassFixture<MonthApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // The load is the instance's total demand in percent of one server, spread over its running servers.
    private const double Overnight = 50;   // one server at 50 %; two would idle at 25 %
    private const double Daytime = 120;    // one server saturated; two at 60 %
    private const double QuarterEnd = 210; // two saturated; three at 70 %

    [Fact]
    public async Task ConsumerCosMonth_ScalesByItself_ReportsTheProfile_AndIsBilledToTheCent()
    {
        var admin = app.Admin();
        (await admin.ClockAsync()).ShouldBe(new ClockView("virtual", MonthApp.Start));

        // ProviderCo's catalog: $35.00 per compute unit and month, $0.13 per CPU-hour, $5.00 per TB-day.
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var catalogManager = await app.ProviderPrincipalAsync(Role.CatalogManager);
        var catalog = await ProviderCo.PublishCatalogAsync(developer, catalogManager, CatalogApi.UniquePrefix("month"));
        var server = catalog.Compute(4, 8192, "open-source");

        // ConsumerCo contracts for three 4-processor 8 GB servers and 500 GB of storage, and
        // provisions all of it on 30 November at 20:00.
        var (signUp, businessManager) = await app.SignUpAsync("consumerco");
        await ContractsApi.SetLimitsAsync(app, signUp.Account.Id, 5, 5);
        var fred = await AccountPrincipals.CreateAsync(app, businessManager, Role.Engineer);
        var contract = await fred.AcceptAsync((await fred.ProposeAsync((server.Id, 3), (catalog.Storage.Id, 5))).Id);
        var provisioned = await fred.ProvisionAsync(new ProvisionRequest(contract.Id, "orders", Item: 0, VirtualSystems: [new VirtualSystemChoice("server", 3)]));
        (await fred.WaitAsync(provisioned.Job.Id)).State.ShouldBe(JobState.Succeeded);
        var instanceId = provisioned.Resource.Id;
        (await new ConfigurationApi.Tenant(signUp, fred, contract).CreateVolumeAsync(500, "orders-data")).SizeGiB.ShouldBe(500);
        var servers = (await fred.MachinesAsync(instanceId)).Select(m => m.Id).Order(StringComparer.Ordinal).ToList();
        servers.Count.ShouldBe(3);

        // The SLA management system: between one and three servers, one more above 80 % CPU, one
        // fewer below 30 %, judged on the last 5 minutes, at most one change per 10 minutes. It
        // starts the lowest-numbered stopped server and stops the highest-numbered running one.
        (await fred.PutAsJsonAsync($"/api/v1/instances/{instanceId}/scaling-policy",
            new ScalingPolicyRequest(1, 3, 30m, 80m, WindowMinutes: 5, CooldownMinutes: 10, Name: "orders-autoscaler"), WelkinJson.Client, Ct))
            .StatusCode.ShouldBe(HttpStatusCode.OK);

        // The evening is quiet: the policy stops two of the three servers before the month starts.
        // Every change lags the load by 10 minutes: the sample at :05 covers the first 5 minutes of
        // the new load, and the policy acts on it at the next evaluation, :10.
        await SetLoadAsync(admin, instanceId, Overnight);
        await AdvanceToAsync(admin, new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero));
        (await RunningAsync(fred, instanceId)).ShouldBe([servers[0]]);

        // December: two servers by day (08:00-20:00), one overnight; in the end-of-quarter week
        // (the last seven days) all three by day.
        for (var day = 1; day <= 31; day++)
        {
            var morning = new DateTimeOffset(2026, 12, day, 8, 0, 0, TimeSpan.Zero);
            await AdvanceToAsync(admin, morning);
            await SetLoadAsync(admin, instanceId, day >= 25 ? QuarterEnd : Daytime);
            await AdvanceToAsync(admin, morning.AddHours(1));
            (await RunningAsync(fred, instanceId)).ShouldBe(day >= 25 ? servers : servers.Take(2), $"09:00 on 2026-12-{day:00}");
            await AdvanceToAsync(admin, morning.AddHours(12));
            await SetLoadAsync(admin, instanceId, Overnight);
            await AdvanceToAsync(admin, morning.AddHours(13));
            (await RunningAsync(fred, instanceId)).ShouldBe([servers[0]], $"21:00 on 2026-12-{day:00}");
        }

        // The invoices for November (four hours) and December are issued by themselves an hour
        // after the month ends.
        await AdvanceToAsync(admin, new DateTimeOffset(2027, 1, 1, 1, 0, 0, TimeSpan.Zero));
        var accountId = signUp.Account.Id;
        var invoices = (await (await businessManager.GetAsync($"/api/v1/accounts/{accountId}/invoices", Ct)).ReadAsync<Page<InvoiceSummaryView>>()).Items;
        invoices.Select(i => i.Period).Order(StringComparer.Ordinal).ShouldBe(["2026-11", "2026-12"]);
        var december = await (await businessManager.GetAsync($"/api/v1/invoices/{invoices.Single(i => i.Period == "2026-12").Id}", Ct)).ReadAsync<InvoiceView>();

        // Active server-hours in December:
        //   server 1, all month:                                  31 d x 24 h          =   744 h
        //   server 2, the 24 ordinary days, 08:10-20:10:          24 d x 12 h          =   288 h
        //   servers 2 and 3, the 7 quarter-end days: server 2 08:10-20:20 (12 h 10 min) and
        //     server 3 08:20-20:10 (11 h 50 min), together        7 d x 24 h           =   168 h
        //                                                                                 1,200 h
        // Each server has 4 processors: 4,800 CPU-hours x $0.13                          = $624.00
        // Three compute units provisioned all month, none ordered but unprovisioned:
        //   3 unit-months x $35.00                                                       = $105.00
        // 500 GB (GiB) of storage all month: 500 / 1,024 TB x 31 days = 15.13671875 TB-days
        //   x $5.00 = $75.68359375, half-even to the cent                                =  $75.68
        // No SLA term was missed (no failure; CPU means stay under 90 %): no credit.
        // Total                                                                           $804.68
        var charges = december.Lines.Where(l => l.Kind == InvoiceLineKind.Charge).ToList();
        var cpu = charges.Single(l => l.Metric == "cpu-hour");
        (cpu.ContractId, cpu.Item, cpu.UsageMetric).ShouldBe((contract.Id, 0, "vcpu-ms"));
        cpu.UsageQuantity.ShouldBe(4_800L * 3_600_000);
        cpu.Quantity.ShouldBe(4_800m);
        cpu.UnitPrice.ShouldBe(0.13m);
        cpu.Amount.ShouldBe(624.00m);
        var units = charges.Single(l => l.Metric == "compute-unit");
        units.Quantity.ShouldBe(3m);
        units.Amount.ShouldBe(105.00m);
        var storage = charges.Single(l => l.Metric == "storage-tb-day");
        (storage.Item, storage.UsageMetric).ShouldBe((1, "storage-gib-ms"));
        storage.UsageQuantity.ShouldBe(500L * 31 * 86_400_000);
        storage.Amount.ShouldBe(75.68m);
        december.Lines.Where(l => l.Kind != InvoiceLineKind.Charge).Sum(l => l.Amount).ShouldBe(0m, "no discounts, minimums or credits this month");
        december.Totals.Single().ShouldBe(new InvoiceTotalView("USD", 804.68m, 0m, 804.68m));

        // Contract Reporting: the usage profile the business manager looks at. Mean active servers
        // by hour of day over December (31 days):
        //   00-07 and 21-23: 1
        //   08: 1 + 50/60 (server 2 from 08:10) + 7/31 x 40/60 (server 3 from 08:20)  = 1.983871
        //   09-19: 2 + 7/31                                                            = 2.225806
        //   20: 1 + (24 x 10 + 7 x 20 + 7 x 10) / 60 / 31 (servers 2 and 3 until 20:10/20:20) = 1.241935
        var report = await (await businessManager.GetAsync($"/api/v1/contracts/{contract.Id}/report?from=2026-12-01T00:00:00Z&to=2027-01-01T00:00:00Z", Ct))
            .ReadAsync<ContractReport>();
        var profile = report.HourOfDay.ToDictionary(h => h.Hour, h => h.MeanActiveServers); // the report gives two decimals
        foreach (var hour in new[] { 0, 3, 7, 21, 23 })
        {
            profile[hour].ShouldBe(1m, $"hour {hour}");
        }
        profile[8].ShouldBe(1.98m);
        profile[12].ShouldBe(2.23m);
        profile[19].ShouldBe(2.23m);
        profile[20].ShouldBe(1.24m);
        report.Summary.ShouldBe("2.23 servers on average 09:00-20:00, 1.98 servers on average 08:00-09:00, 1.24 servers on average 20:00-21:00, 1 server 21:00-08:00 (UTC)");
        report.ActiveServerHours.ShouldBe(1_200m);
        report.Days.Single(d => d.Date == new DateOnly(2026, 12, 10)).ActiveServerHours.ShouldBe(36m);
        report.Days.Single(d => d.Date == new DateOnly(2026, 12, 28)).ActiveServerHours.ShouldBe(48m);
        report.Days.Single(d => d.Date == new DateOnly(2026, 12, 28)).PeakActiveServers.ShouldBe(3);
        report.Timeline.Count(e => e.ResourceId == servers[1] && e.Kind == "reactivated").ShouldBe(31);
        report.Timeline.Count(e => e.ResourceId == servers[2] && e.Kind == "reactivated").ShouldBe(7);
        var svg = XDocument.Parse(await (await businessManager.GetAsync($"/api/v1/contracts/{contract.Id}/report.svg?from=2026-12-01T00:00:00Z&to=2027-01-01T00:00:00Z", Ct))
            .Content.ReadAsStringAsync(Ct));
        svg.Root!.Name.LocalName.ShouldBe("svg");

        // Every millisecond of every server and of the volume is metered exactly once.
        var reconciliation = await (await businessManager.GetAsync(
            $"/api/v1/accounts/{accountId}/usage/reconciliation?from=2026-12-01T00:00:00Z&to=2027-01-01T00:00:00Z", Ct)).ReadAsync<ReconciliationReport>();
        reconciliation.Ok.ShouldBeTrue(string.Join("; ", reconciliation.Discrepancies.Select(d => d.Detail)));
        reconciliation.Resources.ShouldBe(4 + 1, "three servers, the volume and the contract's ordered units");

        // The SLA report agrees: the month met its terms.
        var sla = await (await businessManager.GetAsync($"/api/v1/contracts/{contract.Id}/sla?period=2026-12", Ct)).ReadAsync<SlaReportView>();
        sla.Terms.ShouldAllBe(t => !t.Breached);

        // Every start and stop was the policy's, audited under its name.
        var policyActions = (await admin.AuditAsync()).Where(e => e.Actor == "scaling-policy:" + instanceId).Select(e => e.Action).ToList();
        policyActions.Count(a => a == "machine.start").ShouldBe(31 + 7);
        policyActions.Count(a => a == "machine.stop").ShouldBe(2 + 31 + 7);
    }

    private static async Task SetLoadAsync(HttpClient admin, string instanceId, double cpuPercent) =>
        (await admin.PutAsJsonAsync($"/api/v1/fabric/instances/{instanceId}/load", new LoadRequest(CpuUtilizationPercent: cpuPercent), WelkinJson.Client, Ct))
            .StatusCode.ShouldBe(HttpStatusCode.OK);

    private static async Task AdvanceToAsync(HttpClient admin, DateTimeOffset to) =>
        (await (await admin.PostAdvanceAsync(new ClockAdvanceRequest(To: to))).ReadAsync<ClockAdvanceView>()).Now.ShouldBe(to);

    private static async Task<List<string>> RunningAsync(HttpClient client, string instanceId) =>
        (await client.MachinesAsync(instanceId)).Where(m => m.State == MachineState.Running).Select(m => m.Id).Order(StringComparer.Ordinal).ToList();
}

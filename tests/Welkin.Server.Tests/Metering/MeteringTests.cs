using System.Net;
using System.Net.Http.Json;
using System.Xml.Linq;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Welkin.Contracts;
using Welkin.Core.Data;
using Welkin.Core.Metering;
using Welkin.Core.Security;
using Welkin.Server.Tests.Configuration;
using Welkin.Server.Tests.Contracts;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;

namespace Welkin.Server.Tests.Metering;

public sealed class MeteringTests(MeteringApp app) : IClassFixture<MeteringApp>
{
    private const long H = 3_600_000;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private IDatabase Db => app.Services.GetRequiredService<IDatabase>();

    private static async Task<UsageReport> UsageAsync(HttpClient client, string path) =>
        await (await client.GetAsync(path, Ct)).ReadAsync<UsageReport>();

    private static long Quantity(UsageReport report, string metric) => report.Totals.SingleOrDefault(t => t.Metric == metric)?.Quantity ?? 0;

    private static long At(EventView e) => e.At.ToUnixTimeMilliseconds();

    private static string Iso(DateTimeOffset t) => Uri.EscapeDataString(t.ToString("O"));

    [Fact]
    public async Task ActiveTimeAndStorage_AreMeteredToTheMillisecond_InSlicesThatNeverCrossAnHour_AndReconcile()
    {
        var tenant = await ConfigurationApi.TenantAsync(app, machines: 1, increments: 5);
        var start = app.AdvanceToNext(TimeSpan.FromHours(1), TimeSpan.FromMinutes(30));
        var (_, machines) = await tenant.MachinesAsync(1);
        var id = machines[0].Id;
        var volume = await tenant.CreateVolumeAsync(200);
        app.Clock.Advance(TimeSpan.FromHours(2) + TimeSpan.FromMinutes(15) + TimeSpan.FromMilliseconds(7));
        (await tenant.Client.ActAsync(id, "stop")).State.ShouldBe(JobState.Succeeded);
        app.Clock.Advance(TimeSpan.FromHours(1));
        (await tenant.Client.ActAsync(id, "start")).State.ShouldBe(JobState.Succeeded);
        app.Clock.Advance(TimeSpan.FromMinutes(10));
        var end = app.Clock.GetUtcNow();

        await app.Meter.CatchUpAsync(end, Ct);

        var events = await tenant.Client.EventsAsync(id);
        var active = events.Where(e => e.Type is "machine.activated" or "machine.deactivated").Select(At).ToList();
        active.Count.ShouldBe(3);
        var activeMs = (active[1] - active[0]) + (end.ToUnixTimeMilliseconds() - active[2]);
        activeMs.ShouldBe(2 * H + 15 * 60_000 + 7 + 10 * 60_000);
        var volumeMs = end.ToUnixTimeMilliseconds() - At((await tenant.Client.EventsAsync(volume.Id)).Single());
        var usage = await UsageAsync(tenant.Client, $"/api/v1/contracts/{tenant.Contract.Id}/usage?from={Iso(start)}&to={Iso(end)}");
        Quantity(usage, UsageMetrics.VcpuMs).ShouldBe(1 * activeMs);
        Quantity(usage, UsageMetrics.MemoryMibMs).ShouldBe(1024 * activeMs);
        Quantity(usage, UsageMetrics.StorageGibMs).ShouldBe(200 * volumeMs);
        usage.Totals.Single(t => t.Metric == UsageMetrics.VcpuMs).ReadableUnit.ShouldBe("vCPU-hours");
        usage.Totals.Single(t => t.Metric == UsageMetrics.VcpuMs).Readable.ShouldBe(Math.Round(activeMs / 3_600_000m, 6));
        usage.Totals.Single(t => t.Metric == UsageMetrics.StorageGibMs).Readable.ShouldBe(Math.Round(200m * volumeMs / (1024m * 86_400_000m), 6));
        usage.MeteredTo.ShouldBe(end);
        var slices = await Db.QueryAsync<(long StartAt, long EndAt)>(
            "SELECT start_at AS StartAt, end_at AS EndAt FROM usage_records WHERE resource_id = @Id", new { Id = id }, Ct);
        slices.ShouldAllBe(s => s.StartAt / H == (s.EndAt - 1) / H);
        var reconciliation = await (await tenant.Client.GetAsync($"/api/v1/accounts/{tenant.AccountId}/usage/reconciliation?from={Iso(start.AddHours(-1))}&to={Iso(end)}", Ct))
            .ReadAsync<ReconciliationReport>();
        reconciliation.Ok.ShouldBeTrue(string.Join("; ", reconciliation.Discrepancies.Select(d => d.Detail)));
        reconciliation.ExpectedMs.ShouldBe(reconciliation.CoveredMs);
        reconciliation.ExpectedMs.ShouldBeGreaterThan(2 * activeMs);
    }

    [Fact]
    public async Task CatchUp_IsIdempotent_AndAFreshMeterContinuesWhereTheLastCommitStopped()
    {
        var tenant = await ConfigurationApi.TenantAsync(app, machines: 1);
        var (_, machines) = await tenant.MachinesAsync(1);
        app.Clock.Advance(TimeSpan.FromMinutes(90));
        var first = app.Clock.GetUtcNow();
        await app.Meter.CatchUpAsync(first, Ct);
        var count = await RecordsAsync(tenant.AccountId);

        var again = await app.Meter.CatchUpAsync(first, Ct);
        (await RecordsAsync(tenant.AccountId)).ShouldBe(count);
        again.RecordsWritten.ShouldBe(0);

        // A new meter object, as after a restart: everything it needs is in the database.
        app.Clock.Advance(TimeSpan.FromMinutes(45));
        using (var restarted = new Meter(Db, app.Clock, new MeterOptions { BatchEvents = 1 }, NullLogger<Meter>.Instance))
        {
            await restarted.CatchUpAsync(app.Clock.GetUtcNow(), Ct);
        }
        var activated = At((await tenant.Client.EventsAsync(machines[0].Id)).Single(e => e.Type == "machine.activated"));
        var usage = await UsageAsync(tenant.Client, $"/api/v1/accounts/{tenant.AccountId}/usage?from={Iso(first.AddDays(-1))}&to={Iso(app.Clock.GetUtcNow())}&groupBy=resource");
        usage.Groups.Single(g => g.Key == machines[0].Id).Totals.Single(t => t.Metric == UsageMetrics.VcpuMs).Quantity
            .ShouldBe(app.Clock.GetUtcNow().ToUnixTimeMilliseconds() - activated);
        (await ReconcileAsync(tenant)).Ok.ShouldBeTrue();
    }

    [Fact]
    public async Task Reconciliation_FindsAMissingAndADoubleCountedSlice()
    {
        var tenant = await ConfigurationApi.TenantAsync(app, machines: 1);
        var (_, machines) = await tenant.MachinesAsync(1);
        app.Clock.Advance(TimeSpan.FromHours(3));
        await app.Meter.CatchUpAsync(app.Clock.GetUtcNow(), Ct);
        var slices = (await Db.QueryAsync<(string Id, long StartAt, long EndAt)>(
            "SELECT id AS Id, start_at AS StartAt, end_at AS EndAt FROM usage_records WHERE resource_id = @Id AND metric = 'vcpu-ms' ORDER BY start_at",
            new { machines[0].Id }, Ct)).ToList();
        var removed = slices[1];
        await Db.WriteAsync<int>(async tx => await tx.ExecuteAsync("DELETE FROM usage_records WHERE id = @Id", new { removed.Id }), Ct);
        await Db.WriteAsync<int>(async tx => await tx.ExecuteAsync(
            """
            INSERT INTO usage_records (id, account_id, contract_id, item, resource_id, metric, quantity, start_at, end_at, source_seq, created_at)
            SELECT 'use_duplicate', account_id, contract_id, item, resource_id, metric, quantity, start_at, end_at, source_seq, created_at FROM usage_records WHERE id = @Id
            """, new { slices[2].Id }), Ct);

        var report = await ReconcileAsync(tenant);

        report.Ok.ShouldBeFalse();
        var gap = report.Discrepancies.Single(d => d.Kind == "gap");
        (gap.ResourceId, gap.Metric, gap.From.ToUnixTimeMilliseconds(), gap.To.ToUnixTimeMilliseconds()).ShouldBe((machines[0].Id, UsageMetrics.VcpuMs, removed.StartAt, removed.EndAt));
        var overlap = report.Discrepancies.Single(d => d.Kind == "overlap");
        (overlap.From.ToUnixTimeMilliseconds(), overlap.To.ToUnixTimeMilliseconds()).ShouldBe((slices[2].StartAt, slices[2].EndAt));
    }

    [Fact]
    public async Task UnitsOrdered_FollowActivationAmendmentAndTermination()
    {
        var tenant = await ConfigurationApi.TenantAsync(app, machines: 2, increments: 5);
        app.Clock.Advance(TimeSpan.FromMinutes(20));
        (await (await tenant.Client.PostAsync($"/api/v1/contracts/{tenant.Contract.Id}/amendments",
            new ContractAmendmentRequest([new ContractItemRequest(tenant.Contract.Items[0].OfferingId, 1)]))).ReadAsync<ContractView>()).Items[0].Quantity.ShouldBe(1);
        app.Clock.Advance(TimeSpan.FromMinutes(40));
        var terminated = await (await tenant.Client.PostAsync($"/api/v1/contracts/{tenant.Contract.Id}/terminate")).ReadAsync<AcceptedView<ContractView>>(HttpStatusCode.Accepted);
        (await tenant.Client.WaitAsync(terminated.Job.Id)).State.ShouldBe(JobState.Succeeded);
        app.Clock.Advance(TimeSpan.FromHours(2));
        await app.Meter.CatchUpAsync(app.Clock.GetUtcNow(), Ct);

        var events = await tenant.Client.EventsAsync(tenant.Contract.Id);
        var activated = At(events.Single(e => e.Type == "contract.activated"));
        var amended = At(events.Single(e => e.Type == "contract.amended"));
        var ended = At(events.Single(e => e.Type == "contract.terminated"));
        events.Single(e => e.Type == "contract.amended").Data["quantity.0"].ShouldBe("1");
        var usage = await UsageAsync(tenant.Client, $"/api/v1/contracts/{tenant.Contract.Id}/usage?from={Iso(DbTime.FromDb(activated).AddDays(-1))}&to={Iso(app.Clock.GetUtcNow())}&groupBy=metric");
        var lines = await Db.QueryAsync<(long Item, long Quantity)>(
            "SELECT item AS Item, SUM(quantity) AS Quantity FROM usage_records WHERE resource_id = @Id AND metric = 'unit-ordered-ms' GROUP BY item ORDER BY item",
            new { tenant.Contract.Id }, Ct);
        lines.ShouldBe([(0L, 2 * (amended - activated) + 1 * (ended - amended)), (1L, 5 * (ended - activated))]);
        Quantity(usage, UsageMetrics.UnitOrderedMs).ShouldBe(lines.Sum(l => l.Quantity));
        usage.Groups.Select(g => g.Key).ShouldContain(UsageMetrics.UnitOrderedMs);
        (await ReconcileAsync(tenant)).Ok.ShouldBeTrue();
    }

    [Fact]
    public async Task ContractReport_ShowsTwoServersByDayOneOvernight_AsJsonAndSvg()
    {
        var tenant = await ConfigurationApi.TenantAsync(app, machines: 2);
        app.AdvanceToNext(TimeSpan.FromDays(1), TimeSpan.FromHours(23));
        var (_, machines) = await tenant.MachinesAsync(2);
        var b = machines[1].Id;
        (await tenant.Client.ActAsync(b, "stop")).State.ShouldBe(JobState.Succeeded);
        var day0 = app.AdvanceToNext(TimeSpan.FromDays(1));
        for (var day = 0; day < 2; day++)
        {
            app.Clock.Advance(TimeSpan.FromHours(8));
            (await tenant.Client.ActAsync(b, "start")).State.ShouldBe(JobState.Succeeded);
            app.Clock.Advance(TimeSpan.FromHours(12));
            (await tenant.Client.ActAsync(b, "stop")).State.ShouldBe(JobState.Succeeded);
            app.Clock.Advance(TimeSpan.FromHours(4));
        }
        var query = $"from={Iso(day0)}&to={Iso(day0.AddDays(2))}";

        var report = await (await tenant.Client.GetAsync($"/api/v1/contracts/{tenant.Contract.Id}/report?{query}", Ct)).ReadAsync<ContractReport>();

        report.Summary.ShouldBe("2 servers 08:00-20:00, 1 server 20:00-08:00 (UTC)");
        report.HourOfDay.Single(h => h.Hour == 12).MeanActiveServers.ShouldBe(2m);
        report.HourOfDay.Single(h => h.Hour == 3).MeanActiveServers.ShouldBe(1m);
        report.Days.Select(d => (d.Date, d.ActiveServerHours, d.PeakActiveServers))
            .ShouldBe([(DateOnly.FromDateTime(day0.UtcDateTime), 36m, 2), (DateOnly.FromDateTime(day0.UtcDateTime).AddDays(1), 36m, 2)]);
        report.Timeline.Select(t => t.Kind).ShouldBe(["reactivated", "deactivated", "reactivated", "deactivated"]);
        report.Timeline.ShouldAllBe(t => t.ResourceId == b);

        var svg = await tenant.Client.GetAsync($"/api/v1/contracts/{tenant.Contract.Id}/report.svg?{query}", Ct);
        svg.StatusCode.ShouldBe(HttpStatusCode.OK);
        svg.Content.Headers.ContentType!.MediaType.ShouldBe("image/svg+xml");
        var doc = XDocument.Parse(await svg.Content.ReadAsStringAsync(Ct));
        doc.Root!.Name.LocalName.ShouldBe("svg");
        doc.Descendants().ShouldNotContain(e => e.Name.LocalName == "script");
        doc.Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value).ShouldContain("Mean active servers by hour of day (UTC)");

        await app.Meter.CatchUpAsync(day0.AddDays(2), Ct);
        var hourly = await UsageAsync(tenant.Client, $"/api/v1/contracts/{tenant.Contract.Id}/usage?{query}&groupBy=hour");
        hourly.Groups.Count.ShouldBe(48);
        hourly.Groups.Single(g => g.Key == day0.AddHours(12).ToString("yyyy-MM-ddTHH:mm:ssZ")).Totals.Single(t => t.Metric == UsageMetrics.VcpuMs).Quantity.ShouldBe(2 * H);
        hourly.Groups.Single(g => g.Key == day0.AddHours(3).ToString("yyyy-MM-ddTHH:mm:ssZ")).Totals.Single(t => t.Metric == UsageMetrics.VcpuMs).Quantity.ShouldBe(1 * H);
    }

    [Fact]
    public async Task Usage_RefusesBadQueries_AndCallersWithoutUsageRead()
    {
        var tenant = await ConfigurationApi.TenantAsync(app, machines: 1);
        var viewer = await AccountPrincipals.CreateAsync(app, tenant.Client, Role.Viewer);
        var operatorClient = await app.ProviderPrincipalAsync(Role.Operator);
        var billing = await app.ProviderPrincipalAsync(Role.BillingAdmin);
        var account = $"/api/v1/accounts/{tenant.AccountId}/usage";

        await (await tenant.Client.GetAsync(account + "?groupBy=planet", Ct)).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        await (await tenant.Client.GetAsync(account + "?from=2026-11-10T00:00:00Z&to=2026-11-01T00:00:00Z", Ct)).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        await (await tenant.Client.GetAsync(account + "?from=2020-01-01T00:00:00Z&to=2026-11-01T00:00:00Z", Ct)).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        await (await tenant.Client.GetAsync(account + "?to=0001-01-01T00:00:00Z", Ct)).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        (await tenant.Client.GetAsync(account + "?from=yesterday", Ct)).StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        await (await tenant.Client.GetAsync(account + "?contractId=nope", Ct)).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        await (await tenant.Client.GetAsync("/api/v1/contracts/nope/report", Ct)).ProblemAsync(HttpStatusCode.BadRequest, "invalid-id");
        await (await viewer.GetAsync(account, Ct)).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await viewer.GetAsync($"/api/v1/contracts/{tenant.Contract.Id}/report.svg", Ct)).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await operatorClient.GetAsync(account, Ct)).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        (await UsageAsync(billing, account)).AccountId.ShouldBe(tenant.AccountId);
        (await (await billing.GetAsync($"/api/v1/accounts/{tenant.AccountId}/usage/reconciliation", Ct)).ReadAsync<ReconciliationReport>()).Ok.ShouldBeTrue();
    }

    private async Task<long> RecordsAsync(string accountId) =>
        await Db.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM usage_records WHERE account_id = @Id", new { Id = accountId }, Ct);

    private async Task<ReconciliationReport> ReconcileAsync(ConfigurationApi.Tenant tenant) =>
        await (await tenant.Client.GetAsync(
            $"/api/v1/accounts/{tenant.AccountId}/usage/reconciliation?from={Iso(app.Clock.GetUtcNow().AddDays(-30))}&to={Iso(app.Clock.GetUtcNow())}", Ct))
            .ReadAsync<ReconciliationReport>();
}

using System.Net;
using System.Net.Http.Json;
using Welkin.Contracts;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;

namespace Welkin.Server.Tests.Monitoring;

/// <summary>The Service Monitor through the HTTP API: collection on the server's clock, the three tiers, queries, loads.</summary>
public sealed class MeasurementTests(MonitoringApp app) : IClassFixture<MonitoringApp>
{
    private const string Cpu = "cpu-utilization-percent";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Q(DateTimeOffset t) => Uri.EscapeDataString(t.ToString("O"));

    private async Task<(InstancesApi.Tenant Tenant, InstanceView Instance, List<MachineView> Machines)> ThreeMachinesAsync()
    {
        var tenant = await InstancesApi.TenantAsync(app, quantity: 3);
        var (_, instance) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant, count: 3));
        return (tenant, instance, await tenant.Client.MachinesAsync(instance.Id));
    }

    private async Task<HttpClient> OperatorAsync() => await app.ProviderPrincipalAsync(Role.Operator);

    private static async Task<MeasurementSeriesView> SeriesAsync(HttpClient client, string path) =>
        await (await client.GetAsync(path, Ct)).ReadAsync<MeasurementSeriesView>();

    [Fact]
    public async Task InstanceLoad_IsSpreadOverRunningMachines_AndStoppingOneRaisesTheOthers()
    {
        var (tenant, instance, machines) = await ThreeMachinesAsync();
        var op = await OperatorAsync();
        var set = await (await op.PutAsJsonAsync($"/api/v1/fabric/instances/{instance.Id}/load",
            new LoadRequest(CpuUtilizationPercent: 120, PageFaultsPerSecond: 300), WelkinJson.Client, Ct)).ReadAsync<LoadView>();
        set.Machines.ShouldBe(3);
        set.Load.CpuUtilizationPercent.ShouldBe(120);
        set.Load.MemoryUsedFraction.ShouldBe(LoadSettings.Default.MemoryUsedFraction);

        var t0 = app.Clock.GetUtcNow();
        await app.TickAsync();
        app.Clock.Advance(TimeSpan.FromMinutes(1));
        await app.TickAsync();
        (await tenant.Client.ActAsync(machines[2].Id, "stop")).State.ShouldBe(JobState.Succeeded);
        app.Clock.Advance(TimeSpan.FromMinutes(1));
        await app.TickAsync();
        var end = app.Clock.GetUtcNow().AddSeconds(1);

        var raw = await SeriesAsync(tenant.Client, $"/api/v1/instances/{instance.Id}/measurements?metric={Cpu}&from={Q(t0)}&to={Q(end)}&resolution=raw");
        raw.Resolution.ShouldBe("raw");
        raw.Machines.Count.ShouldBe(3);
        raw.Points.Select(p => (p.T, p.Value, p.Samples)).ShouldBe(
        [
            (t0, 40, 3), // the first tick: the driver's instantaneous utilisation, 120 % over three machines
            (t0.AddMinutes(1), 40, 3), // CPU time used in the minute over the vCPUs
            (t0.AddMinutes(2), 60, 2), // one stopped: 120 % over two
        ]);
        raw.Value.ShouldBe((40.0 * 6 + 60 * 2) / 8);
        raw.Exact.ShouldBeTrue();

        var faults = await SeriesAsync(tenant.Client,
            $"/api/v1/machines/{machines[0].Id}/measurements?metric=page-faults-per-second&from={Q(t0)}&to={Q(end)}&resolution=raw&aggregation=max");
        // A rate needs two samples: the first tick has none; then 300/s over three machines, then over two.
        faults.Points.Select(p => p.Value).ShouldBe([100, 150]);
        faults.Value.ShouldBe(150);

        var max = await SeriesAsync(tenant.Client, $"/api/v1/contracts/{tenant.Contract.Id}/measurements?metric={Cpu}&from={Q(t0)}&to={Q(end)}&resolution=1m&aggregation=max");
        max.Resolution.ShouldBe("1m");
        max.Points.Select(p => p.Value).ShouldBe([40, 40, 60]);
        max.Value.ShouldBe(60);

        var hourly = await SeriesAsync(tenant.Client, $"/api/v1/instances/{instance.Id}/measurements?metric={Cpu}&from={Q(t0)}&to={Q(end)}&resolution=1h&aggregation=p95");
        hourly.Points.Count.ShouldBe(1);
        hourly.Points[0].Samples.ShouldBe(8);
        hourly.Value.ShouldBe(60); // nearest rank ceil(0.95 × 8) = 8th of six 40s and two 60s
        hourly.Exact.ShouldBeTrue(); // the raw samples are still kept
        var p50 = await SeriesAsync(tenant.Client, $"/api/v1/instances/{instance.Id}/measurements?metric={Cpu}&from={Q(t0)}&to={Q(end)}&aggregation=p50");
        p50.Value.ShouldBe(40);
        p50.Resolution.ShouldBe("raw"); // auto: three minutes of 60 s samples
    }

    [Fact]
    public async Task MachineMeasurements_AfterRawRetention_ComeFromRollups_AndPercentilesAreApproximate()
    {
        var (tenant, instance, machines) = await ThreeMachinesAsync();
        var op = await OperatorAsync();
        var machine = machines[0].Id;
        var t0 = app.Clock.GetUtcNow();
        foreach (var cpu in new[] { 10, 20, 30, 90 })
        {
            (await op.PutAsJsonAsync($"/api/v1/fabric/machines/{machine}/load", new LoadRequest(cpu), WelkinJson.Client, Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
            await app.TickAsync();
            app.Clock.Advance(TimeSpan.FromSeconds(30));
        }
        var end = app.Clock.GetUtcNow();
        // Four samples 30 s apart: minute buckets [10, 20] and [30, 90] by instantaneous, then counter rates.
        var exact = await SeriesAsync(tenant.Client, $"/api/v1/machines/{machine}/measurements?metric={Cpu}&from={Q(t0)}&to={Q(end)}&resolution=1m&aggregation=p50");
        exact.Exact.ShouldBeTrue();
        var mean = await SeriesAsync(tenant.Client, $"/api/v1/machines/{machine}/measurements?metric={Cpu}&from={Q(t0)}&to={Q(end)}&resolution=1m");
        mean.Points.Count.ShouldBe(2);

        app.Clock.Advance(TimeSpan.FromDays(3));
        await app.Pruner.RunAsync(app.Clock.GetUtcNow(), Ct);

        var rawGone = await SeriesAsync(tenant.Client, $"/api/v1/machines/{machine}/measurements?metric={Cpu}&from={Q(t0)}&to={Q(end)}&resolution=raw");
        rawGone.Points.ShouldBeEmpty();
        rawGone.Value.ShouldBeNull();
        var fromRollups = await SeriesAsync(tenant.Client, $"/api/v1/machines/{machine}/measurements?metric={Cpu}&from={Q(t0)}&to={Q(end)}&resolution=1m");
        fromRollups.Points.ShouldBe(mean.Points); // means survive downsampling exactly
        fromRollups.Value.ShouldBe(mean.Value);
        var approximate = await SeriesAsync(tenant.Client, $"/api/v1/machines/{machine}/measurements?metric={Cpu}&from={Q(t0)}&to={Q(end)}&resolution=1m&aggregation=p50");
        approximate.Exact.ShouldBeFalse();
        approximate.Value.ShouldBe(mean.Points[0].Value); // the lower of the two minute means, each weighing two samples
        var auto = await SeriesAsync(tenant.Client, $"/api/v1/machines/{machine}/measurements?metric={Cpu}&from={Q(t0)}&to={Q(end)}");
        auto.Resolution.ShouldBe("1m"); // the raw tier no longer holds the range
        _ = instance;
    }

    [Fact]
    public async Task Measurements_OfAMachineNeverMeasured_AreEmpty()
    {
        var (tenant, _, machines) = await ThreeMachinesAsync();
        var series = await SeriesAsync(tenant.Client, $"/api/v1/machines/{machines[1].Id}/measurements?metric=memory-used-bytes&from={Q(app.Clock.GetUtcNow().AddDays(-1))}");
        series.Points.ShouldBeEmpty();
        series.Value.ShouldBeNull();
        series.Unit.ShouldBe("bytes");
        series.Metric.ShouldBe("memory-used-bytes");
    }

    [Theory]
    [InlineData("metric=cpu", "validation-failed")]
    [InlineData("aggregation=p42", "validation-failed")]
    [InlineData("resolution=5m", "validation-failed")]
    [InlineData("from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z", "validation-failed")]
    [InlineData("from=2026-01-01T00:00:00Z&to=2026-02-28T00:00:00Z&resolution=raw", "validation-failed")]
    [InlineData("from=yesterday", "bad-request")]
    public async Task Measurements_WithBadQuery_Answer400(string query, string code)
    {
        var (tenant, _, machines) = await ThreeMachinesAsync();
        await (await tenant.Client.GetAsync($"/api/v1/machines/{machines[0].Id}/measurements?{query}", Ct)).ProblemAsync(HttpStatusCode.BadRequest, code);
    }

    [Fact]
    public async Task Measurements_WithMalformedId_Answer400()
    {
        var (tenant, _, _) = await ThreeMachinesAsync();
        await (await tenant.Client.GetAsync("/api/v1/instances/mch_nope/measurements", Ct)).ProblemAsync(HttpStatusCode.BadRequest, "invalid-id");
    }

    [Fact]
    public async Task SetLoad_AsAccountPrincipal_IsForbidden_AndAsOperator_IsAudited()
    {
        var (tenant, instance, machines) = await ThreeMachinesAsync();
        await (await tenant.Client.PutAsJsonAsync($"/api/v1/fabric/machines/{machines[0].Id}/load", new LoadRequest(50), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.Forbidden, "forbidden");

        var op = await OperatorAsync();
        var view = await (await op.PutAsJsonAsync($"/api/v1/fabric/machines/{machines[0].Id}/load", new LoadRequest(50), WelkinJson.Client, Ct)).ReadAsync<LoadView>();
        view.Machines.ShouldBe(1);
        app.Driver.Describe(machines[0].Id)!.Load.CpuUtilizationPercent.ShouldBe(50);

        var audit = await (await app.Admin().GetAsync($"/api/v1/audit?accountId={tenant.AccountId}&limit=1000", Ct)).ReadAsync<Page<AuditEntryView>>();
        audit.Items.ShouldContain(e => e.Action == "fabric.load" && e.Target == machines[0].Id && e.Outcome == "success");
        _ = instance;
    }

    [Theory]
    [InlineData("""{"cpuUtilizationPercent":150}""", "validation-failed")]
    [InlineData("""{"memoryUsedFraction":2}""", "validation-failed")]
    [InlineData("""{"diskReadBytesPerSecond":-1}""", "validation-failed")]
    [InlineData("""{"cpu":50}""", "unknown-field")]
    [InlineData("""{"cpuUtilizationPercent":"high"}""", "malformed-json")]
    public async Task SetMachineLoad_WithBadBody_Answers400(string body, string code)
    {
        var (_, _, machines) = await ThreeMachinesAsync();
        var op = await OperatorAsync();
        using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        await (await op.PutAsync($"/api/v1/fabric/machines/{machines[0].Id}/load", content, Ct)).ProblemAsync(HttpStatusCode.BadRequest, code);
    }

    [Fact]
    public async Task SetLoad_OfAMissingMachine_Answers404()
    {
        var op = await OperatorAsync();
        await (await op.PutAsJsonAsync("/api/v1/fabric/machines/mch_01h00000000000000000000000/load", new LoadRequest(50), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.NotFound, "not-found");
        await (await op.PutAsJsonAsync("/api/v1/fabric/instances/ins_01h00000000000000000000000/load", new LoadRequest(50), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.NotFound, "not-found");
    }
}

using System.Net;
using System.Net.Http.Json;
using Welkin.Contracts;
using Welkin.Core.Monitoring;
using Welkin.Server.Tests.Catalog;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;

namespace Welkin.Server.Tests.Sla;

/// <summary>
/// Scaling policies on the virtual clock, with utilization set per machine through a stand-in
/// Service Monitor. Policies are evaluated every minute (Scaling:Interval).
/// </summary>
public sealed class ScalingPolicyTests(SimulationApp app) : IClassFixture<SimulationApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(InstancesApi.Tenant Tenant, InstanceView Instance, List<string> Machines)> ThreeServersAsync()
    {
        var tenant = await SimulationApi.TenantAsync(app, new SlaTerms(99.9m, 90m), quantity: 3);
        var (_, instance) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant, count: 3));
        var machines = (await tenant.Client.MachinesAsync(instance.Id)).OrderBy(m => m.Id, StringComparer.Ordinal).Select(m => m.Id).ToList();
        machines.Count.ShouldBe(3);
        return (tenant, instance, machines);
    }

    private static Task<HttpResponseMessage> PutPolicyAsync(HttpClient client, string instanceId, ScalingPolicyRequest request) =>
        client.PutAsJsonAsync($"/api/v1/instances/{instanceId}/scaling-policy", request, WelkinJson.Client, Ct);

    private static async Task<List<string>> RunningAsync(HttpClient client, string instanceId) =>
        (await client.MachinesAsync(instanceId)).Where(m => m.State == MachineState.Running).Select(m => m.Id).Order(StringComparer.Ordinal).ToList();

    [Fact]
    public async Task LowLoad_DeactivatesTwoOfThree_OnePerCooldown_ThenRisingLoadActivatesOne()
    {
        var admin = app.Admin();
        var (tenant, instance, machines) = await ThreeServersAsync();
        var policy = await (await PutPolicyAsync(tenant.Client, instance.Id, new ScalingPolicyRequest(1, 3, 20m, 70m, WindowMinutes: 15, CooldownMinutes: 30, Name: "web-tier")))
            .ReadAsync<ScalingPolicyView>();
        policy.Actor.ShouldBe("scaling-policy:" + instance.Id);
        app.Measurements.Set(machines, MetricNames.CpuUtilization, 8);

        // The first evaluation deactivates the newest running server.
        await admin.AdvanceAsync("PT1M");
        (await RunningAsync(tenant.Client, instance.Id)).ShouldBe(machines.Take(2));

        // Still low, but inside the 30-minute cooldown: nothing more.
        await admin.AdvanceAsync("PT20M");
        (await RunningAsync(tenant.Client, instance.Id)).ShouldBe(machines.Take(2));

        // After the cooldown the second one goes; the minimum of one keeps the last.
        await admin.AdvanceAsync("PT15M");
        (await RunningAsync(tenant.Client, instance.Id)).ShouldBe(machines.Take(1));
        await admin.AdvanceAsync("PT2H");
        (await RunningAsync(tenant.Client, instance.Id)).ShouldBe(machines.Take(1));

        // Rising load: one server comes back at the next evaluation.
        app.Measurements.Set(machines, MetricNames.CpuUtilization, 85);
        await admin.AdvanceAsync("PT1M");
        (await RunningAsync(tenant.Client, instance.Id)).Count.ShouldBe(2);

        var shown = await (await tenant.Client.GetAsync($"/api/v1/instances/{instance.Id}/scaling-policy", Ct)).ReadAsync<ScalingPolicyView>();
        shown.LastAction.ShouldNotBeNull().ShouldStartWith("started ");
        shown.LastAction.ShouldContain("above 70");

        // Every action was the Change Manager's start or stop, audited under the policy's name.
        var audit = await admin.AuditAsync();
        var actions = audit.Where(e => e.Actor == policy.Actor).Select(e => e.Action).ToList();
        actions.ShouldBe(["machine.stop", "machine.stop", "machine.start"]);
        var events = await tenant.Client.EventsAsync(machines[2]);
        events.ShouldContain(e => e.Type == "machine.deactivated");
    }

    [Fact]
    public async Task Bounds_AreEnforced_AtOnce_AndTheMaximumIsNeverPassed()
    {
        var admin = app.Admin();
        var (tenant, instance, machines) = await ThreeServersAsync();
        app.Measurements.Set(machines, MetricNames.CpuUtilization, 99);
        (await PutPolicyAsync(tenant.Client, instance.Id, new ScalingPolicyRequest(1, 2, 20m, 70m, CooldownMinutes: 0))).StatusCode.ShouldBe(HttpStatusCode.OK);

        await admin.AdvanceAsync("PT1M");
        (await RunningAsync(tenant.Client, instance.Id)).Count.ShouldBe(2);
        await admin.AdvanceAsync("PT30M");
        (await RunningAsync(tenant.Client, instance.Id)).Count.ShouldBe(2);

        // A raised minimum starts machines even under low load.
        app.Measurements.Set(machines, MetricNames.CpuUtilization, 1);
        (await PutPolicyAsync(tenant.Client, instance.Id, new ScalingPolicyRequest(3, 3, 20m, 70m))).StatusCode.ShouldBe(HttpStatusCode.OK);
        await admin.AdvanceAsync("PT1M");
        (await RunningAsync(tenant.Client, instance.Id)).Count.ShouldBe(3);
    }

    [Fact]
    public async Task ClearedPolicy_NoLongerActs()
    {
        var admin = app.Admin();
        var (tenant, instance, machines) = await ThreeServersAsync();
        (await PutPolicyAsync(tenant.Client, instance.Id, new ScalingPolicyRequest(1, 3, 20m, 70m))).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await tenant.Client.DeleteAsync($"/api/v1/instances/{instance.Id}/scaling-policy", Ct)).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        app.Measurements.Set(machines, MetricNames.CpuUtilization, 1);
        await admin.AdvanceAsync("PT10M");
        (await RunningAsync(tenant.Client, instance.Id)).Count.ShouldBe(3);
        await (await tenant.Client.GetAsync($"/api/v1/instances/{instance.Id}/scaling-policy", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        await (await tenant.Client.DeleteAsync($"/api/v1/instances/{instance.Id}/scaling-policy", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
    }

    [Theory]
    [InlineData(1, 4, 20, 70, 15, 30, "maxActive")]
    [InlineData(3, 2, 20, 70, 15, 30, "maxActive")]
    [InlineData(1, 3, 70, 70, 15, 30, "cpuHighPercent")]
    [InlineData(1, 3, -1, 70, 15, 30, "cpuLowPercent")]
    [InlineData(1, 3, 20, 101, 15, 30, "cpuHighPercent")]
    [InlineData(1, 3, 20, 70, 0, 30, "windowMinutes")]
    [InlineData(1, 3, 20, 70, 15, -5, "cooldownMinutes")]
    [InlineData(-1, 3, 20, 70, 15, 30, "minActive")]
    public async Task Put_WithInvalidPolicy_IsRefused(int min, int max, int low, int high, int window, int cooldown, string field)
    {
        var (tenant, instance, _) = await ThreeServersAsync();
        var problem = await (await PutPolicyAsync(tenant.Client, instance.Id, new ScalingPolicyRequest(min, max, low, high, window, cooldown)))
            .ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        problem.GetProperty("errors").TryGetProperty(field, out _).ShouldBeTrue(problem.ToString());
    }

    [Fact]
    public async Task Policy_OfAnotherAccount_IsNotFound_AndViewersCannotChangeIt()
    {
        var (tenant, instance, _) = await ThreeServersAsync();
        (await PutPolicyAsync(tenant.Client, instance.Id, new ScalingPolicyRequest(1, 3, 20m, 70m))).StatusCode.ShouldBe(HttpStatusCode.OK);
        var (_, other) = await app.SignUpAsync("other");
        await (await other.GetAsync($"/api/v1/instances/{instance.Id}/scaling-policy", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        await (await PutPolicyAsync(other, instance.Id, new ScalingPolicyRequest(1, 3, 20m, 70m))).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        await (await app.Admin().PutAsJsonAsync($"/api/v1/instances/{instance.Id}/scaling-policy", new ScalingPolicyRequest(1, 3, 20m, 70m), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        // Providers with accounts-read-all may read it.
        (await (await app.Admin().GetAsync($"/api/v1/instances/{instance.Id}/scaling-policy", Ct)).ReadAsync<ScalingPolicyView>()).MinActive.ShouldBe(1);
        await (await tenant.Client.GetAsync("/api/v1/instances/not-an-id/scaling-policy", Ct)).ProblemAsync(HttpStatusCode.BadRequest, "invalid-id");
    }

    [Fact]
    public async Task Put_WithStaleVersion_IsPreconditionFailed()
    {
        var (tenant, instance, _) = await ThreeServersAsync();
        var first = await (await PutPolicyAsync(tenant.Client, instance.Id, new ScalingPolicyRequest(1, 3, 20m, 70m))).ReadAsync<ScalingPolicyView>();
        first.Version.ShouldBe(1);
        (await (await PutPolicyAsync(tenant.Client, instance.Id, new ScalingPolicyRequest(1, 2, 20m, 70m, Version: 1))).ReadAsync<ScalingPolicyView>()).Version.ShouldBe(2);
        await (await PutPolicyAsync(tenant.Client, instance.Id, new ScalingPolicyRequest(1, 3, 20m, 70m, Version: 1))).ProblemAsync(HttpStatusCode.PreconditionFailed, "precondition-failed");
    }
}

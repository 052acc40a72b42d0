using System.Net;
using System.Net.Http.Json;
using Welkin.Contracts;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;

namespace Welkin.Server.Tests.Configuration;

public sealed class PropertyTests(InstancesApp app) : IClassFixture<InstancesApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly IReadOnlyList<VirtualSystemRestriction> FixedBackup =
        [new VirtualSystemRestriction("web", FixedProperties: new Dictionary<string, string> { ["backup.enabled"] = "false" })];

    private static Task<HttpResponseMessage> PutAsync(HttpClient client, string path, IReadOnlyDictionary<string, string> properties, long? version = null) =>
        client.PutAsJsonAsync(path, new ConfigurationRequest(properties, version), WelkinJson.Client, Ct);

    [Fact]
    public async Task ConfigureMachine_RecordsANewVersionAuditsAndAppliesLive()
    {
        var tenant = await ConfigurationApi.TenantAsync(app);
        var machine = (await tenant.MachinesAsync()).Machines.Single();

        var response = await PutAsync(tenant.Client, $"/api/v1/machines/{machine.Id}/configuration",
            new Dictionary<string, string> { ["admin.email"] = "fred@example.com" }, machine.Version);
        var accepted = await response.ReadAsync<AcceptedView<MachineView>>(HttpStatusCode.Accepted);
        var job = await tenant.Client.WaitAsync(accepted.Job.Id);

        accepted.Job.Action.ShouldBe("machine.configure");
        job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
        accepted.Resource.Version.ShouldBe(machine.Version + 1);
        var read = await tenant.Client.GetMachineAsync(machine.Id);
        read.Properties["admin.email"].ShouldBe("fred@example.com");
        read.Properties["backup.enabled"].ShouldBe("true");
        app.Driver.Describe(machine.Id)!.Properties["admin.email"].ShouldBe("fred@example.com");
        var configured = (await tenant.Client.EventsAsync(machine.Id)).Last();
        configured.Type.ShouldBe("machine.configured");
        configured.Data["property.admin.email"].ShouldBe("fred@example.com");
        (await (await tenant.Client.GetAsync("/api/v1/audit?limit=1000", Ct)).ReadAsync<Page<AuditEntryView>>()).Items
            .ShouldContain(a => a.Action == "machine.configure" && a.Target == machine.Id);
    }

    [Fact]
    public async Task ConfigureMachine_WithAStaleVersion_ReturnsPreconditionFailed()
    {
        var tenant = await ConfigurationApi.TenantAsync(app);
        var machine = (await tenant.MachinesAsync()).Machines.Single();

        await (await PutAsync(tenant.Client, $"/api/v1/machines/{machine.Id}/configuration",
            new Dictionary<string, string> { ["admin.email"] = "x@example.com" }, machine.Version + 5)).ProblemAsync(HttpStatusCode.PreconditionFailed, "precondition-failed");
    }

    [Theory]
    [InlineData("backup.enabled", "maybe")]
    [InlineData("no.such.property", "1")]
    public async Task ConfigureMachine_WithAnUnknownKeyOrAValueOfTheWrongType_ReturnsValidationProblem(string key, string value)
    {
        var tenant = await ConfigurationApi.TenantAsync(app);
        var machine = (await tenant.MachinesAsync()).Machines.Single();

        await (await PutAsync(tenant.Client, $"/api/v1/machines/{machine.Id}/configuration", new Dictionary<string, string> { [key] = value }))
            .ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");

        (await tenant.Client.GetMachineAsync(machine.Id)).Version.ShouldBe(machine.Version);
    }

    [Fact]
    public async Task ConfigureMachine_APropertyTheOfferingFixes_ReturnsConflict()
    {
        var tenant = await ConfigurationApi.TenantAsync(app, choices: FixedBackup);
        var machine = (await tenant.MachinesAsync()).Machines.Single();

        await (await PutAsync(tenant.Client, $"/api/v1/machines/{machine.Id}/configuration", new Dictionary<string, string> { ["backup.enabled"] = "true" }))
            .ProblemAsync(HttpStatusCode.Conflict, "property-fixed");

        (await tenant.Client.GetMachineAsync(machine.Id)).Properties["backup.enabled"].ShouldBe("false");
    }

    [Fact]
    public async Task ConfigureInstance_AppliesToEveryMachine()
    {
        var tenant = await ConfigurationApi.TenantAsync(app, machines: 2);
        var (instance, machines) = await tenant.MachinesAsync(2);

        var accepted = await (await PutAsync(tenant.Client, $"/api/v1/instances/{instance.Id}/configuration",
            new Dictionary<string, string> { ["backup.enabled"] = "false" }, instance.Version)).ReadAsync<AcceptedView<InstanceView>>(HttpStatusCode.Accepted);
        var job = await tenant.Client.WaitAsync(accepted.Job.Id);

        job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
        accepted.Resource.Version.ShouldBe(instance.Version + 1);
        foreach (var m in machines)
        {
            (await tenant.Client.GetMachineAsync(m.Id)).Properties["backup.enabled"].ShouldBe("false");
            app.Driver.Describe(m.Id)!.Properties["backup.enabled"].ShouldBe("false");
        }
    }

    [Fact]
    public async Task Configure_AnotherAccountsMachineOrInstance_ReturnsNotFound()
    {
        var victim = await ConfigurationApi.TenantAsync(app);
        var (instance, machines) = await victim.MachinesAsync();
        var (_, other) = await app.SignUpAsync("other");
        var change = new Dictionary<string, string> { ["admin.email"] = "mallory@example.com" };

        await (await PutAsync(other, $"/api/v1/machines/{machines[0].Id}/configuration", change)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        await (await PutAsync(other, $"/api/v1/instances/{instance.Id}/configuration", change)).ProblemAsync(HttpStatusCode.NotFound, "not-found");

        (await victim.Client.GetMachineAsync(machines[0].Id)).Properties["admin.email"].ShouldBe("ops@example.com");
    }
}

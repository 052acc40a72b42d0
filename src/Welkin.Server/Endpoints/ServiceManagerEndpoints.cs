using Microsoft.AspNetCore.Http.HttpResults;
using Welkin.Contracts;
using Welkin.Core.Compute;
using Welkin.Core.Data;
using Welkin.Core.Events;
using Welkin.Core.Instances;
using Welkin.Core.Jobs;
using Welkin.Core.Security;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Endpoints;

/// <summary>
/// Service Manager and Change Manager: service instances, machines and their CIMI actions, the
/// jobs that carry the asynchronous work, the event log, and the operators' view of a host.
/// </summary>
public static class ServiceManagerEndpoints
{
    private static readonly (string Verb, string Summary)[] MachineActions =
    [
        ("start", "Start a machine (asynchronous)"),
        ("stop", "Stop a machine (asynchronous)"),
        ("pause", "Pause a running machine (asynchronous)"),
        ("resume", "Resume a paused machine (asynchronous)"),
        ("reboot", "Reboot a machine (asynchronous)"),
        ("destroy", "Destroy a machine (asynchronous)"),
    ];

    public static IEndpointRouteBuilder MapServiceManager(this IEndpointRouteBuilder app)
    {
        var instances = app.MapInterface("/api/v1/instances", "Service Manager");
        instances.MapPost("/", Provision).WithName("instance.provision").WithSummary("Provision a service instance under a contract (asynchronous)");
        instances.MapGet("/", ListInstances).WithName("instance.list").WithSummary("List service instances");
        instances.MapGet("/{id}", GetInstance).WithName("instance.get").WithSummary("Get one service instance");
        instances.MapPost("/{id}/scale", Scale).WithName("instance.scale").WithSummary("Scale one virtual system of an instance (asynchronous)");
        instances.MapPost("/{id}/terminate", Terminate).WithName("instance.terminate").WithSummary("Terminate a service instance and its machines (asynchronous)");

        var machines = app.MapInterface("/api/v1/machines", "Service Manager");
        machines.MapGet("/", ListMachines).WithName("machine.list").WithSummary("List machines");
        machines.MapGet("/{id}", GetMachine).WithName("machine.get").WithSummary("Get one machine");
        foreach (var (verb, summary) in MachineActions)
        {
            var action = "machine." + verb;
            machines.MapPost("/{id}/" + verb,
                    async (string id, MachineActionRequest? request, Caller caller, ServiceManager manager, HttpContext context, CancellationToken ct) =>
                        (await manager.MachineActionAsync(caller, id, action, request ?? new MachineActionRequest(), ct)).ToAccepted(context))
                .WithName(action).WithSummary(summary);
        }
        machines.MapPost("/{id}/resize", Resize).WithName("machine.resize").WithSummary("Change a machine's vCPUs or memory (asynchronous)");
        machines.MapPost("/{id}/migrate", Migrate).WithName("machine.migrate").WithSummary("Move a machine to another host, live when it runs (operators; asynchronous)");
        machines.MapGet("/{id}/console", Console).WithName("machine.console").WithSummary("Read the tail of a machine's serial console").Produces<string>(contentType: "text/plain");
        machines.MapGet("/{id}/metrics", Metrics).WithName("machine.metrics").WithSummary("Get a machine's current metrics");

        var jobs = app.MapInterface("/api/v1/jobs", "Service Manager");
        jobs.MapGet("/", ListJobs).WithName("job.list").WithSummary("List jobs");
        jobs.MapGet("/{id}", GetJob).WithName("job.get").WithSummary("Get one job and its progress");

        var events = app.MapInterface("/api/v1/events", "Service Manager");
        events.MapGet("/", ListEvents).WithName("event.list").WithSummary("List events, oldest first");

        var fabric = app.MapInterface("/api/v1/fabric/hosts", "Fabric");
        fabric.MapGet("/{name}", GetHost).WithName("fabric.host-get").WithSummary("Get a host's state and free capacity");
        fabric.MapPost("/{name}/state", SetHostState).WithName("fabric.host-state").WithSummary("Mark a host down or up (operators)");
        return app;
    }

    private static async Task<Results<Accepted<AcceptedView<InstanceView>>, ProblemHttpResult>> Provision(
        ProvisionRequest request, Caller caller, ServiceManager manager, HttpContext context, CancellationToken ct) =>
        (await manager.ProvisionAsync(caller, request, ct)).ToAccepted(context);

    private static async Task<Results<Ok<Page<InstanceView>>, ProblemHttpResult>> ListInstances(
        Caller caller, ServiceManager manager, HttpContext context, CancellationToken ct,
        string? contractId = null, string? state = null, string? accountId = null, string? after = null, int limit = 100) =>
        (await manager.ListInstancesAsync(caller, accountId, contractId, state, after, limit, ct)).ToOk(context);

    private static async Task<Results<Ok<InstanceView>, ProblemHttpResult>> GetInstance(
        string id, Caller caller, ServiceManager manager, HttpContext context, CancellationToken ct) =>
        (await manager.GetInstanceAsync(caller, id, ct)).ToOk(context);

    private static async Task<Results<Accepted<AcceptedView<InstanceView>>, ProblemHttpResult>> Scale(
        string id, ScaleRequest request, Caller caller, ServiceManager manager, HttpContext context, CancellationToken ct) =>
        (await manager.ScaleAsync(caller, id, request, ct)).ToAccepted(context);

    private static async Task<Results<Accepted<AcceptedView<InstanceView>>, ProblemHttpResult>> Terminate(
        string id, MachineActionRequest? request, Caller caller, ServiceManager manager, HttpContext context, CancellationToken ct) =>
        (await manager.TerminateInstanceAsync(caller, id, request ?? new MachineActionRequest(), ct)).ToAccepted(context);

    private static async Task<Results<Ok<Page<MachineView>>, ProblemHttpResult>> ListMachines(
        Caller caller, ServiceManager manager, HttpContext context, CancellationToken ct,
        string? instanceId = null, string? state = null, string? accountId = null, string? after = null, int limit = 100) =>
        (await manager.ListMachinesAsync(caller, accountId, instanceId, state, after, limit, ct)).ToOk(context);

    private static async Task<Results<Ok<MachineView>, ProblemHttpResult>> GetMachine(
        string id, Caller caller, ServiceManager manager, HttpContext context, CancellationToken ct) =>
        (await manager.GetMachineAsync(caller, id, ct)).ToOk(context);

    /// <summary>Change Manager: move a machine to another host, live when it runs (operators).</summary>
    private static async Task<Results<Accepted<AcceptedView<MachineView>>, ProblemHttpResult>> Migrate(
        string id, MigrateRequest request, Caller caller, ServiceManager manager, HttpContext context, CancellationToken ct) =>
        (await manager.MigrateAsync(caller, id, request, ct)).ToAccepted(context);

    private static async Task<Results<Accepted<AcceptedView<MachineView>>, ProblemHttpResult>> Resize(
        string id, ResizeRequest request, Caller caller, ServiceManager manager, HttpContext context, CancellationToken ct) =>
        (await manager.ResizeAsync(caller, id, request, ct)).ToAccepted(context);

    private static async Task<Results<ContentHttpResult, ProblemHttpResult>> Console(
        string id, Caller caller, ServiceManager manager, HttpContext context, CancellationToken ct)
    {
        var text = await manager.ConsoleAsync(caller, id, ct);
        return text.IsSuccess ? TypedResults.Text(text.Value, "text/plain; charset=utf-8") : Problems.From(text.Error!, context);
    }

    private static async Task<Results<Ok<MachineMetricsView>, ProblemHttpResult>> Metrics(
        string id, Caller caller, ServiceManager manager, HttpContext context, CancellationToken ct) =>
        (await manager.MetricsAsync(caller, id, ct)).ToOk(context);

    private static async Task<Results<Ok<Page<JobView>>, ProblemHttpResult>> ListJobs(
        Caller caller, JobQueue queue, HttpContext context, CancellationToken ct,
        string? state = null, string? target = null, string? action = null, string? accountId = null, string? after = null, int limit = 100) =>
        (await queue.ListAsync(caller, accountId, state, target, action, after, limit, ct)).ToOk(context);

    private static async Task<Results<Ok<JobView>, ProblemHttpResult>> GetJob(
        string id, Caller caller, ServiceManager manager, HttpContext context, CancellationToken ct) =>
        (await manager.GetJobAsync(caller, id, ct)).ToOk(context);

    private static async Task<Results<Ok<Page<EventView>>, ProblemHttpResult>> ListEvents(
        Caller caller, EventLog log, IDatabase db, HttpContext context, CancellationToken ct,
        string? type = null, string? target = null, DateTimeOffset? since = null, DateTimeOffset? until = null, long? after = null,
        string? accountId = null, int limit = 100) =>
        (await log.ListAsync(db, caller, new EventQuery(accountId, type, target, since, until, after, limit), ct)).ToOk(context);

    private static async Task<Results<Ok<HostStatusView>, ProblemHttpResult>> GetHost(
        string name, Caller caller, FabricMonitor fabric, HttpContext context, CancellationToken ct) =>
        (await fabric.HostStatusAsync(caller, name, ct)).ToOk(context);

    private static async Task<Results<Ok<HostStatusView>, ProblemHttpResult>> SetHostState(
        string name, HostStateRequest request, Caller caller, FabricMonitor fabric, HttpContext context, CancellationToken ct) =>
        (await fabric.SetHostStateAsync(caller, name, request, ct)).ToOk(context);
}

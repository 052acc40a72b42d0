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
/// Service Manager: provisioning and terminating service instances, reading instances and
/// machines (their console and metrics), the jobs that carry the asynchronous work, the event
/// log, and the operators' view of a host. Changes to running instances are the Change Manager's
/// (<see cref="ChangeManagerEndpoints"/>).
/// </summary>
public static class ServiceManagerEndpoints
{
    public static IEndpointRouteBuilder MapServiceManager(this IEndpointRouteBuilder app)
    {
        var instances = app.MapInterface("/api/v1/instances", "Service Manager");
        instances.MapPost("/", Provision).WithName("instance.provision").WithSummary("Provision a service instance under a contract (asynchronous)").WithIdempotency();
        instances.MapGet("/", ListInstances).WithName("instance.list").WithSummary("List service instances");
        instances.MapGet("/{id}", GetInstance).WithName("instance.get").WithSummary("Get one service instance");
        instances.MapPost("/{id}/terminate", Terminate).WithName("instance.terminate").WithSummary("Terminate a service instance and its machines (asynchronous)");

        var machines = app.MapInterface("/api/v1/machines", "Service Manager");
        machines.MapGet("/", ListMachines).WithName("machine.list").WithSummary("List machines");
        machines.MapGet("/{id}", GetMachine).WithName("machine.get").WithSummary("Get one machine");
        machines.MapGet("/{id}/console", Console).WithName("machine.console").WithSummary("Read the tail of a machine's serial console").Produces<string>(contentType: "text/plain");
        machines.MapMachineConsole();
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
        (await manager.ProvisionAsync(caller, request, context.Once<AcceptedView<InstanceView>>(StatusCodes.Status202Accepted, a => $"/api/v1/jobs/{a.Job.Id}"), ct))
            .ToAccepted(context);

    private static async Task<Results<Ok<Page<InstanceView>>, ProblemHttpResult>> ListInstances(
        [AsParameters] InstanceListQuery query, Caller caller, ServiceManager manager, HttpContext context, CancellationToken ct) =>
        (await manager.ListInstancesAsync(caller, query, ct)).ToOk(context);

    private static async Task<Results<Ok<InstanceView>, ProblemHttpResult>> GetInstance(
        string id, Caller caller, ServiceManager manager, HttpContext context, CancellationToken ct) =>
        (await manager.GetInstanceAsync(caller, id, ct)).ToOk(context);

    private static async Task<Results<Accepted<AcceptedView<InstanceView>>, ProblemHttpResult>> Terminate(
        string id, MachineActionRequest? request, Caller caller, ServiceManager manager, HttpContext context, CancellationToken ct) =>
        (await manager.TerminateInstanceAsync(caller, id, request ?? new MachineActionRequest(), ct)).ToAccepted(context);

    private static async Task<Results<Ok<Page<MachineView>>, ProblemHttpResult>> ListMachines(
        [AsParameters] MachineListQuery query, Caller caller, ServiceManager manager, HttpContext context, CancellationToken ct) =>
        (await manager.ListMachinesAsync(caller, query, ct)).ToOk(context);

    private static async Task<Results<Ok<MachineView>, ProblemHttpResult>> GetMachine(
        string id, Caller caller, ServiceManager manager, HttpContext context, CancellationToken ct) =>
        (await manager.GetMachineAsync(caller, id, ct)).ToOk(context);

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
        [AsParameters] JobListQuery query, Caller caller, JobQueue queue, HttpContext context, CancellationToken ct) =>
        (await queue.ListAsync(caller, query, ct)).ToOk(context);

    private static async Task<Results<Ok<JobView>, ProblemHttpResult>> GetJob(
        string id, Caller caller, JobService jobs, HttpContext context, CancellationToken ct) =>
        (await jobs.GetAsync(caller, id, ct)).ToOk(context);

    private static async Task<Results<Ok<Page<EventView>>, ProblemHttpResult>> ListEvents(
        [AsParameters] EventQuery query, Caller caller, EventLog log, IDatabase db, HttpContext context, CancellationToken ct) =>
        (await log.ListAsync(db, caller, query, ct)).ToOk(context);

    private static async Task<Results<Ok<HostStatusView>, ProblemHttpResult>> GetHost(
        string name, Caller caller, FabricMonitor fabric, HttpContext context, CancellationToken ct) =>
        (await fabric.HostStatusAsync(caller, name, ct)).ToOk(context);

    private static async Task<Results<Ok<HostStatusView>, ProblemHttpResult>> SetHostState(
        string name, HostStateRequest request, Caller caller, FabricMonitor fabric, HttpContext context, CancellationToken ct) =>
        (await fabric.SetHostStateAsync(caller, name, request, ct)).ToOk(context);
}

using Microsoft.AspNetCore.Http.HttpResults;
using Welkin.Contracts;
using Welkin.Core.Changes;
using Welkin.Core.Security;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Endpoints;

/// <summary>
/// Change Manager (Table 1: "Change Resource Capacity"): scaling an instance, the CIMI machine
/// actions (start, stop, pause, resume, reboot, destroy), resizing a machine, moving one to
/// another host of its pool, and to another cloud (operators).
/// </summary>
public static class ChangeManagerEndpoints
{
    private static readonly Dictionary<string, string> MachineActionSummaries = new(StringComparer.Ordinal)
    {
        [ChangeManager.Actions.Start] = "Start a machine (asynchronous)",
        [ChangeManager.Actions.Stop] = "Stop a machine (asynchronous)",
        [ChangeManager.Actions.Pause] = "Pause a running machine (asynchronous)",
        [ChangeManager.Actions.Resume] = "Resume a paused machine (asynchronous)",
        [ChangeManager.Actions.Reboot] = "Reboot a machine (asynchronous)",
        [ChangeManager.Actions.Destroy] = "Destroy a machine (asynchronous)",
    };

    public static IEndpointRouteBuilder MapChangeManager(this IEndpointRouteBuilder app)
    {
        var instances = app.MapInterface("/api/v1/instances", "Change Manager");
        instances.MapPost("/{id}/scale", Scale).WithName("instance.scale").WithSummary("Scale one virtual system of an instance (asynchronous)");

        var machines = app.MapInterface("/api/v1/machines", "Change Manager");
        foreach (var action in ChangeManager.Actions.Machine)
        {
            machines.MapPost("/{id}/" + action["machine.".Length..],
                    async (string id, MachineActionRequest? request, Caller caller, ChangeManager changes, HttpContext context, CancellationToken ct) =>
                        (await changes.MachineActionAsync(caller, id, action, request ?? new MachineActionRequest(), ct)).ToAccepted(context))
                .WithName(action).WithSummary(MachineActionSummaries[action]);
        }
        machines.MapPost("/{id}/resize", Resize).WithName("machine.resize").WithSummary("Change a machine's vCPUs or memory (asynchronous)");
        machines.MapPost("/{id}/migrate", Migrate).WithName("machine.migrate").WithSummary("Move a machine to another host of its pool, live when it runs (operators; asynchronous)");
        machines.MapPost("/{id}/move", Move).WithName("machine.move").WithSummary("Move a machine to another cloud's host pool, or back to this cloud's (operators; asynchronous)");
        return app;
    }

    private static async Task<Results<Accepted<AcceptedView<InstanceView>>, ProblemHttpResult>> Scale(
        string id, ScaleRequest request, Caller caller, ChangeManager changes, HttpContext context, CancellationToken ct) =>
        (await changes.ScaleAsync(caller, id, request, ct)).ToAccepted(context);

    private static async Task<Results<Accepted<AcceptedView<MachineView>>, ProblemHttpResult>> Resize(
        string id, ResizeRequest request, Caller caller, ChangeManager changes, HttpContext context, CancellationToken ct) =>
        (await changes.ResizeAsync(caller, id, request, ct)).ToAccepted(context);

    /// <summary>Moves a machine to another host of its pool, live when it runs (operators).</summary>
    private static async Task<Results<Accepted<AcceptedView<MachineView>>, ProblemHttpResult>> Migrate(
        string id, MigrateRequest request, Caller caller, ChangeManager changes, HttpContext context, CancellationToken ct) =>
        (await changes.MigrateAsync(caller, id, request, ct)).ToAccepted(context);

    /// <summary>Moves a machine to a peer cloud's pool or back, cold (operators).</summary>
    private static async Task<Results<Accepted<AcceptedView<MachineView>>, ProblemHttpResult>> Move(
        string id, MoveRequest request, Caller caller, ChangeManager changes, HttpContext context, CancellationToken ct) =>
        (await changes.MoveAsync(caller, id, request, ct)).ToAccepted(context);
}

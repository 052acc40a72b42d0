using Microsoft.AspNetCore.Http.HttpResults;
using Welkin.Contracts;
using Welkin.Core.Changes;
using Welkin.Core.Security;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Endpoints;

/// <summary>
/// Change Manager (Table 1: "Change Resource Capacity"): scaling an instance, the CIMI machine
/// actions (start, stop, pause, resume, reboot, destroy), resizing a machine, and moving one to
/// another host of its pool (operators).
/// </summary>
public static class ChangeManagerEndpoints
{
    public static IEndpointRouteBuilder MapChangeManager(this IEndpointRouteBuilder app)
    {
        var instances = app.MapGroup("/api/v1/instances").WithTags("Change Manager").RequireAuthorization().AddEndpointFilter<AuditFailuresFilter>();
        instances.MapPost("/{id}/scale", Scale).WithName("instance.scale");

        var machines = app.MapGroup("/api/v1/machines").WithTags("Change Manager").RequireAuthorization().AddEndpointFilter<AuditFailuresFilter>();
        foreach (var action in ChangeManager.Actions.Machine)
        {
            machines.MapPost("/{id}/" + action["machine.".Length..],
                    async (string id, MachineActionRequest? request, Caller caller, ChangeManager changes, HttpContext context, CancellationToken ct) =>
                        (await changes.MachineActionAsync(caller, id, action, request ?? new MachineActionRequest(), ct)).ToAccepted(context))
                .WithName(action);
        }
        machines.MapPost("/{id}/resize", Resize).WithName("machine.resize");
        machines.MapPost("/{id}/migrate", Migrate).WithName("machine.migrate");
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
}

using Microsoft.AspNetCore.Http.HttpResults;
using Welkin.Contracts;
using Welkin.Core.Instances;
using Welkin.Core.Security;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Endpoints;

/// <summary>
/// The provider's side of a live move between clouds (<see cref="IncomingMachines"/>): a peer cloud, under its
/// agreement's credential on the federation listener, prepares a machine here, then completes or aborts it.
/// Everyone else is refused (403). The peer's TLS client certificate names the only source the machine's
/// streams accept.
/// </summary>
public static class IncomingMachineEndpoints
{
    public static IEndpointRouteBuilder MapIncomingMachines(this IEndpointRouteBuilder app)
    {
        var incoming = app.MapInterface("/api/v1/machines/incoming", "Service Manager");
        incoming.MapPost("/", Prepare).WithName("machine.incoming").WithIdempotency()
            .WithSummary("Prepare to receive a peer cloud's running machine live (peer clouds only)");
        incoming.MapPost("/{id}/complete", Complete).WithName("machine.incoming-complete")
            .WithSummary("Run a machine whose disks and state have arrived; it is billed from now (peer clouds only)");
        incoming.MapDelete("/{id}", Abort).WithName("machine.incoming-abort")
            .WithSummary("Remove a machine that will not arrive; nothing of it is kept or billed (peer clouds only)");
        return app;
    }

    private static string Location(IncomingMachineView v) => "/api/v1/machines/" + v.MachineId;

    private static async Task<Results<Created<IncomingMachineView>, ProblemHttpResult>> Prepare(
        IncomingMachineRequest request, Caller caller, IncomingMachines incoming, HttpContext context, CancellationToken ct) =>
        (await incoming.PrepareAsync(caller, PeerSubject(context), request, context.Once<IncomingMachineView>(StatusCodes.Status201Created, Location), ct))
            .ToCreated(context, Location);

    private static async Task<Results<Ok<MachineView>, ProblemHttpResult>> Complete(
        string id, Caller caller, IncomingMachines incoming, HttpContext context, CancellationToken ct) =>
        (await incoming.CompleteAsync(caller, PeerSubject(context), id, ct)).ToOk(context);

    private static async Task<Results<Ok<MachineView>, ProblemHttpResult>> Abort(
        string id, Caller caller, IncomingMachines incoming, HttpContext context, CancellationToken ct) =>
        (await incoming.AbortAsync(caller, PeerSubject(context), id, ct)).ToOk(context);

    /// <summary>The subject of the TLS client certificate the request came with (the federation listener asks for one).</summary>
    private static string? PeerSubject(HttpContext context) => context.Connection.ClientCertificate?.Subject;
}

using Microsoft.AspNetCore.Http.HttpResults;
using Welkin.Contracts;
using Welkin.Core.Instances;
using Welkin.Core.Security;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Endpoints;

/// <summary>
/// The provider's side of a machine going home live (<see cref="OutgoingMachines"/>): the peer cloud that runs one of
/// its machines here, under its agreement's credential on the federation listener, describes it, has it sent to where
/// it prepared it, follows the send, and hands it over or cancels. Everyone else is refused (403).
/// </summary>
public static class OutgoingMachineEndpoints
{
    public static IEndpointRouteBuilder MapOutgoingMachines(this IEndpointRouteBuilder app)
    {
        var machines = app.MapInterface("/api/v1/machines", "Service Manager");
        machines.MapGet("/{id}/outgoing", Describe).WithName("machine.outgoing")
            .WithSummary("Describe a machine for its live move home: sizes, disks, hypervisor settings (peer clouds only)");
        machines.MapPost("/{id}/send", Send).WithName("machine.send")
            .WithSummary("Send a running machine live to where its peer cloud prepared it; the guest runs here meanwhile (peer clouds only)");
        machines.MapGet("/{id}/send", Status).WithName("machine.send-get")
            .WithSummary("Follow a machine's live move home: sending, ready (paused here, awaiting the handover), handed-over or failed (peer clouds only)");
        machines.MapPost("/{id}/send/handover", Handover).WithName("machine.send-handover")
            .WithSummary("Confirm the peer cloud runs the guest now: the machine here ends, billed up to now (peer clouds only)");
        machines.MapDelete("/{id}/send", Cancel).WithName("machine.send-cancel")
            .WithSummary("Give up a machine's live move home: the guest runs on here (peer clouds only)");
        return app;
    }

    private static async Task<Results<Ok<OutgoingMachineView>, ProblemHttpResult>> Describe(
        string id, Caller caller, OutgoingMachines outgoing, HttpContext context, CancellationToken ct) =>
        (await outgoing.DescribeAsync(caller, PeerSubject(context), id, ct)).ToOk(context);

    private static async Task<Results<Ok<SendView>, ProblemHttpResult>> Send(
        string id, SendMachineRequest request, Caller caller, OutgoingMachines outgoing, HttpContext context, CancellationToken ct) =>
        (await outgoing.SendAsync(caller, PeerSubject(context), id, request, ct)).ToOk(context);

    private static async Task<Results<Ok<SendView>, ProblemHttpResult>> Status(
        string id, Caller caller, OutgoingMachines outgoing, HttpContext context, CancellationToken ct) =>
        (await outgoing.StatusAsync(caller, PeerSubject(context), id, ct)).ToOk(context);

    private static async Task<Results<Ok<SendView>, ProblemHttpResult>> Handover(
        string id, Caller caller, OutgoingMachines outgoing, HttpContext context, CancellationToken ct) =>
        (await outgoing.HandoverAsync(caller, PeerSubject(context), id, ct)).ToOk(context);

    private static async Task<Results<Ok<SendView>, ProblemHttpResult>> Cancel(
        string id, Caller caller, OutgoingMachines outgoing, HttpContext context, CancellationToken ct) =>
        (await outgoing.CancelAsync(caller, PeerSubject(context), id, ct)).ToOk(context);

    /// <summary>The subject of the TLS client certificate the request came with (the federation listener asks for one).</summary>
    private static string? PeerSubject(HttpContext context) => context.Connection.ClientCertificate?.Subject;
}

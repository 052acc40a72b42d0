using Microsoft.AspNetCore.Http.HttpResults;
using Welkin.Contracts;
using Welkin.Core.Clock;
using Welkin.Core.Scaling;
using Welkin.Core.Security;
using Welkin.Core.Sla;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Endpoints;

/// <summary>
/// SLA management: the server clock (and, in simulation mode, advancing it), SLA reports per
/// billing period, incident acknowledgement, and instances' scaling policies.
/// </summary>
public static class SlaEndpoints
{
    public static IEndpointRouteBuilder MapSla(this IEndpointRouteBuilder app)
    {
        var clock = app.MapInterface("/api/v1/clock", "Clock");
        clock.MapGet("/", GetClock).WithName("clock.get").WithSummary("Get the server's clock: its mode and the current time");
        // On both kinds of server, so that a client learns the server is not in simulation mode instead of a bare 404.
        clock.MapPost("/advance", Advance).WithName("clock.advance").WithSummary("Advance the simulated clock (simulation mode only; with background, as a job with progress)");

        var contracts = app.MapInterface("/api/v1/contracts", "SLA");
        contracts.MapGet("/{id}/sla", Report).WithName("contract.sla").WithSummary("Report a contract's service levels against its SLA terms for a month");

        var instances = app.MapInterface("/api/v1/instances", "SLA");
        instances.MapPut("/{id}/scaling-policy", SetPolicy).WithName("instance.scaling-policy-set").WithSummary("Set an instance's scaling policy");
        instances.MapGet("/{id}/scaling-policy", GetPolicy).WithName("instance.scaling-policy-get").WithSummary("Get an instance's scaling policy");
        instances.MapDelete("/{id}/scaling-policy", ClearPolicy).WithName("instance.scaling-policy-clear").WithSummary("Remove an instance's scaling policy");

        var fabric = app.MapInterface("/api/v1/fabric/machines", "Fabric");
        fabric.MapPost("/{id}/acknowledge", Acknowledge).WithName("fabric.machine-acknowledge").WithSummary("Acknowledge a failed machine's incident (operators)");
        return app;
    }

    private static Ok<ClockView> GetClock(TimeProvider time) =>
        TypedResults.Ok(new ClockView(time is VirtualClock ? ClockModes.Virtual : ClockModes.Real, time.GetUtcNow()));

    /// <summary>Answers when the target is reached, or at once with a job when the request asks for <c>background</c>.</summary>
    private static async Task<Results<Ok<ClockAdvanceView>, Accepted<AcceptedView<ClockView>>, ProblemHttpResult>> Advance(
        ClockAdvanceRequest request, Caller caller, HttpContext context, CancellationToken ct)
    {
        if (context.RequestServices.GetService<SimulationClock>() is not { } simulation)
        {
            return Problems.From(SimulationClock.RefuseOnRealClock(caller), context);
        }
        if (request.Background)
        {
            var started = await simulation.StartAdvanceAsync(caller, request, ct);
            return started.IsSuccess
                ? TypedResults.Accepted($"/api/v1/jobs/{started.Value.Job.Id}", started.Value)
                : Problems.From(started.Error!, context);
        }
        var advanced = await simulation.AdvanceAsync(caller, request, ct);
        return advanced.IsSuccess ? TypedResults.Ok(advanced.Value) : Problems.From(advanced.Error!, context);
    }

    private static async Task<Results<Ok<SlaReportView>, ProblemHttpResult>> Report(
        string id, Caller caller, SlaService sla, HttpContext context, CancellationToken ct, string? period = null) =>
        (await sla.ReportAsync(caller, id, period, ct)).ToOk(context);

    private static async Task<Results<Ok<ScalingPolicyView>, ProblemHttpResult>> SetPolicy(
        string id, ScalingPolicyRequest request, Caller caller, ScalingPolicies policies, HttpContext context, CancellationToken ct) =>
        (await policies.SetAsync(caller, id, request, ct)).ToOk(context);

    private static async Task<Results<Ok<ScalingPolicyView>, ProblemHttpResult>> GetPolicy(
        string id, Caller caller, ScalingPolicies policies, HttpContext context, CancellationToken ct) =>
        (await policies.GetAsync(caller, id, ct)).ToOk(context);

    private static async Task<Results<NoContent, ProblemHttpResult>> ClearPolicy(
        string id, Caller caller, ScalingPolicies policies, HttpContext context, CancellationToken ct)
    {
        var result = await policies.ClearAsync(caller, id, ct);
        return result.IsSuccess ? TypedResults.NoContent() : Problems.From(result.Error!, context);
    }

    private static async Task<Results<Ok<MachineView>, ProblemHttpResult>> Acknowledge(
        string id, Caller caller, SlaService sla, HttpContext context, CancellationToken ct) =>
        (await sla.AcknowledgeAsync(caller, id, ct)).ToOk(context);
}

using Microsoft.AspNetCore.Http.HttpResults;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Data;
using Welkin.Core.Security;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Endpoints;

/// <summary>The audit log and the compute fabric, for auditors and operators.</summary>
public static class OperationsEndpoints
{
    public static IEndpointRouteBuilder MapOperations(this IEndpointRouteBuilder app)
    {
        var audit = app.MapInterface("/api/v1/audit", "Audit");
        audit.MapGet("/", ListAudit).WithName("audit.list").WithSummary("Page through the audit log");
        audit.MapPost("/verify", VerifyAudit).WithName("audit.verify").WithSummary("Verify the audit log against its seals and signed checkpoints");
        audit.MapGet("/checkpoints", ListCheckpoints).WithName("audit.checkpoint-list").WithSummary("Page through the signed checkpoints of the audit log");
        audit.MapPost("/checkpoints", CreateCheckpoint).WithName("audit.checkpoint").WithSummary("Sign the audit log's head now");
        audit.MapGet("/signing-key", SigningKey).WithName("audit.signing-key").WithSummary("The public key that signs audit checkpoints");

        var fabric = app.MapInterface("/api/v1/fabric", "Fabric");
        fabric.MapGet("/hosts", ListHosts).WithName("fabric.host-list").WithSummary("List the hosts of the compute fabric");
        return app;
    }

    private static async Task<Results<Ok<Page<AuditEntryView>>, ProblemHttpResult>> ListAudit(
        [AsParameters] AuditListQuery query, Caller caller, AuditLog log, IDatabase db, HttpContext context, CancellationToken ct) =>
        (await log.ListAsync(db, caller, query, ct)).ToOk(context);

    private static async Task<Results<Ok<AuditVerification>, ProblemHttpResult>> VerifyAudit(
        Caller caller, AuditLog log, AuditCheckpoints checkpoints, IDatabase db, HttpContext context, CancellationToken ct)
    {
        if (!caller.Can(Permission.AuditVerify))
        {
            return Problems.From(Error.Forbidden("Verifying the audit log needs the auditor or provider-admin role."), context);
        }
        return TypedResults.Ok(await log.VerifyAsync(db, checkpoints.Anchors(), ct));
    }

    private static Results<Ok<Page<AuditCheckpointView>>, ProblemHttpResult> ListCheckpoints(
        long? after, int? limit, Caller caller, AuditCheckpoints checkpoints, HttpContext context) =>
        checkpoints.List(caller, after, limit ?? 100).ToOk(context);

    private static async Task<Results<Created<AuditCheckpointView>, ProblemHttpResult>> CreateCheckpoint(
        Caller caller, AuditCheckpoints checkpoints, HttpContext context, CancellationToken ct) =>
        (await checkpoints.CreateAsync(caller, ct)).ToCreated(context, c => $"/api/v1/audit/checkpoints?after={c.Number - 1}&limit=1");

    private static Results<Ok<AuditSigningKeyView>, ProblemHttpResult> SigningKey(Caller caller, AuditCheckpoints checkpoints, HttpContext context) =>
        checkpoints.SigningKey(caller).ToOk(context);

    private static Results<Ok<IReadOnlyList<HostView>>, ProblemHttpResult> ListHosts(Caller caller, ComputeFabric fabric, HttpContext context)
    {
        if (!caller.Can(Permission.FabricRead))
        {
            return Problems.From(Error.Forbidden("Reading the fabric needs the operator or provider-admin role."), context);
        }
        return TypedResults.Ok<IReadOnlyList<HostView>>(
            fabric.Pools.SelectMany(p => p.Hosts.Select(h => new HostView(h.Name, h.Region, h.Jurisdiction, h.Cores, h.MemoryMiB, h.DiskGiB, p.Kind, p.Name))).ToList());
    }
}

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
        audit.MapPost("/verify", VerifyAudit).WithName("audit.verify").WithSummary("Verify the audit log's hash chain");

        var fabric = app.MapInterface("/api/v1/fabric", "Fabric");
        fabric.MapGet("/hosts", ListHosts).WithName("fabric.host-list").WithSummary("List the hosts of the compute fabric");
        return app;
    }

    private static async Task<Results<Ok<Page<AuditEntryView>>, ProblemHttpResult>> ListAudit(
        [AsParameters] AuditListQuery query, Caller caller, AuditLog log, IDatabase db, HttpContext context, CancellationToken ct) =>
        (await log.ListAsync(db, caller, query, ct)).ToOk(context);

    private static async Task<Results<Ok<AuditVerification>, ProblemHttpResult>> VerifyAudit(
        Caller caller, AuditLog log, IDatabase db, HttpContext context, CancellationToken ct)
    {
        if (!caller.Can(Permission.AuditVerify))
        {
            return Problems.From(Error.Forbidden("Verifying the audit log needs the auditor or provider-admin role."), context);
        }
        return TypedResults.Ok(await log.VerifyAsync(db, ct));
    }

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

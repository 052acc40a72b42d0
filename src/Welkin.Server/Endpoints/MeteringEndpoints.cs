using Microsoft.AspNetCore.Http.HttpResults;
using Welkin.Contracts;
using Welkin.Core.Metering;
using Welkin.Core.Security;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Endpoints;

/// <summary>Metering and contract reporting: usage, its reconciliation with the event log, the contract report as JSON and SVG.</summary>
public static class MeteringEndpoints
{
    public static IEndpointRouteBuilder MapMetering(this IEndpointRouteBuilder app)
    {
        var accounts = app.MapInterface("/api/v1/accounts", "Metering");
        accounts.MapGet("/{id}/usage", AccountUsage).WithName("account.usage").WithSummary("Get an account's metered usage over a period");
        accounts.MapGet("/{id}/usage/reconciliation", Reconciliation).WithName("account.usage.reconciliation").WithSummary("Check an account's metered usage against its event log");

        var contracts = app.MapInterface("/api/v1/contracts", "Metering");
        contracts.MapGet("/{id}/usage", ContractUsage).WithName("contract.usage").WithSummary("Get a contract's metered usage over a period");
        contracts.MapGet("/{id}/report", Report).WithName("contract.report").WithSummary("Get a contract's report: timeline, usage by day and by hour of day");
        contracts.MapGet("/{id}/report.svg", ReportSvg).WithName("contract.report.svg").WithSummary("Get a contract's report as an SVG chart");
        return app;
    }

    private static async Task<Results<Ok<UsageReport>, ProblemHttpResult>> AccountUsage(
        string id, Caller caller, UsageService usage, HttpContext context, CancellationToken ct,
        DateTimeOffset? from = null, DateTimeOffset? to = null, string? contractId = null, string? groupBy = null) =>
        (await usage.AccountUsageAsync(caller, id, new UsageQuery(from, to, contractId, groupBy), ct)).ToOk(context);

    private static async Task<Results<Ok<UsageReport>, ProblemHttpResult>> ContractUsage(
        string id, Caller caller, UsageService usage, HttpContext context, CancellationToken ct,
        DateTimeOffset? from = null, DateTimeOffset? to = null, string? groupBy = null) =>
        (await usage.ContractUsageAsync(caller, id, new UsageQuery(from, to, null, groupBy), ct)).ToOk(context);

    private static async Task<Results<Ok<ReconciliationReport>, ProblemHttpResult>> Reconciliation(
        string id, Caller caller, UsageService usage, HttpContext context, CancellationToken ct,
        DateTimeOffset? from = null, DateTimeOffset? to = null) =>
        (await usage.ReconcileAsync(caller, id, from, to, ct)).ToOk(context);

    private static async Task<Results<Ok<ContractReport>, ProblemHttpResult>> Report(
        string id, Caller caller, UsageService usage, HttpContext context, CancellationToken ct,
        DateTimeOffset? from = null, DateTimeOffset? to = null) =>
        (await usage.ContractReportAsync(caller, id, from, to, ct)).ToOk(context);

    private static async Task<Results<ContentHttpResult, ProblemHttpResult>> ReportSvg(
        string id, Caller caller, UsageService usage, HttpContext context, CancellationToken ct,
        DateTimeOffset? from = null, DateTimeOffset? to = null)
    {
        var report = await usage.ContractReportAsync(caller, id, from, to, ct);
        if (!report.IsSuccess)
        {
            return Problems.From(report.Error!, context);
        }
        // The chart is an image: no script runs from it even when opened directly.
        context.Response.Headers.ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'";
        return TypedResults.Text(ContractReportSvg.Render(report.Value), "image/svg+xml; charset=utf-8");
    }
}

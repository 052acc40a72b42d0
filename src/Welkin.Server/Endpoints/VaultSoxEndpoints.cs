using Microsoft.AspNetCore.Http.HttpResults;
using Welkin.Contracts;
using Welkin.Core.Security;
using Welkin.Core.Vault;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Endpoints;

/// <summary>The auditor's SOX report of a whole account (every vault it had in a period), as JSON or printable HTML.</summary>
public static class VaultSoxEndpoints
{
    public static IEndpointRouteBuilder MapVaultSoxReports(this IEndpointRouteBuilder app)
    {
        var accounts = app.MapInterface("/api/v1/accounts", "Retention Vault");
        accounts.MapGet("/{id}/sox-report", AccountReport).WithName("vault.account-sox-report")
            .WithSummary("The auditor's report of every vault of the account for a period (?from=&to=); JSON, or HTML with Accept: text/html");
        return app;
    }

    private static async Task<Results<Ok<AccountSoxReportView>, ContentHttpResult, ProblemHttpResult>> AccountReport(
        string id, Caller caller, SoxReports reports, HttpContext context, CancellationToken ct, DateTimeOffset? from = null, DateTimeOffset? to = null)
    {
        var report = await reports.AccountReportAsync(caller, id, from, to, ct);
        if (!report.IsSuccess)
        {
            return Problems.From(report.Error!, context);
        }
        return WantsHtml(context) ? Html(context, SoxReportHtml.Render(report.Value)) : TypedResults.Ok(report.Value);
    }

    /// <summary>Whether the caller asked for the printable page (Accept: text/html) rather than JSON.</summary>
    internal static bool WantsHtml(HttpContext context) =>
        context.Request.GetTypedHeaders().Accept.Any(a => a.MediaType.Equals("text/html", StringComparison.OrdinalIgnoreCase));

    /// <summary>A report page, sent so that nothing in it may run or load and no client sniffs another type.</summary>
    internal static ContentHttpResult Html(HttpContext context, string page)
    {
        context.Response.Headers.ContentSecurityPolicy = SoxReportHtml.ContentSecurityPolicy;
        context.Response.Headers.XContentTypeOptions = "nosniff";
        return TypedResults.Content(page, "text/html; charset=utf-8");
    }
}

using Microsoft.AspNetCore.Http.HttpResults;
using Welkin.Contracts;
using Welkin.Core.Billing;
using Welkin.Core.Security;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Endpoints;

/// <summary>Contract Billing: price plan versions of contracts, invoices per account and period (JSON, a printable page and a PDF document), accounts' billing addresses.</summary>
public static class BillingEndpoints
{
    public static IEndpointRouteBuilder MapBilling(this IEndpointRouteBuilder app)
    {
        var contracts = app.MapInterface("/api/v1/contracts", "Billing");
        contracts.MapGet("/{id}/price-plans", PricePlans).WithName("contract.price-plans").WithSummary("List the price plan versions of a contract's lines");
        contracts.MapPost("/{id}/price-plans", AddPricePlan).WithName("contract.price-plan-add").WithSummary("Add a price plan version to a contract line");

        var accounts = app.MapInterface("/api/v1/accounts", "Billing");
        accounts.MapPost("/{id}/invoices", Issue).WithName("invoice.issue").WithSummary("Issue an account's invoice for a billing period");
        accounts.MapGet("/{id}/invoices", List).WithName("invoice.list").WithSummary("List an account's invoices");
        accounts.MapGet("/{id}/invoices/preview", Preview).WithName("invoice.preview").WithSummary("Preview an account's invoice for a period without issuing it");
        accounts.MapGet("/{id}/billing-address", BillingAddress).WithName("account.billing-address").WithSummary("Get an account's billing address");
        accounts.MapPut("/{id}/billing-address", SetBillingAddress).WithName("account.set-billing-address")
            .WithSummary("Set an account's billing address, printed on its later invoices");

        var invoices = app.MapInterface("/api/v1/invoices", "Billing");
        invoices.MapGet("/{id}", Get).WithName("invoice.get").WithSummary("Get one invoice");
        invoices.MapGet("/{id}/html", Html).WithName("invoice.html").WithSummary("Get an invoice as an HTML page");
        invoices.MapGet("/{id}/pdf", Pdf).WithName("invoice.pdf").WithSummary("Get an invoice as a PDF document (A4)");
        return app;
    }

    private static async Task<Results<Ok<IReadOnlyList<PricePlanVersionView>>, ProblemHttpResult>> PricePlans(
        string id, Caller caller, InvoiceService billing, HttpContext context, CancellationToken ct) =>
        (await billing.PricePlansAsync(caller, id, ct)).ToOk(context);

    private static async Task<Results<Created<PricePlanVersionView>, ProblemHttpResult>> AddPricePlan(
        string id, AddPricePlanVersionRequest request, Caller caller, InvoiceService billing, HttpContext context, CancellationToken ct) =>
        (await billing.AddPricePlanVersionAsync(caller, id, request, ct)).ToCreated(context, v => $"/api/v1/contracts/{v.ContractId}/price-plans");

    private static async Task<Results<Created<InvoiceView>, ProblemHttpResult>> Issue(
        string id, IssueInvoiceRequest request, Caller caller, InvoiceService billing, HttpContext context, CancellationToken ct) =>
        (await billing.IssueAsync(caller, id, request, ct)).ToCreated(context, i => $"/api/v1/invoices/{i.Id}");

    private static async Task<Results<Ok<Page<InvoiceSummaryView>>, ProblemHttpResult>> List(
        string id, [AsParameters] InvoiceListQuery query, Caller caller, InvoiceService billing, HttpContext context, CancellationToken ct) =>
        (await billing.ListAsync(caller, id, query, ct)).ToOk(context);

    private static async Task<Results<Ok<InvoiceView>, ProblemHttpResult>> Preview(
        string id, Caller caller, InvoiceService billing, HttpContext context, CancellationToken ct, string? period = null) =>
        (await billing.PreviewAsync(caller, id, period, ct)).ToOk(context);

    private static async Task<Results<Ok<BillingAddressView>, ProblemHttpResult>> BillingAddress(
        string id, Caller caller, BillingAddresses addresses, HttpContext context, CancellationToken ct) =>
        (await addresses.GetAsync(caller, id, ct)).ToOk(context);

    private static async Task<Results<Ok<BillingAddressView>, ProblemHttpResult>> SetBillingAddress(
        string id, SetBillingAddressRequest request, Caller caller, BillingAddresses addresses, HttpContext context, CancellationToken ct) =>
        (await addresses.SetAsync(caller, id, request, ct)).ToOk(context);

    private static async Task<Results<Ok<InvoiceView>, ProblemHttpResult>> Get(
        string id, Caller caller, InvoiceService billing, HttpContext context, CancellationToken ct) =>
        (await billing.GetAsync(caller, id, ct)).ToOk(context);

    private static async Task<Results<ContentHttpResult, ProblemHttpResult>> Html(
        string id, Caller caller, InvoiceService billing, HttpContext context, CancellationToken ct)
    {
        var invoice = await billing.GetAsync(caller, id, ct);
        if (!invoice.IsSuccess)
        {
            return Problems.From(invoice.Error!, context);
        }
        context.Response.Headers.ContentSecurityPolicy = InvoiceHtml.ContentSecurityPolicy;
        context.Response.Headers.XContentTypeOptions = "nosniff";
        return TypedResults.Content(InvoiceHtml.Render(invoice.Value), "text/html; charset=utf-8");
    }

    private static async Task<Results<FileContentHttpResult, ProblemHttpResult>> Pdf(
        string id, Caller caller, InvoiceService billing, HttpContext context, CancellationToken ct)
    {
        var invoice = await billing.GetAsync(caller, id, ct);
        if (!invoice.IsSuccess)
        {
            return Problems.From(invoice.Error!, context);
        }
        var pdf = InvoicePdf.Render(invoice.Value);
        if (!pdf.IsSuccess)
        {
            return Problems.From(pdf.Error!, context);
        }
        context.Response.Headers.XContentTypeOptions = "nosniff";
        return TypedResults.File(pdf.Value, InvoicePdf.ContentType, $"{invoice.Value.Number ?? invoice.Value.Id}.pdf");
    }
}

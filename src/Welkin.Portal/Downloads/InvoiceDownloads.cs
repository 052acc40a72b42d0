using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Client;
using Welkin.Portal.Sessions;

namespace Welkin.Portal.Downloads;

/// <summary>
/// An issued invoice's own documents, fetched from the API with the person's token: its printable HTML page
/// (<c>GET /invoices/{id}/html</c>) and its PDF (<c>GET /invoices/{id}/pdf</c>, as an attachment).
/// </summary>
public static partial class InvoiceDownloads
{
    /// <summary>
    /// The invoice's HTML may carry inline styles and nothing else: no script, no request anywhere, and sandboxed so
    /// the document cannot act as the portal's origin.
    /// </summary>
    public const string HtmlContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox";

    public static IEndpointRouteBuilder MapInvoiceDownloads(this IEndpointRouteBuilder app)
    {
        app.MapGet("/invoices/{id}/html", HtmlAsync).ExcludeFromDescription();
        app.MapGet("/invoices/{id}/pdf", PdfAsync).ExcludeFromDescription();
        return app;
    }

    private static Task HtmlAsync(HttpContext context, string id) => ServeAsync(context, id, async (api, ct) =>
    {
        var html = await api.Billing.HtmlAsync(id, ct);
        // Set before the portal's own headers are written: the portal leaves a policy an endpoint set alone.
        context.Response.Headers.ContentSecurityPolicy = HtmlContentSecurityPolicy;
        context.Response.ContentType = "text/html; charset=utf-8";
        await context.Response.WriteAsync(html, ct);
    });

    private static Task PdfAsync(HttpContext context, string id) => ServeAsync(context, id, async (api, ct) =>
    {
        var invoice = await api.Billing.GetAsync(id, ct);
        var pdf = await api.Billing.PdfAsync(id, ct);
        var name = SafeName(invoice.Number ?? invoice.Id ?? id);
        context.Response.ContentType = "application/pdf";
        context.Response.Headers.ContentDisposition = $"attachment; filename=\"invoice-{name}.pdf\"";
        context.Response.ContentLength = pdf.Length;
        await context.Response.Body.WriteAsync(pdf, ct);
    });

    private static async Task ServeAsync(HttpContext context, string id, Func<WelkinClient, CancellationToken, Task> serve)
    {
        var portal = context.RequestServices.GetRequiredService<PortalContext>();
        if (!portal.IsSignedIn)
        {
            SignIn(context);
            return;
        }
        try
        {
            await serve(portal.Client(), context.RequestAborted);
        }
        catch (WelkinApiException e) when (!context.Response.HasStarted && e.StatusCode == StatusCodes.Status401Unauthorized)
        {
            // The session's token ended (expired or revoked): sign in again, then come back.
            context.Response.Headers.Remove("Content-Security-Policy");
            SignIn(context);
        }
        catch (WelkinApiException e) when (!context.Response.HasStarted)
        {
            // The API's refusal is the download's status; a 404 becomes the portal's not-found page.
            context.Response.Headers.Remove("Content-Security-Policy");
            context.Response.Headers.Remove("Content-Disposition");
            context.Response.StatusCode = e.StatusCode is >= 400 and < 600 ? e.StatusCode : StatusCodes.Status502BadGateway;
        }
        catch (HttpRequestException) when (!context.Response.HasStarted)
        {
            context.Response.StatusCode = StatusCodes.Status502BadGateway;
        }
    }

    private static void SignIn(HttpContext context) =>
        context.Response.Redirect("/sign-in?returnUrl=" + Uri.EscapeDataString(context.Request.Path.Value ?? "/invoices"));

    /// <summary>Only letters, digits, '-' and '_' in a file name the browser is told to use.</summary>
    private static string SafeName(string value) => Unsafe().Replace(value, "_");

    [GeneratedRegex("[^A-Za-z0-9_-]")]
    private static partial Regex Unsafe();
}

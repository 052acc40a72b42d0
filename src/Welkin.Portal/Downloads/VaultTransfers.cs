using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Net.Http.Headers;
using Welkin.Client;
using Welkin.Portal.Sessions;

namespace Welkin.Portal.Downloads;

/// <summary>
/// The vault's bytes through the portal: a record uploaded from a browser form (multipart, streamed section by
/// section to the API, never held whole), a record's content downloaded as an attachment, and the vault's SOX
/// report as a document of its own. Every call is the signed-in person's, with their token.
/// </summary>
public static class VaultTransfers
{
    /// <summary>The upload form's field names, in the order the form sends them (the token first, the file last).</summary>
    public const string KeyField = "key";

    public const string ClassField = "class";

    public const string FileField = "file";

    /// <summary>The SOX report is the cloud's own HTML: its styles only, no script, and a sandbox around it.</summary>
    public const string ReportSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; sandbox";

    private const int FieldLimit = 4096;

    private const int MaxFields = 8;

    public static IEndpointRouteBuilder MapVaultTransfers(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/vaults/{id}/records", UploadAsync).DisableAntiforgery().ExcludeFromDescription(); // validated below, before any byte reaches the API
        endpoints.MapGet("/vaults/{id}/records/{recordId}", DownloadAsync).ExcludeFromDescription();
        endpoints.MapGet("/vaults/{id}/sox-report", SoxReportAsync).ExcludeFromDescription();
        return endpoints;
    }

    private static async Task UploadAsync(HttpContext http, string id, PortalContext portal)
    {
        if (!portal.IsSignedIn)
        {
            await WriteAsync(http, StatusCodes.Status401Unauthorized, "Not signed in", "Sign in to upload a record.", null);
            return;
        }
        if (MultipartUpload.Boundary(http.Request) is not { Length: > 0 } boundary)
        {
            await WriteAsync(http, StatusCodes.Status400BadRequest, "Not a form upload", "Send the record with the vault page's upload form.", id);
            return;
        }
        // The form's antiforgery token is checked before any byte of the file is read, so a forged post stores nothing.
        var form = await MultipartUpload.ReadAsync(http, boundary, MaxFields, FieldLimit);
        switch (form.Refusal)
        {
            case UploadRefusal.Expired:
                await WriteAsync(http, StatusCodes.Status400BadRequest, "The form has expired", "Reload the vault page and upload again.", id);
                return;
            case UploadRefusal.FieldTooLong:
                await WriteAsync(http, StatusCodes.Status400BadRequest, "A field is too long", $"The field '{form.RefusedField}' is longer than the form allows.", id);
                return;
        }
        if (form.File is not { } file || form.FileField != FileField)
        {
            await WriteAsync(http, StatusCodes.Status400BadRequest, "No file", "Choose a file to upload.", id);
            return;
        }
        var key = form.Field(KeyField) ?? form.FileName;
        if (string.IsNullOrEmpty(key))
        {
            await WriteAsync(http, StatusCodes.Status400BadRequest, "No key", "Give the record a key or choose a file.", id);
            return;
        }
        try
        {
            var record = await portal.Client().Vaults.PutAsync(id, key, file.Body, form.Field(ClassField), ct: http.RequestAborted);
            http.Response.Redirect($"/vaults/{Uri.EscapeDataString(id)}?uploaded={Uri.EscapeDataString(record.Id)}");
            http.Response.StatusCode = StatusCodes.Status303SeeOther;
        }
        catch (WelkinApiException e)
        {
            await WriteAsync(http, e.StatusCode, e.Problem.Title, e.Problem.Detail, id);
        }
    }

    private static async Task DownloadAsync(HttpContext http, string id, string recordId, PortalContext portal)
    {
        if (!SignedIn(http, portal))
        {
            return;
        }
        var client = portal.Client();
        try
        {
            var record = await client.Vaults.RecordAsync(id, recordId, http.RequestAborted);
            var name = FileNameOf(record.Key);
            http.Response.ContentType = "application/octet-stream";
            http.Response.ContentLength = record.SizeBytes;
            http.Response.Headers.ContentDisposition = new ContentDispositionHeaderValue("attachment") { FileNameStar = name, FileName = Ascii(name) }.ToString();
            http.Response.Headers["X-Content-SHA256"] = record.Sha256;
            await client.Vaults.ReadAsync(id, recordId, http.Response.Body, http.RequestAborted);
        }
        catch (WelkinApiException e) when (!http.Response.HasStarted)
        {
            http.Response.Headers.ContentDisposition = default;
            http.Response.ContentLength = null;
            await WriteAsync(http, e.StatusCode, e.Problem.Title, e.Problem.Detail, null);
        }
    }

    private static async Task SoxReportAsync(HttpContext http, string id, PortalContext portal)
    {
        if (!SignedIn(http, portal))
        {
            return;
        }
        try
        {
            var html = await portal.Client().Vaults.SoxReportHtmlAsync(id, ct: http.RequestAborted);
            http.Response.Headers.ContentSecurityPolicy = ReportSecurityPolicy;
            http.Response.ContentType = "text/html; charset=utf-8";
            await http.Response.WriteAsync(html, http.RequestAborted);
        }
        catch (WelkinApiException e)
        {
            await WriteAsync(http, e.StatusCode, e.Problem.Title, e.Problem.Detail, null);
        }
    }

    private static bool SignedIn(HttpContext http, PortalContext portal)
    {
        if (portal.IsSignedIn)
        {
            return true;
        }
        http.Response.Redirect("/sign-in?returnUrl=" + Uri.EscapeDataString(http.Request.Path + http.Request.QueryString));
        return false;
    }

    private static string FileNameOf(string key)
    {
        var name = key[(key.LastIndexOf('/') + 1)..];
        return name.Length == 0 ? "record" : name;
    }

    private static string Ascii(string name)
    {
        var safe = new string(name.Select(c => c is >= ' ' and < (char)127 && c != '"' && c != '\\' ? c : '_').ToArray());
        return safe;
    }

    /// <summary>A short page for a refused transfer: what went wrong and the way back.</summary>
    private static async Task WriteAsync(HttpContext http, int status, string title, string? detail, string? vaultId)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "text/html; charset=utf-8";
        var back = vaultId is null ? "/vaults" : "/vaults/" + Uri.EscapeDataString(vaultId);
        await http.Response.WriteAsync($"""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>{WebUtility.HtmlEncode(title)} · Welkin</title><link rel="stylesheet" href="/_content/Welkin.Portal/portal.css"></head>
            <body><main id="main"><h1>{WebUtility.HtmlEncode(title)}</h1><div class="alert error" role="alert">{WebUtility.HtmlEncode(detail ?? "")}</div>
            <p><a href="{WebUtility.HtmlEncode(back)}">Back to the vault</a></p></main></body></html>
            """, http.RequestAborted);
    }
}

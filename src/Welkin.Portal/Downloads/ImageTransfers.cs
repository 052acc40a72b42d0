using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Net.Http.Headers;
using Welkin.Client;
using Welkin.Contracts;
using Welkin.Portal.Sessions;

namespace Welkin.Portal.Downloads;

/// <summary>
/// The portal's two large uploads, images and OVA packages: the browser's bytes are streamed on to the API
/// with the person's token as they arrive, never held whole. <c>upload.js</c> sends the file as the raw body
/// (name and description in the query, the antiforgery token in a header) and shows the progress; without
/// script the form posts multipart, whose antiforgery field precedes the file.
/// </summary>
public static class ImageTransfers
{
    public const string UploadPath = "/provider/images/upload";
    public const string ImportPath = "/provider/images/import";

    private const string TokenField = "__RequestVerificationToken";
    private const int MaxFieldBytes = 4096;
    private const int MaxFields = 16;

    public static IEndpointRouteBuilder MapImageTransfers(this IEndpointRouteBuilder app)
    {
        // The API applies its own limit to what is streamed on to it; the portal adds none of its own.
        app.MapPost(UploadPath, UploadAsync).WithMetadata(new NoBodyLimit()).ExcludeFromDescription();
        app.MapPost(ImportPath, ImportAsync).WithMetadata(new NoBodyLimit()).ExcludeFromDescription();
        return app;
    }

    private static Task UploadAsync(HttpContext http) => TransferAsync(http, "/provider/images", async (client, body, fields, ct) =>
    {
        var name = Field(fields, "name") ?? Field(fields, "fileName") ?? "image";
        var image = await client.Images.UploadAsync(body, name, Field(fields, "description"), ct: ct);
        return ("/provider/images?uploaded=" + Uri.EscapeDataString(image.Id), image.Id, image.Name);
    });

    private static Task ImportAsync(HttpContext http) => TransferAsync(http, "/provider/images", async (client, body, _, ct) =>
    {
        var result = await client.Ovf.ImportAsync(body, ct);
        return ("/provider/templates/" + Uri.EscapeDataString(result.Template.Id) + "?imported=" + result.Images.Count, result.Template.Id, result.Template.Name);
    });

    private delegate Task<(string Location, string Id, string Name)> Transfer(WelkinClient client, Stream body, Dictionary<string, string> fields, CancellationToken ct);

    private static async Task TransferAsync(HttpContext http, string page, Transfer transfer)
    {
        var ct = http.RequestAborted;
        var portal = http.RequestServices.GetRequiredService<PortalContext>();
        var antiforgery = http.RequestServices.GetRequiredService<IAntiforgery>();
        var multipart = MediaTypeHeaderValue.TryParse(http.Request.ContentType, out var type)
            && type.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase);
        if (portal.Session?.Home is not { } me)
        {
            await RefuseAsync(http, multipart, page, new WelkinProblem(401, "unauthenticated", "Sign in first", "The portal has no session for this browser."));
            return;
        }
        if (!me.IsProvider)
        {
            await RefuseAsync(http, multipart, page, new WelkinProblem(403, "forbidden", "Provider pages", "Uploads here are for the provider's people."));
            return;
        }
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        Stream body;
        if (multipart)
        {
            var boundary = HeaderUtilities.RemoveQuotes(type!.Boundary).Value;
            if (string.IsNullOrEmpty(boundary))
            {
                await RefuseAsync(http, multipart, page, new WelkinProblem(400, "bad-form", "The form is malformed", "The multipart body has no boundary."));
                return;
            }
            // The limit can only be lifted before the body is read; the fields before the file are bounded below.
            LiftBodyLimit(http);
            var reader = new MultipartReader(boundary, http.Request.Body);
            MultipartSection? file = null;
            while (fields.Count < MaxFields && await reader.ReadNextSectionAsync(ct) is { } section)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition))
                {
                    continue;
                }
                var field = HeaderUtilities.RemoveQuotes(disposition.Name).Value ?? "";
                if (disposition.IsFileDisposition())
                {
                    fields["fileName"] = Path.GetFileName(HeaderUtilities.RemoveQuotes(disposition.FileName).Value ?? "");
                    file = section;
                    break;
                }
                fields[field] = await ReadFieldAsync(section.Body, ct);
            }
            // The token field comes before the file: check it as antiforgery checks a header, without reading the file.
            http.Request.Headers[HeaderName(http)] = Field(fields, TokenField) ?? "";
            if (!await antiforgery.IsRequestValidAsync(http))
            {
                await RefuseAsync(http, multipart, page, AntiforgeryProblem);
                return;
            }
            if (file is null)
            {
                await RefuseAsync(http, multipart, page, new WelkinProblem(400, "no-file", "Choose a file", "The form carried no file."));
                return;
            }
            body = file.Body;
        }
        else
        {
            if (!await antiforgery.IsRequestValidAsync(http))
            {
                await RefuseAsync(http, multipart, page, AntiforgeryProblem);
                return;
            }
            LiftBodyLimit(http);
            foreach (var (key, value) in http.Request.Query)
            {
                fields[key] = value.ToString();
            }
            body = http.Request.Body;
        }

        try
        {
            var (location, id, name) = await transfer(portal.Client(), body, fields, ct);
            if (multipart)
            {
                http.Response.StatusCode = StatusCodes.Status303SeeOther;
                http.Response.Headers.Location = location;
            }
            else
            {
                http.Response.StatusCode = StatusCodes.Status201Created;
                await http.Response.WriteAsJsonAsync(new Transferred(id, name, location), ct);
            }
        }
        catch (WelkinApiException e)
        {
            await RefuseAsync(http, multipart, page, e.Problem);
        }
        catch (HttpRequestException)
        {
            await RefuseAsync(http, multipart, page, new WelkinProblem(502, "cloud-unreachable", "The cloud did not answer", "Try again in a moment."));
        }
    }

    private static readonly WelkinProblem AntiforgeryProblem =
        new(400, "antiforgery", "The form has expired", "Reload the page and send the file again.");

    private static string HeaderName(HttpContext http) =>
        http.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<AntiforgeryOptions>>().Value.HeaderName ?? "RequestVerificationToken";

    private static void LiftBodyLimit(HttpContext http)
    {
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = null;
        }
    }

    private static string? Field(Dictionary<string, string> fields, string name) =>
        fields.TryGetValue(name, out var value) && !string.IsNullOrWhiteSpace(value) ? value.Trim() : null;

    private static async Task<string> ReadFieldAsync(Stream section, CancellationToken ct)
    {
        var buffer = new byte[MaxFieldBytes];
        var total = 0;
        int read;
        while ((read = await section.ReadAsync(buffer.AsMemory(total), ct)) > 0)
        {
            total += read;
            if (total == buffer.Length)
            {
                throw new BadHttpRequestException("A form field is too long.");
            }
        }
        return Encoding.UTF8.GetString(buffer, 0, total);
    }

    /// <summary>A refusal: a problem document for the script, a redirect back to the page (which says why) for a plain form.</summary>
    private static async Task RefuseAsync(HttpContext http, bool form, string page, WelkinProblem problem)
    {
        if (form)
        {
            http.Response.StatusCode = StatusCodes.Status303SeeOther;
            http.Response.Headers.Location = $"{page}?refused={problem.Status}&reason={Uri.EscapeDataString(problem.Detail ?? problem.Title)}";
            return;
        }
        http.Response.StatusCode = problem.Status is >= 400 and < 600 ? problem.Status : StatusCodes.Status400BadRequest;
        http.Response.ContentType = "application/problem+json";
        await JsonSerializer.SerializeAsync(http.Response.Body, new Refusal(problem.Status, problem.Code, problem.Title, problem.Detail, problem.Errors), WelkinJson.Client, http.RequestAborted);
    }

    private sealed record Transferred(string Id, string Name, string Location);

    private sealed record Refusal(int Status, string Code, string Title, string? Detail, IReadOnlyDictionary<string, string[]>? Errors);

    private sealed class NoBodyLimit : IRequestSizeLimitMetadata
    {
        public long? MaxRequestBodySize => null;
    }
}

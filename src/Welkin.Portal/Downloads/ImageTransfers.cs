using System.Text.Json;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
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
        var multipart = MultipartUpload.IsMultipart(http.Request);
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
            if (MultipartUpload.Boundary(http.Request) is not { Length: > 0 } boundary)
            {
                await RefuseAsync(http, multipart, page, new WelkinProblem(400, "bad-form", "The form is malformed", "The multipart body has no boundary."));
                return;
            }
            var form = await MultipartUpload.ReadAsync(http, boundary, MaxFields, MaxFieldBytes);
            switch (form.Refusal)
            {
                case UploadRefusal.Expired:
                    await RefuseAsync(http, multipart, page, AntiforgeryProblem);
                    return;
                case UploadRefusal.FieldTooLong:
                    await RefuseAsync(http, multipart, page, new WelkinProblem(400, "bad-form", "A field is too long", $"The field '{form.RefusedField}' is longer than the form allows."));
                    return;
            }
            if (form.File is not { } file)
            {
                await RefuseAsync(http, multipart, page, new WelkinProblem(400, "no-file", "Choose a file", "The form carried no file."));
                return;
            }
            fields = form.Fields;
            fields["fileName"] = form.FileName ?? "";
            body = file.Body;
        }
        else
        {
            if (!await antiforgery.IsRequestValidAsync(http))
            {
                await RefuseAsync(http, multipart, page, AntiforgeryProblem);
                return;
            }
            MultipartUpload.LiftBodyLimit(http);
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

    private static string? Field(Dictionary<string, string> fields, string name) =>
        fields.TryGetValue(name, out var value) && !string.IsNullOrWhiteSpace(value) ? value.Trim() : null;

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

using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Net.Http.Headers;
using Microsoft.OpenApi;
using Welkin.Contracts;
using Welkin.Core.Catalog.Images;
using Welkin.Core.Common;
using Welkin.Core.Security;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Endpoints;

/// <summary>Service Catalog: virtual disk images, uploaded as a raw request body and downloaded with HTTP ranges.</summary>
public static class ImageEndpoints
{
    public const string OctetStream = "application/octet-stream";

    public static IEndpointRouteBuilder MapImages(this IEndpointRouteBuilder app)
    {
        var group = app.MapInterface("/api/v1/images", "Service Catalog");
        // Documented by hand rather than with Accepts(): that metadata would make routing answer a
        // wrong Content-Type with 415 before authentication and with the JSON endpoints' wording.
        // Image uploads are far larger than JSON bodies: the endpoint declares its own limit,
        // which RequestBodyLimitMiddleware and Kestrel honour.
        var maxImageBytes = app.ServiceProvider.GetRequiredService<ImageOptions>().MaxBytes;
        group.MapPost("/", Upload).WithName("image.upload").WithSummary("Upload a disk image (raw, qcow2 or vmdk) as the request body").WithMetadata(new BodySizeLimit(maxImageBytes)).WithIdempotency(streamedBody: true).AddOpenApiOperationTransformer((operation, _, _) =>
        {
            operation.RequestBody = new OpenApiRequestBody
            {
                Required = true,
                Description = "The image's bytes (raw, qcow2 or vmdk; the format is detected from the content).",
                Content = new Dictionary<string, OpenApiMediaType>
                {
                    [OctetStream] = new() { Schema = new OpenApiSchema { Type = JsonSchemaType.String, Format = "binary" } },
                },
            };
            return Task.CompletedTask;
        });
        group.MapGet("/", List).WithName("image.list").WithSummary("List images in creation order");
        group.MapGet("/{id}", Get).WithName("image.get").WithSummary("Get one image, deleted ones included");
        group.MapDelete("/{id}", Delete).WithName("image.delete").WithSummary("Delete an image");
        group.MapGet("/{id}/content", Content).WithName("image.content").WithSummary("Download an image's bytes (single Range requests)");
        group.MapPut("/{id}/boot", Boot).WithName("image.boot").WithSummary("Set how an image boots on the QEMU fabric");
        return app;
    }

    /// <summary>
    /// The body is read as a stream straight into the blob store: no buffering, no model binding.
    /// Its digest may be declared with <c>?sha256=</c> or an RFC 9530 <c>Content-Digest</c> header.
    /// </summary>
    private static async Task<Results<Created<ImageView>, ProblemHttpResult>> Upload(
        Caller caller, ImageService images, HttpContext context, CancellationToken ct,
        string? name = null, string? description = null, string? sha256 = null)
    {
        if (ImageService.CheckWrite(caller) is { } denied)
        {
            return Problems.From(denied, context);
        }
        var request = context.Request;
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var type) || !type.MediaType.Equals(OctetStream, StringComparison.OrdinalIgnoreCase))
        {
            return Problems.From(new Error("unsupported-media-type", ErrorKind.UnsupportedMediaType,
                $"Send the image's bytes as the request body with Content-Type: {OctetStream}."), context);
        }
        var declared = ContentDigest.Sha256(request.Headers["Content-Digest"].ToString());
        if (!declared.IsSuccess)
        {
            return Problems.From(declared.Error!, context);
        }
        if (sha256 is not null && declared.Value is not null && !sha256.Equals(declared.Value, StringComparison.OrdinalIgnoreCase))
        {
            return Problems.From(new Error("digest-mismatch", ErrorKind.Validation, "The sha256 parameter and the Content-Digest header disagree."), context);
        }

        // The server-wide limit is the small JSON one; an image may be as large as MaxImageBytes.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = images.MaxBytes;
        }
        try
        {
            var upload = new ImageUpload(name, description, sha256 ?? declared.Value, request.ContentLength);
            var once = context.Once<ImageView>(StatusCodes.Status201Created, i => $"/api/v1/images/{i.Id}", i => i.Sha256);
            return (await images.UploadAsync(caller, upload, request.Body, once, ct)).ToCreated(context, i => $"/api/v1/images/{i.Id}");
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return Problems.From(images.TooLarge(), context);
        }
    }

    private static async Task<Results<Ok<Page<ImageView>>, ProblemHttpResult>> List(
        [AsParameters] ImageListQuery query, Caller caller, ImageService images, HttpContext context, CancellationToken ct) =>
        (await images.ListAsync(caller, query, ct)).ToOk(context);

    private static async Task<Results<Ok<ImageView>, ProblemHttpResult>> Get(
        string id, Caller caller, ImageService images, HttpContext context, CancellationToken ct) =>
        (await images.GetAsync(caller, id, ct)).ToOk(context);

    /// <summary>How the image boots on a fabric of real machines: kernel and ramdisk images, command line, ready marker.</summary>
    private static async Task<Results<Ok<ImageView>, ProblemHttpResult>> Boot(
        string id, ImageBoot boot, Caller caller, ImageService images, HttpContext context, CancellationToken ct, long? version = null) =>
        (await images.SetBootAsync(caller, id, boot, version, ct)).ToOk(context);

    private static async Task<Results<Ok<ImageView>, ProblemHttpResult>> Delete(
        string id, Caller caller, ImageService images, HttpContext context, CancellationToken ct, long? version = null) =>
        (await images.DeleteAsync(caller, id, version, ct)).ToOk(context);

    /// <summary>
    /// The image's bytes. Range requests (RFC 9110 14) are answered by the framework's file result:
    /// a single range gives 206 with Content-Range, an unsatisfiable one 416 with
    /// <c>Content-Range: bytes */length</c>; the ETag is the SHA-256, so If-Range and If-None-Match
    /// work across servers sharing the blob store. <see cref="IgnoredRange"/> narrows what the
    /// framework would honour to what RFC 9110 allows.
    /// </summary>
    private static async Task<Results<FileStreamHttpResult, ProblemHttpResult>> Content(
        string id, Caller caller, ImageService images, HttpContext context, CancellationToken ct)
    {
        var opened = await images.OpenContentAsync(caller, id, ct);
        if (!opened.IsSuccess)
        {
            return Problems.From(opened.Error!, context);
        }
        var (image, stream) = opened.Value;
        // HTTP dates have whole seconds: the validator is the creation time as an HTTP date can say it.
        var lastModified = DateTimeOffset.FromUnixTimeSeconds(image.Created.ToUnixTimeSeconds());
        if (IgnoredRange(context.Request, lastModified))
        {
            context.Request.Headers.Range = default;
        }
        // RFC 9530: the digest of the whole representation, also on partial responses.
        context.Response.Headers["Repr-Digest"] = $"sha-256=:{Convert.ToBase64String(Convert.FromHexString(image.Sha256))}:";
        return TypedResults.File(stream, OctetStream, $"{image.Id}.{ImageFormats.Extension(image.Format)}",
            lastModified: lastModified, entityTag: new EntityTagHeaderValue($"\"{image.Sha256}\""), enableRangeProcessing: true);
    }

    /// <summary>
    /// Whether the Range header must be ignored and the whole body sent (200): RFC 9110 14.2 lets a
    /// server ignore a range unit it does not know (only <c>bytes</c> here), and 13.1.5 makes an
    /// If-Range date a match only when it equals Last-Modified exactly (the framework would honour
    /// any later date). An If-Range entity tag is compared strongly by the framework itself.
    /// </summary>
    internal static bool IgnoredRange(HttpRequest request, DateTimeOffset lastModified)
    {
        var range = request.Headers.Range.ToString();
        if (range.Length == 0)
        {
            return false;
        }
        var equals = range.IndexOf('=', StringComparison.Ordinal);
        if (equals <= 0 || !range[..equals].Trim().Equals("bytes", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }
        var ifRange = request.GetTypedHeaders().IfRange;
        return ifRange?.LastModified is { } date && date != lastModified;
    }
}

/// <summary>The SHA-256 member of an RFC 9530 <c>Content-Digest</c> header: <c>sha-256=:&lt;base64&gt;:</c>.</summary>
public static class ContentDigest
{
    /// <summary>The declared SHA-256 as lower-case hex, null when the header is absent or names only other algorithms.</summary>
    public static Result<string?> Sha256(string header)
    {
        if (string.IsNullOrWhiteSpace(header))
        {
            return (string?)null;
        }
        // A structured-field dictionary (RFC 8941 3.2): members separated by commas, byte sequences between colons.
        foreach (var member in header.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = member.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || !member[..eq].Equals("sha-256", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }
            var value = member[(eq + 1)..].Split(';')[0].Trim();
            var bytes = new byte[32];
            if (value.Length < 2 || value[0] != ':' || value[^1] != ':'
                || !Convert.TryFromBase64String(value[1..^1], bytes, out var written) || written != 32)
            {
                return Error.Validation("Content-Digest", "Content-Digest's sha-256 must be 32 bytes in base64 between colons (RFC 9530).");
            }
            return Convert.ToHexStringLower(bytes);
        }
        return (string?)null;
    }
}

/// <summary>An endpoint's own request body limit (read by the body-limit middleware and Kestrel).</summary>
internal sealed record BodySizeLimit(long? MaxRequestBodySize) : Microsoft.AspNetCore.Http.Metadata.IRequestSizeLimitMetadata;

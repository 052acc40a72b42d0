using System.Globalization;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Net.Http.Headers;
using Microsoft.OpenApi;
using Welkin.Contracts;
using Welkin.Core.Catalog.Images;
using Welkin.Core.Common;
using Welkin.Core.Security;
using Welkin.Core.Uploads;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Endpoints;

/// <summary>
/// Resumable uploads of an account (<c>/api/v1/uploads</c>) and the images an account makes of
/// them (<c>/api/v1/account-images</c>): the receiving side of a transfer that may be cut and resumed.
/// </summary>
public static class UploadEndpoints
{
    /// <summary>The upload's durable offset (as tus and the IETF resumable-uploads draft name it).</summary>
    public const string OffsetHeader = "Upload-Offset";

    public const string LengthHeader = "Upload-Length";

    public static IEndpointRouteBuilder MapUploads(this IEndpointRouteBuilder app)
    {
        var uploads = app.MapInterface("/api/v1/uploads", "Uploads");
        // The options, not the service: nothing that writes to the data directory is made before the start checks pass.
        var maxBytes = app.ServiceProvider.GetRequiredService<UploadOptions>().MaxBytes;
        uploads.MapPost("/", Create).WithName("upload.create").WithSummary("Open a resumable upload of a declared size and SHA-256").WithIdempotency();
        uploads.MapGet("/", List).WithName("upload.list").WithSummary("List the account's open and complete uploads");
        uploads.MapGet("/{id}", Get).WithName("upload.get").WithSummary("Get an upload and its offset (also in the Upload-Offset header)");
        uploads.MapMethods("/{id}", [HttpMethods.Head], Head).WithName("upload.head").WithSummary("An upload's offset in the Upload-Offset header");
        uploads.MapPut("/{id}", Append).WithName("upload.append")
            .WithSummary("Append a chunk at the upload's offset: Content-Range bytes FIRST-LAST/SIZE, FIRST being the offset")
            .WithMetadata(new BodySizeLimit(maxBytes)).AddOpenApiOperationTransformer((operation, _, _) =>
            {
                operation.RequestBody = new OpenApiRequestBody
                {
                    Required = true,
                    Description = "The chunk's bytes; Content-Range names where they go.",
                    Content = new Dictionary<string, OpenApiMediaType>
                    {
                        [ImageEndpoints.OctetStream] = new() { Schema = new OpenApiSchema { Type = JsonSchemaType.String, Format = "binary" } },
                    },
                };
                return Task.CompletedTask;
            });
        uploads.MapDelete("/{id}", Delete).WithName("upload.delete").WithSummary("Delete an upload and its bytes");

        var images = app.MapInterface("/api/v1/account-images", "Uploads");
        images.MapPost("/", CreateImage).WithName("account-image.create").WithSummary("Make an image of the account from a complete upload (an OVA or a disk)").WithIdempotency();
        images.MapGet("/", ListImages).WithName("account-image.list").WithSummary("List the account's own images");
        images.MapGet("/{id}", GetImage).WithName("account-image.get").WithSummary("Get one of the account's images");
        images.MapDelete("/{id}", DeleteImage).WithName("account-image.delete").WithSummary("Delete one of the account's images");
        return app;
    }

    private static async Task<Results<Created<UploadView>, ProblemHttpResult>> Create(
        CreateUploadRequest request, Caller caller, UploadService uploads, HttpContext context, CancellationToken ct) =>
        (await uploads.CreateAsync(caller, request, context.Once<UploadView>(StatusCodes.Status201Created, UploadLocation), ct)).ToCreated(context, UploadLocation);

    private static string UploadLocation(UploadView upload) => $"/api/v1/uploads/{upload.Id}";

    private static async Task<Results<Ok<Page<UploadView>>, ProblemHttpResult>> List(
        Caller caller, UploadService uploads, HttpContext context, CancellationToken ct, string? after = null, int limit = 100) =>
        (await uploads.ListAsync(caller, after, limit, ct)).ToOk(context);

    private static async Task<Results<Ok<UploadView>, ProblemHttpResult>> Get(
        string id, Caller caller, UploadService uploads, HttpContext context, CancellationToken ct)
    {
        var upload = await uploads.GetAsync(caller, id, ct);
        Describe(context, upload);
        return upload.ToOk(context);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Head(
        string id, Caller caller, UploadService uploads, HttpContext context, CancellationToken ct)
    {
        var upload = await uploads.GetAsync(caller, id, ct);
        Describe(context, upload);
        return upload.IsSuccess ? TypedResults.NoContent() : Problems.From(upload.Error!, context);
    }

    /// <summary>
    /// A partial PUT (RFC 9110 14.5): the body goes at the bytes Content-Range names, which must
    /// start at the upload's offset; 409 offset-mismatch with the offset otherwise, so an
    /// overlapping or skipping chunk is never stored.
    /// </summary>
    private static async Task<Results<Ok<UploadView>, ProblemHttpResult>> Append(
        string id, Caller caller, UploadService uploads, HttpContext context, CancellationToken ct)
    {
        if (UploadService.CheckWrite(caller) is { } denied)
        {
            return Problems.From(denied, context);
        }
        // The upload first: another account's answers 404 as a missing one, whatever the request holds.
        if (await uploads.GetAsync(caller, id, ct) is { IsSuccess: false } missing)
        {
            return Problems.From(missing.Error!, context);
        }
        var request = context.Request;
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var type) || !type.MediaType.Equals(ImageEndpoints.OctetStream, StringComparison.OrdinalIgnoreCase))
        {
            return Problems.From(new Error("unsupported-media-type", ErrorKind.UnsupportedMediaType,
                $"Send the chunk's bytes as the request body with Content-Type: {ImageEndpoints.OctetStream}."), context);
        }
        var chunk = UploadChunk.Parse(request.Headers[HeaderNames.ContentRange].ToString(), request.ContentLength);
        if (!chunk.IsSuccess)
        {
            return Problems.From(chunk.Error!, context);
        }
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = uploads.MaxBytes;
        }
        var result = await uploads.AppendAsync(caller, id, chunk.Value, request.Body, ct);
        if (result.IsSuccess || result.Error!.Code == "offset-mismatch")
        {
            Describe(context, result.IsSuccess ? result : await uploads.GetAsync(caller, id, CancellationToken.None));
        }
        return result.ToOk(context);
    }

    private static async Task<Results<Ok<UploadView>, ProblemHttpResult>> Delete(
        string id, Caller caller, UploadService uploads, HttpContext context, CancellationToken ct) =>
        (await uploads.DeleteAsync(caller, id, ct)).ToOk(context);

    private static void Describe(HttpContext context, Result<UploadView> upload)
    {
        context.Response.Headers.CacheControl = "no-store";
        if (upload.IsSuccess)
        {
            context.Response.Headers[OffsetHeader] = upload.Value.ReceivedBytes.ToString(CultureInfo.InvariantCulture);
            context.Response.Headers[LengthHeader] = upload.Value.SizeBytes.ToString(CultureInfo.InvariantCulture);
        }
    }

    private static async Task<Results<Created<AccountImageView>, ProblemHttpResult>> CreateImage(
        CreateAccountImageRequest request, Caller caller, AccountImageService images, HttpContext context, CancellationToken ct) =>
        (await images.CreateAsync(caller, request, context.Once<AccountImageView>(StatusCodes.Status201Created, ImageLocation), ct)).ToCreated(context, ImageLocation);

    private static string ImageLocation(AccountImageView image) => $"/api/v1/account-images/{image.Id}";

    private static async Task<Results<Ok<Page<AccountImageView>>, ProblemHttpResult>> ListImages(
        Caller caller, AccountImageService images, HttpContext context, CancellationToken ct, string? after = null, int limit = 100) =>
        (await images.ListAsync(caller, after, limit, ct)).ToOk(context);

    private static async Task<Results<Ok<AccountImageView>, ProblemHttpResult>> GetImage(
        string id, Caller caller, AccountImageService images, HttpContext context, CancellationToken ct) =>
        (await images.GetAsync(caller, id, ct)).ToOk(context);

    private static async Task<Results<Ok<AccountImageView>, ProblemHttpResult>> DeleteImage(
        string id, Caller caller, AccountImageService images, HttpContext context, CancellationToken ct) =>
        (await images.DeleteAsync(caller, id, ct)).ToOk(context);
}

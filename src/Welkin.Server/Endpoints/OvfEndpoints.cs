using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Net.Http.Headers;
using Microsoft.OpenApi;
using Welkin.Contracts;
using Welkin.Core.Catalog;
using Welkin.Core.Common;
using Welkin.Core.Security;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Endpoints;

/// <summary>OVF packages (DMTF DSP0243): templates imported from OVAs, and templates, machines and instances exported as OVAs.</summary>
public static class OvfEndpoints
{
    public static IEndpointRouteBuilder MapOvf(this IEndpointRouteBuilder app)
    {
        var maxPackageBytes = app.ServiceProvider.GetRequiredService<OvfPackageOptions>().MaxPackageBytes;
        var templates = app.MapInterface("/api/v1/templates", "Service Catalog");
        templates.MapPost("/import", Import).WithName("template.import").WithSummary("Import an OVA as a draft template and one image per disk").WithMetadata(new BodySizeLimit(maxPackageBytes)).AddOpenApiOperationTransformer((operation, _, _) =>
        {
            operation.RequestBody = new OpenApiRequestBody
            {
                Required = true,
                Description = "An OVA: a tar of the .ovf descriptor first, then its .mf manifest and its disks (streamOptimized or monolithic sparse VMDK, qcow2 or raw).",
                Content = new Dictionary<string, OpenApiMediaType>
                {
                    [OvfExportHeaders.OvaMediaType] = new() { Schema = new OpenApiSchema { Type = JsonSchemaType.String, Format = "binary" } },
                    [ImageEndpoints.OctetStream] = new() { Schema = new OpenApiSchema { Type = JsonSchemaType.String, Format = "binary" } },
                },
            };
            return Task.CompletedTask;
        });
        templates.MapGet("/{id}/export", ExportTemplate).WithName("template.export").WithSummary("Export a template version and its images as an OVA").AddOpenApiOperationTransformer(Ova);
        app.MapInterface("/api/v1/machines", "Service Manager")
            .MapGet("/{id}/export", ExportMachine).WithName("machine.export").WithSummary("Export a machine as an OVA").AddOpenApiOperationTransformer(Ova);
        app.MapInterface("/api/v1/instances", "Service Manager")
            .MapGet("/{id}/export", ExportInstance).WithName("instance.export").WithSummary("Export an instance as an OVA, one virtual system per machine").AddOpenApiOperationTransformer(Ova);
        return app;
    }

    private static Task Ova(OpenApiOperation operation, Microsoft.AspNetCore.OpenApi.OpenApiOperationTransformerContext context, CancellationToken ct)
    {
        operation.Responses ??= new OpenApiResponses();
        operation.Responses["200"] = new OpenApiResponse
        {
            Description = $"An OVA (OVF 2.0). The {OvfExportHeaders.DiskSource} header says where its disks came from: machine-disk, image or none.",
            Content = new Dictionary<string, OpenApiMediaType>
            {
                [OvfExportHeaders.OvaMediaType] = new() { Schema = new OpenApiSchema { Type = JsonSchemaType.String, Format = "binary" } },
            },
        };
        return Task.CompletedTask;
    }

    /// <summary>The body is read as a stream: the package is unpacked, verified and converted on disk, never held in memory.</summary>
    private static async Task<Results<Created<OvfImportResult>, ProblemHttpResult>> Import(
        Caller caller, OvfPackages packages, HttpContext context, CancellationToken ct)
    {
        if (OvfPackages.CheckImport(caller) is { } denied)
        {
            return Problems.From(denied, context);
        }
        var request = context.Request;
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var type)
            || !(type.MediaType.Equals(OvfExportHeaders.OvaMediaType, StringComparison.OrdinalIgnoreCase) || type.MediaType.Equals(ImageEndpoints.OctetStream, StringComparison.OrdinalIgnoreCase)))
        {
            return Problems.From(new Error("unsupported-media-type", ErrorKind.UnsupportedMediaType,
                $"Send the OVA as the request body with Content-Type: {OvfExportHeaders.OvaMediaType} or {ImageEndpoints.OctetStream}."), context);
        }
        if (request.ContentLength > packages.MaxPackageBytes)
        {
            return Problems.From(packages.TooLarge(), context);
        }
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = packages.MaxPackageBytes;
        }
        try
        {
            return (await packages.ImportAsync(caller, request.Body, ct)).ToCreated(context, r => $"/api/v1/templates/{r.Template.Id}");
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return Problems.From(packages.TooLarge(), context);
        }
    }

    private static async Task<Results<EmptyHttpResult, ProblemHttpResult>> ExportTemplate(
        string id, Caller caller, OvfPackages packages, HttpContext context, CancellationToken ct, int? templateVersion = null) =>
        await SendAsync(await packages.ExportTemplateAsync(caller, id, templateVersion, ct), context, ct);

    private static async Task<Results<EmptyHttpResult, ProblemHttpResult>> ExportMachine(
        string id, Caller caller, OvfPackages packages, HttpContext context, CancellationToken ct) =>
        await SendAsync(await packages.ExportMachineAsync(caller, id, ct), context, ct);

    private static async Task<Results<EmptyHttpResult, ProblemHttpResult>> ExportInstance(
        string id, Caller caller, OvfPackages packages, HttpContext context, CancellationToken ct) =>
        await SendAsync(await packages.ExportInstanceAsync(caller, id, ct), context, ct);

    // The OVA is written straight to the response: disks are converted first (the manifest needs
    // their digests), so any refusal is still a problem response, not a broken download.
    private static async Task<Results<EmptyHttpResult, ProblemHttpResult>> SendAsync(Result<OvfExport> export, HttpContext context, CancellationToken ct)
    {
        if (!export.IsSuccess)
        {
            return Problems.From(export.Error!, context);
        }
        await using var package = export.Value;
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = OvfExportHeaders.OvaMediaType;
        response.Headers[OvfExportHeaders.DiskSource] = package.DiskSource;
        response.Headers.ContentDisposition = new ContentDispositionHeaderValue("attachment") { FileNameStar = package.FileName }.ToString();
        await package.WriteAsync(response.Body, ct);
        return TypedResults.Empty;
    }
}

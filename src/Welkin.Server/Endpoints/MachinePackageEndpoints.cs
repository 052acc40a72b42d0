using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Net.Http.Headers;
using Microsoft.OpenApi;
using Welkin.Contracts;
using Welkin.Core.Catalog;
using Welkin.Core.Security;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Endpoints;

/// <summary>
/// A machine's package (<c>/api/v1/machines/{id}/package</c>): its OVA written once and kept, downloaded in
/// byte ranges so that a cut download resumes (a cloud bringing home a machine it ran here uses it).
/// </summary>
public static class MachinePackageEndpoints
{
    public static IEndpointRouteBuilder MapMachinePackages(this IEndpointRouteBuilder app)
    {
        var machines = app.MapInterface("/api/v1/machines", "Service Manager");
        machines.MapPost("/{id}/package", Create).WithName("machine.package-create")
            .WithSummary("Write the machine's OVA once and keep it for a resumable download (the same package while the machine is unchanged)");
        machines.MapGet("/{id}/package", Get).WithName("machine.package-get").WithSummary("Get the machine's kept package: its size and SHA-256");
        machines.MapGet("/{id}/package/content", Content).WithName("machine.package-content")
            .WithSummary("Download the machine's kept package; Range and If-Range (RFC 9110) resume a cut download, Repr-Digest (RFC 9530) gives its SHA-256")
            .AddOpenApiOperationTransformer((operation, _, _) =>
            {
                operation.Responses ??= new OpenApiResponses();
                var ova = new Dictionary<string, OpenApiMediaType>
                {
                    [OvfExportHeaders.OvaMediaType] = new() { Schema = new OpenApiSchema { Type = JsonSchemaType.String, Format = "binary" } },
                };
                operation.Responses["200"] = new OpenApiResponse { Description = "The whole package (OVF 2.0 OVA); its ETag is its SHA-256.", Content = ova };
                operation.Responses["206"] = new OpenApiResponse { Description = "The range asked for, with Content-Range.", Content = ova };
                operation.Responses["416"] = new OpenApiResponse { Description = "The range is outside the package (Content-Range: bytes */SIZE)." };
                return Task.CompletedTask;
            });
        machines.MapDelete("/{id}/package", Delete).WithName("machine.package-delete").WithSummary("Delete the machine's kept package");
        return app;
    }

    private static async Task<Results<Created<MachinePackageView>, Ok<MachinePackageView>, ProblemHttpResult>> Create(
        string id, Caller caller, MachinePackageService packages, HttpContext context, CancellationToken ct)
    {
        var made = await packages.CreateAsync(caller, id, ct);
        if (!made.IsSuccess)
        {
            return Problems.From(made.Error!, context);
        }
        var (package, created) = made.Value;
        return created ? TypedResults.Created($"/api/v1/machines/{id}/package", package) : TypedResults.Ok(package);
    }

    private static async Task<Results<Ok<MachinePackageView>, ProblemHttpResult>> Get(
        string id, Caller caller, MachinePackageService packages, HttpContext context, CancellationToken ct) =>
        (await packages.GetAsync(caller, id, ct)).ToOk(context);

    /// <summary>
    /// The file with range processing: 206 with Content-Range for a satisfiable range, 416 for one outside it, and
    /// the whole package (200) when If-Range names another entity tag, so a changed package is never spliced.
    /// </summary>
    private static async Task<Results<PhysicalFileHttpResult, ProblemHttpResult>> Content(
        string id, Caller caller, MachinePackageService packages, HttpContext context, CancellationToken ct)
    {
        var found = await packages.OpenAsync(caller, id, ct);
        if (!found.IsSuccess)
        {
            return Problems.From(found.Error!, context);
        }
        var (package, path) = found.Value;
        context.Response.Headers[MachinePackageHeaders.ReprDigest] = $"sha-256=:{Convert.ToBase64String(Convert.FromHexString(package.Sha256))}:";
        context.Response.Headers[OvfExportHeaders.DiskSource] = package.DiskSource;
        return TypedResults.PhysicalFile(path, OvfExportHeaders.OvaMediaType, $"{id}.ova", package.Created,
            new EntityTagHeaderValue($"\"{package.Sha256}\""), enableRangeProcessing: true);
    }

    private static async Task<Results<Ok<MachinePackageView>, ProblemHttpResult>> Delete(
        string id, Caller caller, MachinePackageService packages, HttpContext context, CancellationToken ct) =>
        (await packages.DeleteAsync(caller, id, ct)).ToOk(context);
}

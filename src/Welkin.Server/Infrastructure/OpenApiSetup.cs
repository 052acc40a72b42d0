using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Welkin.Server.Infrastructure;

/// <summary>
/// The OpenAPI document served at /api/v1/openapi.json: what every operation shares (the bearer
/// token it needs, the problem it answers with) is declared here once, from the endpoint's metadata.
/// </summary>
public static class OpenApiSetup
{
    public const string BearerScheme = "bearerToken";
    public const string ProblemSchema = "Problem";
    public const string ProblemMediaType = "application/problem+json";

    public static IServiceCollection AddWelkinOpenApi(this IServiceCollection services) =>
        services.AddOpenApi("v1", o => o.AddDocumentTransformer(DescribeDocument).AddOperationTransformer(DescribeOperation));

    private static Task DescribeDocument(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken ct)
    {
        document.Info.Title = "Welkin provider interface";
        document.Info.Version = "v1";
        document.Info.Description = "Service Catalog, Security Manager and the other functional interfaces of a Welkin cloud. Errors are RFC 9457 problem details with a stable 'code'.";
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes[BearerScheme] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            BearerFormat = "wkn_…",
            Description = "An API token, 'wkn_' and 43 base64url characters, sent as 'Authorization: Bearer wkn_…'. "
                + "Sign-up answers with the account-admin's first token; login and POST /api/v1/principals/{id}/tokens issue more.",
        };
        document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
        document.Components.Schemas[ProblemSchema] = Problem();
        return Task.CompletedTask;
    }

    private static Task DescribeOperation(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken ct)
    {
        var metadata = context.Description.ActionDescriptor.EndpointMetadata;
        var bearer = new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, context.Document)] = [] };
        if (metadata.OfType<IAllowAnonymous>().Any())
        {
            // An empty requirement next to the bearer one: OpenAPI's way of saying the token is optional.
            operation.Security = metadata.OfType<OptionalToken>().Any() ? [new OpenApiSecurityRequirement(), bearer] : null;
        }
        else if (metadata.OfType<IAuthorizeData>().Any())
        {
            operation.Security = [bearer];
        }

        // List queries bound with [AsParameters] name their parameters after the record's members
        // (AccountId); the wire names are camelCase (accountId), which binding, ignoring case, accepts.
        foreach (var parameter in operation.Parameters?.OfType<OpenApiParameter>() ?? [])
        {
            if (parameter.In == ParameterLocation.Query && parameter.Name is { Length: > 0 } name && char.IsUpper(name[0]))
            {
                parameter.Name = System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(name);
            }
        }

        operation.Responses ??= [];
        operation.Responses["4XX"] = ProblemResponse("Problem (RFC 9457) with a stable 'code'; the codes are listed in docs/api.md", context.Document);
        operation.Responses["5XX"] = ProblemResponse("Problem (RFC 9457) 'internal-error': a fault of the server, reported without its internals", context.Document);
        return Task.CompletedTask;
    }

    private static OpenApiResponse ProblemResponse(string description, OpenApiDocument? document) => new()
    {
        Description = description,
        Content = new Dictionary<string, OpenApiMediaType>
        {
            [ProblemMediaType] = new() { Schema = new OpenApiSchemaReference(ProblemSchema, document) },
        },
    };

    /// <summary>RFC 9457 problem details and the members Welkin adds (Infrastructure/Problems.cs).</summary>
    private static OpenApiSchema Problem() => new()
    {
        Type = JsonSchemaType.Object,
        Description = "RFC 9457 problem details with Welkin's stable 'code' and the request's correlation id.",
        Required = new HashSet<string> { "type", "title", "status", "code" },
        Properties = new Dictionary<string, IOpenApiSchema>
        {
            ["type"] = Text("urn:welkin:problem:<code>", "uri"),
            ["title"] = Text("A short, human-readable summary of the problem type."),
            ["status"] = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32", Description = "The HTTP status code." },
            ["detail"] = Text("What went wrong with this request."),
            ["instance"] = Text("A URI reference that identifies this occurrence.", "uri-reference"),
            ["code"] = Text("The stable machine-readable code, e.g. 'not-found' or 'validation-failed'."),
            ["correlationId"] = Text("The request's X-Correlation-Id, also written in the server's log and audit entries."),
            ["traceId"] = Text("The W3C trace id of the request, when tracing is active."),
            ["errors"] = new OpenApiSchema
            {
                Type = JsonSchemaType.Object,
                Description = "For 'validation-failed': field → messages.",
                AdditionalProperties = new OpenApiSchema { Type = JsonSchemaType.Array, Items = new OpenApiSchema { Type = JsonSchemaType.String } },
            },
        },
    };

    private static OpenApiSchema Text(string description, string? format = null) =>
        new() { Type = JsonSchemaType.String, Format = format, Description = description };
}

/// <summary>
/// Metadata of an anonymous endpoint that still reads a token when one is sent (sign-up, which a
/// provider-admin may use when sign-up is closed); the OpenAPI document marks its token optional.
/// </summary>
public sealed class OptionalToken
{
    public static readonly OptionalToken Instance = new();

    private OptionalToken()
    {
    }
}

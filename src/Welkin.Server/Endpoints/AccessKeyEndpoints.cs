using Microsoft.AspNetCore.Http.HttpResults;
using Welkin.Contracts;
using Welkin.Core.Security;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Endpoints;

/// <summary>Security Manager: S3 access keys of principals (docs/s3.md), managed as API tokens are.</summary>
public static class AccessKeyEndpoints
{
    public static IEndpointRouteBuilder MapAccessKeys(this IEndpointRouteBuilder app)
    {
        var group = app.MapInterface("/api/v1", "Security Manager");
        group.MapGet("/principals/{id}/access-keys", List).WithName("access-key.list")
            .WithSummary("List a principal's S3 access keys, without their secrets");
        group.MapPost("/principals/{id}/access-keys", Create).WithName("access-key.create")
            .WithSummary("Create an S3 access key for a principal; its secret is shown once").WithIdempotency();
        group.MapDelete("/access-keys/{id}", Revoke).WithName("access-key.revoke")
            .WithSummary("Revoke an S3 access key; requests signed with it are refused from then on");
        return app;
    }

    private static async Task<Results<Ok<IReadOnlyList<AccessKeyView>>, ProblemHttpResult>> List(
        string id, Caller caller, AccessKeys keys, HttpContext context, CancellationToken ct) =>
        (await keys.ListAsync(caller, id, ct)).ToOk(context);

    private static async Task<Results<Created<IssuedAccessKey>, ProblemHttpResult>> Create(
        string id, CreateAccessKeyRequest request, Caller caller, AccessKeys keys, HttpContext context, CancellationToken ct) =>
        (await keys.CreateAsync(caller, id, request, context.Once<IssuedAccessKey>(StatusCodes.Status201Created, _ => $"/api/v1/principals/{id}/access-keys"), ct))
            .ToCreated(context, _ => $"/api/v1/principals/{id}/access-keys");

    private static async Task<Results<Ok<AccessKeyView>, ProblemHttpResult>> Revoke(
        string id, Caller caller, AccessKeys keys, HttpContext context, CancellationToken ct) =>
        (await keys.RevokeAsync(caller, id, ct)).ToOk(context);
}

using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Net.Http.Headers;
using Welkin.Contracts;
using Welkin.Core.Security;
using Welkin.Core.Vault;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Endpoints;

/// <summary>
/// Regulator access to the retention vault (docs/api-vault.md, "Grants and links"): grants given by
/// the account or by the provider under a legal process, and the signed links that deliver a granted
/// record's content without a token. The link's signature travels in its query string, which the
/// request log never writes.
/// </summary>
public static class VaultGrantEndpoints
{
    public static IEndpointRouteBuilder MapVaultGrants(this IEndpointRouteBuilder app)
    {
        var grants = app.MapInterface("/api/v1/vault-grants", "Retention Vault");
        grants.MapPost("/", Create).WithName("vault.grant.create")
            .WithSummary("Grant a regulator a vault's records (named, or by key prefix and class) until a time; the provider gives the legal basis");
        grants.MapGet("/", List).WithName("vault.grant.list").WithSummary("List grants: the account's on its data, a regulator's to it");
        grants.MapDelete("/{id}", Revoke).WithName("vault.grant.revoke").WithSummary("Revoke a grant; its links stop working at once");
        grants.MapPost("/{id}/links", Links).WithName("vault.grant.links").WithSummary("Signed, expiring links to the content of a grant's records (its regulator only)");

        app.MapAnonymousInterface(VaultGrantLinks.Route, "Retention Vault")
            .MapGet("/{grantId}/{recordId}", Fetch).WithName("vault.grant.fetch")
            .WithSummary("A granted record's content through a signed link: the signature is the credential, no token");
        return app;
    }

    private static async Task<Results<Created<VaultGrantView>, ProblemHttpResult>> Create(
        CreateVaultGrantRequest request, Caller caller, VaultGrants grants, HttpContext context, CancellationToken ct) =>
        (await grants.CreateAsync(caller, request, ct)).ToCreated(context, g => $"/api/v1/vault-grants/{g.Id}");

    private static async Task<Results<Ok<Page<VaultGrantView>>, ProblemHttpResult>> List(
        Caller caller, VaultGrants grants, HttpContext context, CancellationToken ct, string? after = null, int limit = 100) =>
        (await grants.ListAsync(caller, after, limit, ct)).ToOk(context);

    private static async Task<Results<Ok<VaultGrantView>, ProblemHttpResult>> Revoke(string id, Caller caller, VaultGrants grants, HttpContext context, CancellationToken ct) =>
        (await grants.RevokeAsync(caller, id, ct)).ToOk(context);

    private static async Task<Results<Ok<VaultGrantLinksView>, ProblemHttpResult>> Links(
        string id, CreateVaultGrantLinksRequest request, Caller caller, VaultGrantLinks links, HttpContext context, CancellationToken ct) =>
        (await links.CreateAsync(caller, id, request, ct)).ToOk(context);

    private static async Task<Results<FileStreamHttpResult, ProblemHttpResult>> Fetch(
        string grantId, string recordId, Caller caller, VaultGrantLinks links, HttpContext context, CancellationToken ct,
        string? expires = null, string? signature = null)
    {
        var opened = await links.OpenAsync(grantId, recordId, expires, signature, caller.CorrelationId, ct);
        if (!opened.IsSuccess)
        {
            return Problems.From(opened.Error!, context);
        }
        var (record, stream) = opened.Value;
        context.Response.ContentLength = record.SizeBytes;
        context.Response.Headers.CacheControl = "no-store";
        context.Response.Headers["Referrer-Policy"] = "no-referrer";
        context.Response.Headers["Repr-Digest"] = $"sha-256=:{Convert.ToBase64String(Convert.FromHexString(record.Sha256))}:";
        return TypedResults.File(stream, ImageEndpoints.OctetStream, entityTag: new EntityTagHeaderValue($"\"{record.Sha256}\""));
    }
}

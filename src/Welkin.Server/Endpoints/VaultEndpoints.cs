using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Net.Http.Headers;
using Microsoft.OpenApi;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Security;
using Welkin.Core.Vault;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Endpoints;

/// <summary>
/// The retention vault (docs/api-vault.md): vaults, their retention classes, write-once records
/// with streamed bodies, retention and legal holds, and the certificates of destruction.
/// </summary>
public static class VaultEndpoints
{
    public static IEndpointRouteBuilder MapVaults(this IEndpointRouteBuilder app)
    {
        var vaults = app.MapInterface("/api/v1/vaults", "Retention Vault");
        vaults.MapPost("/", Create).WithName("vault.create").WithSummary("Create a vault from a storage line of an active contract").WithIdempotency();
        vaults.MapGet("/", List).WithName("vault.list").WithSummary("List vaults");
        vaults.MapGet("/{id}", Get).WithName("vault.get").WithSummary("Get one vault");
        vaults.MapDelete("/{id}", Delete).WithName("vault.delete").WithSummary("Delete a vault that holds no stored record");
        vaults.MapPost("/{id}/object-lock", EnableObjectLock).WithName("vault.object-lock").WithSummary("Turn Object Lock on (it cannot be turned off)");
        vaults.MapGet("/{id}/default-retention", DefaultRetention).WithName("vault.default-retention.get")
            .WithSummary("Get the vault's default retention (S3's Object Lock rule): what a record written without a class or an explicit retention gets");
        vaults.MapPut("/{id}/default-retention", SetDefaultRetention).WithName("vault.default-retention")
            .WithSummary("Set the vault's default retention (a mode and days or years; all null removes it)");
        vaults.MapPost("/{id}/classes", CreateClass).WithName("vault.class.create").WithSummary("Create a retention class (CDMI retention metadata)");
        vaults.MapGet("/{id}/classes", Classes).WithName("vault.class.list").WithSummary("List a vault's retention classes");
        // The options, not the service: nothing that writes to the data directory is made before the start checks pass.
        var maxBytes = app.ServiceProvider.GetRequiredService<VaultOptions>().MaxRecordBytes;
        vaults.MapPost("/{id}/records", Put).WithName("vault.record.put")
            .WithSummary("Write a new version of a key: the record's bytes as the request body, ?key=KEY&class=CLASS")
            .WithMetadata(new BodySizeLimit(maxBytes)).AddOpenApiOperationTransformer((operation, _, _) =>
            {
                operation.RequestBody = new OpenApiRequestBody
                {
                    Required = true,
                    Description = "The record's bytes; its SHA-256 may be declared with ?sha256= or an RFC 9530 Content-Digest header.",
                    Content = new Dictionary<string, OpenApiMediaType>
                    {
                        [ImageEndpoints.OctetStream] = new() { Schema = new OpenApiSchema { Type = JsonSchemaType.String, Format = "binary" } },
                    },
                };
                return Task.CompletedTask;
            });
        vaults.MapGet("/{id}/records", Records).WithName("vault.record.list").WithSummary("List a vault's records (all versions, or one key's)");
        vaults.MapGet("/{id}/records/{recordId}", GetRecord).WithName("vault.record.get").WithSummary("Get one record's description");
        vaults.MapGet("/{id}/records/{recordId}/content", Content).WithName("vault.record.content").WithSummary("Read a record's bytes (the account's principals only)");
        vaults.MapDelete("/{id}/records/{recordId}", DeleteRecord).WithName("vault.record.delete")
            .WithSummary("Destroy a record its retention and holds allow to go; answers its destruction certificate");
        vaults.MapPut("/{id}/records/{recordId}/retention", Retention).WithName("vault.record.retention")
            .WithSummary("Change a record's retention (shortening governance needs bypassGovernance and vault-retention-bypass)");
        vaults.MapPut("/{id}/records/{recordId}/holds/{holdId}", PlaceHold).WithName("vault.record.hold").WithSummary("Place a legal hold on a record");
        vaults.MapDelete("/{id}/records/{recordId}/holds/{holdId}", RemoveHold).WithName("vault.record.release-hold").WithSummary("Remove a legal hold from a record");
        vaults.MapGet("/{id}/certificates", Certificates).WithName("vault.certificate.list").WithSummary("List the vault's destruction certificates");
        vaults.MapGet("/{id}/sox-report", SoxReport).WithName("vault.sox-report")
            .WithSummary("The auditor's report for a period (?from=&to=): retention history, holds, bypasses, destructions, the audit chain; JSON, or HTML with Accept: text/html");
        vaults.MapGet("/{id}/certificates/{recordId}", Certificate).WithName("vault.certificate.get").WithSummary("Get the destruction certificate of a record");

        var keys = app.MapInterface("/api/v1/vault-keys", "Retention Vault");
        keys.MapGet("/certificate-key", CertificateKey).WithName("vault.certificate-key").WithSummary("The cloud's public key that signs destruction certificates");
        keys.MapPost("/rotate", Rotate).WithName("vault.key.rotate").WithSummary("Rotate the account's tenant key (rewraps every data key; no data rewritten)");
        return app;
    }

    private static async Task<Results<Created<VaultView>, ProblemHttpResult>> Create(
        CreateVaultRequest request, Caller caller, VaultService vaults, HttpContext context, CancellationToken ct) =>
        (await vaults.CreateAsync(caller, request, context.Once<VaultView>(StatusCodes.Status201Created, Location), ct)).ToCreated(context, Location);

    private static string Location(VaultView vault) => $"/api/v1/vaults/{vault.Id}";

    private static async Task<Results<Ok<Page<VaultView>>, ProblemHttpResult>> List(
        [AsParameters] VaultListQuery query, Caller caller, VaultService vaults, HttpContext context, CancellationToken ct) =>
        (await vaults.ListAsync(caller, query, ct)).ToOk(context);

    private static async Task<Results<Ok<VaultView>, ProblemHttpResult>> Get(string id, Caller caller, VaultService vaults, HttpContext context, CancellationToken ct) =>
        (await vaults.GetAsync(caller, id, ct)).ToOk(context);

    private static async Task<Results<Ok<VaultView>, ProblemHttpResult>> Delete(
        string id, Caller caller, VaultService vaults, HttpContext context, CancellationToken ct, long? version = null) =>
        (await vaults.DeleteAsync(caller, id, version, ct)).ToOk(context);

    private static async Task<Results<Ok<VaultView>, ProblemHttpResult>> EnableObjectLock(
        string id, Caller caller, VaultService vaults, HttpContext context, CancellationToken ct, long? version = null) =>
        (await vaults.EnableObjectLockAsync(caller, id, version, ct)).ToOk(context);

    private static async Task<Results<Ok<DefaultRetentionView>, ProblemHttpResult>> DefaultRetention(
        string id, Caller caller, VaultService vaults, HttpContext context, CancellationToken ct) =>
        (await vaults.GetDefaultRetentionAsync(caller, id, ct)).ToOk(context);

    private static async Task<Results<Ok<DefaultRetentionView>, ProblemHttpResult>> SetDefaultRetention(
        string id, DefaultRetentionRequest request, Caller caller, VaultService vaults, HttpContext context, CancellationToken ct) =>
        (await vaults.SetDefaultRetentionAsync(caller, id, request, enableObjectLock: false, ct)).ToOk(context);

    private static async Task<Results<Created<RetentionClassView>, ProblemHttpResult>> CreateClass(
        string id, CreateRetentionClassRequest request, Caller caller, VaultService vaults, HttpContext context, CancellationToken ct) =>
        (await vaults.CreateClassAsync(caller, id, request, ct)).ToCreated(context, c => $"/api/v1/vaults/{c.VaultId}/classes");

    private static async Task<Results<Ok<IReadOnlyList<RetentionClassView>>, ProblemHttpResult>> Classes(
        string id, Caller caller, VaultService vaults, HttpContext context, CancellationToken ct) =>
        (await vaults.ClassesAsync(caller, id, ct)).ToOk(context);

    /// <summary>The body streams through the cipher to disk: never buffered whole, never model-bound.</summary>
    private static async Task<Results<Created<VaultRecordView>, ProblemHttpResult>> Put(
        string id, Caller caller, RecordService records, HttpContext context, CancellationToken ct, string? key = null, string? @class = null, string? sha256 = null)
    {
        if (VaultService.Check(caller, id, "Writing a record") is { } denied)
        {
            return Problems.From(denied, context);
        }
        // The vault first: another account's answers 404 as a missing one, whatever the request holds.
        if (await records.ListAsync(caller, id, new RecordListQuery(Limit: 1), ct) is { IsSuccess: false } missing)
        {
            return Problems.From(missing.Error!, context);
        }
        var request = context.Request;
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var type) || !type.MediaType.Equals(ImageEndpoints.OctetStream, StringComparison.OrdinalIgnoreCase))
        {
            return Problems.From(new Error("unsupported-media-type", ErrorKind.UnsupportedMediaType,
                $"Send the record's bytes as the request body with Content-Type: {ImageEndpoints.OctetStream}."), context);
        }
        if (request.ContentLength > records.MaxRecordBytes)
        {
            return Problems.From(TooLarge(records), context);
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
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            // One byte more than a record may hold, so that the cipher sees the excess and refuses it itself.
            limit.MaxRequestBodySize = records.MaxRecordBytes + 1;
        }
        try
        {
            return (await records.PutAsync(caller, id, key, @class, sha256?.ToLowerInvariant() ?? declared.Value, request.Body, ct))
                .ToCreated(context, r => $"/api/v1/vaults/{r.VaultId}/records/{r.Id}");
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return Problems.From(TooLarge(records), context);
        }
    }

    private static Error TooLarge(RecordService records) =>
        new("record-too-large", ErrorKind.PayloadTooLarge, $"A record holds at most {records.MaxRecordBytes} bytes.");

    private static async Task<Results<Ok<Page<VaultRecordView>>, ProblemHttpResult>> Records(
        string id, Caller caller, RecordService records, HttpContext context, CancellationToken ct,
        string? key = null, bool shredded = false, string? after = null, int limit = 100) =>
        (await records.ListAsync(caller, id, new RecordListQuery(key, shredded, after, limit), ct)).ToOk(context);

    private static async Task<Results<Ok<VaultRecordView>, ProblemHttpResult>> GetRecord(
        string id, string recordId, Caller caller, RecordService records, HttpContext context, CancellationToken ct) =>
        (await records.GetAsync(caller, id, recordId, ct)).ToOk(context);

    /// <summary>
    /// The record's plaintext, decrypted as it is sent. The ETag and RFC 9530 Repr-Digest carry its
    /// SHA-256. A chunk that fails its authentication ends the response early (its bytes are never sent).
    /// </summary>
    private static async Task<Results<FileStreamHttpResult, ProblemHttpResult>> Content(
        string id, string recordId, Caller caller, RecordService records, HttpContext context, CancellationToken ct)
    {
        var opened = await records.OpenAsync(caller, id, recordId, ct);
        if (!opened.IsSuccess)
        {
            return Problems.From(opened.Error!, context);
        }
        var (record, stream) = opened.Value;
        context.Response.ContentLength = record.SizeBytes;
        context.Response.Headers.CacheControl = "no-store";
        context.Response.Headers["Repr-Digest"] = $"sha-256=:{Convert.ToBase64String(Convert.FromHexString(record.Sha256))}:";
        return TypedResults.File(stream, ImageEndpoints.OctetStream, entityTag: new EntityTagHeaderValue($"\"{record.Sha256}\""));
    }

    private static async Task<Results<Ok<DestructionCertificateView>, ProblemHttpResult>> DeleteRecord(
        string id, string recordId, Caller caller, RecordDestruction destruction, HttpContext context, CancellationToken ct,
        bool bypassGovernance = false, long? version = null) =>
        (await destruction.DeleteAsync(caller, id, recordId, bypassGovernance, version, ct)).ToOk(context);

    private static async Task<Results<Ok<VaultRecordView>, ProblemHttpResult>> Retention(
        string id, string recordId, RecordRetentionRequest request, Caller caller, RecordService records, HttpContext context, CancellationToken ct) =>
        (await records.SetRetentionAsync(caller, id, recordId, request, ct)).ToOk(context);

    private static async Task<Results<Ok<VaultRecordView>, ProblemHttpResult>> PlaceHold(
        string id, string recordId, string holdId, Caller caller, RecordService records, HttpContext context, CancellationToken ct) =>
        (await records.PlaceHoldAsync(caller, id, recordId, holdId, ct)).ToOk(context);

    private static async Task<Results<Ok<VaultRecordView>, ProblemHttpResult>> RemoveHold(
        string id, string recordId, string holdId, Caller caller, RecordService records, HttpContext context, CancellationToken ct) =>
        (await records.RemoveHoldAsync(caller, id, recordId, holdId, ct)).ToOk(context);

    private static async Task<Results<Ok<Page<DestructionCertificateView>>, ProblemHttpResult>> Certificates(
        string id, Caller caller, RecordDestruction destruction, HttpContext context, CancellationToken ct, string? after = null, int limit = 100) =>
        (await destruction.CertificatesAsync(caller, id, after, limit, ct)).ToOk(context);

    private static async Task<Results<Ok<DestructionCertificateView>, ProblemHttpResult>> Certificate(
        string id, string recordId, Caller caller, RecordDestruction destruction, HttpContext context, CancellationToken ct) =>
        (await destruction.CertificateAsync(caller, id, recordId, ct)).ToOk(context);

    private static async Task<Results<Ok<SoxReportView>, ContentHttpResult, ProblemHttpResult>> SoxReport(
        string id, Caller caller, SoxReports reports, HttpContext context, CancellationToken ct, DateTimeOffset? from = null, DateTimeOffset? to = null)
    {
        var report = await reports.ReportAsync(caller, id, from, to, ct);
        if (!report.IsSuccess)
        {
            return Problems.From(report.Error!, context);
        }
        return VaultSoxEndpoints.WantsHtml(context) ? VaultSoxEndpoints.Html(context, SoxReportHtml.Render(report.Value)) : TypedResults.Ok(report.Value);
    }

    private static Results<Ok<AuditSigningKeyView>, ProblemHttpResult> CertificateKey(Caller caller, RecordDestruction destruction, HttpContext context) =>
        destruction.CertificateKey(caller).ToOk(context);

    private static async Task<Results<Ok<VaultKeyRotationView>, ProblemHttpResult>> Rotate(Caller caller, VaultService vaults, HttpContext context, CancellationToken ct) =>
        (await vaults.RotateKeyAsync(caller, ct)).ToOk(context);
}

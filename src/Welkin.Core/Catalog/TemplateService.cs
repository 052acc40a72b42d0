using System.Text.Json;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Security;

namespace Welkin.Core.Catalog;

/// <summary>The query of <c>GET /api/v1/templates</c>: filters and the page.</summary>
public sealed record TemplateListQuery(string? State = null, string? NamePrefix = null, string? After = null, int Limit = 100);

/// <summary>
/// Service templates (Table 1, "Create Service Template" and "Publish Service Template"):
/// developers write drafts, publish them, and start new versions; a published version is
/// frozen so that the offerings made from it keep their meaning.
/// </summary>
public sealed class TemplateService(IDatabase db, AuditLog audit, TimeProvider clock)
{
    internal const string Columns =
        "id AS Id, template_version AS TemplateVersion, state AS State, name AS Name, description AS Description, spec AS Spec, " +
        "owner_principal AS OwnerPrincipal, version AS Version, created_at AS CreatedAt, updated_at AS UpdatedAt, " +
        "published_at AS PublishedAt, retired_at AS RetiredAt";

    private static readonly string Draft = WireNames.Of(TemplateState.Draft);

    public async Task<Result<TemplateView>> CreateAsync(Caller caller, TemplateSpec spec, CancellationToken ct)
    {
        if (Tenancy.RequireProvider(caller, Permission.TemplatesWrite, "Creating a template") is { } denied)
        {
            return denied;
        }
        if (TemplateRules.Validate(spec).ToError() is { } invalid)
        {
            return invalid;
        }
        return await db.WriteAsync<TemplateView>(async tx =>
        {
            if (await CheckImagesAsync(tx, spec, "") is { } missing)
            {
                return missing;
            }
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            var row = new TemplateRow(Ids.New(Ids.Template, clock), 1, Draft, spec.Name, spec.Description, Serialize(spec), caller.PrincipalId, 1, now, now, null, null);
            await tx.ExecuteAsync(
                """
                INSERT INTO templates (id, template_version, state, name, description, spec, owner_principal, version, created_at, updated_at)
                VALUES (@Id, @TemplateVersion, @State, @Name, @Description, @Spec, @OwnerPrincipal, @Version, @CreatedAt, @UpdatedAt)
                """, row);
            await audit.AppendAsync(tx, caller, new AuditEvent("template.create", row.Id, AuditEvent.Success, null,
                $"templateVersion=1; name={CatalogRules.Clip(spec.Name)}"));
            return ToView(row);
        }, ct);
    }

    /// <summary>Creates a draft inside the caller's transaction (an OVF import, whose images are created in the same one).</summary>
    internal async Task<TemplateView> InsertDraftAsync(Tx tx, Caller caller, TemplateSpec spec)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var row = new TemplateRow(Ids.New(Ids.Template, clock), 1, Draft, spec.Name, spec.Description, Serialize(spec), caller.PrincipalId, 1, now, now, null, null);
        await tx.ExecuteAsync(
            """
            INSERT INTO templates (id, template_version, state, name, description, spec, owner_principal, version, created_at, updated_at)
            VALUES (@Id, @TemplateVersion, @State, @Name, @Description, @Spec, @OwnerPrincipal, @Version, @CreatedAt, @UpdatedAt)
            """, row);
        return ToView(row);
    }

    /// <summary>One version of a template, or its latest when <paramref name="templateVersion"/> is null.</summary>
    public async Task<Result<TemplateView>> GetAsync(Caller caller, string id, int? templateVersion, CancellationToken ct)
    {
        if (Check(caller, id, Permission.TemplatesRead, "Reading templates") is { } error)
        {
            return error;
        }
        var row = templateVersion is { } n
            ? await db.QuerySingleOrDefaultAsync<TemplateRow>($"SELECT {Columns} FROM templates WHERE id = @Id AND template_version = @N", new { Id = id, N = (long)n }, ct)
            : await db.QuerySingleOrDefaultAsync<TemplateRow>($"SELECT {Columns} FROM templates WHERE id = @Id ORDER BY template_version DESC LIMIT 1", new { Id = id }, ct);
        if (row is null)
        {
            return templateVersion is { } v ? Error.NotFound("Template version", $"{id}/versions/{v}") : Error.NotFound("Template", id);
        }
        return ToView(row);
    }

    public async Task<Result<Page<TemplateView>>> ListVersionsAsync(Caller caller, string id, CancellationToken ct)
    {
        if (Check(caller, id, Permission.TemplatesRead, "Reading templates") is { } error)
        {
            return error;
        }
        var rows = await db.QueryAsync<TemplateRow>($"SELECT {Columns} FROM templates WHERE id = @Id ORDER BY template_version", new { Id = id }, ct);
        if (rows.Count == 0)
        {
            return Error.NotFound("Template", id);
        }
        return new Page<TemplateView>(rows.Select(ToView).ToList(), rows.Count, null);
    }

    /// <summary>
    /// The latest version of each template, by id. With a state filter, the latest version of each
    /// template that is in that state (so a template whose v2 is a draft still lists its
    /// published v1 under <c>state=published</c>).
    /// </summary>
    public async Task<Result<Page<TemplateView>>> ListAsync(Caller caller, TemplateListQuery query, CancellationToken ct)
    {
        if (Tenancy.RequireProvider(caller, Permission.TemplatesRead, "Reading templates") is { } denied)
        {
            return denied;
        }
        if (Filters.Id(query.After, Ids.Template, "template") is { } invalid)
        {
            return invalid;
        }
        var filter = CatalogRules.ParseFilter<TemplateState>(query.State, "state");
        if (!filter.IsSuccess)
        {
            return filter.Error!;
        }
        var paging = new Paging(query.Limit);
        var rows = await db.QueryAsync<TemplateRow>(
            $"""
            SELECT {Columns} FROM templates t
            WHERE t.id > @After
              AND (@State IS NULL OR t.state = @State)
              AND (@Prefix IS NULL OR substr(t.name, 1, @PrefixLength) = @Prefix)
              AND t.template_version = (SELECT MAX(l.template_version) FROM templates l WHERE l.id = t.id AND (@State IS NULL OR l.state = @State))
            ORDER BY t.id LIMIT @Take
            """,
            new
            {
                After = query.After ?? "",
                State = filter.Value is { } s ? WireNames.Of(s) : null,
                Prefix = query.NamePrefix,
                PrefixLength = query.NamePrefix?.Length ?? 0,
                paging.Take,
            }, ct);
        return paging.Page(rows, ToView, v => v.Id);
    }

    /// <summary>Replaces the spec of the latest version, which must be a draft.</summary>
    public async Task<Result<TemplateView>> UpdateAsync(Caller caller, string id, UpdateTemplateRequest request, CancellationToken ct)
    {
        if (Check(caller, id, Permission.TemplatesWrite, "Editing a template") is { } error)
        {
            return error;
        }
        if (TemplateRules.Validate(request.Spec, "spec.").ToError() is { } invalid)
        {
            return invalid;
        }
        return await db.WriteAsync<TemplateView>(async tx =>
        {
            var row = await LatestAsync(tx, id);
            if (row is null)
            {
                return Error.NotFound("Template", id);
            }
            if (row.State != Draft)
            {
                return Error.InvalidState($"Template '{id}' version {row.TemplateVersion} is {row.State}: published versions are frozen; start a new version to change it.");
            }
            if (request.Version is { } expected && expected != row.Version)
            {
                return Error.VersionMismatch("Template", id, expected, row.Version);
            }
            if (await CheckImagesAsync(tx, request.Spec, "spec.") is { } missing)
            {
                return missing;
            }
            var updated = row with
            {
                Name = request.Spec.Name,
                Description = request.Spec.Description,
                Spec = Serialize(SecretProperties.KeepStoredDefaults(request.Spec, Deserialize(row.Spec))),
                Version = row.Version + 1,
                UpdatedAt = clock.GetUtcNow().ToUnixTimeMilliseconds(),
            };
            var n = await tx.ExecuteAsync(
                """
                UPDATE templates SET name = @Name, description = @Description, spec = @Spec, version = @Version, updated_at = @UpdatedAt
                WHERE id = @Id AND template_version = @TemplateVersion AND version = @OldVersion
                """,
                new { updated.Name, updated.Description, updated.Spec, updated.Version, updated.UpdatedAt, updated.Id, updated.TemplateVersion, OldVersion = row.Version });
            if (n == 0)
            {
                return Error.Concurrency("Template", id);
            }
            await audit.AppendAsync(tx, caller, new AuditEvent("template.update", id, AuditEvent.Success, null, $"templateVersion={row.TemplateVersion}"));
            return ToView(updated);
        }, ct);
    }

    /// <summary>Opens the next version as a draft; a template has at most one open draft.</summary>
    public async Task<Result<TemplateView>> NewVersionAsync(Caller caller, string id, NewTemplateVersionRequest request, CancellationToken ct)
    {
        if (Check(caller, id, Permission.TemplatesWrite, "Editing a template") is { } error)
        {
            return error;
        }
        if (request.Spec is not null && TemplateRules.Validate(request.Spec, "spec.").ToError() is { } invalid)
        {
            return invalid;
        }
        return await db.WriteAsync<TemplateView>(async tx =>
        {
            var latest = await LatestAsync(tx, id);
            if (latest is null)
            {
                return Error.NotFound("Template", id);
            }
            if (latest.State == Draft)
            {
                return Error.InvalidState($"Template '{id}' already has an open draft (version {latest.TemplateVersion}); edit or publish it first.");
            }
            var spec = request.Spec is null ? Deserialize(latest.Spec) : SecretProperties.KeepStoredDefaults(request.Spec, Deserialize(latest.Spec));
            if (request.Spec is not null && await CheckImagesAsync(tx, spec, "spec.") is { } missing)
            {
                return missing;
            }
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            var row = new TemplateRow(id, latest.TemplateVersion + 1, Draft, spec.Name, spec.Description, Serialize(spec), caller.PrincipalId, 1, now, now, null, null);
            // Two requests racing for the same next version: the loser inserts nothing.
            var n = await tx.ExecuteAsync(
                """
                INSERT INTO templates (id, template_version, state, name, description, spec, owner_principal, version, created_at, updated_at)
                VALUES (@Id, @TemplateVersion, @State, @Name, @Description, @Spec, @OwnerPrincipal, @Version, @CreatedAt, @UpdatedAt)
                ON CONFLICT (id, template_version) DO NOTHING
                """, row);
            if (n == 0)
            {
                return Error.Concurrency("Template", id);
            }
            await audit.AppendAsync(tx, caller, new AuditEvent("template.new-version", id, AuditEvent.Success, null, $"templateVersion={row.TemplateVersion}"));
            return ToView(row);
        }, ct);
    }

    public Task<Result<TemplateView>> PublishAsync(Caller caller, string id, TemplateTransitionRequest request, CancellationToken ct) =>
        TransitionAsync(caller, id, request, TemplateState.Draft, TemplateState.Published, "template.publish", ct);

    public Task<Result<TemplateView>> RetireAsync(Caller caller, string id, TemplateTransitionRequest request, CancellationToken ct) =>
        TransitionAsync(caller, id, request, TemplateState.Published, TemplateState.Retired, "template.retire", ct);

    private async Task<Result<TemplateView>> TransitionAsync(
        Caller caller, string id, TemplateTransitionRequest request, TemplateState from, TemplateState to, string action, CancellationToken ct)
    {
        if (Check(caller, id, Permission.TemplatesPublish, "Publishing or retiring a template") is { } error)
        {
            return error;
        }
        if (request.TemplateVersion is < 1)
        {
            return Error.Validation("templateVersion", "templateVersion must be 1 or more");
        }
        return await db.WriteAsync<TemplateView>(async tx =>
        {
            var row = request.TemplateVersion is { } tv ? await VersionAsync(tx, id, tv) : await LatestAsync(tx, id);
            if (row is null)
            {
                return request.TemplateVersion is { } v ? Error.NotFound("Template version", $"{id}/versions/{v}") : Error.NotFound("Template", id);
            }
            if (row.State != WireNames.Of(from))
            {
                return Error.InvalidState($"Template '{id}' version {row.TemplateVersion} is {row.State}; only a {WireNames.Of(from)} version can be {(to == TemplateState.Published ? "published" : "retired")}.");
            }
            if (request.Version is { } expected && expected != row.Version)
            {
                return Error.VersionMismatch("Template", id, expected, row.Version);
            }
            if (to == TemplateState.Published && await CheckImagesAsync(tx, Deserialize(row.Spec), "") is { } missing)
            {
                // An image may have been deleted since the draft was written.
                return missing;
            }
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            var updated = row with
            {
                State = WireNames.Of(to),
                Version = row.Version + 1,
                UpdatedAt = now,
                PublishedAt = to == TemplateState.Published ? now : row.PublishedAt,
                RetiredAt = to == TemplateState.Retired ? now : row.RetiredAt,
            };
            var n = await tx.ExecuteAsync(
                """
                UPDATE templates SET state = @State, version = @Version, updated_at = @UpdatedAt, published_at = @PublishedAt, retired_at = @RetiredAt
                WHERE id = @Id AND template_version = @TemplateVersion AND version = @OldVersion
                """,
                new { updated.State, updated.Version, updated.UpdatedAt, updated.PublishedAt, updated.RetiredAt, updated.Id, updated.TemplateVersion, OldVersion = row.Version });
            if (n == 0)
            {
                return Error.Concurrency("Template", id);
            }
            await audit.AppendAsync(tx, caller, new AuditEvent(action, id, AuditEvent.Success, null, $"templateVersion={row.TemplateVersion}"));
            return ToView(updated);
        }, ct);
    }

    /// <summary>One template version without a caller's permission check: the public catalog's description shows the versions its offerings name.</summary>
    /// <summary>A value that changes with every change to any template version: the count, the latest update and the sum of the rows' versions.</summary>
    internal async Task<string> StampAsync(CancellationToken ct)
    {
        var stamp = await db.QuerySingleOrDefaultAsync<TableStamp>(
            "SELECT COUNT(*) AS Total, COALESCE(MAX(updated_at), 0) AS Updated, CAST(COALESCE(SUM(version), 0) AS BIGINT) AS Versions FROM templates", null, ct);
        return stamp!.ToString();
    }

    internal async Task<TemplateView?> FindViewAsync(string id, int templateVersion, CancellationToken ct)
    {
        var row = await db.QuerySingleOrDefaultAsync<TemplateRow>(
            $"SELECT {Columns} FROM templates WHERE id = @Id AND template_version = @N", new { Id = id, N = (long)templateVersion }, ct);
        return row is null ? null : ToView(row);
    }

    /// <summary>A template version as an offering sees it, read inside the offering's transaction.</summary>
    internal static async Task<(TemplateState State, TemplateSpec Spec)?> FindVersionAsync(Tx tx, string id, int templateVersion)
    {
        var row = await VersionAsync(tx, id, templateVersion);
        return row is null ? null : (WireNames.Parse<TemplateState>(row.State), Deserialize(row.Spec));
    }

    private static Task<TemplateRow?> LatestAsync(Tx tx, string id) =>
        tx.QuerySingleOrDefaultAsync<TemplateRow>($"SELECT {Columns} FROM templates WHERE id = @Id ORDER BY template_version DESC LIMIT 1", new { Id = id });

    private static Task<TemplateRow?> VersionAsync(Tx tx, string id, long templateVersion) =>
        tx.QuerySingleOrDefaultAsync<TemplateRow>($"SELECT {Columns} FROM templates WHERE id = @Id AND template_version = @N", new { Id = id, N = templateVersion });

    /// <summary>Every image a template names must exist and be available (a 400 on the field, as the image is part of the input).</summary>
    private static async Task<Error?> CheckImagesAsync(Tx tx, TemplateSpec spec, string at)
    {
        var references = TemplateRules.ImageReferences(spec, at);
        if (references.Count == 0)
        {
            return null;
        }
        var available = await Images.ImageService.AvailableAsync(tx, references.Select(r => r.ImageId).Distinct(StringComparer.Ordinal));
        var v = new Validator();
        foreach (var (field, imageId) in references.Where(r => !available.Contains(r.ImageId)))
        {
            v.Add(field, $"{field}: image '{imageId}' does not exist or is not available");
        }
        return v.ToError();
    }

    private static Error? Check(Caller caller, string id, Permission permission, string what) =>
        Tenancy.RequireProvider(caller, permission, what) ?? (Ids.IsValid(id, Ids.Template) ? null : Error.InvalidId(id, "template"));

    internal static string Serialize(TemplateSpec spec) => JsonSerializer.Serialize(spec, WelkinJson.Client);

    internal static TemplateSpec Deserialize(string json) =>
        JsonSerializer.Deserialize<TemplateSpec>(json, WelkinJson.Client) ?? throw new InvalidOperationException("A stored template spec is null.");

    private static TemplateView ToView(TemplateRow r)
    {
        var spec = Deserialize(r.Spec);
        return new TemplateView(r.Id, (int)r.TemplateVersion, WireNames.Parse<TemplateState>(r.State), r.Name, r.Description, SecretProperties.WithoutSecretDefaults(spec.VirtualSystems),
            r.OwnerPrincipal, r.Version, DbTime.FromDb(r.CreatedAt), DbTime.FromDb(r.UpdatedAt), DbTime.FromDb(r.PublishedAt), DbTime.FromDb(r.RetiredAt));
    }

    internal sealed record TemplateRow(
        string Id, long TemplateVersion, string State, string Name, string? Description, string Spec, string OwnerPrincipal,
        long Version, long CreatedAt, long UpdatedAt, long? PublishedAt, long? RetiredAt);
}

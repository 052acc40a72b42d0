using System.Text.Json;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Security;

namespace Welkin.Core.Catalog;

/// <summary>The query of <c>GET /api/v1/offerings</c>: filters and the page.</summary>
public sealed record OfferingListQuery(string? State = null, string? NamePrefix = null, string? After = null, int Limit = 100);

/// <summary>The query of <c>GET /api/v1/catalog/offerings</c>, the public catalog: a name prefix and the page.</summary>
public sealed record CatalogListQuery(string? NamePrefix = null, string? After = null, int Limit = 100);

/// <summary>
/// Offerings (Table 1, "Create Offering"): a published template version, or storage sold in
/// increments, narrowed and priced by a catalog manager with its SLA and terms. Published
/// offerings form the public catalog that anyone may browse.
/// </summary>
public sealed class OfferingService(IDatabase db, AuditLog audit, TimeProvider clock)
{
    private const string Columns =
        "id AS Id, state AS State, name AS Name, kind AS Kind, spec AS Spec, template_id AS TemplateId, template_version AS TemplateVersion, " +
        "owner_principal AS OwnerPrincipal, version AS Version, created_at AS CreatedAt, updated_at AS UpdatedAt, " +
        "published_at AS PublishedAt, withdrawn_at AS WithdrawnAt";

    private static readonly string Draft = WireNames.Of(OfferingState.Draft);
    private static readonly string Published = WireNames.Of(OfferingState.Published);

    /// <summary>How many offerings are published (the catalog size a cloud tells its federation peers).</summary>
    public static Task<long> PublishedCountAsync(IDatabase db, CancellationToken ct) =>
        db.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM offerings WHERE state = @State", new { State = Published }, ct);

    /// <summary>Every published offering, for the catalog's RDF description (the public catalog, read whole).</summary>
    /// <summary>A value that changes with every change to any offering: the count, the latest update and the sum of the rows' versions.</summary>
    internal async Task<string> StampAsync(CancellationToken ct)
    {
        var stamp = await db.QuerySingleOrDefaultAsync<TableStamp>(
            "SELECT COUNT(*) AS Total, COALESCE(MAX(updated_at), 0) AS Updated, CAST(COALESCE(SUM(version), 0) AS BIGINT) AS Versions FROM offerings", null, ct);
        return stamp!.ToString();
    }

    internal async Task<IReadOnlyList<OfferingView>> AllPublishedAsync(CancellationToken ct)
    {
        var rows = await db.QueryAsync<OfferingRow>($"SELECT {Columns} FROM offerings WHERE state = @State ORDER BY id", new { State = Published }, ct);
        return rows.Select(ToView).ToList();
    }

    public async Task<Result<OfferingView>> CreateAsync(Caller caller, OfferingSpec spec, CancellationToken ct)
    {
        if (Tenancy.RequireProvider(caller, Permission.OfferingsWrite, "Creating an offering") is { } denied)
        {
            return denied;
        }
        if (OfferingRules.Validate(spec).ToError() is { } invalid)
        {
            return invalid;
        }
        return await db.WriteAsync<OfferingView>(async tx =>
        {
            if (await CheckTemplateAsync(tx, spec, "") is { } refused)
            {
                return refused;
            }
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            var row = new OfferingRow(Ids.New(Ids.Offering, clock), Draft, spec.Name, WireNames.Of(spec.Kind), Serialize(spec),
                spec.TemplateId, spec.TemplateVersion, caller.PrincipalId, 1, now, now, null, null);
            await tx.ExecuteAsync(
                """
                INSERT INTO offerings (id, state, name, kind, spec, template_id, template_version, owner_principal, version, created_at, updated_at)
                VALUES (@Id, @State, @Name, @Kind, @Spec, @TemplateId, @TemplateVersion, @OwnerPrincipal, @Version, @CreatedAt, @UpdatedAt)
                """, row);
            await audit.AppendAsync(tx, caller, new AuditEvent("offering.create", row.Id, AuditEvent.Success, null, Describe(spec)));
            return ToView(row);
        }, ct);
    }

    public async Task<Result<OfferingView>> GetAsync(Caller caller, string id, CancellationToken ct)
    {
        if (Check(caller, id, Permission.OfferingsRead, "Reading offerings") is { } error)
        {
            return error;
        }
        var row = await db.QuerySingleOrDefaultAsync<OfferingRow>($"SELECT {Columns} FROM offerings WHERE id = @Id", new { Id = id }, ct);
        return row is null ? Error.NotFound("Offering", id) : ToView(row);
    }

    /// <summary>Offerings in every state, for the provider's roles.</summary>
    public async Task<Result<Page<OfferingView>>> ListAsync(Caller caller, OfferingListQuery query, CancellationToken ct)
    {
        if (Tenancy.RequireProvider(caller, Permission.OfferingsRead, "Reading offerings") is { } denied)
        {
            return denied;
        }
        var filter = CatalogRules.ParseFilter<OfferingState>(query.State, "state");
        if (!filter.IsSuccess)
        {
            return filter.Error!;
        }
        return await PageAsync(filter.Value is { } s ? WireNames.Of(s) : null, query.NamePrefix, query.After, query.Limit, ct);
    }

    /// <summary>The public catalog: published offerings only, for anyone including anonymous callers.</summary>
    public async Task<Result<Page<OfferingView>>> ListPublishedAsync(Caller caller, CatalogListQuery query, CancellationToken ct)
    {
        if (!caller.Can(Permission.CatalogBrowse))
        {
            return Error.Forbidden("Browsing the catalog needs the catalog-browse permission.");
        }
        return await PageAsync(Published, query.NamePrefix, query.After, query.Limit, ct);
    }

    /// <summary>One offering of the public catalog; a draft or withdrawn offering answers exactly like a missing one.</summary>
    public async Task<Result<OfferingView>> GetPublishedAsync(Caller caller, string id, CancellationToken ct)
    {
        if (!caller.Can(Permission.CatalogBrowse))
        {
            return Error.Forbidden("Browsing the catalog needs the catalog-browse permission.");
        }
        if (!Ids.IsValid(id, Ids.Offering))
        {
            return Error.InvalidId(id, "offering");
        }
        var row = await db.QuerySingleOrDefaultAsync<OfferingRow>(
            $"SELECT {Columns} FROM offerings WHERE id = @Id AND state = @State", new { Id = id, State = Published }, ct);
        return row is null ? Error.NotFound("Offering", id) : ToView(row);
    }

    /// <summary>Replaces the spec of a draft offering.</summary>
    public async Task<Result<OfferingView>> UpdateAsync(Caller caller, string id, UpdateOfferingRequest request, CancellationToken ct)
    {
        if (Check(caller, id, Permission.OfferingsWrite, "Editing an offering") is { } error)
        {
            return error;
        }
        if (OfferingRules.Validate(request.Spec, "spec.").ToError() is { } invalid)
        {
            return invalid;
        }
        return await db.WriteAsync<OfferingView>(async tx =>
        {
            var row = await tx.QuerySingleOrDefaultAsync<OfferingRow>($"SELECT {Columns} FROM offerings WHERE id = @Id", new { Id = id });
            if (row is null)
            {
                return Error.NotFound("Offering", id);
            }
            if (row.State != Draft)
            {
                return Error.InvalidState($"Offering '{id}' is {row.State}; only a draft offering can be edited.");
            }
            if (request.Version is { } expected && expected != row.Version)
            {
                return Error.VersionMismatch("Offering", id, expected, row.Version);
            }
            if (await CheckTemplateAsync(tx, request.Spec, "spec.") is { } refused)
            {
                return refused;
            }
            var spec = request.Spec;
            var updated = row with
            {
                Name = spec.Name,
                Kind = WireNames.Of(spec.Kind),
                Spec = Serialize(spec),
                TemplateId = spec.TemplateId,
                TemplateVersion = spec.TemplateVersion,
                Version = row.Version + 1,
                UpdatedAt = clock.GetUtcNow().ToUnixTimeMilliseconds(),
            };
            var n = await tx.ExecuteAsync(
                """
                UPDATE offerings SET name = @Name, kind = @Kind, spec = @Spec, template_id = @TemplateId, template_version = @TemplateVersion,
                    version = @Version, updated_at = @UpdatedAt
                WHERE id = @Id AND version = @OldVersion
                """,
                new { updated.Name, updated.Kind, updated.Spec, updated.TemplateId, updated.TemplateVersion, updated.Version, updated.UpdatedAt, updated.Id, OldVersion = row.Version });
            if (n == 0)
            {
                return Error.Concurrency("Offering", id);
            }
            await audit.AppendAsync(tx, caller, new AuditEvent("offering.update", id, AuditEvent.Success, null, Describe(spec)));
            return ToView(updated);
        }, ct);
    }

    public Task<Result<OfferingView>> PublishAsync(Caller caller, string id, OfferingTransitionRequest request, CancellationToken ct) =>
        TransitionAsync(caller, id, request, OfferingState.Draft, OfferingState.Published, "offering.publish", ct);

    /// <summary>Takes an offering out of the catalog for good; contracts already made on it are not affected.</summary>
    public Task<Result<OfferingView>> WithdrawAsync(Caller caller, string id, OfferingTransitionRequest request, CancellationToken ct) =>
        TransitionAsync(caller, id, request, OfferingState.Published, OfferingState.Withdrawn, "offering.withdraw", ct);

    private async Task<Result<OfferingView>> TransitionAsync(
        Caller caller, string id, OfferingTransitionRequest request, OfferingState from, OfferingState to, string action, CancellationToken ct)
    {
        if (Check(caller, id, Permission.OfferingsPublish, "Publishing or withdrawing an offering") is { } error)
        {
            return error;
        }
        return await db.WriteAsync<OfferingView>(async tx =>
        {
            var row = await tx.QuerySingleOrDefaultAsync<OfferingRow>($"SELECT {Columns} FROM offerings WHERE id = @Id", new { Id = id });
            if (row is null)
            {
                return Error.NotFound("Offering", id);
            }
            if (row.State != WireNames.Of(from))
            {
                return Error.InvalidState($"Offering '{id}' is {row.State}; only a {WireNames.Of(from)} offering can be {(to == OfferingState.Published ? "published" : "withdrawn")}.");
            }
            if (request.Version is { } expected && expected != row.Version)
            {
                return Error.VersionMismatch("Offering", id, expected, row.Version);
            }
            if (to == OfferingState.Published && await CheckTemplateAsync(tx, Deserialize(row.Spec), "") is { } refused)
            {
                // The template version may have been retired since the draft was written.
                return refused;
            }
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            var updated = row with
            {
                State = WireNames.Of(to),
                Version = row.Version + 1,
                UpdatedAt = now,
                PublishedAt = to == OfferingState.Published ? now : row.PublishedAt,
                WithdrawnAt = to == OfferingState.Withdrawn ? now : row.WithdrawnAt,
            };
            var n = await tx.ExecuteAsync(
                """
                UPDATE offerings SET state = @State, version = @Version, updated_at = @UpdatedAt, published_at = @PublishedAt, withdrawn_at = @WithdrawnAt
                WHERE id = @Id AND version = @OldVersion
                """,
                new { updated.State, updated.Version, updated.UpdatedAt, updated.PublishedAt, updated.WithdrawnAt, updated.Id, OldVersion = row.Version });
            if (n == 0)
            {
                return Error.Concurrency("Offering", id);
            }
            await audit.AppendAsync(tx, caller, new AuditEvent(action, id, AuditEvent.Success, null, $"name={CatalogRules.Clip(row.Name)}"));
            return ToView(updated);
        }, ct);
    }

    /// <summary>
    /// A compute offering is made from a template version that exists (else 400 on the field) and
    /// is published (else 409: a draft is not ready and a retired template takes no new offerings),
    /// and its restrictions must fit that version.
    /// </summary>
    private static async Task<Error?> CheckTemplateAsync(Tx tx, OfferingSpec spec, string at)
    {
        if (spec.Kind != OfferingKind.Compute)
        {
            return null;
        }
        var template = await TemplateService.FindVersionAsync(tx, spec.TemplateId!, spec.TemplateVersion!.Value);
        if (template is null)
        {
            return Error.Validation(at + "templateVersion", $"{at}templateVersion: template '{spec.TemplateId}' has no version {spec.TemplateVersion}");
        }
        var v = new Validator();
        OfferingRules.ValidateChoices(v, spec.Choices, template.Value.Spec, at);
        if (v.ToError() is { } invalid)
        {
            return invalid;
        }
        return template.Value.State == TemplateState.Published
            ? null
            : Error.InvalidState($"Template '{spec.TemplateId}' version {spec.TemplateVersion} is {WireNames.Of(template.Value.State)}; offerings are made from published template versions.");
    }

    private async Task<Result<Page<OfferingView>>> PageAsync(string? state, string? namePrefix, string? after, int limit, CancellationToken ct)
    {
        if (Filters.Id(after, Ids.Offering, "offering") is { } invalid)
        {
            return invalid;
        }
        var paging = new Paging(limit);
        var rows = await db.QueryAsync<OfferingRow>(
            $"""
            SELECT {Columns} FROM offerings
            WHERE id > @After AND (@State IS NULL OR state = @State) AND (@Prefix IS NULL OR substr(name, 1, @PrefixLength) = @Prefix)
            ORDER BY id LIMIT @Take
            """,
            new { After = after ?? "", State = state, Prefix = namePrefix, PrefixLength = namePrefix?.Length ?? 0, paging.Take }, ct);
        return paging.Page(rows, ToView, v => v.Id);
    }

    private static Error? Check(Caller caller, string id, Permission permission, string what) =>
        Tenancy.RequireProvider(caller, permission, what) ?? (Ids.IsValid(id, Ids.Offering) ? null : Error.InvalidId(id, "offering"));

    private static string Describe(OfferingSpec spec) =>
        $"kind={WireNames.Of(spec.Kind)}; name={CatalogRules.Clip(spec.Name)}"
        + (spec.TemplateId is null ? "" : $"; template={spec.TemplateId}/{spec.TemplateVersion}");

    private static string Serialize(OfferingSpec spec) => JsonSerializer.Serialize(spec, WelkinJson.Client);

    /// <summary>An offering's state and spec, read in the caller's transaction (a contract line copies them); null when it does not exist.</summary>
    internal static async Task<(string Id, string State, OfferingSpec Spec)?> FindAsync(Tx tx, string id)
    {
        var row = await tx.QuerySingleOrDefaultAsync<SpecRow>("SELECT id AS Id, state AS State, spec AS Spec FROM offerings WHERE id = @Id", new { Id = id });
        return row is null ? null : (row.Id, row.State, Deserialize(row.Spec));
    }

    private static OfferingSpec Deserialize(string json) =>
        JsonSerializer.Deserialize<OfferingSpec>(json, WelkinJson.Client) ?? throw new InvalidOperationException("A stored offering spec is null.");

    private static OfferingView ToView(OfferingRow r) =>
        new(r.Id, WireNames.Parse<OfferingState>(r.State), Deserialize(r.Spec), r.Version,
            DbTime.FromDb(r.CreatedAt), DbTime.FromDb(r.UpdatedAt), DbTime.FromDb(r.PublishedAt), DbTime.FromDb(r.WithdrawnAt));

    private sealed record SpecRow(string Id, string State, string Spec);

    private sealed record OfferingRow(
        string Id, string State, string Name, string Kind, string Spec, string? TemplateId, long? TemplateVersion, string OwnerPrincipal,
        long Version, long CreatedAt, long UpdatedAt, long? PublishedAt, long? WithdrawnAt);
}

using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Data;

namespace Welkin.Core.Security;

/// <summary>A live access key's principal, as a caller, and its secret (to verify a signature with).</summary>
public sealed record AccessKeyCredential(Caller Caller, string Secret);

/// <summary>
/// S3 access keys of principals (the Security Manager's second kind of credential, beside API tokens):
/// created with the secret shown once, listed without it, revoked. The secret is kept sealed
/// (<see cref="AccessKeySealer"/>) because Signature Version 4 needs it to recompute signatures.
/// Who may manage whose keys is the rule of tokens.
/// </summary>
public sealed class AccessKeys(IDatabase db, AuditLog audit, TimeProvider clock, SecurityManager security, AccessKeySealer sealer)
{
    /// <summary>Live (unrevoked) access keys a principal may hold at once: enough to rotate without a gap.</summary>
    public const int MaxActivePerPrincipal = 2;

    private const string IdPrefix = "WK";
    private const string IdAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    private const string SecretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    private const string Columns =
        "id AS Id, principal_id AS PrincipalId, name AS Name, created_at AS CreatedAt, revoked_at AS RevokedAt";

    /// <summary>A new access key id: "WK" and 18 characters of A-Z and 2-7 (90 random bits), 20 in all like AWS's.</summary>
    public static string NewId() => IdPrefix + RandomNumberGenerator.GetString(IdAlphabet, 18);

    public static bool IsValidId(string? id) =>
        id is { Length: 20 } && id.StartsWith(IdPrefix, StringComparison.Ordinal) && id.AsSpan(2).IndexOfAnyExcept(IdCharacters) < 0;

    private static readonly System.Buffers.SearchValues<char> IdCharacters = System.Buffers.SearchValues.Create(IdAlphabet);

    public async Task<Result<IssuedAccessKey>> CreateAsync(
        Caller caller, string principalId, CreateAccessKeyRequest request, IdempotentWrite<IssuedAccessKey>? once, CancellationToken ct)
    {
        var loaded = await security.LoadVisiblePrincipalAsync(caller, principalId, ct);
        if (!loaded.IsSuccess)
        {
            return loaded.Error!;
        }
        var target = loaded.Value;
        var denied = target.Id == caller.PrincipalId
            ? caller.Can(Permission.TokensOwn) ? null : Error.Forbidden("Creating your own access keys needs the tokens-own permission.")
            : SecurityManager.Authorize(caller, target.AccountId);
        if (denied is not null)
        {
            return denied;
        }
        if (request.Name is { } name && (name.Length is 0 or > 100 || name.Any(char.IsControl)))
        {
            return Error.Validation("name", "name must be 1-100 characters without control characters");
        }
        if (target.State != "active")
        {
            return Error.InvalidState($"Principal '{principalId}' is disabled.");
        }
        if (target.Kind == WireNames.Of(PrincipalKind.Cloud))
        {
            return Error.InvalidState($"Principal '{principalId}' is a peer cloud's: its one credential is issued by its federation agreement.");
        }
        var id = NewId();
        var secret = RandomNumberGenerator.GetString(SecretAlphabet, 40);
        var now = clock.GetUtcNow();
        var issued = new IssuedAccessKey(id, secret, principalId, request.Name ?? "s3", DbTime.FromDb(now.ToUnixTimeMilliseconds()));
        return await db.WriteAsync<IssuedAccessKey>(async tx =>
        {
            // Counted inside the transaction that inserts, so two concurrent creations cannot both pass.
            var live = await tx.ExecuteScalarAsync<long>(
                "SELECT COUNT(*) FROM access_keys WHERE principal_id = @PrincipalId AND revoked_at IS NULL", new { PrincipalId = principalId });
            if (live >= MaxActivePerPrincipal)
            {
                return Error.InvalidState(
                    $"Principal '{principalId}' already has {MaxActivePerPrincipal} live access keys; revoke one before creating another.");
            }
            await tx.ExecuteAsync(
                """
                INSERT INTO access_keys (id, principal_id, name, secret_sealed, created_at)
                VALUES (@Id, @PrincipalId, @Name, @Sealed, @CreatedAt)
                """,
                new { Id = id, PrincipalId = principalId, issued.Name, Sealed = sealer.Seal(id, secret), CreatedAt = now.ToUnixTimeMilliseconds() });
            await audit.AppendAsync(tx, caller, new AuditEvent("access-key.create", id, AuditEvent.Success, target.AccountId, $"principal={principalId}"));
            return once is not null && await once.RecordAsync(tx, issued) is { } taken ? taken : issued;
        }, ct);
    }

    public async Task<Result<IReadOnlyList<AccessKeyView>>> ListAsync(Caller caller, string principalId, CancellationToken ct)
    {
        var loaded = await security.LoadVisiblePrincipalAsync(caller, principalId, ct);
        if (!loaded.IsSuccess)
        {
            return loaded.Error!;
        }
        if (loaded.Value.Id != caller.PrincipalId && !caller.Can(Permission.PrincipalsRead))
        {
            return Error.Forbidden("Listing another principal's access keys needs the principals-read permission.");
        }
        var rows = await db.QueryAsync<Row>($"SELECT {Columns} FROM access_keys WHERE principal_id = @Id ORDER BY created_at, id", new { Id = principalId }, ct);
        return rows.Select(ToView).ToList();
    }

    public async Task<Result<AccessKeyView>> RevokeAsync(Caller caller, string accessKeyId, CancellationToken ct)
    {
        if (!IsValidId(accessKeyId))
        {
            return Error.InvalidId(accessKeyId, "access key");
        }
        var row = await db.QuerySingleOrDefaultAsync<Row>($"SELECT {Columns} FROM access_keys WHERE id = @Id", new { Id = accessKeyId }, ct);
        var owner = row is null ? null : await security.LoadVisiblePrincipalAsync(caller, row.PrincipalId, ct) is { IsSuccess: true } found ? found.Value : null;
        if (owner is null)
        {
            return Error.NotFound("Access key", accessKeyId);
        }
        var principal = owner;
        if (principal.Id != caller.PrincipalId && SecurityManager.Authorize(caller, principal.AccountId) is { } denied)
        {
            return denied;
        }
        return await db.WriteAsync<AccessKeyView>(async tx =>
        {
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            // The first revocation stands and is the one audited.
            var n = await tx.ExecuteAsync("UPDATE access_keys SET revoked_at = @Now WHERE id = @Id AND revoked_at IS NULL", new { Now = now, Id = accessKeyId });
            var current = (await tx.QuerySingleOrDefaultAsync<Row>($"SELECT {Columns} FROM access_keys WHERE id = @Id", new { Id = accessKeyId }))!;
            if (n > 0)
            {
                await audit.AppendAsync(tx, caller, new AuditEvent("access-key.revoke", accessKeyId, AuditEvent.Success, principal.AccountId, $"principal={principal.Id}"));
            }
            return ToView(current);
        }, ct);
    }

    /// <summary>
    /// The caller an access key acts as and its secret; null when the key is unknown or revoked, its
    /// principal disabled, or its account not active. Read on every request, so a revocation or a
    /// disabled principal takes effect at the next request on every replica.
    /// </summary>
    public async Task<AccessKeyCredential?> ResolveAsync(string accessKeyId, string correlationId, CancellationToken ct)
    {
        if (!IsValidId(accessKeyId))
        {
            return null;
        }
        var row = await db.QuerySingleOrDefaultAsync<AuthRow>(
            """
            SELECT k.secret_sealed AS SecretSealed, k.revoked_at AS RevokedAt,
                   p.id AS PrincipalId, p.name AS Name, p.account_id AS AccountId, p.roles AS Roles, p.state AS State, a.state AS AccountState
            FROM access_keys k JOIN principals p ON p.id = k.principal_id LEFT JOIN accounts a ON a.id = p.account_id
            WHERE k.id = @Id
            """, new { Id = accessKeyId }, ct);
        if (row is null || row.RevokedAt is not null || row.State != "active" || (row.AccountId is not null && row.AccountState != "active"))
        {
            return null;
        }
        var secret = sealer.Open(accessKeyId, row.SecretSealed);
        return secret is null
            ? null
            : new AccessKeyCredential(Caller.For(row.PrincipalId, row.Name, row.AccountId, SecurityManager.ParseRoles(row.Roles), correlationId, null), secret);
    }

    private static AccessKeyView ToView(Row r) =>
        new(r.Id, r.PrincipalId, r.Name, DbTime.FromDb(r.CreatedAt), DbTime.FromDb(r.RevokedAt));

    private sealed record Row(string Id, string PrincipalId, string Name, long CreatedAt, long? RevokedAt);

    private sealed record AuthRow(string SecretSealed, long? RevokedAt, string PrincipalId, string Name, string? AccountId, string Roles, string State, string? AccountState);
}

public static class AccessKeyServiceCollectionExtensions
{
    /// <summary>S3 access keys, their secrets sealed under the key in <paramref name="keyFile"/> (created, mode 0600, when missing).</summary>
    public static IServiceCollection AddAccessKeys(this IServiceCollection services, string keyFile)
    {
        services.AddSingleton(_ => AccessKeySealer.LoadOrCreate(keyFile));
        services.AddSingleton<AccessKeys>();
        return services;
    }
}

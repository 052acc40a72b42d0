using System.Text.Json;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Data;

namespace Welkin.Core.Security;

public sealed class SecurityOptions
{
    /// <summary>Lifetime of tokens created without an explicit expiry.</summary>
    public int DefaultTokenDays { get; set; } = 90;

    /// <summary>Upper bound on any token's lifetime.</summary>
    public int MaxTokenDays { get; set; } = 365;

    /// <summary>Lifetime of a token obtained by password login.</summary>
    public TimeSpan LoginTokenLifetime { get; set; } = TimeSpan.FromHours(12);

    /// <summary>
    /// How long a validated token is remembered in memory (zero: look it up on every request).
    /// Revocations and disabled principals or accounts take effect at once on the process that
    /// made the change; other replicas sharing a database notice within this time.
    /// </summary>
    public TimeSpan TokenCacheTtl { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// PBKDF2 iterations for new password hashes (<c>Security:PasswordIterations</c>). A hash keeps
    /// the count it was made with, so changing this never locks anyone out.
    /// </summary>
    public int PasswordIterations { get; set; } = PasswordHasher.DefaultIterations;

    /// <summary>
    /// How many password hashes or checks run at once (<c>Security:PasswordHashConcurrency</c>;
    /// by default half the processors, at least one), so hashing never takes every core.
    /// </summary>
    public int PasswordHashConcurrency { get; set; } = PasswordWork.DefaultConcurrency;

    /// <summary>
    /// How many more may wait for a slot (<c>Security:PasswordHashQueueLimit</c>); beyond that a
    /// sign-up, login or password change is refused with 503 <c>server-busy</c>.
    /// </summary>
    public int PasswordHashQueueLimit { get; set; } = PasswordWork.DefaultQueueLimit;

    /// <summary>
    /// Throws when a setting is out of range. <paramref name="testing"/> (the Testing environment)
    /// lets <see cref="PasswordIterations"/> go below <see cref="PasswordHasher.MinIterations"/>
    /// so tests can create principals and log in without paying the production cost each time.
    /// </summary>
    public void Validate(bool testing)
    {
        var floor = testing ? 1 : PasswordHasher.MinIterations;
        if (PasswordIterations < floor)
        {
            throw new ArgumentException($"Security:PasswordIterations must be at least {floor}.");
        }
        if (PasswordHashConcurrency < 1 || PasswordHashQueueLimit < 0)
        {
            throw new ArgumentException("Security:PasswordHashConcurrency must be at least 1 and Security:PasswordHashQueueLimit at least 0.");
        }
    }
}

/// <summary>The query of <c>GET /api/v1/principals</c>: an account and the page.</summary>
/// <summary>A peer cloud's principal and its certificate-bound token, as a federation agreement issued them.</summary>
public sealed record CloudCredential(PrincipalView Principal, IssuedToken Token);

public sealed record PrincipalListQuery(string? AccountId = null, string? After = null, int Limit = 100);

/// <summary>The Security Manager: principals, roles, credentials.</summary>
public sealed class SecurityManager(
    IDatabase db, AuditLog audit, RefusalAudit refusals, TimeProvider clock, LoginThrottle throttle, SecurityOptions options) : IDisposable
{
    internal const string ProviderScope = "provider";

    internal const string PrincipalColumns =
        "id AS Id, account_id AS AccountId, name AS Name, display_name AS DisplayName, kind AS Kind, roles AS Roles, state AS State, " +
        "password_hash AS PasswordHash, version AS Version, created_at AS CreatedAt, updated_at AS UpdatedAt";

    private readonly CallerCache _callers = new(options.TokenCacheTtl);
    private readonly PasswordHasher _passwords = new(options.PasswordIterations);
    private readonly PasswordWork _passwordWork = new(options.PasswordHashConcurrency, options.PasswordHashQueueLimit);

    /// <summary>Resolves a bearer token to its caller, or null when it is unknown, expired, revoked or its principal or account is inactive.</summary>
    public Task<Caller?> AuthenticateAsync(string secret, string correlationId, CancellationToken ct) =>
        AuthenticateAsync(secret, null, correlationId, ct);

    /// <summary>
    /// Resolves a bearer token presented on a connection that showed the client certificate whose SHA-256
    /// is <paramref name="certificateSha256"/> (null: none). A token bound to a certificate resolves only
    /// with that certificate; an unbound one resolves whatever the connection showed.
    /// </summary>
    public async Task<Caller?> AuthenticateAsync(string secret, string? certificateSha256, string correlationId, CancellationToken ct)
    {
        if (!ApiTokens.LooksValid(secret))
        {
            return null;
        }
        var hash = ApiTokens.Hash(secret);
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var entry = _callers.Find(hash, now);
        if (entry is null)
        {
            // Read before the lookup, so a change committed meanwhile keeps this answer out of the cache.
            var generation = _callers.Generation;
            var row = await db.QuerySingleOrDefaultAsync<AuthRow>(
                """
                SELECT t.id AS TokenId, t.expires_at AS ExpiresAt, t.revoked_at AS RevokedAt, t.last_used_at AS LastUsedAt, t.certificate_sha256 AS CertificateSha256,
                       p.id AS PrincipalId, p.name AS Name, p.account_id AS AccountId, p.roles AS Roles, p.state AS State, a.state AS AccountState
                FROM tokens t JOIN principals p ON p.id = t.principal_id LEFT JOIN accounts a ON a.id = p.account_id
                WHERE t.hash = @Hash
                """, new { Hash = hash }, ct);
            if (row is null || row.RevokedAt is not null || (row.ExpiresAt is { } exp && exp <= now)
                || row.State != "active"
                || (row.AccountId is not null && row.AccountState != "active"))
            {
                return null;
            }
            entry = new CallerCache.Entry(
                Caller.For(row.PrincipalId, row.Name, row.AccountId, ParseRoles(row.Roles), "", row.TokenId) with { CertificateSha256 = row.CertificateSha256 },
                row.ExpiresAt, row.LastUsedAt, now, generation);
            _callers.Store(hash, entry);
        }
        if (entry.Caller.CertificateSha256 is { } bound && !string.Equals(bound, certificateSha256, StringComparison.Ordinal))
        {
            return null;
        }
        // last_used_at is written at most once per interval per token, so authentication
        // stays a read (or a cache hit) on almost every request.
        var resolution = (long)LastUsedResolution.TotalMilliseconds;
        if (entry.ClaimLastUsedUpdate(now, resolution))
        {
            await db.WriteAsync<int>(async tx => await tx.ExecuteAsync(
                "UPDATE tokens SET last_used_at = @Now WHERE id = @Id AND (last_used_at IS NULL OR last_used_at <= @Cutoff)",
                new { Now = now, Id = entry.Caller.TokenId, Cutoff = now - resolution }), ct);
        }
        return entry.Caller with { CorrelationId = correlationId };
    }

    /// <summary>
    /// Why a token that did not authenticate is refused, when the reason is its account's: the
    /// 403 problem for a live token of an active principal whose account is pending or refused, so
    /// the signer learns the outcome; null otherwise (the caller answers 401 as for any bad token).
    /// </summary>
    public async Task<Error?> HeldAccountAsync(string secret, CancellationToken ct)
    {
        if (!ApiTokens.LooksValid(secret))
        {
            return null;
        }
        var bound = await db.QuerySingleOrDefaultAsync<string>(
            "SELECT certificate_sha256 FROM tokens WHERE hash = @Hash AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > @Now)",
            new { Hash = ApiTokens.Hash(secret), Now = clock.GetUtcNow().ToUnixTimeMilliseconds() }, ct);
        if (bound is not null)
        {
            return CertificateRequired;
        }
        var account = await db.QuerySingleOrDefaultAsync<HeldRow>(
            """
            SELECT a.name AS Name, a.state AS State
            FROM tokens t JOIN principals p ON p.id = t.principal_id JOIN accounts a ON a.id = p.account_id
            WHERE t.hash = @Hash AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > @Now) AND p.state = 'active'
            """, new { Hash = ApiTokens.Hash(secret), Now = clock.GetUtcNow().ToUnixTimeMilliseconds() }, ct);
        return account is null ? null : AccountHeld(account.Name, account.State);
    }

    /// <summary>The 403 for a principal of an account that is not (or not yet) let in; null for any other state.</summary>
    public static Error? AccountHeld(string accountName, string state) => state switch
    {
        "pending" => new Error("account-pending", ErrorKind.Forbidden,
            $"Account '{accountName}' is waiting for the provider's approval; nothing can be used until it is approved."),
        "refused" => new Error("account-refused", ErrorKind.Forbidden,
            $"The provider refused account '{accountName}'; contact the provider."),
        _ => null,
    };

    /// <summary>The 401 for a certificate-bound token presented without its certificate.</summary>
    public static readonly Error CertificateRequired = new("certificate-required", ErrorKind.Unauthorized,
        "This token is a peer cloud's federation credential: it is accepted only on the federation listener, over mutual TLS with the certificate it is bound to.");

    private sealed record HeldRow(string Name, string State);

    /// <summary>
    /// Drops every cached token validation. Call it after the commit of anything that can end a
    /// token's validity (revocation, a principal's state or roles, an account's state), best as
    /// <c>tx.OnCommitted(security.ForgetCachedCallers)</c> inside the change.
    /// </summary>
    public void ForgetCachedCallers() => _callers.Forget();

    /// <summary>How precisely a token's last use is recorded.</summary>
    public static readonly TimeSpan LastUsedResolution = TimeSpan.FromMinutes(1);

    public async Task<Result<LoginResponse>> LoginAsync(LoginRequest request, string clientAddress, string correlationId, CancellationToken ct)
    {
        var scopeName = request.Account ?? ProviderScope;
        // Names that cannot exist are refused without a lookup, and never become throttle keys
        // (a key is kept in memory, so its size must not be the caller's choice).
        var wellFormed = Names.IsValid(request.Name) && (request.Account is null || Names.IsValid(request.Account))
            && request.Password.Length is > 0 and <= PasswordHasher.MaxLength;
        var nameKey = wellFormed ? $"name:{scopeName}/{request.Name}" : null;
        var addressKey = $"addr:{Truncate(clientAddress)}";
        // Counted before the (slow) password check, so parallel guesses cannot overtake the limit.
        var wait = throttle.TryBegin(addressKey);
        if (wait is null && nameKey is not null && throttle.TryBegin(nameKey) is { } nameWait)
        {
            throttle.Refund(addressKey);
            wait = nameWait;
        }
        if (wait is not null)
        {
            return new Error("too-many-attempts", ErrorKind.TooManyRequests, "Too many failed logins; try again later.") { RetryAfter = wait };
        }

        var row = !wellFormed ? null : await db.QuerySingleOrDefaultAsync<PrincipalRow>(
            $"""
            SELECT {PrefixColumns("p")} FROM principals p LEFT JOIN accounts a ON a.id = p.account_id
            WHERE p.name = @Name AND ((@Account IS NULL AND p.account_id IS NULL) OR a.name = @Account)
              AND p.state = 'active' AND (a.id IS NULL OR a.state <> 'closed')
            """, new { request.Name, request.Account }, ct);
        var verified = await VerifyPasswordAsync(request.Password, wellFormed ? row?.PasswordHash : null, wellFormed, ct);
        if (!verified.IsSuccess)
        {
            // Not checked, so not a failed attempt: the counts taken in advance go back.
            throttle.Refund(addressKey);
            if (nameKey is not null)
            {
                throttle.Refund(nameKey);
            }
            return verified.Error!;
        }
        if (!verified.Value || row is null)
        {
            // The actor of a refused login is anonymous: whoever tried is not (yet) the principal named.
            var target = wellFormed ? $"principal:{scopeName}/{request.Name}" : "principal:(malformed name)";
            await refusals.RecordAsync(Caller.Anonymous(correlationId), new AuditEvent("auth.login", target, AuditEvent.Denied, row?.AccountId, "bad credentials"), clientAddress, ct);
            return new Error("invalid-credentials", ErrorKind.Unauthorized, "The name, account or password is wrong.");
        }
        // The principal's failures are forgiven; the address gets back only this attempt: clearing
        // its count would let someone holding one valid password reset it between guesses at others.
        throttle.Succeeded(nameKey!);
        throttle.Refund(addressKey);
        // Only someone holding the password learns that the account is pending or refused.
        if (row.AccountId is not null && await Accounts.AccountStore.StateAsync(db, row.AccountId, ct) is { } state
            && AccountHeld(request.Account!, state) is { } held)
        {
            return held;
        }
        var caller = ToCaller(row, correlationId);
        return await db.WriteAsync<LoginResponse>(async tx =>
        {
            var token = await IssueTokenAsync(tx, row.Id, "login", clock.GetUtcNow() + options.LoginTokenLifetime);
            await audit.AppendAsync(tx, caller, new AuditEvent("auth.login", row.Id, AuditEvent.Success, row.AccountId));
            return new LoginResponse(ToView(row), token);
        }, ct);
    }

    public async Task<Result<WhoAmI>> WhoAmIAsync(Caller caller, CancellationToken ct)
    {
        var row = await db.QuerySingleOrDefaultAsync<PrincipalRow>($"SELECT {PrincipalColumns} FROM principals WHERE id = @Id", new { Id = caller.PrincipalId }, ct);
        if (row is null)
        {
            return Error.NotFound("Principal", caller.PrincipalId);
        }
        var accountName = row.AccountId is null ? null
            : await Accounts.AccountStore.NameAsync(db, row.AccountId, ct);
        return new WhoAmI(ToView(row), accountName, caller.Permissions.Select(RolePermissions.Name).Order(StringComparer.Ordinal).ToList());
    }

    public async Task<Result<PrincipalView>> CreatePrincipalAsync(Caller caller, CreatePrincipalRequest request, CancellationToken ct)
    {
        var accountId = request.AccountId ?? caller.AccountId;
        if (accountId is not null && !Ids.IsValid(accountId, Ids.Account))
        {
            return Error.InvalidId(accountId, "account");
        }
        var authz = Authorize(caller, accountId);
        if (authz is not null)
        {
            return authz;
        }
        var v = new Validator();
        v.Require(Names.IsValid(request.Name), "name", $"name {Names.Rule}");
        v.Require(request.Kind != PrincipalKind.Cloud, "kind", "a principal of kind cloud is created by a federation agreement only");
        ValidateRoles(v, request.Roles, accountId);
        if (request.Password is not null && PasswordHasher.Problem(request.Password) is { } pw)
        {
            v.Add("password", $"password {pw}");
        }
        v.Require(request.DisplayName is null || request.DisplayName.Length is > 0 and <= 200, "displayName", "displayName must be 1-200 characters");
        if (v.ToError() is { } invalid)
        {
            return invalid;
        }
        var hashed = await HashPasswordAsync(request.Password, ct);
        if (!hashed.IsSuccess)
        {
            return hashed.Error!;
        }
        var passwordHash = hashed.Value;
        return await db.WriteAsync<PrincipalView>(async tx =>
        {
            if (accountId is not null)
            {
                var state = await Accounts.AccountStore.StateAsync(tx, accountId);
                if (state is null)
                {
                    return Error.NotFound("Account", accountId);
                }
                if (state != "active")
                {
                    return Error.InvalidState($"Account '{accountId}' is {state}.");
                }
            }
            var result = await InsertPrincipalAsync(tx, accountId, request.Name, request.DisplayName, request.Kind, request.Roles, passwordHash);
            if (result.IsSuccess)
            {
                await audit.AppendAsync(tx, caller, new AuditEvent("principal.create", result.Value.Id, AuditEvent.Success, accountId,
                    "roles=" + string.Join(',', request.Roles.Select(RolePermissions.Name))));
            }
            return result;
        }, ct);
    }

    public void Dispose() => _passwordWork.Dispose();

    /// <summary>
    /// The hash stored for a password, at the configured iteration count (null for no password),
    /// or <c>server-busy</c> when too many hashes are already running or waiting.
    /// </summary>
    internal async Task<Result<string?>> HashPasswordAsync(string? password, CancellationToken ct)
    {
        if (password is null)
        {
            return (string?)null;
        }
        var hashed = await _passwordWork.RunAsync(() => _passwords.Hash(password), ct);
        return hashed.IsSuccess ? hashed.Value : hashed.Error!;
    }

    private async Task<Result<bool>> VerifyPasswordAsync(string password, string? stored, bool wellFormed, CancellationToken ct)
    {
        if (!wellFormed)
        {
            return false;
        }
        try
        {
            return await _passwordWork.RunAsync(() => _passwords.Verify(password, stored), ct);
        }
        catch (OperationCanceledException)
        {
            return PasswordWork.Busy;
        }
    }

    internal async Task<Result<PrincipalView>> InsertPrincipalAsync(
        Tx tx, string? accountId, string name, string? displayName, PrincipalKind kind, IReadOnlyList<Role> roles, string? passwordHash)
    {
        var scope = accountId ?? ProviderScope;
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var row = new PrincipalRow(Ids.New(Ids.Principal, clock), accountId, name, displayName ?? name, WireNames.Of(kind),
            JsonSerializer.Serialize(roles.Distinct().Select(RolePermissions.Name)), "active", passwordHash, 1, now, now);
        // ON CONFLICT rather than a prior SELECT, so concurrent creations cannot both pass (see AccountService.SignUpAsync).
        var inserted = await tx.ExecuteAsync(
            """
            INSERT INTO principals (id, account_id, scope, name, display_name, kind, roles, state, password_hash, version, created_at, updated_at)
            VALUES (@Id, @AccountId, @Scope, @Name, @DisplayName, @Kind, @Roles, @State, @PasswordHash, @Version, @CreatedAt, @UpdatedAt)
            ON CONFLICT (scope, name) DO NOTHING
            """, new { row.Id, row.AccountId, Scope = scope, row.Name, row.DisplayName, row.Kind, row.Roles, row.State, row.PasswordHash, row.Version, row.CreatedAt, row.UpdatedAt });
        if (inserted == 0)
        {
            return new Error("name-taken", ErrorKind.Conflict, $"A principal named '{name}' already exists here.");
        }
        return ToView(row);
    }

    public async Task<Result<PrincipalView>> GetPrincipalAsync(Caller caller, string id, CancellationToken ct)
    {
        var row = await LoadVisiblePrincipalAsync(caller, id, ct);
        if (!row.IsSuccess)
        {
            return row.Error!;
        }
        if (row.Value.Id != caller.PrincipalId && !caller.Can(Permission.PrincipalsRead))
        {
            return Error.Forbidden("Reading other principals needs the principals-read permission.");
        }
        return ToView(row.Value);
    }

    /// <summary>Principals of one scope: the caller's account, or for a provider principal the provider's own (or an account it names).</summary>
    public async Task<Result<Page<PrincipalView>>> ListPrincipalsAsync(Caller caller, PrincipalListQuery query, CancellationToken ct)
    {
        string scope;
        if (caller.IsProvider && query.AccountId is null)
        {
            if (Tenancy.RequireProvider(caller, Permission.PrincipalsRead, "Listing principals") is { } denied)
            {
                return denied;
            }
            scope = ProviderScope;
        }
        else
        {
            var account = Tenancy.Scope(caller, Permission.PrincipalsRead, query.AccountId, "Listing principals");
            if (!account.IsSuccess)
            {
                return account.Error!;
            }
            if (query.AccountId is not null && !await AccountExistsAsync(query.AccountId, ct))
            {
                return Error.NotFound("Account", query.AccountId);
            }
            scope = account.Value!;
        }
        if (Filters.Id(query.After, Ids.Principal, "principal") is { } invalid)
        {
            return invalid;
        }
        var paging = new Paging(query.Limit);
        var rows = await db.QueryAsync<PrincipalRow>(
            $"SELECT {PrincipalColumns} FROM principals WHERE scope = @Scope AND id > @After ORDER BY id LIMIT @Take",
            new { Scope = scope, After = query.After ?? "", paging.Take }, ct);
        return paging.Page(rows, ToView, v => v.Id);
    }

    internal Task<bool> AccountExistsAsync(string accountId, CancellationToken ct) => Accounts.AccountStore.ExistsAsync(db, accountId, ct);

    public async Task<Result<PrincipalView>> UpdatePrincipalAsync(Caller caller, string id, UpdatePrincipalRequest request, CancellationToken ct)
    {
        var loaded = await LoadVisiblePrincipalAsync(caller, id, ct);
        if (!loaded.IsSuccess)
        {
            return loaded.Error!;
        }
        var current = loaded.Value;
        var self = current.Id == caller.PrincipalId;
        var onlyOwnPassword = self && request.Roles is null && request.State is null;
        if (!onlyOwnPassword && Authorize(caller, current.AccountId) is { } denied)
        {
            return denied;
        }
        var v = new Validator();
        if (request.Roles is not null)
        {
            ValidateRoles(v, request.Roles, current.AccountId);
        }
        if (request.Password is not null && PasswordHasher.Problem(request.Password) is { } pw)
        {
            v.Add("password", $"password {pw}");
        }
        v.Require(request.DisplayName is null || request.DisplayName.Length is > 0 and <= 200, "displayName", "displayName must be 1-200 characters");
        v.Require(!(self && request.State == PrincipalState.Disabled), "state", "a principal cannot disable itself");
        if (v.ToError() is { } invalid)
        {
            return invalid;
        }
        var hashed = await HashPasswordAsync(request.Password, ct);
        if (!hashed.IsSuccess)
        {
            return hashed.Error!;
        }
        var newPasswordHash = hashed.Value;
        return await db.WriteAsync<PrincipalView>(async tx =>
        {
            var fresh = await tx.QuerySingleOrDefaultAsync<PrincipalRow>($"SELECT {PrincipalColumns} FROM principals WHERE id = @Id", new { Id = id });
            if (fresh is null)
            {
                return Error.NotFound("Principal", id);
            }
            if (request.Version is { } expected && expected != fresh.Version)
            {
                return Error.VersionMismatch("Principal", id, expected, fresh.Version);
            }
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            var updated = fresh with
            {
                Roles = request.Roles is null ? fresh.Roles : JsonSerializer.Serialize(request.Roles.Distinct().Select(RolePermissions.Name)),
                DisplayName = request.DisplayName ?? fresh.DisplayName,
                State = request.State is null ? fresh.State : WireNames.Of(request.State.Value),
                PasswordHash = newPasswordHash ?? fresh.PasswordHash,
                Version = fresh.Version + 1,
                UpdatedAt = now,
            };
            var n = await tx.ExecuteAsync(
                """
                UPDATE principals SET roles = @Roles, display_name = @DisplayName, state = @State, password_hash = @PasswordHash,
                    version = @Version, updated_at = @UpdatedAt
                WHERE id = @Id AND version = @OldVersion
                """, new { updated.Roles, updated.DisplayName, updated.State, updated.PasswordHash, updated.Version, updated.UpdatedAt, updated.Id, OldVersion = fresh.Version });
            if (n == 0)
            {
                return Error.Concurrency("Principal", id);
            }
            tx.OnCommitted(ForgetCachedCallers);
            if (await LeavesNoAdministratorAsync(tx, fresh, updated))
            {
                return Error.InvalidState(fresh.AccountId is null
                    ? "This is the last active provider-admin; give the role to another principal first."
                    : "This is the account's last active account-admin; give the role to another principal first.");
            }
            var changes = new List<string>();
            if (request.Roles is not null) changes.Add("roles=" + string.Join(',', request.Roles.Select(RolePermissions.Name)));
            if (request.State is not null) changes.Add("state=" + updated.State);
            if (request.Password is not null) changes.Add("password changed");
            if (request.DisplayName is not null) changes.Add("display name changed");
            await audit.AppendAsync(tx, caller, new AuditEvent("principal.update", id, AuditEvent.Success, fresh.AccountId, string.Join("; ", changes)));
            return ToView(updated);
        }, ct);
    }

    /// <summary>True when the change took the admin role or active state from the scope's last active administrator.</summary>
    private static async Task<bool> LeavesNoAdministratorAsync(Tx tx, PrincipalRow before, PrincipalRow after)
    {
        var admin = before.AccountId is null ? Role.ProviderAdmin : Role.AccountAdmin;
        bool IsActiveAdmin(PrincipalRow r) => r.State == "active" && ParseRoles(r.Roles).Contains(admin);
        if (!IsActiveAdmin(before) || IsActiveAdmin(after))
        {
            return false;
        }
        // Runs after the UPDATE in the same transaction, so it counts the new state; the
        // caller's error result rolls the change back.
        var remaining = await tx.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM principals WHERE scope = @Scope AND state = 'active' AND roles LIKE @Role",
            new { Scope = before.AccountId ?? ProviderScope, Role = $"%\"{RolePermissions.Name(admin)}\"%" });
        return remaining == 0;
    }

    /// <summary>How many provider principals hold the provider-admin role (the bootstrap makes the first).</summary>
    internal static Task<long> CountProviderAdminsAsync(Tx tx) =>
        tx.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM principals WHERE scope = 'provider' AND roles LIKE '%provider-admin%'");

    /// <summary>
    /// Closing an account: disables every principal of it and revokes every token, in the
    /// caller's transaction. Returns how many tokens it revoked.
    /// </summary>
    internal async Task<int> CloseAccountPrincipalsAsync(Tx tx, string accountId)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var revoked = await tx.ExecuteAsync(
            "UPDATE tokens SET revoked_at = @Now WHERE revoked_at IS NULL AND principal_id IN (SELECT id FROM principals WHERE account_id = @AccountId)",
            new { Now = now, AccountId = accountId });
        await tx.ExecuteAsync(
            "UPDATE principals SET state = 'disabled', version = version + 1, updated_at = @Now WHERE account_id = @AccountId AND state = 'active'",
            new { Now = now, AccountId = accountId });
        tx.OnCommitted(ForgetCachedCallers);
        return revoked;
    }

    public Task<Result<IssuedToken>> CreateTokenAsync(Caller caller, string principalId, CreateTokenRequest request, CancellationToken ct) =>
        CreateTokenAsync(caller, principalId, request, null, ct);

    /// <summary>Issues a token; <paramref name="once"/> records the answer under the request's Idempotency-Key in the same transaction.</summary>
    public async Task<Result<IssuedToken>> CreateTokenAsync(
        Caller caller, string principalId, CreateTokenRequest request, IdempotentWrite<IssuedToken>? once, CancellationToken ct)
    {
        var loaded = await LoadVisiblePrincipalAsync(caller, principalId, ct);
        if (!loaded.IsSuccess)
        {
            return loaded.Error!;
        }
        var target = loaded.Value;
        var denied = target.Id == caller.PrincipalId
            ? caller.Can(Permission.TokensOwn) ? null : Error.Forbidden("Creating your own tokens needs the tokens-own permission.")
            : Authorize(caller, target.AccountId);
        if (denied is not null)
        {
            return denied;
        }
        var v = new Validator();
        v.Require(request.Name is null || request.Name.Length is > 0 and <= 100, "name", "name must be 1-100 characters");
        v.Require(request.ExpiresInDays is null || (request.ExpiresInDays >= 1 && request.ExpiresInDays <= options.MaxTokenDays),
            "expiresInDays", $"expiresInDays must be between 1 and {options.MaxTokenDays}");
        if (v.ToError() is { } invalid)
        {
            return invalid;
        }
        if (target.State != "active")
        {
            return Error.InvalidState($"Principal '{principalId}' is disabled.");
        }
        if (target.Kind == WireNames.Of(PrincipalKind.Cloud))
        {
            return Error.InvalidState($"Principal '{principalId}' is a peer cloud's: its one credential is issued by its federation agreement.");
        }
        var expires = clock.GetUtcNow().AddDays(request.ExpiresInDays ?? options.DefaultTokenDays);
        return await db.WriteAsync<IssuedToken>(async tx =>
        {
            var token = await IssueTokenAsync(tx, principalId, request.Name ?? "api", expires);
            await audit.AppendAsync(tx, caller, new AuditEvent("token.create", token.Id, AuditEvent.Success, target.AccountId, $"principal={principalId}"));
            return once is not null && await once.RecordAsync(tx, token) is { } taken ? taken : token;
        }, ct);
    }

    internal async Task<IssuedToken> IssueTokenAsync(Tx tx, string principalId, string name, DateTimeOffset? expires, string? certificateSha256 = null)
    {
        var secret = ApiTokens.NewSecret();
        var id = Ids.New(Ids.Token, clock);
        await tx.ExecuteAsync(
            """
            INSERT INTO tokens (id, principal_id, name, hash, created_at, expires_at, certificate_sha256)
            VALUES (@Id, @PrincipalId, @Name, @Hash, @CreatedAt, @ExpiresAt, @CertificateSha256)
            """,
            new
            {
                Id = id, PrincipalId = principalId, Name = name, Hash = ApiTokens.Hash(secret), CreatedAt = clock.GetUtcNow().ToUnixTimeMilliseconds(),
                ExpiresAt = DbTime.ToDb(expires), CertificateSha256 = certificateSha256,
            });
        return new IssuedToken(id, secret, expires);
    }

    /// <summary>
    /// Creates, inside <paramref name="tx"/>, the principal of kind cloud through which a peer cloud uses
    /// <paramref name="accountId"/>, and its one credential: a token bound to the peer's federation
    /// certificate (SHA-256 of its DER, lower-case hex). Federation agreements call it; nothing else can
    /// create a cloud principal or give it a token. Call <see cref="ForgetCachedCallers"/> on commit when
    /// a credential is revoked, as for any token.
    /// </summary>
    public async Task<Result<CloudCredential>> IssueCloudCredentialAsync(
        Tx tx, Caller caller, string accountId, string cloudName, string certificateSha256, DateTimeOffset? expires)
    {
        if (certificateSha256.Length != 64 || !certificateSha256.All(char.IsAsciiHexDigitLower))
        {
            return Error.Validation("certificateSha256", "the certificate fingerprint must be 64 lower-case hex digits");
        }
        var created = await InsertPrincipalAsync(tx, accountId, "cloud", cloudName, PrincipalKind.Cloud, [Role.Cloud], null);
        if (!created.IsSuccess)
        {
            return created.Error!;
        }
        var principal = created.Value;
        var token = await IssueTokenAsync(tx, principal.Id, "federation", expires, certificateSha256);
        await audit.AppendAsync(tx, caller, new AuditEvent("principal.create", principal.Id, AuditEvent.Success, accountId, $"kind=cloud; cloud={cloudName}"));
        await audit.AppendAsync(tx, caller, new AuditEvent("token.create", token.Id, AuditEvent.Success, accountId,
            $"principal={principal.Id}; bound to certificate {certificateSha256}"));
        return new CloudCredential(principal, token);
    }

    public async Task<Result<IReadOnlyList<TokenView>>> ListTokensAsync(Caller caller, string principalId, CancellationToken ct)
    {
        var loaded = await LoadVisiblePrincipalAsync(caller, principalId, ct);
        if (!loaded.IsSuccess)
        {
            return loaded.Error!;
        }
        if (loaded.Value.Id != caller.PrincipalId && !caller.Can(Permission.PrincipalsRead))
        {
            return Error.Forbidden("Listing another principal's tokens needs the principals-read permission.");
        }
        var rows = await db.QueryAsync<TokenRow>(
            $"SELECT {TokenColumns} FROM tokens WHERE principal_id = @Id ORDER BY id", new { Id = principalId }, ct);
        return rows.Select(ToView).ToList();
    }

    public async Task<Result<TokenView>> RevokeTokenAsync(Caller caller, string tokenId, CancellationToken ct)
    {
        if (!Ids.IsValid(tokenId, Ids.Token))
        {
            return Error.InvalidId(tokenId, "token");
        }
        return await db.WriteAsync<TokenView>(async tx =>
        {
            var row = await tx.QuerySingleOrDefaultAsync<TokenRow>($"SELECT {TokenColumns} FROM tokens WHERE id = @Id", new { Id = tokenId });
            var owner = row is null ? null
                : await tx.QuerySingleOrDefaultAsync<PrincipalRow>($"SELECT {PrincipalColumns} FROM principals WHERE id = @Id", new { Id = row.PrincipalId });
            if (row is null || owner is null || !Visible(caller, owner))
            {
                return Error.NotFound("Token", tokenId);
            }
            if (owner.Id != caller.PrincipalId && Authorize(caller, owner.AccountId) is { } denied)
            {
                return denied;
            }
            if (row.RevokedAt is not null)
            {
                return ToView(row);
            }
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            // "AND revoked_at IS NULL": a concurrent revocation may have committed since the read
            // (PostgreSQL READ COMMITTED); the first one stands and is the one audited.
            var n = await tx.ExecuteAsync("UPDATE tokens SET revoked_at = @Now WHERE id = @Id AND revoked_at IS NULL", new { Now = now, Id = tokenId });
            tx.OnCommitted(ForgetCachedCallers);
            if (n == 0)
            {
                var current = await tx.QuerySingleOrDefaultAsync<TokenRow>($"SELECT {TokenColumns} FROM tokens WHERE id = @Id", new { Id = tokenId });
                return ToView(current!);
            }
            await audit.AppendAsync(tx, caller, new AuditEvent("token.revoke", tokenId, AuditEvent.Success, owner.AccountId, $"principal={owner.Id}"));
            return ToView(row with { RevokedAt = now });
        }, ct);
    }

    /// <summary>Loads a principal the caller may see; a principal of another account answers exactly as a missing one.</summary>
    internal async Task<Result<PrincipalRow>> LoadVisiblePrincipalAsync(Caller caller, string id, CancellationToken ct)
    {
        if (!Ids.IsValid(id, Ids.Principal))
        {
            return Error.InvalidId(id, "principal");
        }
        var row = await db.QuerySingleOrDefaultAsync<PrincipalRow>($"SELECT {PrincipalColumns} FROM principals WHERE id = @Id", new { Id = id }, ct);
        if (row is null || !Visible(caller, row))
        {
            return Error.NotFound("Principal", id);
        }
        return row;
    }

    // Principals of an account are that account's rows; the provider's own principals are seen by
    // provider principals who read or manage them.
    internal static bool Visible(Caller caller, PrincipalRow row) =>
        row.Id == caller.PrincipalId
        || (row.AccountId is null
            ? caller.IsProvider && (caller.Can(Permission.PrincipalsRead) || caller.Can(Permission.ProviderPrincipalsWrite))
            : Tenancy.Sees(caller, row.AccountId));

    /// <summary>Whether the caller may manage the principals of <paramref name="accountId"/> (null: the provider's own).</summary>
    internal static Error? Authorize(Caller caller, string? accountId)
    {
        if (accountId is null)
        {
            return Tenancy.RequireProvider(caller, Permission.ProviderPrincipalsWrite, "Managing provider principals");
        }
        var needed = caller.IsProvider ? Permission.ProviderPrincipalsWrite : Permission.PrincipalsWrite;
        return Tenancy.Require(caller, needed, "Managing an account's principals")
            ?? (Tenancy.Sees(caller, accountId) ? null : Error.NotFound("Account", accountId));
    }

    private static void ValidateRoles(Validator v, IReadOnlyList<Role>? roles, string? accountId)
    {
        if (roles is null || roles.Count == 0)
        {
            v.Add("roles", "at least one role is required");
            return;
        }
        foreach (var role in roles)
        {
            if (role == Role.Cloud)
            {
                v.Add("roles", "'cloud' is the role of a peer cloud's principal, given by a federation agreement only");
                continue;
            }
            if (accountId is null && !RolePermissions.IsProviderRole(role))
            {
                v.Add("roles", $"'{RolePermissions.Name(role)}' is an account role and cannot be given to a provider principal");
            }
            if (accountId is not null && RolePermissions.IsProviderRole(role))
            {
                v.Add("roles", $"'{RolePermissions.Name(role)}' is a provider role and cannot be given inside an account");
            }
        }
    }

    internal static IReadOnlyList<Role> ParseRoles(string json) =>
        (JsonSerializer.Deserialize<string[]>(json) ?? [])
            .Select(n => System.Enum.GetValues<Role>().First(r => RolePermissions.Name(r) == n)).ToList();

    internal static PrincipalView ToView(PrincipalRow r) =>
        new(r.Id, r.AccountId, r.Name, r.DisplayName, WireNames.Parse<PrincipalKind>(r.Kind), ParseRoles(r.Roles), WireNames.Parse<PrincipalState>(r.State),
            r.PasswordHash is not null, r.Version, DbTime.FromDb(r.CreatedAt), DbTime.FromDb(r.UpdatedAt));

    private static Caller ToCaller(PrincipalRow r, string correlationId) =>
        Caller.For(r.Id, r.Name, r.AccountId, ParseRoles(r.Roles), correlationId, null);

    private static TokenView ToView(TokenRow r) =>
        new(r.Id, r.PrincipalId, r.Name, DbTime.FromDb(r.CreatedAt), DbTime.FromDb(r.ExpiresAt), DbTime.FromDb(r.RevokedAt), DbTime.FromDb(r.LastUsedAt));

    private static string PrefixColumns(string alias) =>
        string.Join(", ", PrincipalColumns.Split(", ").Select(c => alias + "." + c));

    private static string Truncate(string s) => s.Length <= 64 ? s : s[..64];

    private const string TokenColumns =
        "id AS Id, principal_id AS PrincipalId, name AS Name, created_at AS CreatedAt, expires_at AS ExpiresAt, revoked_at AS RevokedAt, last_used_at AS LastUsedAt";

    internal sealed record PrincipalRow(
        string Id, string? AccountId, string Name, string DisplayName, string Kind, string Roles, string State, string? PasswordHash,
        long Version, long CreatedAt, long UpdatedAt);

    private sealed record TokenRow(string Id, string PrincipalId, string Name, long CreatedAt, long? ExpiresAt, long? RevokedAt, long? LastUsedAt);

    private sealed record AuthRow(
        string TokenId, long? ExpiresAt, long? RevokedAt, long? LastUsedAt, string? CertificateSha256, string PrincipalId, string Name, string? AccountId,
        string Roles, string State, string? AccountState);
}

namespace Welkin.Contracts;

/// <summary>Roles of the Security Manager. Provider roles act on the whole cloud; account roles inside one account.</summary>
public enum Role
{
    ProviderAdmin,
    CatalogManager,
    Developer,
    BillingAdmin,
    Operator,
    Auditor,
    AccountAdmin,
    Engineer,
    Viewer,

    /// <summary>
    /// A peer cloud's principal in the account its federation agreement opened: it uses the agreement's
    /// contracts (machines, usage, invoices) but cannot request contracts, raise limits or issue tokens.
    /// </summary>
    Cloud,

    /// <summary>
    /// A regulator registered by the provider: a provider-side principal that reads a tenant's records
    /// only through the vault grants given to it, by signed, expiring links.
    /// </summary>
    Regulator,
}

public enum PrincipalKind
{
    Person,
    Service,

    /// <summary>
    /// A peer cloud, created by a federation agreement: its only credential is the agreement's token,
    /// bound to the peer's federation certificate (accepted over the federation listener, with that certificate).
    /// </summary>
    Cloud,
}

public enum PrincipalState
{
    Active,
    Disabled,
}

public enum AccountState
{
    Active,
    Closed,

    /// <summary>Signed up while sign-up is by approval: nothing can be used until a provider admin approves it.</summary>
    Pending,

    /// <summary>A pending sign-up the provider refused; its name stays taken.</summary>
    Refused,
}

public sealed record SignUpRequest(string AccountName, string DisplayName, SignUpAdmin Admin);

public sealed record SignUpAdmin(string Name, string? DisplayName = null, string? Password = null);

public sealed record SignUpResponse(AccountView Account, PrincipalView Admin, IssuedToken Token);

public sealed record AccountView(
    string Id,
    string Name,
    string DisplayName,
    AccountState State,
    IReadOnlyDictionary<string, long> Limits,
    long Version,
    DateTimeOffset Created,
    DateTimeOffset Updated);

/// <summary>Replaces the account's limits: unit name (compute-unit, storage-unit, or any unit an offering meters) to maximum.</summary>
public sealed record SetLimitsRequest(IReadOnlyDictionary<string, long> Limits, long? Version = null);

/// <summary>A provider admin's decision on a pending account or a limit request; a refusal needs a reason.</summary>
public sealed record DecisionRequest(string? Reason = null, long? Version = null);

public enum LimitRequestState
{
    Pending,
    Approved,
    Refused,
}

/// <summary>An account-admin asks for limits above the self-service ceiling: the units it names, and why.</summary>
public sealed record CreateLimitRequest(IReadOnlyDictionary<string, long> Limits, string Reason);

public sealed record LimitRequestView(
    string Id,
    string AccountId,
    IReadOnlyDictionary<string, long> Limits,
    string Reason,
    LimitRequestState State,
    string RequestedBy,
    DateTimeOffset Created,
    string? DecidedBy,
    DateTimeOffset? Decided,
    string? DecisionReason,
    long Version);

public sealed record PrincipalView(
    string Id,
    string? AccountId,
    string Name,
    string DisplayName,
    PrincipalKind Kind,
    IReadOnlyList<Role> Roles,
    PrincipalState State,
    bool HasPassword,
    long Version,
    DateTimeOffset Created,
    DateTimeOffset Updated);

public sealed record CreatePrincipalRequest(
    string Name,
    IReadOnlyList<Role> Roles,
    string? DisplayName = null,
    PrincipalKind Kind = PrincipalKind.Person,
    string? Password = null,
    string? AccountId = null);

public sealed record UpdatePrincipalRequest(
    IReadOnlyList<Role>? Roles = null,
    string? DisplayName = null,
    PrincipalState? State = null,
    string? Password = null,
    long? Version = null);

public sealed record CreateTokenRequest(string? Name = null, int? ExpiresInDays = null);

/// <summary>A token as issued: the secret appears here once and is never retrievable again.</summary>
public sealed record IssuedToken(string Id, string Secret, DateTimeOffset? Expires);

public sealed record TokenView(
    string Id,
    string PrincipalId,
    string Name,
    DateTimeOffset Created,
    DateTimeOffset? Expires,
    DateTimeOffset? Revoked,
    DateTimeOffset? LastUsed);

public sealed record LoginRequest(string Name, string Password, string? Account = null);

public sealed record LoginResponse(PrincipalView Principal, IssuedToken Token);

public sealed record WhoAmI(PrincipalView Principal, string? AccountName, IReadOnlyList<string> Permissions);

public sealed record RoleView(Role Role, string Scope, IReadOnlyList<string> Permissions);

public sealed record AuditEntryView(
    long Seq,
    DateTimeOffset At,
    string Actor,
    string? AccountId,
    string Action,
    string Target,
    string Outcome,
    string? Detail,
    string CorrelationId,
    string Hash);

/// <summary>
/// The outcome of verifying the audit log. <see cref="Entries"/> counts the entries that verified
/// before the first invalid one (all of them when the log is valid); <see cref="Problem"/> is the
/// first finding's detail. <see cref="Findings"/> lists every problem found, each with a stable code.
/// </summary>
public sealed record AuditVerification(bool Valid, long Entries, string HeadHash, long? FirstInvalidSeq, string? Problem)
{
    public IReadOnlyList<AuditFinding> Findings { get; init; } = [];

    /// <summary>How many signed checkpoints the chain was checked against.</summary>
    public int Checkpoints { get; init; }

    /// <summary>The entry the last checkpoint signed; entries after it are vouched for by their seals alone.</summary>
    public long? LastCheckpointSeq { get; init; }

    /// <summary>Whether each entry's seal was checked (it needs the signing key, not only its public half).</summary>
    public bool SealsChecked { get; init; }
}

/// <summary>One problem verification found: a stable <c>code</c>, the entry it concerns (when one does) and a sentence.</summary>
public sealed record AuditFinding(string Code, long? Seq, string Detail);

/// <summary>
/// A signed statement that the audit log's entry <c>seq</c> had hash <c>hash</c> at <c>at</c>:
/// ECDSA P-256 with SHA-256 over <c>welkin-audit-checkpoint/1</c>, seq, hash, time (Unix ms) and key id,
/// one per line; <c>number</c> is its line in the checkpoint file.
/// </summary>
public sealed record AuditCheckpointView(long Number, long Seq, string Hash, DateTimeOffset At, string KeyId, string Signature);

/// <summary>The public half of the key that signs checkpoints, to verify them anywhere.</summary>
public sealed record AuditSigningKeyView(string KeyId, string Algorithm, string PublicKeyPem);

/// <summary>A page of a collection, CIMI style: the members and their count; <c>next</c> is the cursor for the following page.</summary>
public sealed record Page<T>(IReadOnlyList<T> Items, int Count, string? Next);

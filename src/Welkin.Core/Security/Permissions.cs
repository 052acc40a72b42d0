using Welkin.Contracts;

namespace Welkin.Core.Security;

public enum Permission
{
    CatalogBrowse,
    TemplatesRead,
    TemplatesWrite,
    TemplatesPublish,
    ImagesRead,
    ImagesWrite,
    OfferingsRead,
    OfferingsWrite,
    OfferingsPublish,
    AccountsReadAll,
    AccountsWriteAll,
    AccountRead,
    AccountLimitsWrite,
    PrincipalsRead,
    PrincipalsWrite,
    ProviderPrincipalsWrite,
    AuditReadAll,
    AuditReadAccount,
    AuditVerify,
    FabricRead,
    FabricWrite,
    ContractsRequest,
    ResourcesConfigure,
    ResourcesRead,
    AccountClose,
    UsageRead,
    BillingRead,
    BillingWrite,
    BillingAddressWrite,
    ClockAdvance,
    TokensOwn,

    /// <summary>Shortening or removing a record's governance retention, said explicitly in the request (never compliance retention).</summary>
    VaultRetentionBypass,

    /// <summary>Giving and revoking vault grants to regulators: the account on its own data, the provider under a legal process.</summary>
    VaultGrantsWrite,

    /// <summary>Reading the vault grants given to oneself and making their links: the regulator's only reach into tenants' data.</summary>
    VaultGrantsReceive,
}

/// <summary>
/// The single place where roles get their permissions (docs/security.md reproduces this table;
/// a test fails when the two disagree).
/// Which account's rows a role's permissions reach is <see cref="Tenancy"/>'s rule: account roles
/// their own account's, provider roles every account's with accounts-read-all.
/// </summary>
public static class RolePermissions
{
    public static readonly IReadOnlySet<Role> ProviderRoles = new HashSet<Role>
    {
        Role.ProviderAdmin, Role.CatalogManager, Role.Developer, Role.BillingAdmin, Role.Operator, Role.Auditor, Role.Regulator,
    };

    public static readonly IReadOnlySet<Role> AccountRoles = new HashSet<Role> { Role.AccountAdmin, Role.Engineer, Role.Viewer, Role.Cloud };

    private static readonly Dictionary<Role, Permission[]> Table = new()
    {
        [Role.ProviderAdmin] = Enum.GetValues<Permission>().Where(p => p is not (Permission.ContractsRequest or Permission.ResourcesConfigure or Permission.VaultRetentionBypass or Permission.VaultGrantsReceive)).ToArray(),
        [Role.CatalogManager] =
        [
            Permission.CatalogBrowse, Permission.TemplatesRead, Permission.TemplatesPublish, Permission.ImagesRead,
            Permission.OfferingsRead, Permission.OfferingsWrite, Permission.OfferingsPublish, Permission.TokensOwn,
        ],
        [Role.Developer] =
        [
            Permission.CatalogBrowse, Permission.TemplatesRead, Permission.TemplatesWrite, Permission.TemplatesPublish,
            Permission.ImagesRead, Permission.ImagesWrite, Permission.TokensOwn,
        ],
        [Role.BillingAdmin] =
        [
            Permission.CatalogBrowse, Permission.OfferingsRead, Permission.AccountsReadAll, Permission.AccountRead, Permission.ResourcesRead,
            Permission.UsageRead, Permission.BillingRead, Permission.BillingWrite, Permission.BillingAddressWrite, Permission.TokensOwn,
        ],
        [Role.Operator] =
        [
            Permission.CatalogBrowse, Permission.OfferingsRead, Permission.FabricRead, Permission.FabricWrite, Permission.AccountsReadAll,
            Permission.AccountRead, Permission.ResourcesRead, Permission.TokensOwn,
        ],
        [Role.Auditor] =
        [
            Permission.CatalogBrowse, Permission.TemplatesRead, Permission.ImagesRead, Permission.OfferingsRead, Permission.AccountsReadAll,
            Permission.AccountRead, Permission.PrincipalsRead, Permission.AuditReadAll, Permission.AuditReadAccount, Permission.AuditVerify,
            Permission.ResourcesRead, Permission.UsageRead, Permission.BillingRead, Permission.TokensOwn,
        ],
        [Role.AccountAdmin] =
        [
            Permission.CatalogBrowse, Permission.AccountRead, Permission.AccountLimitsWrite, Permission.PrincipalsRead,
            Permission.PrincipalsWrite, Permission.AuditReadAccount, Permission.ContractsRequest, Permission.ResourcesConfigure,
            Permission.ResourcesRead, Permission.AccountClose, Permission.UsageRead, Permission.BillingRead, Permission.BillingAddressWrite, Permission.TokensOwn,
            Permission.VaultRetentionBypass, Permission.VaultGrantsWrite,
        ],
        [Role.Engineer] =
        [
            Permission.CatalogBrowse, Permission.AccountRead, Permission.ContractsRequest, Permission.ResourcesConfigure, Permission.ResourcesRead,
            Permission.UsageRead, Permission.TokensOwn,
        ],
        [Role.Viewer] = [Permission.CatalogBrowse, Permission.AccountRead, Permission.ResourcesRead, Permission.TokensOwn],
        // No accounts-read-all and no resources-read: every tenant's row answers it 403 or 404 but through its grants.
        [Role.Regulator] = [Permission.CatalogBrowse, Permission.VaultGrantsReceive, Permission.TokensOwn],
        [Role.Cloud] =
        [
            Permission.CatalogBrowse, Permission.AccountRead, Permission.ResourcesConfigure, Permission.ResourcesRead, Permission.UsageRead,
            Permission.BillingRead,
        ],
    };

    public static IReadOnlyList<Permission> Of(Role role) => Table[role];

    public static IReadOnlySet<Permission> Of(IEnumerable<Role> roles) => roles.SelectMany(r => Table[r]).ToHashSet();

    public static bool IsProviderRole(Role role) => ProviderRoles.Contains(role);

    public static string Name(Permission p) => WireNames.Of(p);

    public static string Name(Role r) => WireNames.Of(r);
}

/// <summary>Who is making a request. Every service operation takes one.</summary>
public sealed record Caller(
    string PrincipalId,
    string Name,
    string? AccountId,
    IReadOnlySet<Role> Roles,
    IReadOnlySet<Permission> Permissions,
    string CorrelationId,
    string? TokenId)
{
    public bool IsProvider => AccountId is null;

    /// <summary>A caller without a token (or whose token was not accepted), as <see cref="Anonymous"/> makes.</summary>
    public bool IsAnonymous => PrincipalId == AnonymousId;

    private const string AnonymousId = "anonymous";

    public bool Can(Permission permission) => Permissions.Contains(permission);

    public static Caller Anonymous(string correlationId) =>
        new(AnonymousId, AnonymousId, null, new HashSet<Role>(), new HashSet<Permission> { Permission.CatalogBrowse }, correlationId, null);

    /// <summary>Welkin itself, for bootstrap and background work.</summary>
    public static Caller System(string correlationId) =>
        new("system", "system", null, new HashSet<Role> { Role.ProviderAdmin }, RolePermissions.Of([Role.ProviderAdmin]), correlationId, null);

    /// <summary>The SHA-256 of the federation certificate the caller's token is bound to; null for an ordinary token.</summary>
    public string? CertificateSha256 { get; init; }

    public static Caller For(string principalId, string name, string? accountId, IEnumerable<Role> roles, string correlationId, string? tokenId)
    {
        var set = roles.ToHashSet();
        return new(principalId, name, accountId, set, RolePermissions.Of(set), correlationId, tokenId);
    }
}

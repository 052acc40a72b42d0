using System.Text;
using Welkin.Contracts;
using Welkin.Core.Security;
using Welkin.Testing;

namespace Welkin.Core.Tests.Security;

public sealed class RolePermissionsTests
{
    private const string Begin = "<!-- role-permissions:begin (generated from RolePermissions; RolePermissionsTests checks it) -->";
    private const string End = "<!-- role-permissions:end -->";

    /// <summary>Permissions that reach across accounts or shape the provider's catalog: never an account role's.</summary>
    private static readonly Permission[] ProviderWide =
    [
        Permission.AccountsReadAll, Permission.AccountsWriteAll, Permission.ProviderPrincipalsWrite, Permission.AuditReadAll,
        Permission.AuditVerify, Permission.FabricRead, Permission.TemplatesWrite, Permission.TemplatesPublish, Permission.ImagesWrite,
        Permission.OfferingsWrite, Permission.OfferingsPublish,
    ];

    /// <summary>What a consumer does inside its own account: never a provider role's, not even provider-admin's.</summary>
    private static readonly Permission[] ConsumerOnly = [Permission.ContractsRequest, Permission.ResourcesConfigure];

    [Fact]
    public void SecurityDoc_RoleTable_MatchesRolePermissions()
    {
        var doc = File.ReadAllText(Repository.Path("docs", "security.md")).ReplaceLineEndings("\n");
        var begin = doc.IndexOf(Begin, StringComparison.Ordinal);
        var end = doc.IndexOf(End, StringComparison.Ordinal);
        begin.ShouldBeGreaterThanOrEqualTo(0, $"docs/security.md lacks the marker {Begin}");
        end.ShouldBeGreaterThan(begin, $"docs/security.md lacks the marker {End}");

        var documented = doc[(begin + Begin.Length)..end].Trim('\n');

        documented.ShouldBe(Table(), "docs/security.md disagrees with RolePermissions; replace the table between the markers with:\n" + Table() + "\n");
    }

    [Fact]
    public void SecurityDoc_DescribesEveryPermission()
    {
        var doc = File.ReadAllText(Repository.Path("docs", "security.md"));
        var missing = Enum.GetValues<Permission>().Select(RolePermissions.Name).Where(p => !doc.Contains($"| `{p}` |", StringComparison.Ordinal) || !doc.Contains($"- `{p}`:", StringComparison.Ordinal));

        missing.ShouldBeEmpty("docs/security.md must list and describe every permission");
    }

    [Fact]
    public void Roles_AreSplitIntoSevenProviderAndFourAccountRoles()
    {
        RolePermissions.ProviderRoles.ShouldBe(
            [Role.ProviderAdmin, Role.CatalogManager, Role.Developer, Role.BillingAdmin, Role.Operator, Role.Auditor, Role.Regulator], ignoreOrder: true);
        RolePermissions.AccountRoles.ShouldBe([Role.AccountAdmin, Role.Engineer, Role.Viewer, Role.Cloud], ignoreOrder: true);
        RolePermissions.ProviderRoles.Intersect(RolePermissions.AccountRoles).ShouldBeEmpty();
        Enum.GetValues<Role>().ShouldAllBe(r => RolePermissions.ProviderRoles.Contains(r) || RolePermissions.AccountRoles.Contains(r));
    }

    [Fact]
    public void AccountRoles_NeverHoldProviderWidePermissions()
    {
        foreach (var role in RolePermissions.AccountRoles)
        {
            RolePermissions.Of(role).Intersect(ProviderWide).ShouldBeEmpty($"{role} reaches beyond its account");
        }
    }

    [Fact]
    public void ProviderRoles_NeverHoldConsumerPermissions()
    {
        foreach (var role in RolePermissions.ProviderRoles)
        {
            RolePermissions.Of(role).Intersect(ConsumerOnly).ShouldBeEmpty($"{role} acts as a consumer");
        }
    }

    [Fact]
    public void EveryRole_MayBrowseTheCatalog_AndAllButThePeerCloudsManageTheirOwnTokens()
    {
        foreach (var role in Enum.GetValues<Role>())
        {
            RolePermissions.Of(role).ShouldContain(Permission.CatalogBrowse);
            RolePermissions.Of(role).Contains(Permission.TokensOwn).ShouldBe(role != Role.Cloud);
        }
    }

    [Fact]
    public void TheRegulatorRole_ReachesTenantsOnlyThroughItsGrants() =>
        RolePermissions.Of(Role.Regulator).ShouldBe([Permission.CatalogBrowse, Permission.VaultGrantsReceive, Permission.TokensOwn], ignoreOrder: true);

    [Fact]
    public void ThePeerCloudRole_UsesItsAgreementsContracts_ButCannotWidenThem() =>
        RolePermissions.Of(Role.Cloud).ShouldBe(
            [Permission.CatalogBrowse, Permission.AccountRead, Permission.ResourcesConfigure, Permission.ResourcesRead, Permission.UsageRead, Permission.BillingRead],
            ignoreOrder: true);

    [Fact]
    public void EveryPermission_IsHeldByAtLeastOneRole() =>
        Enum.GetValues<Permission>().ShouldAllBe(p => Enum.GetValues<Role>().Any(r => RolePermissions.Of(r).Contains(p)));

    [Fact]
    public void OnlyAdminsManagePrincipalsOrLimits_AndOnlyAuditorsAndProviderAdminsReadTheWholeLog()
    {
        Holders(Permission.PrincipalsWrite).ShouldBe([Role.ProviderAdmin, Role.AccountAdmin]);
        Holders(Permission.ProviderPrincipalsWrite).ShouldBe([Role.ProviderAdmin]);
        Holders(Permission.AccountLimitsWrite).ShouldBe([Role.ProviderAdmin, Role.AccountAdmin]);
        Holders(Permission.AuditReadAll).ShouldBe([Role.ProviderAdmin, Role.Auditor]);
        Holders(Permission.ContractsRequest).ShouldBe([Role.AccountAdmin, Role.Engineer]);

        static Role[] Holders(Permission p) => Enum.GetValues<Role>().Where(r => RolePermissions.Of(r).Contains(p)).ToArray();
    }

    [Fact]
    public void Anonymous_MayOnlyBrowseTheCatalog() =>
        Caller.Anonymous("c").Permissions.ShouldBe([Permission.CatalogBrowse]);

    /// <summary>The Markdown table of docs/security.md: one row per permission, one column per role.</summary>
    internal static string Table()
    {
        var roles = Enum.GetValues<Role>();
        var sb = new StringBuilder();
        sb.Append("| permission |");
        foreach (var role in roles)
        {
            sb.Append(' ').Append(RolePermissions.Name(role)).Append(" |");
        }
        sb.Append("\n| --- |");
        foreach (var _ in roles)
        {
            sb.Append(" :-: |");
        }
        foreach (var permission in Enum.GetValues<Permission>())
        {
            sb.Append("\n| `").Append(RolePermissions.Name(permission)).Append("` |");
            foreach (var role in roles)
            {
                sb.Append(RolePermissions.Of(role).Contains(permission) ? " ✓ |" : "   |");
            }
        }
        return sb.ToString();
    }
}

using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Security;

namespace Welkin.Core.Tests.Security;

public sealed class TenancyTests
{
    private const string Mine = "acc_01h00000000000000000000001";
    private const string Theirs = "acc_01h00000000000000000000002";

    private static Caller Account(Role role) => Caller.For("prn_a", "a", Mine, [role], "t", null);

    private static Caller Provider(Role role) => Caller.For("prn_p", "p", null, [role], "t", null);

    [Fact]
    public void Sees_AnAccountPrincipal_OnlyItsOwnAccountsRows()
    {
        var viewer = Account(Role.Viewer);

        Tenancy.Sees(viewer, Mine).ShouldBeTrue();
        Tenancy.Sees(viewer, Theirs).ShouldBeFalse();
        Tenancy.Sees(viewer, null).ShouldBeFalse();
    }

    [Theory]
    [InlineData(Role.ProviderAdmin, true)]
    [InlineData(Role.Operator, true)]
    [InlineData(Role.Auditor, true)]
    [InlineData(Role.BillingAdmin, true)]
    [InlineData(Role.CatalogManager, false)]
    [InlineData(Role.Developer, false)]
    public void Sees_AProviderPrincipal_EveryAccountsRowsOnlyWithAccountsReadAll(Role role, bool sees)
    {
        var caller = Provider(role);

        Tenancy.Sees(caller, Mine).ShouldBe(sees);
        Tenancy.Sees(caller, Theirs).ShouldBe(sees);
        Tenancy.Sees(caller, null).ShouldBe(sees);
    }

    [Fact]
    public void Sees_WelkinItself_Everything()
    {
        Tenancy.Sees(Caller.System("t"), Theirs).ShouldBeTrue();
        Tenancy.Sees(Caller.System("t"), null).ShouldBeTrue();
    }

    [Fact]
    public void Require_WithoutThePermission_IsForbiddenNamingIt()
    {
        var denied = Tenancy.Require(Account(Role.Viewer), Permission.UsageRead, "Reading usage").ShouldNotBeNull();

        denied.Kind.ShouldBe(ErrorKind.Forbidden);
        denied.Detail.ShouldBe("Reading usage needs the usage-read permission.");
        Tenancy.Require(Account(Role.Viewer), Permission.ResourcesRead, "Reading volumes").ShouldBeNull();
        Tenancy.Require(Provider(Role.Operator), Permission.ResourcesRead, "Reading volumes").ShouldBeNull();
    }

    [Fact]
    public void Require_OfAProviderPrincipalWithoutAccountsReadAll_IsForbidden_EvenWithThePermission()
    {
        var catalogManager = Provider(Role.CatalogManager) with
        {
            Permissions = new HashSet<Permission>(RolePermissions.Of([Role.CatalogManager])) { Permission.ResourcesRead },
        };

        var denied = Tenancy.Require(catalogManager, Permission.ResourcesRead, "Reading jobs").ShouldNotBeNull();

        denied.Kind.ShouldBe(ErrorKind.Forbidden);
        denied.Detail.ShouldBe("Reading jobs needs the accounts-read-all permission.");
    }

    [Fact]
    public void RequireTenant_OnlyAnAccountsPrincipalHoldingThePermission()
    {
        Tenancy.RequireTenant(Account(Role.Engineer), Permission.ResourcesConfigure, "Creating a volume").ShouldBeNull();
        Tenancy.RequireTenant(Account(Role.Viewer), Permission.ResourcesConfigure, "Creating a volume").ShouldNotBeNull().Kind.ShouldBe(ErrorKind.Forbidden);
        // Provider principals change tenants' resources only through their own operations.
        Tenancy.RequireTenant(Caller.System("t"), Permission.ResourcesConfigure, "Creating a volume")
            .ShouldNotBeNull().Detail.ShouldBe("Creating a volume needs the resources-configure permission of the account.");
    }

    [Fact]
    public void RequireProvider_OnlyAProviderPrincipalHoldingThePermission()
    {
        Tenancy.RequireProvider(Provider(Role.Operator), Permission.FabricWrite, "Acknowledging incidents").ShouldBeNull();
        Tenancy.RequireProvider(Provider(Role.Auditor), Permission.FabricWrite, "Acknowledging incidents").ShouldNotBeNull().Kind.ShouldBe(ErrorKind.Forbidden);
        Tenancy.RequireProvider(Account(Role.AccountAdmin), Permission.CatalogBrowse, "Browsing")
            .ShouldNotBeNull().Detail.ShouldBe("Browsing needs a provider role with the catalog-browse permission.");
    }

    [Fact]
    public void Scope_OfAnAccountPrincipal_IsItsOwnAccount_AndAnotherAccountIsNotFound()
    {
        var viewer = Account(Role.Viewer);

        Tenancy.Scope(viewer, Permission.ResourcesRead, null, "Listing jobs").Value.ShouldBe(Mine);
        Tenancy.Scope(viewer, Permission.ResourcesRead, Mine, "Listing jobs").Value.ShouldBe(Mine);
        var foreign = Tenancy.Scope(viewer, Permission.ResourcesRead, Theirs, "Listing jobs");
        foreign.IsSuccess.ShouldBeFalse();
        foreign.Error!.Kind.ShouldBe(ErrorKind.NotFound);
        foreign.Error.ShouldBe(Error.NotFound("Account", Theirs));
    }

    [Fact]
    public void Scope_OfAProviderReader_IsItsChoice_OrAll()
    {
        var auditor = Provider(Role.Auditor);

        Tenancy.Scope(auditor, Permission.ResourcesRead, null, "Listing jobs").Value.ShouldBeNull();
        Tenancy.Scope(auditor, Permission.ResourcesRead, Theirs, "Listing jobs").Value.ShouldBe(Theirs);
    }

    [Fact]
    public void Scope_ChecksTheIdThenThePermission()
    {
        Tenancy.Scope(Account(Role.Viewer), Permission.ResourcesRead, "nope", "Listing jobs").Error!.Code.ShouldBe("invalid-id");
        Tenancy.Scope(Provider(Role.Developer), Permission.ResourcesRead, "nope", "Listing jobs").Error!.Code.ShouldBe("invalid-id");
        Tenancy.Scope(Provider(Role.Developer), Permission.ResourcesRead, Theirs, "Listing jobs").Error!.Kind.ShouldBe(ErrorKind.Forbidden);
        Tenancy.Scope(Account(Role.Viewer), Permission.UsageRead, Theirs, "Listing usage").Error!.Kind.ShouldBe(ErrorKind.Forbidden);
    }
}

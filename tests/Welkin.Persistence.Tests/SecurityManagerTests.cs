using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Security;
using Welkin.Testing;

namespace Welkin.Persistence.Tests;

public sealed class SecurityManagerTests(PostgresCluster pg) : IClassFixture<PostgresCluster>
{
    private const string Password = "correct horse battery";

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task Bootstrap_OnAnEmptyCloud_CreatesOneAdminWhoseTokenAuthenticates(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider, pg);

        var secret = await store.Bootstrap.EnsureProviderAdminAsync(TestStore.Ct);
        var again = await store.Bootstrap.EnsureProviderAdminAsync(TestStore.Ct);

        again.ShouldBeNull();
        var caller = await store.Security.AuthenticateAsync(secret.ShouldNotBeNull(), "t", TestStore.Ct);
        caller.ShouldNotBeNull().Name.ShouldBe(Bootstrap.AdminName);
        caller.IsProvider.ShouldBeTrue();
        caller.Roles.ShouldBe([Role.ProviderAdmin]);
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task Bootstrap_WhenReplicasStartTogether_CreatesExactlyOneAdmin(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider, pg);
        var replicas = Enumerable.Range(0, 4).Select(_ => new Bootstrap(store.Open(), store.Security, store.Audit)).ToList();

        var secrets = await Task.WhenAll(replicas.Select(b => Task.Run(() => b.EnsureProviderAdminAsync(TestStore.Ct), TestStore.Ct)));

        secrets.Count(s => s is not null).ShouldBe(1);
        var admins = await store.Security.ListPrincipalsAsync(Caller.System("t"), new PrincipalListQuery(), TestStore.Ct);
        admins.Value.Items.Select(p => p.Name).ShouldBe([Bootstrap.AdminName]);
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task ProviderPrincipal_CreateTokenAuthenticateRevoke_RoundTrips(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider, pg);
        var system = Caller.System("t");

        var created = await store.Security.CreatePrincipalAsync(system, new CreatePrincipalRequest("ops", [Role.Operator, Role.Auditor], "Ops"), TestStore.Ct);
        var principal = created.Value;
        var token = (await store.Security.CreateTokenAsync(system, principal.Id, new CreateTokenRequest("ci", 7), TestStore.Ct)).Value;
        var caller = await store.Security.AuthenticateAsync(token.Secret, "t", TestStore.Ct);

        principal.AccountId.ShouldBeNull();
        principal.Roles.ShouldBe([Role.Operator, Role.Auditor]);
        principal.HasPassword.ShouldBeFalse();
        caller.ShouldNotBeNull().PrincipalId.ShouldBe(principal.Id);
        caller.TokenId.ShouldBe(token.Id);
        caller.Can(Permission.AuditVerify).ShouldBeTrue();
        caller.Can(Permission.ProviderPrincipalsWrite).ShouldBeFalse();
        (await store.Security.GetPrincipalAsync(caller, principal.Id, TestStore.Ct)).Value.DisplayName.ShouldBe("Ops");

        var revoked = await store.Security.RevokeTokenAsync(system, token.Id, TestStore.Ct);

        revoked.Value.Revoked.ShouldNotBeNull();
        (await store.Security.AuthenticateAsync(token.Secret, "t", TestStore.Ct)).ShouldBeNull();
        var tokens = (await store.Security.ListTokensAsync(system, principal.Id, TestStore.Ct)).Value;
        tokens.Single().Revoked.ShouldNotBeNull();
        tokens.Single().Expires.ShouldNotBeNull();
        var actions = (await store.Audit.ListAsync(store.Db, null, null, 100, TestStore.Ct)).Items.Select(e => e.Action);
        actions.ShouldBe(["principal.create", "token.create", "token.revoke"]);
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task RevokeToken_ConcurrentlyTwice_RevokesOnceAndAuditsOnce(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider, pg);
        var (_, admin) = await AccountServiceTests.SignUpAsync(store, "revoke");
        var tokens = new List<Welkin.Contracts.IssuedToken>();
        for (var i = 0; i < 5; i++)
        {
            tokens.Add((await store.Security.CreateTokenAsync(admin, admin.PrincipalId, new CreateTokenRequest($"t{i}"), TestStore.Ct)).Value);
        }

        foreach (var token in tokens)
        {
            var results = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => Task.Run(
                () => store.Security.RevokeTokenAsync(admin, token.Id, TestStore.Ct), TestStore.Ct)));

            results.ShouldAllBe(r => r.IsSuccess);
            results[0].Value.Revoked.ShouldBe(results[1].Value.Revoked);
            (await store.Security.AuthenticateAsync(token.Secret, "t", TestStore.Ct)).ShouldBeNull();
        }
        var revocations = (await store.Audit.ListAsync(store.Db, admin.AccountId, null, 100, TestStore.Ct)).Items.Where(e => e.Action == "token.revoke");
        revocations.Select(e => e.Target).ShouldBe(tokens.Select(t => t.Id), ignoreOrder: true);
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task CreatePrincipal_WithATakenName_ReturnsNameTaken(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider, pg);
        var (account, admin) = await AccountServiceTests.SignUpAsync(store, "dup");
        var request = new CreatePrincipalRequest("bob", [Role.Engineer]);

        var first = await store.Security.CreatePrincipalAsync(admin, request, TestStore.Ct);
        var second = await store.Security.CreatePrincipalAsync(admin, request, TestStore.Ct);
        var provider2 = await store.Security.CreatePrincipalAsync(Caller.System("t"), new CreatePrincipalRequest("bob", [Role.Operator]), TestStore.Ct);

        first.Value.AccountId.ShouldBe(account.Id);
        second.Error.ShouldNotBeNull().Code.ShouldBe("name-taken");
        provider2.IsSuccess.ShouldBeTrue("the same name in another scope is a different principal");
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task Login_AccountPrincipalWithPassword_IssuesAWorkingTokenAndRefusesWrongPasswords(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider, pg);
        var (account, admin) = await AccountServiceTests.SignUpAsync(store, "login");
        var carol = (await store.Security.CreatePrincipalAsync(admin, new CreatePrincipalRequest("carol", [Role.Viewer], Password: Password), TestStore.Ct)).Value;

        var ok = await store.Security.LoginAsync(new LoginRequest("carol", Password, account.Name), "127.0.0.1", "t", TestStore.Ct);
        var wrong = await store.Security.LoginAsync(new LoginRequest("carol", Password + "!", account.Name), "127.0.0.2", "t", TestStore.Ct);
        var asProvider = await store.Security.LoginAsync(new LoginRequest("carol", Password), "127.0.0.3", "t", TestStore.Ct);

        ok.Value.Principal.Id.ShouldBe(carol.Id);
        carol.HasPassword.ShouldBeTrue();
        var caller = await store.Security.AuthenticateAsync(ok.Value.Token.Secret, "t", TestStore.Ct);
        caller.ShouldNotBeNull().AccountId.ShouldBe(account.Id);
        (await store.Security.WhoAmIAsync(caller, TestStore.Ct)).Value.AccountName.ShouldBe(account.Name);
        wrong.Error.ShouldNotBeNull().Kind.ShouldBe(ErrorKind.Unauthorized);
        asProvider.Error.ShouldNotBeNull().Code.ShouldBe("invalid-credentials");
        var outcomes = (await store.Audit.ListAsync(store.Db, account.Id, null, 100, TestStore.Ct)).Items
            .Where(e => e.Action == "auth.login").Select(e => e.Outcome);
        outcomes.ShouldBe(["success", "denied"]);
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task UpdatePrincipal_DisablingIt_StopsItsTokensAndBumpsTheVersion(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider, pg);
        var (_, admin) = await AccountServiceTests.SignUpAsync(store, "disable");
        var dave = (await store.Security.CreatePrincipalAsync(admin, new CreatePrincipalRequest("dave", [Role.Engineer]), TestStore.Ct)).Value;
        var token = (await store.Security.CreateTokenAsync(admin, dave.Id, new CreateTokenRequest(), TestStore.Ct)).Value;
        (await store.Security.AuthenticateAsync(token.Secret, "t", TestStore.Ct)).ShouldNotBeNull();

        var stale = await store.Security.UpdatePrincipalAsync(admin, dave.Id, new UpdatePrincipalRequest(State: PrincipalState.Disabled, Version: dave.Version + 5), TestStore.Ct);
        var updated = await store.Security.UpdatePrincipalAsync(admin, dave.Id, new UpdatePrincipalRequest(State: PrincipalState.Disabled, Version: dave.Version), TestStore.Ct);

        stale.Error.ShouldNotBeNull().Kind.ShouldBe(ErrorKind.PreconditionFailed);
        updated.Value.State.ShouldBe(PrincipalState.Disabled);
        updated.Value.Version.ShouldBe(dave.Version + 1);
        (await store.Security.AuthenticateAsync(token.Secret, "t", TestStore.Ct)).ShouldBeNull();
    }
}

using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Security;
using Welkin.Testing;

namespace Welkin.Persistence.Tests;

/// <summary>Validated tokens are remembered briefly; nothing that ends a token's validity may be hidden by that on this process.</summary>
public sealed class TokenCacheTests(PostgresCluster pg) : IClassFixture<PostgresCluster>
{
    private static readonly Caller System = Caller.System("t");

    [Fact]
    public async Task Authenticate_AfterRevokingACachedToken_RefusesItAtOnce()
    {
        await using var store = await TestStore.CreateAsync(TestStore.Sqlite, pg);
        var (security, _) = Manager(store);
        var token = await TokenAsync(security);
        (await security.AuthenticateAsync(token.Secret, "t", TestStore.Ct)).ShouldNotBeNull();

        (await security.RevokeTokenAsync(System, token.Id, TestStore.Ct)).IsSuccess.ShouldBeTrue();

        (await security.AuthenticateAsync(token.Secret, "t", TestStore.Ct)).ShouldBeNull();
    }

    [Fact]
    public async Task Authenticate_AfterDisablingTheCachedPrincipal_RefusesItAtOnce()
    {
        await using var store = await TestStore.CreateAsync(TestStore.Sqlite, pg);
        var (security, _) = Manager(store);
        var token = await TokenAsync(security);
        (await security.AuthenticateAsync(token.Secret, "t", TestStore.Ct)).ShouldNotBeNull();

        (await security.UpdatePrincipalAsync(System, token.PrincipalId, new UpdatePrincipalRequest(State: PrincipalState.Disabled), TestStore.Ct))
            .IsSuccess.ShouldBeTrue();

        (await security.AuthenticateAsync(token.Secret, "t", TestStore.Ct)).ShouldBeNull();
    }

    [Fact]
    public async Task Authenticate_AfterChangingTheCachedPrincipalsRoles_UsesTheNewRoles()
    {
        await using var store = await TestStore.CreateAsync(TestStore.Sqlite, pg);
        var (security, _) = Manager(store);
        var token = await TokenAsync(security);
        (await security.AuthenticateAsync(token.Secret, "t", TestStore.Ct)).ShouldNotBeNull().Roles.ShouldBe([Role.Operator]);

        (await security.UpdatePrincipalAsync(System, token.PrincipalId, new UpdatePrincipalRequest(Roles: [Role.Auditor]), TestStore.Ct))
            .IsSuccess.ShouldBeTrue();

        (await security.AuthenticateAsync(token.Secret, "t", TestStore.Ct)).ShouldNotBeNull().Roles.ShouldBe([Role.Auditor]);
    }

    [Fact]
    public async Task Authenticate_WhenACachedTokenExpires_RefusesIt()
    {
        await using var store = await TestStore.CreateAsync(TestStore.Sqlite, pg);
        var (security, clock) = Manager(store);
        var token = await TokenAsync(security, days: 1);
        (await security.AuthenticateAsync(token.Secret, "t", TestStore.Ct)).ShouldNotBeNull();

        clock.Advance(TimeSpan.FromDays(1));

        (await security.AuthenticateAsync(token.Secret, "t", TestStore.Ct)).ShouldBeNull();
    }

    [Fact]
    public async Task Authenticate_OnAnotherReplica_RefusesARevokedTokenOnceItsEntryExpires()
    {
        await using var store = await TestStore.CreateAsync(TestStore.Sqlite, pg);
        var (here, _) = Manager(store);
        var (replica, replicaClock) = Manager(store);
        var token = await TokenAsync(here);
        (await replica.AuthenticateAsync(token.Secret, "t", TestStore.Ct)).ShouldNotBeNull();

        (await here.RevokeTokenAsync(System, token.Id, TestStore.Ct)).IsSuccess.ShouldBeTrue();
        replicaClock.Advance(new SecurityOptions().TokenCacheTtl);

        (await here.AuthenticateAsync(token.Secret, "t", TestStore.Ct)).ShouldBeNull();
        (await replica.AuthenticateAsync(token.Secret, "t", TestStore.Ct)).ShouldBeNull();
    }

    [Fact]
    public async Task Authenticate_ACachedToken_ReturnsTheRequestsCorrelationId()
    {
        await using var store = await TestStore.CreateAsync(TestStore.Sqlite, pg);
        var (security, _) = Manager(store);
        var token = await TokenAsync(security);

        var first = await security.AuthenticateAsync(token.Secret, "first", TestStore.Ct);
        var second = await security.AuthenticateAsync(token.Secret, "second", TestStore.Ct);

        first.ShouldNotBeNull().CorrelationId.ShouldBe("first");
        second.ShouldNotBeNull().CorrelationId.ShouldBe("second");
        second.PrincipalId.ShouldBe(first.PrincipalId);
    }

    [Fact(Timeout = 120_000)]
    public async Task Authenticate_NeverDerivesAPasswordHash()
    {
        await using var store = await TestStore.CreateAsync(TestStore.Sqlite, pg);
        var clock = new FakeTimeProvider(TimeProvider.System.GetUtcNow());
        var audit = new AuditLog(clock);
        // One PBKDF2 derivation at this count would outlast the test's timeout by far.
        using var security = new SecurityManager(store.Db, audit, new RefusalAudit(store.Db, audit, clock, new RefusalAuditOptions()), clock,
            new LoginThrottle(clock, new LoginThrottleOptions()),
            new SecurityOptions { PasswordIterations = int.MaxValue, TokenCacheTtl = TimeSpan.Zero, PasswordHashConcurrency = 1, PasswordHashQueueLimit = 0 });
        var token = await TokenAsync(security);

        for (var i = 0; i < 20; i++)
        {
            (await security.AuthenticateAsync(token.Secret, "t", TestStore.Ct)).ShouldNotBeNull().PrincipalId.ShouldBe(token.PrincipalId);
            (await security.AuthenticateAsync(ApiTokens.NewSecret(), "t", TestStore.Ct)).ShouldBeNull();
        }
    }

    private static (SecurityManager Security, FakeTimeProvider Clock) Manager(TestStore store)
    {
        var clock = new FakeTimeProvider(TimeProvider.System.GetUtcNow());
        var audit = new AuditLog(clock);
        return (new SecurityManager(store.Db, audit, new RefusalAudit(store.Db, audit, clock, new RefusalAuditOptions()), clock,
            new LoginThrottle(clock, new LoginThrottleOptions()), new SecurityOptions()), clock);
    }

    private static async Task<(string Id, string Secret, string PrincipalId)> TokenAsync(SecurityManager security, int days = 7)
    {
        var principal = (await security.CreatePrincipalAsync(System, new CreatePrincipalRequest($"ops-{Guid.NewGuid():n}"[..20], [Role.Operator]), TestStore.Ct)).Value;
        var token = (await security.CreateTokenAsync(System, principal.Id, new CreateTokenRequest("ci", days), TestStore.Ct)).Value;
        return (token.Id, token.Secret, principal.Id);
    }
}

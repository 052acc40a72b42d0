using Welkin.Contracts;
using Welkin.Core.Security;
using Welkin.Testing;

namespace Welkin.Persistence.Tests;

/// <summary>S3 access keys on both providers: created, resolved to their principal's caller with the secret, refused once revoked or disabled.</summary>
public sealed class AccessKeysTests(PostgresCluster pg) : IClassFixture<PostgresCluster>
{
    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task AccessKey_ResolvesToItsPrincipal_UntilRevokedOrDisabled(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider, pg);
        var system = Caller.System("t");
        var keys = new AccessKeys(store.Db, store.Audit, store.Clock, store.Security, AccessKeySealer.Ephemeral());
        var principal = (await store.Security.CreatePrincipalAsync(system, new CreatePrincipalRequest("backup", [Role.Auditor]), TestStore.Ct)).Value;
        var other = (await store.Security.CreatePrincipalAsync(system, new CreatePrincipalRequest("ops", [Role.Operator]), TestStore.Ct)).Value;

        var first = (await keys.CreateAsync(system, principal.Id, new CreateAccessKeyRequest("one"), null, TestStore.Ct)).Value;
        var second = (await keys.CreateAsync(system, other.Id, new CreateAccessKeyRequest(), null, TestStore.Ct)).Value;
        var resolved = await keys.ResolveAsync(first.Id, "t", TestStore.Ct);
        var unknown = await keys.ResolveAsync(AccessKeys.NewId(), "t", TestStore.Ct);

        resolved.ShouldNotBeNull().Secret.ShouldBe(first.Secret);
        resolved.Caller.PrincipalId.ShouldBe(principal.Id);
        resolved.Caller.Roles.ShouldBe([Role.Auditor]);
        unknown.ShouldBeNull();
        (await keys.ListAsync(system, principal.Id, TestStore.Ct)).Value.Select(k => k.Id).ShouldBe([first.Id]);

        (await keys.RevokeAsync(system, first.Id, TestStore.Ct)).Value.Revoked.ShouldNotBeNull();
        (await store.Security.UpdatePrincipalAsync(system, other.Id, new UpdatePrincipalRequest(State: PrincipalState.Disabled), TestStore.Ct)).IsSuccess.ShouldBeTrue();

        (await keys.ResolveAsync(first.Id, "t", TestStore.Ct)).ShouldBeNull();
        (await keys.ResolveAsync(second.Id, "t", TestStore.Ct)).ShouldBeNull();
    }
}

using Microsoft.Extensions.DependencyInjection;
using Welkin.Portal.Sessions;
using Welkin.Server.Infrastructure;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Testing;

namespace Welkin.Server.Tests.Portal;

/// <summary>The database's store of portal sessions (migration V0041), the same on SQLite and PostgreSQL.</summary>
public abstract class PortalSessionStoreContract(WelkinApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private PortalSessionStore Store => app.Services.GetRequiredService<PortalSessionStore>();

    private static readonly DateTimeOffset Now = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task ASession_IsFound_Updated_Touched_AndDeleted_ByItsKey()
    {
        var key = NewKey();
        var created = new StoredPortalSession(key, [1, 2, 3, 255], Now, Now, Now.AddMinutes(30));
        await Store.CreateAsync(created, Ct);

        var found = (await Store.FindAsync(key, Ct)).ShouldNotBeNull();
        found.Contents.ShouldBe(created.Contents);
        (found.Created, found.LastSeen, found.Expires).ShouldBe((Now, Now, Now.AddMinutes(30)));
        (await Store.FindAsync(NewKey(), Ct)).ShouldBeNull();

        (await Store.UpdateAsync(created with { Contents = [9], LastSeen = Now.AddMinutes(2) }, Ct)).ShouldBeTrue();
        (await Store.TouchAsync(key, Now.AddMinutes(5), Now.AddMinutes(35), Ct)).ShouldBeTrue();
        found = (await Store.FindAsync(key, Ct)).ShouldNotBeNull();
        found.Contents.ShouldBe([9]);
        (found.LastSeen, found.Expires).ShouldBe((Now.AddMinutes(5), Now.AddMinutes(35)));

        await Store.DeleteAsync(key, Ct);
        (await Store.FindAsync(key, Ct)).ShouldBeNull();
        (await Store.UpdateAsync(created, Ct)).ShouldBeFalse("a session ended meanwhile stays ended");
        (await Store.TouchAsync(key, Now, Now, Ct)).ShouldBeFalse();
    }

    [Fact]
    public async Task Prune_DeletesTheExpired_ThenTheLeastRecentlySeenBeyondTheCap()
    {
        await Store.PruneAsync(DateTimeOffset.MaxValue.AddDays(-1), 0, Ct);
        var (expired, older, newer) = (NewKey(), NewKey(), NewKey());
        await Store.CreateAsync(new StoredPortalSession(expired, [1], Now.AddHours(-1), Now.AddHours(-1), Now.AddMinutes(-30)), Ct);
        await Store.CreateAsync(new StoredPortalSession(older, [2], Now, Now.AddMinutes(-10), Now.AddMinutes(20)), Ct);
        await Store.CreateAsync(new StoredPortalSession(newer, [3], Now, Now, Now.AddMinutes(30)), Ct);

        (await Store.PruneAsync(Now, 1, Ct)).ShouldBe(2);

        (await Store.FindAsync(expired, Ct)).ShouldBeNull();
        (await Store.FindAsync(older, Ct)).ShouldBeNull();
        (await Store.FindAsync(newer, Ct)).ShouldNotBeNull();
    }

    [Fact]
    public async Task TheServersPortal_KeepsItsSessionsInTheDatabase_Encrypted()
    {
        var sessions = app.Services.GetRequiredService<PortalSessions>();
        var cloud = new PortalCloud("home", new Uri("http://127.0.0.1:1/"), "wkn_secret-of-the-test", "tok-1", "prn-1", "admin", "acc-1", "acme", ["contract.read"]);

        var (cookie, _) = await sessions.StartAsync(cloud, Ct);

        var found = (await sessions.FindAsync(cookie, Ct)).ShouldNotBeNull();
        found.Home.ShouldBe(cloud with { Permissions = found.Home.Permissions });
        found.Home.Permissions.ShouldBe(["contract.read"]);
        var key = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(cookie)));
        var stored = (await Store.FindAsync(key, Ct)).ShouldNotBeNull();
        System.Text.Encoding.UTF8.GetString(stored.Contents).ShouldNotContain("secret-of-the-test");
        (await sessions.FindAsync(cookie + "x", Ct)).ShouldBeNull();
    }

    private static string NewKey() => Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
}

public sealed class SqlitePortalSessionStoreTests(WelkinApp app) : PortalSessionStoreContract(app), IClassFixture<WelkinApp>;

public sealed class PostgresPortalSessionStoreTests(PostgresWelkinApp app) : PortalSessionStoreContract(app), IClassFixture<PostgresWelkinApp>;

using System.Net.Http.Json;
using System.Text;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Welkin.Contracts;
using Welkin.Core.Data;

namespace Welkin.Portal.Tests;

/// <summary>A portal cloud on a fixed port and data directory, so that a second one can take over from the first as after a restart.</summary>
public sealed class RestartedPortalApp(string dataDir, int port) : PortalApp
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("Welkin:DataDir", dataDir);
        builder.UseSetting("Welkin:Port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }
}

/// <summary>Portal sessions kept in the cloud's database, their contents encrypted with a key ring kept in the data directory.</summary>
public sealed class DurableSessionTests(PortalApp app, Browser browser) : IClassFixture<PortalApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ASession_SurvivesARestart_AndAFormRenderedBeforeItPostsAfterIt()
    {
        var dataDir = Welkin.Testing.TestServers.NewDataDirectory();
        var port = Welkin.Testing.Loopback.FreePort();
        try
        {
            string accountName, token;
            var first = new RestartedPortalApp(dataDir, port);
            await using var context = await browser.NewContextAsync(new Uri($"http://127.0.0.1:{port}/"));
            var page = await context.NewPageAsync();
            try
            {
                await first.InitializeAsync();
                var (signUp, _) = await first.SignUpWithPasswordAsync("durable");
                (accountName, token) = (signUp.Account.Name, signUp.Token.Secret);
                await page.SignInAsync(accountName, "admin");
                await page.GotoAsync("/principals");
                await page.GetByLabel("Name", new() { Exact = true }).FillAsync("ops");
                await page.GetByLabel("engineer", new() { Exact = true }).CheckAsync();
            }
            finally
            {
                await first.DisposeAsync();
            }

            await using var second = new RestartedPortalApp(dataDir, port);
            await second.InitializeAsync();
            // The form, its antiforgery token and the session cookie all come from before the restart.
            await page.GetByRole(AriaRole.Button, new() { Name = "Add", Exact = true }).ClickAsync();

            (await page.GetByRole(AriaRole.Status).TextContentAsync()).ShouldBe("Added ops.");
            var listed = await (await second.As(token).GetAsync("/api/v1/principals", Ct)).ReadAsync<Page<PrincipalView>>();
            listed.Items.Single(p => p.Name == "ops").Roles.ShouldBe([Role.Engineer]);
            await page.GotoAsync("/");
            (await page.Locator("h1").TextContentAsync()).ShouldBe("Dashboard");
            var keys = Path.Combine(dataDir, "portal-keys");
            File.GetUnixFileMode(keys).ShouldBe(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            Directory.GetFiles(keys, "*.xml").ShouldNotBeEmpty();
            Directory.GetFiles(keys, "*.xml").ShouldAllBe(f => File.GetUnixFileMode(f) == (UnixFileMode.UserRead | UnixFileMode.UserWrite));
        }
        finally
        {
            Welkin.Testing.TempDirectories.TryDelete(dataDir);
        }
    }

    [Fact]
    public async Task LosingTheKeyRing_SignsEverybodyOut_ButNothingElse()
    {
        var dataDir = Welkin.Testing.TestServers.NewDataDirectory();
        var port = Welkin.Testing.Loopback.FreePort();
        try
        {
            string token;
            await using var context = await browser.NewContextAsync(new Uri($"http://127.0.0.1:{port}/"));
            var page = await context.NewPageAsync();
            await using (var first = new RestartedPortalApp(dataDir, port))
            {
                await first.InitializeAsync();
                var (signUp, _) = await first.SignUpWithPasswordAsync("keys");
                token = signUp.Token.Secret;
                await page.SignInAsync(signUp.Account.Name, "admin");
            }
            // The sessions are still in the database, but nothing here can decrypt them any more.
            Directory.Delete(Path.Combine(dataDir, "portal-keys"), recursive: true);

            await using var second = new RestartedPortalApp(dataDir, port);
            await second.InitializeAsync();
            await page.GotoAsync("/clouds");

            page.Url.ShouldContain("/sign-in?returnUrl=%2Fclouds");
            (await second.Services.GetRequiredService<IDatabase>().ExecuteScalarAsync<long>("SELECT COUNT(*) FROM portal_sessions", null, Ct)).ShouldBe(0);
            (await second.As(token).GetAsync("/api/v1/me", Ct)).StatusCode.ShouldBe(System.Net.HttpStatusCode.OK);
        }
        finally
        {
            Welkin.Testing.TempDirectories.TryDelete(dataDir);
        }
    }

    [Fact]
    public async Task TheDatabase_HoldsTheSessionEncrypted_NeverItsTokenOrCookie()
    {
        var (signUp, admin) = await app.SignUpWithPasswordAsync("secret");
        var issued = await (await admin.PostAsJsonAsync($"/api/v1/principals/{signUp.Admin.Id}/tokens", new CreateTokenRequest("portal"), WelkinJson.Client, Ct))
            .ReadAsync<IssuedToken>(System.Net.HttpStatusCode.Created);
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.SignInWithTokenAsync(issued.Secret);
        var cookie = (await context.CookiesAsync()).Single(c => c.Name == "welkin-portal").Value;

        var rows = await app.Services.GetRequiredService<IDatabase>().QueryAsync<string>("SELECT contents FROM portal_sessions", null, Ct);
        rows.ShouldNotBeEmpty();
        var secret = issued.Secret["wkn_".Length..];
        foreach (var file in Directory.EnumerateFiles(app.DataDir, "welkin.db*"))
        {
            var bytes = await ReadSharedAsync(file);
            foreach (var needle in new[] { secret, cookie, Convert.ToBase64String(Encoding.UTF8.GetBytes(issued.Secret)) })
            {
                bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(needle)).ShouldBe(-1, $"{Path.GetFileName(file)} holds a secret in clear");
            }
        }
        foreach (var contents in rows)
        {
            Encoding.UTF8.GetString(Convert.FromBase64String(contents)).ShouldNotContain(secret);
        }
    }

    [Fact]
    public async Task ATamperedOrUnknownCookie_OrTamperedContents_AreAnonymous()
    {
        var (signUp, _) = await app.SignUpWithPasswordAsync("tamper");
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.SignInAsync(signUp.Account.Name, "admin");
        var cookie = (await context.CookiesAsync()).Single(c => c.Name == "welkin-portal");
        var key = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(cookie.Value)));

        // The key of the row (what a copy of the database shows), a changed character, and a random value.
        foreach (var value in new[] { key, cookie.Value[..^1] + (cookie.Value[^1] == 'A' ? 'B' : 'A'), Guid.NewGuid().ToString("n") })
        {
            await SetCookieAsync(context, cookie, value);
            await page.GotoAsync("/clouds");
            page.Url.ShouldContain("/sign-in?returnUrl=%2Fclouds");
        }

        // The real cookie, but contents changed in the database: they no longer open, and the row goes.
        await SetCookieAsync(context, cookie, cookie.Value);
        await page.GotoAsync("/clouds");
        page.Url.ShouldEndWith("/clouds");
        var db = app.Services.GetRequiredService<IDatabase>();
        var contents = Convert.FromBase64String(await db.ExecuteScalarAsync<string>("SELECT contents FROM portal_sessions WHERE cookie_hash = @Key", new { Key = key }, Ct));
        contents[^1] ^= 1;
        await db.WriteAsync<int>(async tx => await tx.ExecuteAsync(
            "UPDATE portal_sessions SET contents = @Contents WHERE cookie_hash = @Key", new { Key = key, Contents = Convert.ToBase64String(contents) }), Ct);
        await page.GotoAsync("/clouds");
        page.Url.ShouldContain("/sign-in?returnUrl=%2Fclouds");
        (await db.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM portal_sessions WHERE cookie_hash = @Key", new { Key = key }, Ct)).ShouldBe(0);
    }

    [Fact]
    public async Task SignOut_DeletesTheSessionsRow()
    {
        var (signUp, _) = await app.SignUpWithPasswordAsync("out");
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.SignInAsync(signUp.Account.Name, "admin");
        var key = KeyOf((await context.CookiesAsync()).Single(c => c.Name == "welkin-portal").Value);
        var db = app.Services.GetRequiredService<IDatabase>();
        (await CountAsync(db, key)).ShouldBe(1);

        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await page.WaitForURLAsync("**/sign-in");

        (await CountAsync(db, key)).ShouldBe(0);
    }

    internal static string KeyOf(string cookie) => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(cookie)));

    internal static Task<long> CountAsync(IDatabase db, string key) =>
        db.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM portal_sessions WHERE cookie_hash = @Key", new { Key = key }, Ct);

    private static async Task SetCookieAsync(IBrowserContext context, BrowserContextCookiesResult cookie, string value)
    {
        await context.ClearCookiesAsync(new() { Name = cookie.Name });
        await context.AddCookiesAsync([new Cookie { Name = cookie.Name, Value = value, Domain = cookie.Domain, Path = cookie.Path, HttpOnly = true, SameSite = SameSiteAttribute.Lax }]);
    }

    private static async Task<byte[]> ReadSharedAsync(string file)
    {
        await using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy, Ct);
        return copy.ToArray();
    }
}

/// <summary>A portal cloud on a clock the test moves, for the sessions' timeouts.</summary>
public sealed class ClockedPortalApp : PortalApp
{
    public Welkin.Testing.FakeTimeProvider Clock { get; } = new(DateTimeOffset.UtcNow);

    protected override TimeProvider ServerClock => Clock;
}

public sealed class SessionExpiryTests(ClockedPortalApp app, Browser browser) : IClassFixture<ClockedPortalApp>
{
    [Fact]
    public async Task AnIdleSession_Expires_WhileUseKeepsItAlive_AndLastSeenIsWrittenAtMostOnceAMinute()
    {
        var (signUp, _) = await app.SignUpWithPasswordAsync("idle");
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.SignInAsync(signUp.Account.Name, "admin");
        var key = DurableSessionTests.KeyOf((await context.CookiesAsync()).Single(c => c.Name == "welkin-portal").Value);
        var db = app.Services.GetRequiredService<IDatabase>();
        var signedIn = await LastSeenAsync(db, key);

        // Page views within a minute write nothing.
        app.Clock.Advance(TimeSpan.FromSeconds(30));
        await page.GotoAsync("/clouds");
        (await LastSeenAsync(db, key)).ShouldBe(signedIn);

        // Used every 25 minutes, it outlives the 30 minutes of the idle timeout.
        for (var i = 0; i < 2; i++)
        {
            app.Clock.Advance(TimeSpan.FromMinutes(25));
            await page.GotoAsync("/clouds");
            page.Url.ShouldEndWith("/clouds");
        }
        (await LastSeenAsync(db, key)).ShouldBe(app.Clock.GetUtcNow().ToUnixTimeMilliseconds());

        app.Clock.Advance(TimeSpan.FromMinutes(31));
        await page.GotoAsync("/clouds");
        page.Url.ShouldContain("/sign-in?returnUrl=%2Fclouds");
        (await DurableSessionTests.CountAsync(db, key)).ShouldBe(0);
    }

    private static Task<long> LastSeenAsync(IDatabase db, string key) =>
        db.ExecuteScalarAsync<long>("SELECT last_seen_at FROM portal_sessions WHERE cookie_hash = @Key", new { Key = key }, TestContext.Current.CancellationToken);
}

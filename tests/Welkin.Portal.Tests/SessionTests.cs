using System.Net;
using Microsoft.Playwright;

namespace Welkin.Portal.Tests;

public sealed class SessionTests(PortalApp app, Browser browser) : IClassFixture<PortalApp>
{
    [Fact]
    public async Task SignIn_WithPassword_ShowsTheDashboard_AndTheCookieIsHttpOnlyAndSameSite()
    {
        var (account, _) = await app.SignUpWithPasswordAsync("sess");
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();

        await page.SignInAsync(account.Account.Name, "admin");

        (await page.Locator("h1").TextContentAsync()).ShouldBe("Dashboard");
        var cookie = (await context.CookiesAsync()).Single(c => c.Name == "welkin-portal");
        cookie.HttpOnly.ShouldBeTrue();
        cookie.SameSite.ShouldBe(SameSiteAttribute.Lax);
        cookie.Value.Length.ShouldBeGreaterThanOrEqualTo(43);
        await page.ShouldBeAccessibleAsync();
    }

    [Fact]
    public async Task SignIn_WithAWrongPassword_SaysSo_AndStartsNoSession()
    {
        var (account, _) = await app.SignUpWithPasswordAsync("sess");
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.GotoAsync("/sign-in");
        await page.Locator("#account").FillAsync(account.Account.Name);
        await page.Locator("#name").FillAsync("admin");
        await page.Locator("#password").FillAsync("not the password at all");
        var response = await page.RunAndWaitForResponseAsync(
            () => page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).ClickAsync(),
            r => r.Request.Method == "POST" && r.Url.Contains("/sign-in", StringComparison.Ordinal));

        response.Status.ShouldBe(401);
        (await page.GetByRole(AriaRole.Alert).TextContentAsync()).ShouldNotBeNullOrWhiteSpace();
        (await context.CookiesAsync()).ShouldNotContain(c => c.Name == "welkin-portal");
        await page.ShouldBeAccessibleAsync();
    }

    [Fact]
    public async Task SignOut_RevokesThePortalsToken_AndThePageAsksToSignInAgain()
    {
        var (account, admin) = await app.SignUpWithPasswordAsync("sess");
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.SignInAsync(account.Account.Name, "admin");
        var tokens = await admin.GetStringAsync($"/api/v1/principals/{account.Admin.Id}/tokens", TestContext.Current.CancellationToken);
        tokens.ShouldContain("\"login\"");

        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await page.WaitForURLAsync("**/sign-in");

        var after = await admin.GetStringAsync($"/api/v1/principals/{account.Admin.Id}/tokens", TestContext.Current.CancellationToken);
        System.Text.Json.JsonDocument.Parse(after).RootElement.EnumerateArray()
            .Where(t => t.GetProperty("name").GetString() == "login")
            .ShouldAllBe(t => t.GetProperty("revoked").ValueKind != System.Text.Json.JsonValueKind.Null);
        await page.GotoAsync("/clouds");
        page.Url.ShouldContain("/sign-in?returnUrl=%2Fclouds");
    }

    [Fact]
    public async Task EveryPortalAnswer_CarriesTheContentSecurityPolicyAndFrameProtection()
    {
        using var http = new HttpClient { BaseAddress = app.Address };
        foreach (var path in new[] { "/", "/catalog", "/sign-in", "/sign-up" })
        {
            using var response = await http.GetAsync(path, TestContext.Current.CancellationToken);
            response.StatusCode.ShouldBe(HttpStatusCode.OK, path);
            var csp = response.Headers.GetValues("Content-Security-Policy").Single();
            csp.ShouldContain("script-src 'self'");
            csp.ShouldContain("frame-ancestors 'none'");
            csp.ShouldNotContain("unsafe-inline");
            response.Headers.GetValues("X-Frame-Options").Single().ShouldBe("DENY");
            response.Headers.GetValues("X-Content-Type-Options").Single().ShouldBe("nosniff");
        }
    }

    [Fact]
    public async Task AFormPostedWithoutTheAntiforgeryToken_IsRefused_AndSignsNobodyIn()
    {
        var (account, _) = await app.SignUpWithPasswordAsync("csrf");
        using var http = new HttpClient(new HttpClientHandler { UseCookies = false }) { BaseAddress = app.Address };
        using var form = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["_handler"] = "sign-in",
            ["Input.Account"] = account.Account.Name,
            ["Input.Name"] = "admin",
            ["Input.Password"] = PortalApp.Password,
        });
        using var response = await http.PostAsync("/sign-in", form, TestContext.Current.CancellationToken);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        response.Headers.Contains("Set-Cookie").ShouldBeFalse();
    }
}

using System.Net.Http.Headers;
using System.Net.Http.Json;
using Microsoft.Playwright;
using Welkin.Contracts;

namespace Welkin.Portal.Tests;

public sealed class PrincipalPagesTests(PortalApp app, Browser browser) : IClassFixture<PortalApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Principals_ListPeopleAndRoles_AndAddAPersonWithRoles()
    {
        var (signUp, admin) = await app.SignUpWithPasswordAsync("prn");
        var (context, page) = await browser.SignedInAsync(app, signUp.Account.Name, "/principals");
        await using var _ = context;
        (await page.GetByRole(AriaRole.Table, new() { Name = "Roles and their permissions" }).Locator("tbody th").AllTextContentsAsync())
            .ShouldContain("account-admin");

        await page.GetByLabel("Name", new() { Exact = true }).FillAsync("ops");
        await page.GetByLabel("Display name").FillAsync("Ops <Team>");
        await page.GetByLabel("Kind").SelectOptionAsync("service");
        await page.GetByLabel("engineer", new() { Exact = true }).CheckAsync();
        await page.GetByLabel("viewer", new() { Exact = true }).CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Add", Exact = true }).ClickAsync();

        (await page.GetByRole(AriaRole.Status).TextContentAsync()).ShouldBe("Added ops.");
        var row = page.GetByRole(AriaRole.Table, new() { Name = "People and services" }).Locator("tbody tr", new() { HasText = "Ops <Team>" });
        (await row.Locator("td").Nth(3).TextContentAsync()).ShouldBe("engineer, viewer");
        var listed = await (await admin.GetAsync("/api/v1/principals", Ct)).ReadAsync<Page<PrincipalView>>();
        var ops = listed.Items.Single(p => p.Name == "ops");
        ops.Roles.ShouldBe([Role.Engineer, Role.Viewer]);
        ops.Kind.ShouldBe(PrincipalKind.Service);
        ops.DisplayName.ShouldBe("Ops <Team>");
        ops.HasPassword.ShouldBeFalse();
        await page.ShouldBeAccessibleAsync();
        await page.ScreenshotAsync("principals");
    }

    [Fact]
    public async Task Principals_DisableAndEnableAPerson()
    {
        var (signUp, admin) = await app.SignUpWithPasswordAsync("prn");
        var dev = await DevAsync(admin);
        var (context, page) = await browser.SignedInAsync(app, signUp.Account.Name, "/principals");
        await using var _ = context;

        await page.GetByRole(AriaRole.Button, new() { Name = "Disable dev" }).ClickAsync();
        (await page.GetByRole(AriaRole.Status).TextContentAsync()).ShouldBe("Disabled dev.");
        (await GetAsync(admin, dev.Id)).State.ShouldBe(PrincipalState.Disabled);

        await page.GetByRole(AriaRole.Button, new() { Name = "Enable dev" }).ClickAsync();
        (await page.GetByRole(AriaRole.Status).TextContentAsync()).ShouldBe("Enabled dev.");
        (await GetAsync(admin, dev.Id)).State.ShouldBe(PrincipalState.Active);
        // Nobody disables themselves here.
        (await page.GetByRole(AriaRole.Button, new() { Name = "Disable admin" }).CountAsync()).ShouldBe(0);
    }

    [Fact]
    public async Task Principal_CreateAToken_ShowsItsSecretOnce_AndRevokeEndsIt()
    {
        var (signUp, admin) = await app.SignUpWithPasswordAsync("prn");
        var (context, page) = await browser.SignedInAsync(app, signUp.Account.Name, "/principals");
        await using var _ = context;
        await page.GetByRole(AriaRole.Link, new() { Name = "admin", Exact = true }).ClickAsync();
        await page.GetByRole(AriaRole.Heading, new() { Name = "New API token" }).WaitForAsync();
        page.Url.ShouldEndWith("/principals/" + signUp.Admin.Id);

        await page.GetByLabel("Token name").FillAsync("ci");
        await page.GetByLabel("Expires in days").FillAsync("7");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create token" }).ClickAsync();

        var secret = (await page.Locator("#issued-secret").TextContentAsync()).ShouldNotBeNull();
        (await WhoAmIAsync(secret)).StatusCode.ShouldBe(System.Net.HttpStatusCode.OK);
        await page.ShouldBeAccessibleAsync();
        await page.ScreenshotAsync("principal");
        await page.GotoAsync("/principals/" + signUp.Admin.Id);
        (await page.ContentAsync()).ShouldNotContain(secret);
        var token = (await TokensAsync(admin, signUp.Admin.Id)).Single(t => t.Name == "ci");
        token.Expires.ShouldNotBeNull().ShouldBeLessThan(DateTimeOffset.UtcNow.AddDays(8));

        await page.GetByRole(AriaRole.Button, new() { Name = $"Revoke token ci ({token.Id})" }).ClickAsync();

        (await page.GetByRole(AriaRole.Status).TextContentAsync()).ShouldBe("Revoked the token ci.");
        (await TokensAsync(admin, signUp.Admin.Id)).Single(t => t.Id == token.Id).Revoked.ShouldNotBeNull();
        (await WhoAmIAsync(secret)).StatusCode.ShouldBe(System.Net.HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Principal_CreateAnAccessKey_ShowsItsSecretOnce_AndDeleteRevokesIt()
    {
        var (signUp, admin) = await app.SignUpWithPasswordAsync("prn");
        var dev = await DevAsync(admin);
        var (context, page) = await browser.SignedInAsync(app, signUp.Account.Name, "/principals/" + dev.Id);
        await using var _ = context;

        await page.GetByLabel("Access key name").FillAsync("backup");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create access key" }).ClickAsync();

        var keyId = (await page.Locator("#issued-key-id").TextContentAsync()).ShouldNotBeNull();
        (await page.Locator("#issued-secret").TextContentAsync()).ShouldNotBeNull().Length.ShouldBe(40);
        var keys = await KeysAsync(admin, dev.Id);
        keys.ShouldHaveSingleItem().Id.ShouldBe(keyId);
        keys[0].Name.ShouldBe("backup");
        await page.ShouldBeAccessibleAsync();

        await page.GetByRole(AriaRole.Button, new() { Name = $"Delete access key backup ({keyId})" }).ClickAsync();

        (await page.GetByRole(AriaRole.Status).TextContentAsync()).ShouldBe("Deleted the access key backup.");
        (await KeysAsync(admin, dev.Id)).Single().Revoked.ShouldNotBeNull();
        (await page.GetByRole(AriaRole.Button, new() { Name = $"Delete access key backup ({keyId})" }).CountAsync()).ShouldBe(0);
    }

    [Fact]
    public async Task Principal_CreateAToken_WithTheKeyboardOnly()
    {
        var (signUp, admin) = await app.SignUpWithPasswordAsync("prn");
        var (context, page) = await browser.SignedInAsync(app, signUp.Account.Name, "/principals/" + signUp.Admin.Id);
        await using var _ = context;

        await TabToAsync(page, "token-name");
        await page.Keyboard.TypeAsync("keyboard");
        await page.Keyboard.PressAsync("Tab");
        await page.Keyboard.TypeAsync("3");
        await page.Keyboard.PressAsync("Tab");
        (await page.EvaluateAsync<string>("document.activeElement.textContent")).ShouldBe("Create token");
        await page.Keyboard.PressAsync("Enter");

        await page.Locator("#issued-secret").WaitForAsync();
        var secret = (await page.Locator("#issued-secret").TextContentAsync()).ShouldNotBeNull();
        (await WhoAmIAsync(secret)).StatusCode.ShouldBe(System.Net.HttpStatusCode.OK);
        (await TokensAsync(admin, signUp.Admin.Id)).ShouldContain(t => t.Name == "keyboard" && t.Revoked == null);
    }

    /// <summary>Presses Tab until the element with <paramref name="id"/> has the focus.</summary>
    private static async Task TabToAsync(IPage page, string id)
    {
        for (var i = 0; i < 200; i++)
        {
            await page.Keyboard.PressAsync("Tab");
            if (await page.EvaluateAsync<string>("document.activeElement && document.activeElement.id") == id)
            {
                return;
            }
        }
        throw new ShouldAssertException($"Tab never reached #{id}.");
    }

    private async Task<HttpResponseMessage> WhoAmIAsync(string secret)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/me");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        return await app.Anonymous().SendAsync(request, Ct);
    }

    /// <summary>An engineer "dev" of the account.</summary>
    private static async Task<PrincipalView> DevAsync(HttpClient admin) =>
        await (await admin.PostAsJsonAsync("/api/v1/principals", new CreatePrincipalRequest("dev", [Role.Engineer]), WelkinJson.Client, Ct))
            .ReadAsync<PrincipalView>(System.Net.HttpStatusCode.Created);

    private static async Task<PrincipalView> GetAsync(HttpClient client, string id) =>
        await (await client.GetAsync($"/api/v1/principals/{id}", Ct)).ReadAsync<PrincipalView>();

    private static async Task<IReadOnlyList<TokenView>> TokensAsync(HttpClient client, string id) =>
        await (await client.GetAsync($"/api/v1/principals/{id}/tokens", Ct)).ReadAsync<List<TokenView>>();

    private static async Task<IReadOnlyList<AccessKeyView>> KeysAsync(HttpClient client, string id) =>
        await (await client.GetAsync($"/api/v1/principals/{id}/access-keys", Ct)).ReadAsync<List<AccessKeyView>>();
}

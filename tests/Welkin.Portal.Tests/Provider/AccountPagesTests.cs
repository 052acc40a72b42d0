using System.Net;
using System.Net.Http.Json;
using Microsoft.Playwright;
using Welkin.Contracts;
using static Welkin.Portal.Tests.Provider.OpsTesting;

namespace Welkin.Portal.Tests.Provider;

public sealed class AccountPagesTests(ApprovalPortalApp app, Browser browser) : IClassFixture<ApprovalPortalApp>
{
    [Fact]
    public async Task PendingSignUp_ApprovedInTheBrowser_BecomesActive_AndItsAdminCanSignIn()
    {
        var (signUp, _) = await app.SignUpWithPasswordAsync("wait");
        signUp.Account.State.ShouldBe(AccountState.Pending);
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;

        await page.GotoAsync("/provider/accounts");
        var pending = page.GetByRole(AriaRole.Table, new() { Name = "Pending sign-ups" });
        var row = pending.GetByRole(AriaRole.Row).Filter(new() { HasText = signUp.Account.Name });
        await row.WaitForAsync();
        await page.ShouldBeAccessibleAsync();
        await page.ScreenshotAsync("accounts");

        await row.GetByRole(AriaRole.Button, new() { Name = "Approve", Exact = true }).ClickAsync();

        (await page.GetByRole(AriaRole.Status).TextContentAsync()).ShouldBe($"Approved {signUp.Account.Name}: it is active.");
        (await app.Admin().GetJsonAsync<AccountView>($"/api/v1/accounts/{signUp.Account.Id}")).State.ShouldBe(AccountState.Active);
        (await row.CountAsync()).ShouldBe(0);
        await using var tenant = await browser.NewContextAsync(app.Address);
        var tenantPage = await tenant.NewPageAsync();
        await tenantPage.SignInAsync(signUp.Account.Name, "admin");
        (await tenantPage.Locator("h1").TextContentAsync()).ShouldBe("Dashboard");
    }

    [Fact]
    public async Task PendingSignUp_RefusedWithAReason_IsRefused()
    {
        var (signUp, _) = await app.SignUpWithPasswordAsync("nope");
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;
        await page.GotoAsync("/provider/accounts");
        var row = page.GetByRole(AriaRole.Table, new() { Name = "Pending sign-ups" }).GetByRole(AriaRole.Row).Filter(new() { HasText = signUp.Account.Name });

        await row.GetByLabel($"Why {signUp.Account.Name} is refused").FillAsync("not a customer we know");
        await row.GetByRole(AriaRole.Button, new() { Name = "Refuse" }).ClickAsync();

        (await page.GetByRole(AriaRole.Status).TextContentAsync()).ShouldBe($"Refused {signUp.Account.Name}.");
        (await app.Admin().GetJsonAsync<AccountView>($"/api/v1/accounts/{signUp.Account.Id}")).State.ShouldBe(AccountState.Refused);
        var audit = await app.Admin().GetJsonAsync<Page<AuditEntryView>>($"/api/v1/audit?accountId={signUp.Account.Id}&limit=100");
        audit.Items.ShouldContain(e => e.Detail != null && e.Detail.Contains("not a customer we know", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AccountsList_FilteredByState_ShowsOnlyThatState_AndLinksToTheAccount()
    {
        var (pending, _) = await app.SignUpWithPasswordAsync("filt");
        var active = await ApprovedAsync("filt");
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;
        await page.GotoAsync("/provider/accounts");

        await page.Locator("#state").SelectOptionAsync("active");
        await page.GetByRole(AriaRole.Button, new() { Name = "Show" }).ClickAsync();
        await page.WaitForURLAsync("**/provider/accounts?state=active");

        var accounts = page.GetByRole(AriaRole.Table, new() { Name = "Accounts", Exact = true });
        (await accounts.InnerTextAsync()).ShouldNotContain(pending.Account.Name);
        (await accounts.Locator("tbody td:nth-child(3)").AllTextContentsAsync()).ShouldAllBe(s => s.Trim() == "active");
        await page.ShouldBeAccessibleAsync();
        await accounts.GetByRole(AriaRole.Link, new() { Name = active.Account.Name }).ClickAsync();
        await page.WaitForURLAsync($"**/provider/accounts/{active.Account.Id}");
        // The link is followed by enhanced navigation: the address changes before the page does.
        await page.GetByRole(AriaRole.Heading, new() { Name = $"Account {active.Account.Name}", Level = 1 }).WaitForAsync();
    }

    [Fact]
    public async Task AccountPage_ShowsLimitsRequestsAndQuotas_AndSetsLimits()
    {
        var signUp = await ApprovedAsync("lim");
        await RequestLimitsAsync(signUp, 50, "a launch next month");
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;

        await page.GotoAsync($"/provider/accounts/{signUp.Account.Id}");
        (await page.GetByRole(AriaRole.Table, new() { Name = "Limits of the account" }).InnerTextAsync()).ShouldContain("compute-unit");
        (await page.GetByRole(AriaRole.Table, new() { Name = "Limit requests of the account" }).InnerTextAsync()).ShouldContain("a launch next month");
        (await page.Locator("#quotas-head").IsVisibleAsync()).ShouldBeTrue();
        await page.ShouldBeAccessibleAsync();
        await page.ScreenshotAsync("account");

        await page.Locator("#limits-text").FillAsync("compute-unit = 12\nstorage-unit: 3\ngpu-unit 1");
        await page.GetByRole(AriaRole.Button, new() { Name = "Set limits" }).ClickAsync();

        (await page.GetByRole(AriaRole.Status).TextContentAsync()).ShouldBe("The account's limits are set.");
        (await app.Admin().GetJsonAsync<AccountView>($"/api/v1/accounts/{signUp.Account.Id}")).Limits
            .ShouldBe(new Dictionary<string, long> { ["compute-unit"] = 12, ["storage-unit"] = 3, ["gpu-unit"] = 1 }, ignoreOrder: true);
    }

    [Fact]
    public async Task SetLimits_WithALineItCannotRead_SaysWhich_AndChangesNothing()
    {
        var signUp = await ApprovedAsync("bad");
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;
        await page.GotoAsync($"/provider/accounts/{signUp.Account.Id}");

        await page.Locator("#limits-text").FillAsync("compute-unit = lots");
        var response = await page.RunAndWaitForResponseAsync(
            () => page.GetByRole(AriaRole.Button, new() { Name = "Set limits" }).ClickAsync(), r => r.Request.Method == "POST");

        response.Status.ShouldBe(400);
        (await page.GetByRole(AriaRole.Alert).TextContentAsync())!.ShouldContain("compute-unit = lots");
        (await app.Admin().GetJsonAsync<AccountView>($"/api/v1/accounts/{signUp.Account.Id}")).Limits["compute-unit"].ShouldBe(2);
    }

    [Fact]
    public async Task LimitRequest_ApprovedWithTheKeyboardOnly_RaisesTheLimits()
    {
        var signUp = await ApprovedAsync("keys");
        var request = await RequestLimitsAsync(signUp, 40, "more web servers");
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.GotoAsync("/sign-in");
        await page.TabToAsync("e.id === 'token'");
        await page.Keyboard.TypeAsync(app.AdminToken);
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForURLAsync(url => !url.Contains("/sign-in", StringComparison.Ordinal));

        await page.GotoAsync($"/provider/accounts/{signUp.Account.Id}");
        await page.TabToAsync("e.tagName === 'BUTTON' && e.textContent.trim() === 'Approve'");
        await page.Keyboard.PressAsync("Enter");

        await page.GetByRole(AriaRole.Status).WaitForAsync();
        (await page.GetByRole(AriaRole.Status).TextContentAsync()).ShouldBe("Approved: the account's limits now include compute-unit 40.");
        (await app.Admin().GetJsonAsync<LimitRequestView>($"/api/v1/limit-requests/{request.Id}")).State.ShouldBe(LimitRequestState.Approved);
        (await app.Admin().GetJsonAsync<AccountView>($"/api/v1/accounts/{signUp.Account.Id}")).Limits["compute-unit"].ShouldBe(40);
    }

    [Fact]
    public async Task LimitRequest_RefusedWithAReason_IsRefused_AndTheLimitsStay()
    {
        var signUp = await ApprovedAsync("lrno");
        var request = await RequestLimitsAsync(signUp, 900, "everything");
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;
        await page.GotoAsync($"/provider/accounts/{signUp.Account.Id}");

        await page.GetByLabel("Why the request is refused").FillAsync("far beyond this region");
        await page.GetByRole(AriaRole.Button, new() { Name = "Refuse" }).ClickAsync();

        (await page.GetByRole(AriaRole.Status).TextContentAsync()).ShouldBe("Refused the limit request.");
        var refused = await app.Admin().GetJsonAsync<LimitRequestView>($"/api/v1/limit-requests/{request.Id}");
        refused.State.ShouldBe(LimitRequestState.Refused);
        refused.DecisionReason.ShouldBe("far beyond this region");
        (await page.GetByRole(AriaRole.Table, new() { Name = "Limit requests of the account" }).InnerTextAsync()).ShouldContain("far beyond this region");
        (await app.Admin().GetJsonAsync<AccountView>($"/api/v1/accounts/{signUp.Account.Id}")).Limits["compute-unit"].ShouldBe(2);
    }

    [Fact]
    public async Task AccountPage_OfAnIdThatDoesNotExist_Is404()
    {
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;

        var response = await page.GotoAsync("/provider/accounts/acc_00000000000000000000000000");

        response!.Status.ShouldBe(404);
        (await page.Locator("h1").TextContentAsync()).ShouldBe("Not found");
    }

    private async Task<SignUpResponse> ApprovedAsync(string prefix)
    {
        var (signUp, _) = await app.SignUpWithPasswordAsync(prefix);
        (await app.Admin().PostAsJsonAsync($"/api/v1/accounts/{signUp.Account.Id}/approve", new DecisionRequest(), WelkinJson.Client, Ct)).EnsureSuccessStatusCode();
        return signUp;
    }

    private async Task<LimitRequestView> RequestLimitsAsync(SignUpResponse signUp, long computeUnits, string reason) =>
        await (await app.As(signUp.Token.Secret).PostAsJsonAsync("/api/v1/limit-requests",
            new CreateLimitRequest(new Dictionary<string, long> { ["compute-unit"] = computeUnits }, reason), WelkinJson.Client, Ct))
            .ReadAsync<LimitRequestView>(HttpStatusCode.Created);
}

using System.Net.Http.Json;
using Microsoft.Playwright;
using Welkin.Contracts;

namespace Welkin.Portal.Tests;

public sealed class LimitPagesTests(PortalApp app, Browser browser) : IClassFixture<PortalApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Limits_ShowEachUnitsLimit_AndWhatTheContractsHold()
    {
        var tenant = await MoneyData.TenantAsync(app, "lim");
        var (context, page) = await browser.SignedInAsync(app, tenant.AccountName, "/limits");
        await using var _ = context;

        var row = page.GetByRole(AriaRole.Table, new() { Name = "Limits and use" }).Locator("tbody tr", new() { HasText = "compute-unit" });
        (await row.Locator("td").AllTextContentsAsync()).Take(3).ShouldBe(["10", "2", "0"]);
        (await row.Locator("progress").GetAttributeAsync("value")).ShouldBe("20");
        await page.ShouldBeAccessibleAsync();
        await page.ScreenshotAsync("limits");
    }

    [Fact]
    public async Task RequestMore_ThroughTheForm_AsksTheProvider()
    {
        var tenant = await MoneyData.TenantAsync(app, "lim");
        var (context, page) = await browser.SignedInAsync(app, tenant.AccountName, "/limits");
        await using var _ = context;

        await page.GetByLabel("Limit", new() { Exact = true }).FillAsync("compute-unit");
        await page.GetByLabel("New limit", new() { Exact = true }).FillAsync("500");
        await page.GetByLabel("Reason", new() { Exact = true }).FillAsync("Black Friday <b>sale</b>");
        await page.GetByRole(AriaRole.Button, new() { Name = "Request limit" }).ClickAsync();

        await page.GetByRole(AriaRole.Status).WaitForAsync();
        (await page.GetByRole(AriaRole.Status).TextContentAsync()).ShouldNotBeNull().ShouldContain("500 compute-unit");
        var requests = page.GetByRole(AriaRole.Table, new() { Name = "Limit requests" });
        (await requests.TextContentAsync()).ShouldNotBeNull().ShouldContain("compute-unit: 500");
        (await requests.Locator("tbody tr").First.TextContentAsync()).ShouldNotBeNull().ShouldContain("Black Friday <b>sale</b>");
        var listed = await (await tenant.Client.GetAsync($"/api/v1/limit-requests?accountId={tenant.AccountId}", Ct)).ReadAsync<Page<LimitRequestView>>();
        var request = listed.Items.ShouldHaveSingleItem();
        request.Limits.ShouldBe(new Dictionary<string, long> { ["compute-unit"] = 500 });
        request.Reason.ShouldBe("Black Friday <b>sale</b>");
        request.State.ShouldBe(LimitRequestState.Pending);
        await page.ShouldBeAccessibleAsync();
    }

    [Fact]
    public async Task RequestMore_WithoutAReason_IsRefusedOnThePage()
    {
        var tenant = await MoneyData.TenantAsync(app, "lim");
        var (context, page) = await browser.SignedInAsync(app, tenant.AccountName, "/limits");
        await using var _ = context;

        await page.GetByLabel("Limit", new() { Exact = true }).FillAsync("compute-unit");
        await page.GetByLabel("New limit", new() { Exact = true }).FillAsync("500");
        await page.GetByRole(AriaRole.Button, new() { Name = "Request limit" }).ClickAsync();

        await page.Locator(".validation-message").First.WaitForAsync();
        var listed = await (await tenant.Client.GetAsync($"/api/v1/limit-requests?accountId={tenant.AccountId}", Ct)).ReadAsync<Page<LimitRequestView>>();
        listed.Items.ShouldBeEmpty();
    }

    [Fact]
    public async Task MoneyPages_ForTheProvider_ShowTheChosenAccount_WithoutTheRequestForm()
    {
        var tenant = await MoneyData.TenantAsync(app, "lim");
        await (await tenant.Client.PostAsJsonAsync("/api/v1/limit-requests",
            new CreateLimitRequest(new Dictionary<string, long> { ["storage-unit"] = 900 }, "archive"), WelkinJson.Client, Ct)).ReadAsync<LimitRequestView>(System.Net.HttpStatusCode.Created);
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.SignInWithTokenToAsync(app.AdminToken, "/limits?account=" + tenant.AccountId);

        (await page.GetByRole(AriaRole.Table, new() { Name = "Limit requests" }).TextContentAsync()).ShouldNotBeNull().ShouldContain("storage-unit: 900");
        (await page.GetByRole(AriaRole.Button, new() { Name = "Request limit" }).CountAsync()).ShouldBe(0);
        await page.ShouldBeAccessibleAsync();

        await page.GotoAsync("/invoices?account=" + tenant.AccountId);
        (await page.GetByRole(AriaRole.Table, new() { Name = "Current period lines" }).CountAsync()).ShouldBe(1);
        await page.ShouldBeAccessibleAsync();

        await page.GotoAsync("/principals?account=" + tenant.AccountId);
        (await page.GetByRole(AriaRole.Table, new() { Name = "People and services" }).Locator("tbody tr").AllTextContentsAsync())
            .ShouldHaveSingleItem().ShouldContain("account-admin");
        await page.ShouldBeAccessibleAsync();
    }
}

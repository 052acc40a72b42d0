using System.Globalization;
using Microsoft.Playwright;
using Welkin.Contracts;

namespace Welkin.Portal.Tests;

public sealed class UsagePagesTests(PortalApp app, Browser browser) : IClassFixture<PortalApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Usage_ShowsThisPeriodByMetric_AsATableAndABarChart()
    {
        var tenant = await MoneyData.TenantAsync(app, "use");
        await MoneyData.PreviewAsync(tenant.Client, tenant.AccountId);
        var report = await (await tenant.Client.GetAsync($"/api/v1/accounts/{tenant.AccountId}/usage", Ct)).ReadAsync<UsageReport>();
        report.Totals.ShouldNotBeEmpty();
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.SignInAsync(tenant.AccountName, "admin");

        await page.GotoAsync("/usage");

        (await page.Locator("h1").TextContentAsync()).ShouldBe("Usage");
        var table = page.GetByRole(AriaRole.Table, new() { Name = "Usage by metric" });
        var metrics = await table.Locator("tbody th").AllTextContentsAsync();
        metrics.ShouldBe(report.Totals.Select(t => t.Metric).ToList());
        var chart = page.Locator("svg.chart[role=img]");
        (await chart.GetAttributeAsync("aria-label")).ShouldNotBeNull().ShouldContain(report.Totals[0].Metric);
        (await chart.Locator("rect.chart-bar").CountAsync()).ShouldBe(report.Totals.Count);
        (await page.GetByRole(AriaRole.Table, new() { Name = "Usage by contract" }).TextContentAsync()).ShouldNotBeNull().ShouldContain(tenant.Contract.Id);
        await page.ShouldBeAccessibleAsync();
        await page.ScreenshotAsync("usage");
    }

    [Fact]
    public async Task Usage_ForChosenDays_ShowsThatPeriod()
    {
        var tenant = await MoneyData.TenantAsync(app, "use");
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.SignInAsync(tenant.AccountName, "admin");
        await page.GotoAsync("/usage");
        var from = DateTime.UtcNow.Date.AddDays(-3);
        var to = DateTime.UtcNow.Date.AddDays(-1);

        await page.GetByLabel("From", new() { Exact = true }).FillAsync(from.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        await page.GetByLabel("To (included)").FillAsync(to.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        await page.GetByRole(AriaRole.Button, new() { Name = "Show the period" }).ClickAsync();
        await page.WaitForURLAsync(url => url.Contains("from=", StringComparison.Ordinal));

        var shown = page.Locator("#usage-period", new() { HasText = from.ToString("yyyy-MM-dd 00:00", CultureInfo.InvariantCulture) });
        await shown.WaitForAsync();
        var period = await shown.TextContentAsync();
        period.ShouldNotBeNull().ShouldContain(from.ToString("yyyy-MM-dd 00:00", CultureInfo.InvariantCulture));
        period.ShouldContain(to.AddDays(1).ToString("yyyy-MM-dd 00:00", CultureInfo.InvariantCulture));
        // The contract started today: nothing in those days.
        (await page.GetByText("No usage in this period.").CountAsync()).ShouldBe(1);
        await page.ShouldBeAccessibleAsync();
    }

    [Fact]
    public async Task Usage_ForTheProvider_AsksForAnAccountFirst()
    {
        var tenant = await MoneyData.TenantAsync(app, "use");
        await MoneyData.PreviewAsync(tenant.Client, tenant.AccountId);
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.SignInWithTokenToAsync(app.AdminToken, "/usage");

        (await page.GetByText("Choose an account to see its usage.").CountAsync()).ShouldBe(1);
        await page.GetByLabel("Account", new() { Exact = true }).SelectOptionAsync(tenant.AccountId);
        await page.GetByRole(AriaRole.Button, new() { Name = "Show the account" }).ClickAsync();
        await page.WaitForURLAsync(url => url.Contains("account=" + tenant.AccountId, StringComparison.Ordinal));

        await page.GetByRole(AriaRole.Table, new() { Name = "Usage by metric" }).WaitForAsync();
        await page.ShouldBeAccessibleAsync();
    }
}

using Microsoft.Playwright;
using Welkin.Contracts;
using static Welkin.Portal.Tests.Provider.OpsTesting;

namespace Welkin.Portal.Tests.Provider;

public sealed class PricePlanPagesTests(PortalApp app, Browser browser) : IClassFixture<PortalApp>
{
    [Fact]
    public async Task PricePlansPage_ChosenContract_ShowsItsVersions_AndAddsOne()
    {
        var (_, contract) = await ContractAsync(app, "price");
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;
        await page.GotoAsync("/provider/price-plans");

        await page.Locator("#contract").SelectOptionAsync(contract.Id);
        await page.GetByRole(AriaRole.Button, new() { Name = "Show" }).ClickAsync();
        await page.WaitForURLAsync($"**/provider/price-plans?contract={contract.Id}");

        var versions = page.GetByRole(AriaRole.Table, new() { Name = "Price plan versions" });
        (await versions.Locator("tbody tr").CountAsync()).ShouldBe(1);
        (await versions.InnerTextAsync()).ShouldContain("40 USD per unit-month");
        await page.ShouldBeAccessibleAsync();

        await page.GetByLabel("Rates", new() { Exact = false }).FillAsync("compute-unit unit-month 45\ncpu-hour hour 0.15");
        await page.GetByLabel("Why", new() { Exact = false }).FillAsync("new hardware");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add the version" }).ClickAsync();

        (await page.GetByRole(AriaRole.Status).TextContentAsync()).ShouldBe("Added a price plan version.");
        var stored = await app.Admin().GetJsonAsync<List<PricePlanVersionView>>($"/api/v1/contracts/{contract.Id}/price-plans");
        var added = stored.Single(v => v.Version == 2);
        added.PricePlan.Rates.Select(r => (r.Metric, r.Price)).ShouldBe([("compute-unit", 45m), ("cpu-hour", 0.15m)]);
        added.Reason.ShouldBe("new hardware");
        added.EffectiveFrom.Day.ShouldBe(1);
        (await versions.Locator("tbody tr").CountAsync()).ShouldBe(2);
        await page.ScreenshotAsync("price-plans");
    }

    [Fact]
    public async Task AddingAVersion_InThePast_ShowsTheApisRefusal()
    {
        var (_, contract) = await ContractAsync(app, "past");
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;
        await page.GotoAsync($"/provider/price-plans?contract={contract.Id}");

        await page.GetByLabel("Effective from", new() { Exact = false }).FillAsync("2020-03-15T10:00");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add the version" }).ClickAsync();

        (await page.GetByRole(AriaRole.Alert).TextContentAsync())!.ShouldContain("effectiveFrom");
        (await app.Admin().GetJsonAsync<List<PricePlanVersionView>>($"/api/v1/contracts/{contract.Id}/price-plans")).Count.ShouldBe(1);
    }
}

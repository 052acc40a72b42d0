using Microsoft.Playwright;
using Welkin.Contracts;
using static Welkin.Portal.Tests.Provider.OpsTesting;

namespace Welkin.Portal.Tests.Provider;

public sealed class ClockPagesTests(VirtualClockPortalApp app, Browser browser) : IClassFixture<VirtualClockPortalApp>
{
    [Fact]
    public async Task AdvancingOneDay_InTheBrowser_MovesTheClock()
    {
        var before = (await app.Admin().GetJsonAsync<ClockView>("/api/v1/clock")).Now;
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;
        await page.GotoAsync("/provider/clock");
        (await page.Locator("#clock-mode").TextContentAsync()).ShouldBe("virtual");
        await page.ShouldBeAccessibleAsync();

        await page.GetByLabel("By", new() { Exact = false }).FillAsync("P1D");
        await page.GetByRole(AriaRole.Button, new() { Name = "Advance" }).ClickAsync();

        var after = (await app.Admin().GetJsonAsync<ClockView>("/api/v1/clock")).Now;
        after.ShouldBe(before.AddDays(1));
        (await page.GetByRole(AriaRole.Status).TextContentAsync())!.ShouldContain(after.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture));
        (await page.Locator("#clock-now").TextContentAsync())!.ShouldStartWith(after.UtcDateTime.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture));
        await page.ShouldBeAccessibleAsync();
        await page.ScreenshotAsync("clock");
    }

    [Fact]
    public async Task Advancing_ByADurationTheApiRefuses_ShowsTheProblem_AndTheClockStays()
    {
        var before = (await app.Admin().GetJsonAsync<ClockView>("/api/v1/clock")).Now;
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;
        await page.GotoAsync("/provider/clock");

        await page.GetByLabel("By", new() { Exact = false }).FillAsync("one day");
        await page.GetByRole(AriaRole.Button, new() { Name = "Advance" }).ClickAsync();

        (await page.GetByRole(AriaRole.Alert).TextContentAsync()).ShouldNotBeNullOrWhiteSpace();
        (await app.Admin().GetJsonAsync<ClockView>("/api/v1/clock")).Now.ShouldBe(before);
    }
}

using Microsoft.Playwright;
using Welkin.Contracts;
using Welkin.Testing;
using static Welkin.Portal.Tests.Provider.OpsTesting;

namespace Welkin.Portal.Tests.Provider;

public sealed class ClockPagesTests(VirtualClockPortalApp app, Browser browser) : IClassFixture<VirtualClockPortalApp>
{
    [Fact]
    public async Task AdvancingAMonth_InTheBrowser_FollowsTheJobLive_AndTheClockPageShowsTheNewTime()
    {
        var before = (await app.Admin().GetJsonAsync<ClockView>("/api/v1/clock")).Now;
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;
        await page.GotoAsync("/provider/clock");
        (await page.Locator("#clock-mode").TextContentAsync()).ShouldBe("virtual");
        await page.ShouldBeAccessibleAsync();
        await page.ScreenshotAsync("clock");

        await page.GetByLabel("By", new() { Exact = false }).FillAsync("P1M");
        await page.GetByRole(AriaRole.Button, new() { Name = "Advance" }).ClickAsync();

        await page.WaitForURLAsync(url => url.Contains("/jobs/", StringComparison.Ordinal) && url.EndsWith("?back=/provider/clock", StringComparison.Ordinal));
        var jobId = new Uri(page.Url).AbsolutePath.Split('/')[^1];
        (await page.Locator("#job-state").TextContentAsync()).ShouldBeOneOf("queued", "running", "succeeded");
        await page.ShouldBeAccessibleAsync();
        var job = await Polling.FinishedAsync(_ => app.Admin().GetJsonAsync<JobView>($"/api/v1/jobs/{jobId}"), Ct);
        job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
        job.Action.ShouldBe("clock.advance");
        // The page followed the job (its script polls the job's state) and shows its end.
        await page.Locator("#job-state", new() { HasText = "succeeded" }).WaitForAsync();
        (await page.Locator("#job-progress").GetAttributeAsync("value")).ShouldBe("100");
        var after = (await app.Admin().GetJsonAsync<ClockView>("/api/v1/clock")).Now;
        after.ShouldBe(before.AddMonths(1));
        var shown = after.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture);
        (await page.Locator("[data-job-status]").TextContentAsync())!.ShouldContain(shown);
        await page.ShouldBeAccessibleAsync();

        await page.GetByRole(AriaRole.Link, new() { Name = "Back" }).ClickAsync();
        await page.WaitForURLAsync(url => url.EndsWith("/provider/clock", StringComparison.Ordinal));
        (await page.Locator("#clock-now").TextContentAsync())!.ShouldStartWith(shown);
    }

    [Fact]
    public async Task AdvancingSixHours_WithTheKeyboardOnly_ReachesTheJobPage()
    {
        var before = (await app.Admin().GetJsonAsync<ClockView>("/api/v1/clock")).Now;
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;
        await page.GotoAsync("/provider/clock");

        await page.TabToAsync("e.id === 'by'");
        await page.Keyboard.PressAsync("Control+A");
        await page.Keyboard.TypeAsync("PT6H");
        await page.Keyboard.PressAsync("Enter");

        await page.WaitForURLAsync(url => url.Contains("/jobs/", StringComparison.Ordinal));
        await page.Locator("#job-state", new() { HasText = "succeeded" }).WaitForAsync();
        (await app.Admin().GetJsonAsync<ClockView>("/api/v1/clock")).Now.ShouldBe(before.AddHours(6));
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

using Microsoft.Playwright;
using Welkin.Contracts;
using static Welkin.Portal.Tests.Provider.OpsTesting;

namespace Welkin.Portal.Tests.Provider;

public sealed class AuditPagesTests(PortalApp app, Browser browser) : IClassFixture<PortalApp>
{
    [Fact]
    public async Task AuditPage_ShowsEntries_AndVerifyingTheChainSaysItIsIntact()
    {
        await app.SignUpWithPasswordAsync("aud");
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;

        await page.GotoAsync("/provider/audit");
        var entries = page.GetByRole(AriaRole.Table, new() { Name = "Audit entries" });
        (await entries.Locator("tbody tr").CountAsync()).ShouldBeGreaterThan(0);

        await page.GetByRole(AriaRole.Button, new() { Name = "Verify the chain" }).ClickAsync();

        var expected = await app.Admin().GetJsonAsync<Page<AuditEntryView>>("/api/v1/audit?limit=1");
        (await page.GetByRole(AriaRole.Status).TextContentAsync())!.ShouldStartWith("The chain is intact: ");
        var verification = await page.Locator("#verification").InnerTextAsync();
        verification.ShouldContain("Intact");
        verification.ShouldContain("Entries checked");
        verification.ShouldContain("Checkpoints");
        expected.Items.ShouldNotBeEmpty();
        await page.ShouldBeAccessibleAsync();
        await page.ScreenshotAsync("audit");
    }

    [Fact]
    public async Task AuditPage_FilteredByAccountAndAction_ShowsOnlyThoseEntries()
    {
        var (signUp, _) = await app.SignUpWithPasswordAsync("audf");
        var theirs = await app.Admin().GetJsonAsync<Page<AuditEntryView>>($"/api/v1/audit?accountId={signUp.Account.Id}&limit=100");
        var action = theirs.Items[0].Action;
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;
        await page.GotoAsync("/provider/audit");

        await page.GetByLabel("Account id").FillAsync(signUp.Account.Id);
        await page.GetByLabel("Action contains").FillAsync(action);
        await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        await page.WaitForURLAsync("**/provider/audit?account=*");

        var rows = page.GetByRole(AriaRole.Table, new() { Name = "Audit entries" }).Locator("tbody tr");
        (await rows.CountAsync()).ShouldBe(theirs.Items.Count(e => e.Action.Contains(action, StringComparison.OrdinalIgnoreCase)));
        (await rows.Locator("td:nth-child(4)").AllTextContentsAsync()).ShouldAllBe(s => s == signUp.Account.Id);
        (await rows.Locator("td:nth-child(5)").AllTextContentsAsync()).ShouldAllBe(s => s.Contains(action));
    }
}

using Microsoft.Playwright;

namespace Welkin.Portal.Tests.Provider;

public sealed class FederationPagesTests(PortalApp app, Browser browser) : IClassFixture<PortalApp>
{
    [Fact]
    public async Task FederationPage_OfACloudWithoutPeers_SaysSo()
    {
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;

        var response = await page.GotoAsync("/provider/federation");

        response!.Status.ShouldBe(200);
        (await page.Locator("#federation-state").TextContentAsync())!.ShouldContain("Federation is off");
        (await page.Locator("#no-peers").TextContentAsync()).ShouldBe("No peer cloud has been heard from.");
        (await page.Locator("#no-agreements").IsVisibleAsync()).ShouldBeTrue();
        (await page.GetByRole(AriaRole.Heading, new() { Name = "Resales" }).IsVisibleAsync()).ShouldBeTrue();
        await page.ShouldBeAccessibleAsync();
    }
}

using System.Net;
using Microsoft.Playwright;

namespace Welkin.Portal.Tests;

/// <summary>A successful create or delete is answered 303 to the page (post/redirect/get): refreshing the page does not repeat it.</summary>
public sealed class PostRedirectGetTests(PortalApp app, Browser browser) : IClassFixture<PortalApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task CreatingANetwork_RedirectsToThePage_ShowsTheOutcomeOnce_AndARefreshCreatesNothing()
    {
        var tenant = await StorageTenant.CreateAsync(app, "prg");
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.SignInAsync(tenant.AccountName, "admin");
        await page.GotoAsync("/networks");
        var posts = new List<(int Status, string? Location)>();
        page.Response += (_, r) =>
        {
            if (r.Request.Method == "POST")
            {
                posts.Add((r.Status, r.Headers.GetValueOrDefault("location")));
            }
        };

        await page.Locator("#network-name").FillAsync("once");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create the network" }).ClickAsync();
        await page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Created the network once." }).WaitForAsync();
        posts.ShouldBe([((int)HttpStatusCode.SeeOther, "/networks")]);

        var reloaded = await page.ReloadAsync();
        reloaded!.Request.Method.ShouldBe("GET");
        (await page.GetByRole(AriaRole.Status).CountAsync()).ShouldBe(0, "the outcome is shown once");
        posts.Count.ShouldBe(1);
        (await tenant.Api.Networks.ListAsync(ct: Ct)).Items.ShouldHaveSingleItem().Name.ShouldBe("once");

        // A refusal is shown at once, on the post's answer, with the form as it was.
        await page.Locator("#network-name").FillAsync("refused");
        await page.Locator("#network-cidr").FillAsync("10.8.0.0/99");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create the network" }).ClickAsync();
        await page.GetByRole(AriaRole.Alert).WaitForAsync();
        posts[^1].Status.ShouldBeInRange(400, 499);
        (await page.Locator("#network-name").InputValueAsync()).ShouldBe("refused");
        (await tenant.Api.Networks.ListAsync(ct: Ct)).Items.Count.ShouldBe(1);
    }
}

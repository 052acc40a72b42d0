using Microsoft.Playwright;
using Welkin.Contracts;

namespace Welkin.Portal.Tests.Provider;

/// <summary>What all provider pages share: only the provider's people open them; and the clock page of a real clock.</summary>
public sealed class ProviderPagesTests(PortalApp app, Browser browser) : IClassFixture<PortalApp>
{
    [Fact]
    public async Task AnAccountsPerson_Gets403_OnEveryProviderPage()
    {
        var (signUp, _) = await app.SignUpWithPasswordAsync("nopro");
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.SignInAsync(signUp.Account.Name, "admin");

        foreach (var path in OpsTesting.ProviderPages.Append($"/provider/accounts/{signUp.Account.Id}"))
        {
            var response = await page.GotoAsync(path);
            response!.Status.ShouldBe(403, path);
            (await page.GetByRole(AriaRole.Alert).TextContentAsync())!.ShouldContain("provider's people", customMessage: path);
        }
        await page.ShouldBeAccessibleAsync();
    }

    [Fact]
    public async Task ClockPage_OfARealClock_SaysSo_AndOffersNoAdvance()
    {
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;

        await page.GotoAsync("/provider/clock");

        (await page.Locator("#clock-mode").TextContentAsync()).ShouldBe("real");
        (await page.Locator("#clock-real").TextContentAsync())!.ShouldContain("The clock is real");
        (await page.GetByRole(AriaRole.Button, new() { Name = "Advance" }).CountAsync()).ShouldBe(0);
        await page.ShouldBeAccessibleAsync();
    }

    /// <summary>
    /// Account B opening account A's page gets what it gets for an id that does not exist (provider pages refuse
    /// accounts outright), with none of A's names; the provider gets 404 for the id that does not exist.
    /// </summary>
    [Fact]
    public async Task AnotherAccountsId_AnswersAsAnIdThatDoesNotExist()
    {
        var (victim, _) = await app.SignUpWithPasswordAsync("victim");
        var (attacker, _) = await app.SignUpWithPasswordAsync("attack");
        const string missingId = "acc_00000000000000000000000000";
        const string missing = "/provider/accounts/" + missingId;
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.SignInAsync(attacker.Account.Name, "admin");

        var theirs = await page.GotoAsync($"/provider/accounts/{victim.Account.Id}");
        var theirsHtml = await page.Locator("main").InnerHTMLAsync();
        var nothing = await page.GotoAsync(missing);
        var nothingHtml = await page.Locator("main").InnerHTMLAsync();

        theirs!.Status.ShouldBe(nothing!.Status);
        theirsHtml.Replace(victim.Account.Id, "ID", StringComparison.Ordinal).ShouldBe(nothingHtml.Replace(missingId, "ID", StringComparison.Ordinal));
        (await page.ContentAsync()).ShouldNotContain(victim.Account.Name);
        theirsHtml.ShouldNotContain(victim.Account.Name);
        theirsHtml.ShouldNotContain(victim.Account.DisplayName);

        var (providerContext, provider) = await browser.ProviderAsync(app);
        await using var __ = providerContext;
        (await provider.GotoAsync(missing))!.Status.ShouldBe(404);
    }
}

using System.Net;
using System.Net.Http.Json;
using Microsoft.Playwright;
using Welkin.Contracts;

namespace Welkin.Portal.Tests;

/// <summary>Markup from the API stays text, forms refuse posts without their antiforgery token, other sites cannot act.</summary>
public sealed class PortalSecurityTests(PortalApp app, Browser browser) : IClassFixture<PortalApp>
{
    private const string Markup = "<img src=x onerror=\"window.__xss=1\"><script>window.__xss=2</script>";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task MarkupInANameFromTheApi_IsShownAsText_AndNeverRuns()
    {
        var (account, api) = await app.SignUpWithPasswordAsync("xss");
        var provider = app.Admin();
        var prefix = CatalogApi.UniquePrefix("xss");
        var template = await provider.PublishedTemplateAsync(CatalogApi.Template(prefix + "t", vcpus: 1, memoryMiB: 256));
        var offering = await provider.PublishOfferingAsync((await provider.CreateOfferingAsync(CatalogApi.Compute(prefix + "o", template.Id))).Id);
        (await provider.PutAsJsonAsync($"/api/v1/accounts/{account.Account.Id}/limits",
            new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = 2 }), WelkinJson.Client, Ct)).EnsureSuccessStatusCode();
        // A proposed contract is an alert on the dashboard, with its name in it.
        (await api.PostAsJsonAsync("/api/v1/contracts", new ContractRequest([new ContractItemRequest(offering.Id, 1)], Name: Markup), WelkinJson.Client, Ct))
            .StatusCode.ShouldBe(HttpStatusCode.Created);
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        var dialogs = 0;
        page.Dialog += (_, dialog) => { dialogs++; _ = dialog.DismissAsync(); };

        await page.SignInAsync(account.Account.Name, "admin");

        (await page.GetByRole(AriaRole.List, new() { Name = "Alerts" }).TextContentAsync() ?? "").ShouldContain(Markup, Case.Sensitive);
        (await page.EvaluateAsync<bool>("() => window.__xss === undefined")).ShouldBeTrue();
        (await page.Locator("main img").CountAsync()).ShouldBe(0);
        (await page.Locator("main script").CountAsync()).ShouldBe(0);
        dialogs.ShouldBe(0);
    }

    [Fact]
    public async Task APostOfASignedInSession_WithoutTheAntiforgeryToken_IsRefused_AndChangesNothing()
    {
        var (account, _) = await app.SignUpWithPasswordAsync("csrf");
        using var portal = await PortalClient.SignedInAsync(app.Address, account.Token.Secret);

        using var forged = await portal.PostAsync("/sign-out", new FormUrlEncodedContent(new Dictionary<string, string> { ["_handler"] = "sign-out" }), Ct);

        forged.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        using var after = await portal.GetAsync("/clouds", Ct);
        after.StatusCode.ShouldBe(HttpStatusCode.OK, "the session survived the forged sign-out");
        (await after.Content.ReadAsStringAsync(Ct)).ShouldContain("Clouds of this session");
    }

    [Fact]
    public async Task AFormOnAnotherSite_PostingToThePortal_DoesNotActForTheSignedInPerson()
    {
        var (account, _) = await app.SignUpWithPasswordAsync("csrf");
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.SignInAsync(account.Account.Name, "admin");
        // The attacker's page, served for another origin, submits a sign-out form to the portal as soon as it loads.
        var target = new Uri(app.Address, "/sign-out").AbsoluteUri;
        await context.RouteAsync("http://attacker.test/**", route => route.FulfillAsync(new RouteFulfillOptions
        {
            ContentType = "text/html",
            Body = $"<html><body><form id=f method=post action=\"{target}\"><input name=_handler value=sign-out></form>"
                + "<script>document.getElementById('f').submit()</script></body></html>",
        }));

        var response = await page.RunAndWaitForResponseAsync(() => page.GotoAsync("http://attacker.test/"), r => r.Url == target);

        response.Status.ShouldBe(400);
        await page.GotoAsync("/clouds");
        page.Url.ShouldEndWith("/clouds", customMessage: "still signed in: the cross-site post did nothing");
    }
}

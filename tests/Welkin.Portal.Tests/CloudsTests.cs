using System.Net;
using System.Net.Http.Json;
using Microsoft.Playwright;
using Welkin.Contracts;

namespace Welkin.Portal.Tests;

/// <summary>Two clouds, each with its portal; the first offers the second ("partner") to add to a session.</summary>
public sealed class TwoClouds : IAsyncLifetime
{
    public PortalApp Partner { get; } = new();

    public CloudWithPartner Home { get; private set; } = default!;

    public async ValueTask InitializeAsync()
    {
        await Partner.InitializeAsync();
        Home = new CloudWithPartner(Partner.Address);
        await Home.InitializeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await Home.DisposeAsync();
        await Partner.DisposeAsync();
    }

    public sealed class CloudWithPartner(Uri partner) : PortalApp
    {
        protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>(base.Settings)
        {
            ["Portal:Clouds:0:Name"] = "partner",
            ["Portal:Clouds:0:Endpoint"] = partner.AbsoluteUri,
        };
    }
}

public sealed class CloudsTests(TwoClouds clouds, Browser browser) : IClassFixture<TwoClouds>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task APersonAddsASecondCloud_AndTheDashboardShowsBoth_AndRemovingItRevokesThePortalsTokenThere()
    {
        var (home, _) = await clouds.Home.SignUpWithPasswordAsync("home");
        var (away, awayApi) = await clouds.Partner.SignUpWithPasswordAsync("away");
        await ProposedContractAsync(clouds.Partner, away, awayApi, "away-contract");
        await using var context = await browser.NewContextAsync(clouds.Home.Address);
        var page = await context.NewPageAsync();
        await page.SignInAsync(home.Account.Name, "admin");

        await page.GotoAsync("/clouds");
        await page.Locator("#cloud").SelectOptionAsync("partner");
        await page.Locator("#account").FillAsync(away.Account.Name);
        await page.Locator("#name").FillAsync("admin");
        await page.Locator("#password").FillAsync(PortalApp.Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Add the cloud" }).ClickAsync();
        await page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Added partner" }).WaitForAsync();
        await page.ShouldBeAccessibleAsync();

        await page.GotoAsync("/");
        (await page.Locator("section.card h2").AllTextContentsAsync()).Count.ShouldBe(2);
        (await page.Locator("section.card", new() { HasText = "partner" }).TextContentAsync() ?? "").ShouldContain("away-contract");
        await page.ShouldBeAccessibleAsync();
        await page.ScreenshotAsync("dashboard-two-clouds");

        await page.GotoAsync("/clouds");
        await page.GetByRole(AriaRole.Button, new() { Name = "Remove partner" }).ClickAsync();
        await page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Removed partner" }).WaitForAsync();
        var tokens = await awayApi.GetFromJsonAsync<List<TokenView>>($"/api/v1/principals/{away.Admin.Id}/tokens", WelkinJson.Client, Ct);
        tokens!.Where(t => t.Name == "login").ShouldAllBe(t => t.Revoked != null);
        tokens!.ShouldContain(t => t.Name == "login");
    }

    [Fact]
    public async Task ACloudThePortalDoesNotOffer_CannotBeAdded()
    {
        var (home, _) = await clouds.Home.SignUpWithPasswordAsync("home");
        using var portal = await PortalClient.SignedInAsync(clouds.Home.Address, home.Token.Secret);
        var (_, antiforgery) = await PortalClient.FormAsync(portal, "/clouds");

        // The browser names the cloud; the portal only ever calls the endpoints its operator configured.
        using var response = await portal.PostAsync("/clouds", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["_handler"] = "add-cloud",
            ["Input.Cloud"] = "http://169.254.169.254/",
            ["Input.Name"] = "admin",
            ["Input.Password"] = "whatever it is",
            ["__RequestVerificationToken"] = antiforgery,
        }), Ct);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await response.Content.ReadAsStringAsync(Ct)).ShouldContain("is not a cloud this portal offers");
    }

    private static async Task ProposedContractAsync(PortalApp app, SignUpResponse account, HttpClient api, string name)
    {
        var provider = app.Admin();
        var prefix = CatalogApi.UniquePrefix("two");
        var template = await provider.PublishedTemplateAsync(CatalogApi.Template(prefix + "t", vcpus: 1, memoryMiB: 256));
        var offering = await provider.PublishOfferingAsync((await provider.CreateOfferingAsync(CatalogApi.Compute(prefix + "o", template.Id))).Id);
        (await provider.PutAsJsonAsync($"/api/v1/accounts/{account.Account.Id}/limits",
            new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = 2 }), WelkinJson.Client, Ct)).EnsureSuccessStatusCode();
        (await api.PostAsJsonAsync("/api/v1/contracts", new ContractRequest([new ContractItemRequest(offering.Id, 1)], Name: name), WelkinJson.Client, Ct))
            .StatusCode.ShouldBe(HttpStatusCode.Created);
    }
}

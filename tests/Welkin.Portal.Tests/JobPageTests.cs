using System.Net;
using System.Net.Http.Json;
using Microsoft.Playwright;
using Welkin.Contracts;

namespace Welkin.Portal.Tests;

public sealed class JobPageTests(PortalApp app, Browser browser) : IClassFixture<PortalApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task TheJobPage_FollowsAProvisionLive_UntilItSucceeds()
    {
        var (account, api) = await app.SignUpWithPasswordAsync("job");
        var provider = app.Admin();
        var prefix = CatalogApi.UniquePrefix("job");
        var template = await provider.PublishedTemplateAsync(CatalogApi.Template(prefix + "t", vcpus: 1, memoryMiB: 256));
        var offering = await provider.PublishOfferingAsync((await provider.CreateOfferingAsync(CatalogApi.Compute(prefix + "o", template.Id))).Id);
        (await provider.PutAsJsonAsync($"/api/v1/accounts/{account.Account.Id}/limits",
            new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = 2 }), WelkinJson.Client, Ct)).EnsureSuccessStatusCode();
        var contract = await (await api.PostAsJsonAsync("/api/v1/contracts", new ContractRequest([new ContractItemRequest(offering.Id, 1)]), WelkinJson.Client, Ct))
            .ReadAsync<ContractView>(HttpStatusCode.Created);
        await (await api.PostAsJsonAsync($"/api/v1/contracts/{contract.Id}/accept", new ContractTransitionRequest(), WelkinJson.Client, Ct)).ReadAsync<ContractView>();
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.SignInAsync(account.Account.Name, "admin");
        // The simulated fabric takes two seconds to create a machine: the page opens while the job runs.
        var provision = await (await api.PostAsJsonAsync("/api/v1/instances", new ProvisionRequest(contract.Id), WelkinJson.Client, Ct))
            .ReadAsync<AcceptedView<InstanceView>>(HttpStatusCode.Accepted);

        var errors = page.ConsoleErrors();
        await page.GotoAsync($"/jobs/{provision.Job.Id}?back=/");
        var shownFirst = await page.Locator("#job-state").TextContentAsync();
        await page.ShouldBeAccessibleAsync();
        await page.Locator("#job-state", new() { HasText = "succeeded" }).WaitForAsync();

        shownFirst.ShouldBeOneOf("queued", "running", "succeeded");
        (await page.Locator("#job-progress").GetAttributeAsync("value")).ShouldBe("100");
        await page.ScreenshotAsync("job");
        errors.ShouldBeEmpty("the page loaded its styles and scripts under the content-security policy");
    }
}

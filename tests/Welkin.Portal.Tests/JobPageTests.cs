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

    [Fact]
    public async Task TheLiveProgress_SaysWhyItStopped_WhenTheSessionEnded_OrTheJobIsNotThere()
    {
        var (account, _) = await app.SignUpWithPasswordAsync("jobgone");
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();

        // portal.js follows any element that names a job's state; anonymous, the portal answers 401 for it.
        await page.GotoAsync("/sign-in");
        await AddLiveJobAsync(page, "job_00000000000000000000000000");
        await page.Locator("[data-job-stopped]").WaitForAsync();
        (await page.Locator("[data-job-status]").TextContentAsync()).ShouldBe("Your session has ended: sign in again to follow this job.");

        // Signed in, a job that is not there for this person is a 404.
        await page.SignInAsync(account.Account.Name, "admin");
        await AddLiveJobAsync(page, "job_00000000000000000000000000");
        await page.Locator("[data-job-stopped]").WaitForAsync();
        (await page.Locator("[data-job-status]").TextContentAsync()).ShouldBe("This job can no longer be followed from this session.");
    }

    private static Task AddLiveJobAsync(IPage page, string jobId) => page.EvaluateAsync(
        """
        id => {
            const live = document.createElement("div");
            live.dataset.liveJob = "/jobs/" + id + "/state";
            const status = document.createElement("p");
            status.setAttribute("data-job-status", "");
            live.appendChild(status);
            document.querySelector("main").appendChild(live);
        }
        """, jobId);
}

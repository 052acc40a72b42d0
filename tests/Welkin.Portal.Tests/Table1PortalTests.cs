using System.Net.Http.Json;
using Microsoft.Playwright;
using Welkin.Contracts;
using Welkin.Portal.Tests.Compute;

namespace Welkin.Portal.Tests;

/// <summary>
/// Table 1 of the white paper end to end, every step through the portal in Chromium: ProviderCo publishes an offering,
/// ConsumerCo signs up and gets its limits, its people contract and provision four servers, deactivate two, the business
/// manager reads the contract report and the invoice, raises the limit (the provider approves), and terminates.
/// The API is only read, to check what each step did.
/// </summary>
public sealed class Table1PortalTests(ComputePortalApp app, Browser browser) : IClassFixture<ComputePortalApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Table1_ThroughThePortal()
    {
        var provider = app.Admin();
        var prefix = CatalogApi.UniquePrefix("t1");
        // The template is the catalog's building block, made before Table 1 starts (its page has tests of its own).
        var template = await provider.PublishedTemplateAsync(CatalogApi.Template(prefix + "server", vcpus: 1, memoryMiB: 256));
        var offeringName = prefix + "web server";
        var accountName = "consumerco-" + Guid.NewGuid().ToString("n")[..6];

        // 1. ProviderCo publishes the offering.
        await using (var providerContext = await browser.NewContextAsync(app.Address))
        {
            var page = await providerContext.NewPageAsync();
            await page.SignInWithTokenAsync(app.AdminToken, "/provider/offerings");
            await page.Locator("#off-name").FillAsync(offeringName);
            await page.Locator("#off-template").SelectOptionAsync($"{template.Id}/1");
            await page.Locator("#rate1-price").FillAsync("40");
            await page.Locator("#off-availability").FillAsync("99.9");
            await page.Locator("#off-term").FillAsync("1");
            await page.Locator("#off-discount").FillAsync("50");
            await page.GetByRole(AriaRole.Button, new() { Name = "Create offering" }).ClickAsync();
            await page.GetByRole(AriaRole.Status).Filter(new() { HasText = "as a draft" }).WaitForAsync();
            await page.GetByRole(AriaRole.Row).Filter(new() { HasText = offeringName }).GetByRole(AriaRole.Button, new() { Name = "Publish" }).ClickAsync();
            await page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Published" }).WaitForAsync();
        }

        await using var context = await browser.NewContextAsync(app.Address);
        var consumer = await context.NewPageAsync();

        // 2. ConsumerCo finds it in the public catalog and signs up.
        await consumer.GotoAsync("/catalog");
        await consumer.GetByRole(AriaRole.Cell, new() { Name = offeringName, Exact = true }).WaitForAsync();
        await consumer.GotoAsync("/sign-up");
        await consumer.GetByLabel("Account name").FillAsync(accountName);
        await consumer.GetByLabel("Organisation").FillAsync("ConsumerCo");
        await consumer.GetByLabel("Your name").FillAsync("admin");
        await consumer.GetByLabel("Password").FillAsync(PortalApp.Password);
        await consumer.GetByRole(AriaRole.Button, new() { Name = "Sign up" }).ClickAsync();
        await consumer.GetByText("You can sign in as").WaitForAsync();
        var account = (await provider.GetFromJsonAsync<Page<AccountView>>("/api/v1/accounts?limit=500", WelkinJson.Client, Ct))!.Items.Single(a => a.Name == accountName);

        // ProviderCo gives the new account its limits.
        await using (var providerContext = await browser.NewContextAsync(app.Address))
        {
            var page = await providerContext.NewPageAsync();
            await page.SignInWithTokenAsync(app.AdminToken, $"/provider/accounts/{account.Id}");
            await page.Locator("#limits-text").FillAsync("compute-unit = 4\nstorage-unit = 10");
            await page.GetByRole(AriaRole.Button, new() { Name = "Set limits" }).ClickAsync();
            await page.GetByRole(AriaRole.Status).WaitForAsync();
        }

        // 3. Fred contracts four servers and provisions them.
        await consumer.SignInAsync(accountName, "admin");
        await consumer.GotoAsync("/contracts");
        await consumer.GetByLabel("Contract name").FillAsync("web shop");
        await consumer.GetByLabel("Term (months)").FillAsync("1");
        var offering = (await provider.GetFromJsonAsync<Page<OfferingView>>("/api/v1/catalog/offerings?limit=500", WelkinJson.Client, Ct))!.Items.Single(o => o.Spec.Name == offeringName);
        await consumer.GetByLabel("Offering", new() { Exact = true }).SelectOptionAsync(offering.Id);
        await consumer.GetByLabel("Quantity", new() { Exact = true }).FillAsync("4");
        await consumer.GetByRole(AriaRole.Button, new() { Name = "Request contract" }).ClickAsync();
        await consumer.WaitForURLAsync("**/contracts/ctr_*");
        var contractId = consumer.Url.Split('/')[^1];
        await consumer.GetByRole(AriaRole.Button, new() { Name = "Accept", Exact = true }).ClickAsync();
        await consumer.GetByRole(AriaRole.Status).Filter(new() { HasText = "Contract accepted." }).WaitForAsync();

        // The account's one compute line is chosen already; the page shows its choices.
        await consumer.GotoAsync("/instances");
        await consumer.GetByLabel("Instance name").FillAsync("web-shop");
        (await consumer.ClickToJobAsync("Provision")).ShouldBe("succeeded");
        // The offering restricts nothing, so an instance starts with the template's one server; Fred scales it to four.
        await consumer.GetByRole(AriaRole.Link, new() { Name = "Back" }).ClickAsync();
        await consumer.WaitForURLAsync("**/instances/ins_*");
        await consumer.GetByLabel("Virtual system").SelectOptionAsync("web");
        await consumer.GetByLabel("Machines", new() { Exact = true }).FillAsync("4");
        (await consumer.ClickToJobAsync("Scale")).ShouldBe("succeeded");

        var api = await ConsumerApiAsync(accountName);
        var machines = (await api.GetFromJsonAsync<Page<MachineView>>("/api/v1/machines?limit=50", WelkinJson.Client, Ct))!.Items;
        machines.Count(m => m.State == MachineState.Running).ShouldBe(4);

        // 4. Fred deactivates two servers.
        foreach (var machine in machines.Take(2))
        {
            await consumer.GotoAsync("/machines/" + machine.Id);
            (await consumer.ClickToJobAsync("Stop")).ShouldBe("succeeded");
        }
        machines = (await api.GetFromJsonAsync<Page<MachineView>>("/api/v1/machines?limit=50", WelkinJson.Client, Ct))!.Items;
        machines.Count(m => m.State == MachineState.Inactive).ShouldBe(2);

        // 5. The business manager reads the contract report and the invoice of the period.
        await consumer.GotoAsync($"/contracts/{contractId}/report");
        (await consumer.Locator("h1").TextContentAsync()).ShouldNotBeNullOrWhiteSpace();
        (await consumer.Locator("svg").CountAsync()).ShouldBeGreaterThan(0);
        await consumer.GotoAsync("/invoices");
        (await consumer.Locator("main").InnerTextAsync()).ShouldContain("USD");

        // 6. ... raises the limit; ProviderCo approves.
        await consumer.GotoAsync("/limits");
        await consumer.GetByLabel("Limit", new() { Exact = true }).FillAsync("compute-unit");
        await consumer.GetByLabel("New limit", new() { Exact = true }).FillAsync("8");
        await consumer.GetByLabel("Reason", new() { Exact = true }).FillAsync("the holiday season");
        await consumer.GetByRole(AriaRole.Button, new() { Name = "Request limit" }).ClickAsync();
        await consumer.GetByRole(AriaRole.Status).WaitForAsync();
        await using (var providerContext = await browser.NewContextAsync(app.Address))
        {
            var page = await providerContext.NewPageAsync();
            await page.SignInWithTokenAsync(app.AdminToken, $"/provider/accounts/{account.Id}");
            await page.GetByRole(AriaRole.Button, new() { Name = "Approve", Exact = true }).ClickAsync();
            await page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Approved" }).WaitForAsync();
        }
        (await provider.GetFromJsonAsync<AccountView>($"/api/v1/accounts/{account.Id}", WelkinJson.Client, Ct))!.Limits["compute-unit"].ShouldBe(8);

        // 7. ... and terminates the contract.
        await consumer.GotoAsync("/contracts/" + contractId);
        await consumer.GetByRole(AriaRole.Button, new() { Name = "Terminate", Exact = true }).ClickAsync();
        await consumer.GetByLabel("I understand: terminate this contract and release its resources").CheckAsync();
        (await consumer.ClickToJobAsync("Terminate")).ShouldBe("succeeded");
        (await api.GetFromJsonAsync<ContractView>($"/api/v1/contracts/{contractId}", WelkinJson.Client, Ct))!.State.ShouldBe(ContractState.Terminated);
    }

    /// <summary>A read-only view of the consumer's account through the API, with a token the provider issues its admin.</summary>
    private async Task<HttpClient> ConsumerApiAsync(string accountName)
    {
        var login = await (await app.Anonymous().PostAsJsonAsync("/api/v1/auth/login", new LoginRequest("admin", PortalApp.Password, accountName), WelkinJson.Client, Ct))
            .ReadAsync<LoginResponse>();
        return app.As(login.Token.Secret);
    }
}

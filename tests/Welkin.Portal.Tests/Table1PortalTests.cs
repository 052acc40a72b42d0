using System.Net.Http.Json;
using Microsoft.Playwright;
using Welkin.Contracts;
using Welkin.Portal.Tests.Compute;

namespace Welkin.Portal.Tests;

/// <summary>
/// Table 1 of the white paper end to end, every step through the portal in Chromium, each by its own person:
/// ProviderCo publishes an offering whose one server size is chosen at provisioning; ConsumerCo signs up and gets its
/// limits; its business manager (the account's admin) adds Fred, an engineer, who signs in in his own browser,
/// contracts and provisions four servers and deactivates two; the business manager reads the contract report and
/// the invoice, raises the limit (the provider approves), and terminates. The API is only read, to check what each
/// step did and that the audit log names Fred for his steps and the business manager for hers.
/// </summary>
public sealed class Table1PortalTests(ComputePortalApp app, Browser browser) : IClassFixture<ComputePortalApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Table1_ThroughThePortal_FredProvisions_TheBusinessManagerPays()
    {
        var provider = app.Admin();
        var prefix = CatalogApi.UniquePrefix("t1");
        // The template is the catalog's building block, made before Table 1 starts (its page has tests of its own):
        // a server of one or two vCPUs and 256 or 512 MiB.
        var template = await provider.PublishedTemplateAsync(new TemplateSpec(prefix + "server",
            [new VirtualSystemSpec("web", new HardwareChoices(new Choice<int>([1, 2], 1), new Choice<long>([256, 512], 256), new Choice<long>([100], 100)))]));
        var offeringName = prefix + "web server";
        var accountName = "consumerco-" + Guid.NewGuid().ToString("n")[..6];

        // 1. ProviderCo publishes the offering: Table 1's compute unit is one server of 1 vCPU and 256 MiB.
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
            await page.GetByRole(AriaRole.Button, new() { Name = "Show the template's choices" }).ClickAsync();
            await page.GetByRole(AriaRole.Group, new() { Name = "Virtual system web" }).WaitForAsync();
            await page.Locator("#r-0-vcpus-0").CheckAsync();
            await page.Locator("#r-0-memoryMiB-0").CheckAsync();
            await page.GetByRole(AriaRole.Button, new() { Name = "Create offering" }).ClickAsync();
            await page.GetByRole(AriaRole.Status).Filter(new() { HasText = "as a draft" }).WaitForAsync();
            await page.GetByRole(AriaRole.Row).Filter(new() { HasText = offeringName }).GetByRole(AriaRole.Button, new() { Name = "Publish" }).ClickAsync();
            await page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Published" }).WaitForAsync();
        }
        var offering = (await provider.GetFromJsonAsync<Page<OfferingView>>("/api/v1/catalog/offerings?limit=500", WelkinJson.Client, Ct))!.Items.Single(o => o.Spec.Name == offeringName);
        var restriction = offering.Spec.Choices.ShouldNotBeNull().ShouldHaveSingleItem();
        restriction.Vcpus!.Allowed.ShouldBe([1]);
        restriction.MemoryMiB!.Allowed.ShouldBe([256L]);

        await using var context = await browser.NewContextAsync(app.Address);
        var manager = await context.NewPageAsync();

        // 2. ConsumerCo finds it in the public catalog and signs up; its business manager is the account's admin.
        await manager.GotoAsync("/catalog");
        await manager.GetByRole(AriaRole.Cell, new() { Name = offeringName, Exact = true }).WaitForAsync();
        await manager.GotoAsync("/sign-up");
        await manager.GetByLabel("Account name").FillAsync(accountName);
        await manager.GetByLabel("Organisation").FillAsync("ConsumerCo");
        await manager.GetByLabel("Your name").FillAsync("admin");
        await manager.GetByLabel("Password").FillAsync(PortalApp.Password);
        await manager.GetByRole(AriaRole.Button, new() { Name = "Sign up" }).ClickAsync();
        await manager.GetByText("You can sign in as").WaitForAsync();
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

        // The business manager adds Fred, an engineer, with a password of his own.
        await manager.SignInAsync(accountName, "admin");
        await manager.GotoAsync("/principals");
        await manager.GetByLabel("Name", new() { Exact = true }).FillAsync("fred");
        await manager.GetByLabel("Display name").FillAsync("Fred");
        await manager.GetByLabel("Password").FillAsync(FredPassword);
        await manager.GetByLabel("engineer", new() { Exact = true }).CheckAsync();
        await manager.GetByRole(AriaRole.Button, new() { Name = "Add", Exact = true }).ClickAsync();
        await manager.GetByRole(AriaRole.Status).Filter(new() { HasText = "Added fred." }).WaitForAsync();

        var api = await ConsumerApiAsync(accountName, "admin", PortalApp.Password);
        var people = (await api.GetFromJsonAsync<Page<PrincipalView>>("/api/v1/principals?limit=100", WelkinJson.Client, Ct))!.Items;
        var fred = people.Single(p => p.Name == "fred");
        var admin = people.Single(p => p.Name == "admin");
        fred.Roles.ShouldBe([Role.Engineer]);

        // 3. Fred signs in in his own browser, contracts four servers and provisions them, all four at once.
        await using var fredContext = await browser.NewContextAsync(app.Address);
        var fredPage = await fredContext.NewPageAsync();
        await fredPage.SignInAsync(accountName, "fred", FredPassword);
        await fredPage.GotoAsync("/contracts");
        await fredPage.GetByLabel("Contract name").FillAsync("web shop");
        await fredPage.GetByLabel("Term (months)").FillAsync("1");
        await fredPage.GetByLabel("Offering", new() { Exact = true }).SelectOptionAsync(offering.Id);
        await fredPage.GetByLabel("Quantity", new() { Exact = true }).FillAsync("4");
        await fredPage.GetByRole(AriaRole.Button, new() { Name = "Request contract" }).ClickAsync();
        await fredPage.WaitForURLAsync("**/contracts/ctr_*");
        var contractId = fredPage.Url.Split('/')[^1];
        await fredPage.GetByRole(AriaRole.Button, new() { Name = "Accept", Exact = true }).ClickAsync();
        await fredPage.GetByRole(AriaRole.Status).Filter(new() { HasText = "Contract accepted." }).WaitForAsync();

        // The account's one compute line is chosen already; the offering's restriction names the server, so Fred chooses how many.
        await fredPage.GotoAsync("/instances");
        await fredPage.GetByLabel("Instance name").FillAsync("web-shop");
        (await fredPage.GetByLabel("vCPUs of web").Locator("option").AllInnerTextsAsync()).ShouldBe(["1"]);
        await fredPage.GetByLabel("Machines of web").FillAsync("4");
        (await fredPage.ClickToJobAsync("Provision")).ShouldBe("succeeded");
        await fredPage.GetByRole(AriaRole.Link, new() { Name = "Back" }).ClickAsync();
        await fredPage.WaitForURLAsync("**/instances/ins_*");
        var instanceId = fredPage.Url.Split('/')[^1];

        var machines = (await api.GetFromJsonAsync<Page<MachineView>>("/api/v1/machines?limit=50", WelkinJson.Client, Ct))!.Items;
        machines.Count(m => m.State == MachineState.Running).ShouldBe(4);
        machines.ShouldAllBe(m => m.Vcpus == 1 && m.MemoryMiB == 256);

        // 4. Fred deactivates two servers.
        var stopped = machines.Take(2).ToList();
        foreach (var machine in stopped)
        {
            await fredPage.GotoAsync("/machines/" + machine.Id);
            (await fredPage.ClickToJobAsync("Stop")).ShouldBe("succeeded");
        }
        machines = (await api.GetFromJsonAsync<Page<MachineView>>("/api/v1/machines?limit=50", WelkinJson.Client, Ct))!.Items;
        machines.Count(m => m.State == MachineState.Inactive).ShouldBe(2);

        // 5. The business manager reads the contract report and the invoice of the period.
        await manager.GotoAsync($"/contracts/{contractId}/report");
        (await manager.Locator("h1").TextContentAsync()).ShouldNotBeNullOrWhiteSpace();
        (await manager.Locator("svg").CountAsync()).ShouldBeGreaterThan(0);
        await manager.GotoAsync("/invoices");
        (await manager.Locator("main").InnerTextAsync()).ShouldContain("USD");

        // 6. ... raises the limit; ProviderCo approves.
        await manager.GotoAsync("/limits");
        await manager.GetByLabel("Limit", new() { Exact = true }).FillAsync("compute-unit");
        await manager.GetByLabel("New limit", new() { Exact = true }).FillAsync("8");
        await manager.GetByLabel("Reason", new() { Exact = true }).FillAsync("the holiday season");
        await manager.GetByRole(AriaRole.Button, new() { Name = "Request limit" }).ClickAsync();
        await manager.GetByRole(AriaRole.Status).WaitForAsync();
        await using (var providerContext = await browser.NewContextAsync(app.Address))
        {
            var page = await providerContext.NewPageAsync();
            await page.SignInWithTokenAsync(app.AdminToken, $"/provider/accounts/{account.Id}");
            await page.GetByRole(AriaRole.Button, new() { Name = "Approve", Exact = true }).ClickAsync();
            await page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Approved" }).WaitForAsync();
        }
        (await provider.GetFromJsonAsync<AccountView>($"/api/v1/accounts/{account.Id}", WelkinJson.Client, Ct))!.Limits["compute-unit"].ShouldBe(8);

        // 7. ... and terminates the contract.
        await manager.GotoAsync("/contracts/" + contractId);
        await manager.GetByRole(AriaRole.Button, new() { Name = "Terminate", Exact = true }).ClickAsync();
        await manager.GetByLabel("I understand: terminate this contract and release its resources").CheckAsync();
        (await manager.ClickToJobAsync("Terminate")).ShouldBe("succeeded");
        (await api.GetFromJsonAsync<ContractView>($"/api/v1/contracts/{contractId}", WelkinJson.Client, Ct))!.State.ShouldBe(ContractState.Terminated);

        // The audit log names each person for their own steps: the portal acts with the person's token.
        var audit = (await provider.AuditAsync()).Where(e => e.AccountId == account.Id).ToList();
        string ActorOf(Func<AuditEntryView, bool> which, string what) =>
            audit.FirstOrDefault(which)?.Actor ?? throw new ShouldAssertException($"No audit entry of {what}: {string.Join("; ", audit.Select(e => $"{e.Action} {e.Target} by {e.Actor}"))}");
        ActorOf(e => e.Action == "principal.create" && e.Target == fred.Id, "adding Fred").ShouldBe(admin.Id);
        ActorOf(e => e.Action == "contract.request" && e.Target == contractId, "the contract request").ShouldBe(fred.Id);
        ActorOf(e => e.Action == "contract.accept" && e.Target == contractId, "the acceptance").ShouldBe(fred.Id);
        ActorOf(e => e.Target == instanceId && e.Action.Contains("provision", StringComparison.Ordinal), "provisioning").ShouldBe(fred.Id);
        foreach (var machine in stopped)
        {
            ActorOf(e => e.Target == machine.Id && e.Action.Contains("stop", StringComparison.Ordinal), "stopping " + machine.Id).ShouldBe(fred.Id);
        }
        ActorOf(e => e.Action == "limit-request.create", "the limit request").ShouldBe(admin.Id);
        ActorOf(e => e.Action == "contract.terminate" && e.Target == contractId, "the termination").ShouldBe(admin.Id);
    }

    private const string FredPassword = "fred-" + PortalApp.Password;

    /// <summary>A view of the consumer's account through the API as one of its people.</summary>
    private async Task<HttpClient> ConsumerApiAsync(string accountName, string name, string password)
    {
        var login = await (await app.Anonymous().PostAsJsonAsync("/api/v1/auth/login", new LoginRequest(name, password, accountName), WelkinJson.Client, Ct))
            .ReadAsync<LoginResponse>();
        return app.As(login.Token.Secret);
    }
}
